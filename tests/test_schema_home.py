from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from homesim.generation.home import GeneratedHome
from homesim.schema.home import Entity, Home, Label
from homesim.schema.states import allowed_states


def _home_dict(generated: GeneratedHome) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(generated.home.model_dump_json())
    return data


def test_generated_home_round_trips_through_json(month_homes: list[GeneratedHome]) -> None:
    home = month_homes[0].home
    assert Home.model_validate_json(home.model_dump_json()) == home


def test_unknown_area_reference_is_named(month_homes: list[GeneratedHome]) -> None:
    data = _home_dict(month_homes[0])
    data["devices"][0]["area_id"] = "nowhere"
    with pytest.raises(ValidationError, match=r"devices\[0\]\.area_id: unknown area 'nowhere'"):
        Home.model_validate(data)


def test_unknown_floor_and_label_are_named(month_homes: list[GeneratedHome]) -> None:
    data = _home_dict(month_homes[0])
    data["areas"][0]["floor_id"] = "attic"
    data["entities"][0]["labels"] = ["no_such_label"]
    with pytest.raises(ValidationError) as err:
        Home.model_validate(data)
    text = str(err.value)
    assert "areas[0].floor_id: unknown floor 'attic'" in text
    assert "entities[0].labels: unknown label 'no_such_label'" in text


def test_duplicate_entity_ids_are_rejected(month_homes: list[GeneratedHome]) -> None:
    data = _home_dict(month_homes[0])
    data["entities"][1]["entity_id"] = data["entities"][0]["entity_id"]
    with pytest.raises(ValidationError, match="entities: duplicate ids"):
        Home.model_validate(data)


def test_dangling_device_and_person_references(month_homes: list[GeneratedHome]) -> None:
    data = _home_dict(month_homes[0])
    data["entities"][0]["device_id"] = "f" * 32
    data["people"][0]["device_trackers"] = ["device_tracker.ghost"]
    with pytest.raises(ValidationError) as err:
        Home.model_validate(data)
    assert "unknown device" in str(err.value)
    assert "no entity 'device_tracker.ghost'" in str(err.value)


@pytest.mark.parametrize(
    ("entity_id", "message"),
    [("toaster.kitchen", "unknown Home Assistant domain 'toaster'"), ("light.Kitchen", "lowercase")],
)
def test_entity_id_errors_say_what_was_expected(entity_id: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Entity(entity_id=entity_id, unique_id="u1")


def test_label_colour_is_checked() -> None:
    assert Label(label_id="x", name="X", color="#aa00ff").color == "#aa00ff"
    with pytest.raises(ValidationError, match="color must be"):
        Label(label_id="x", name="X", color="not a colour!")


def test_entity_area_inherits_from_device(month_homes: list[GeneratedHome]) -> None:
    home = month_homes[0].home
    entity = next(e for e in home.entities if e.device_id is not None and e.area_id is None)
    device = next(d for d in home.devices if d.id == entity.device_id)
    assert home.entity_area(entity) == device.area_id
    assert home.entity(entity.entity_id) is entity
    with pytest.raises(KeyError):
        home.entity("light.nothing_here")


def test_allowed_states_per_domain() -> None:
    assert allowed_states("sensor") is None
    assert allowed_states("button") is None
    assert allowed_states("light") == {"on", "off", "unavailable", "unknown"}
    person = allowed_states("person", ("work",))
    assert person is not None and "work" in person and "home" in person
    select = allowed_states("select", ("quiet", "max"))
    assert select == {"quiet", "max", "unavailable", "unknown"}
