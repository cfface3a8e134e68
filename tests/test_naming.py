from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from homesim.schema.naming import (
    entity_object_id,
    is_slug,
    is_valid_entity_id,
    slugify,
    split_entity_id,
    unique_slug,
)


@given(st.text(max_size=60))
def test_slugify_always_gives_a_valid_slug(text: str) -> None:
    slug = slugify(text)
    assert is_slug(slug)
    assert slugify(slug) == slug  # idempotent


@given(st.text(alphabet=st.characters(codec="ascii"), min_size=1, max_size=40))
def test_slug_is_valid_object_id(text: str) -> None:
    assert is_valid_entity_id(f"light.{slugify(text)}")


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Living Room Ceiling Light", "living_room_ceiling_light"),
        ("Jordan's Phone", "jordan_s_phone"),
        ("Küche  Licht", "kuche_licht"),
        ("--", "unknown"),
        ("Bedroom 2", "bedroom_2"),
    ],
)
def test_slugify_examples(text: str, slug: str) -> None:
    assert slugify(text) == slug


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        # Non-ASCII names are transliterated as Home Assistant does, not dropped.
        ("Straße", "strasse"),
        ("Café Crème", "cafe_creme"),
        ("Ørsted Øst", "orsted_ost"),
        ("Łódź Kuchnia", "lodz_kuchnia"),
        ("北京 客厅", "bei_jing_ke_ting"),
        ("1,000 lx", "1000_lx"),
        # homeassistant.util.slugify's own test cases (tests/util/test_init.py).
        ("T-!@#$!#@$!$est", "t_est"),
        ("Test_(More)", "test_more"),
        ("Tèst_Mörê", "test_more"),
        ("B8:27:EB:00:00:00", "b8_27_eb_00_00_00"),
        ("test.com", "test_com"),
        ("greg_phone - exp_wayp1", "greg_phone_exp_wayp1"),
        ("We are, we are, a... Test Calendar", "we_are_we_are_a_test_calendar"),
        ("Tèst_äöüß_ÄÖÜ", "test_aouss_aou"),
        ("影師嗎", "ying_shi_ma"),
        ("$$$", "unknown"),
    ],
)
def test_slugify_follows_home_assistant(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_slugify_default_for_nothing_left() -> None:
    assert slugify("", default="imported") == "imported"
    assert slugify("!!!", default="imported") == "imported"
    assert entity_object_id("Straße Licht", "Helligkeit") == "strasse_licht_helligkeit"


@pytest.mark.parametrize(
    ("entity_id", "valid"),
    [
        ("light.kitchen", True),
        ("sensor.bedroom_climate_sensor_temperature", True),
        ("Light.kitchen", False),
        ("light.kitchen__2", False),
        ("light._kitchen", False),
        ("light.kitchen_", False),
        ("toaster.kitchen", False),
        ("light", False),
    ],
)
def test_entity_id_rules(entity_id: str, valid: bool) -> None:
    assert is_valid_entity_id(entity_id) is valid


@given(st.sets(st.sampled_from(["a", "a_2", "a_3", "b"])))
def test_unique_slug_never_collides(taken: set[str]) -> None:
    result = unique_slug("a", taken)
    assert result not in taken
    assert result == "a" or result.startswith("a_")


def test_unique_slug_follows_ha_suffixes() -> None:
    assert unique_slug("lamp", {"lamp"}) == "lamp_2"
    assert unique_slug("lamp", ["lamp", "lamp_2"]) == "lamp_3"


def test_object_id_joins_device_and_entity_name() -> None:
    assert entity_object_id("Bedroom Climate Sensor", "Temperature") == "bedroom_climate_sensor_temperature"
    assert entity_object_id("Kitchen Ceiling Light", None) == "kitchen_ceiling_light"
    assert split_entity_id("sensor.x_y") == ("sensor", "x_y")
