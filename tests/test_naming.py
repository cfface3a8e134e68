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
