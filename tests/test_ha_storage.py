"""HA `.storage` registries: exported field for field as HA 2025.1 writes them; real and malformed imports."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from homesim.cli.ha_export import register_commands
from homesim.generation.catalog import load_catalog
from homesim.ha.config_dir import HA_RELEASE, configuration_yaml, export_config_dir
from homesim.ha.storage import (
    PASSIVE_DEVICE_TYPE,
    STORAGE_VERSIONS,
    DeviceRecord,
    EntityRecord,
    RegistryImportError,
    config_entry_id,
    export_registries,
    guess_device_type,
    import_home,
    import_registries,
    registries_to_home,
)
from homesim.schema.home import Area, Device, Entity, Floor, Home, HomeMetadata, Label, Person

# The reference example is copied into the tests (tests/data/ha_reference/README.md says where it is from).
REFERENCE = Path(__file__).resolve().parent / "data" / "ha_reference" / "ha-2025.1-storage-example"
#: Files export_registries writes that the reference folder also has.
REGISTRIES = [k for k in STORAGE_VERSIONS if k not in ("core.config", "person")]


def make_home(start: date = date(2025, 3, 1)) -> Home:
    """A small home shaped like the generator's: catalog devices, HA 2024 naming, one passive device."""
    names = ("light", "plug", "motion", "vacuum", "widget", "phone", "sprinkler")
    ids = {n: "%032x" % (i + 0xA1) for i, n in enumerate(names)}
    return Home(
        metadata=HomeMetadata(
            home_key="storage_home",
            home_type="house",
            size_m2=120,
            climate_region="continental_us",
            grid_region="us_midwest",
            latitude=41.88,
            longitude=-87.63,
            timezone="America/Chicago",
            occupants=(),
            seed=3,
            home_index=2,
            generator_version="test",
            start=start,
            days=7,
        ),
        floors=(
            Floor(
                floor_id="ground",
                name="Ground floor",
                level=0,
                icon="mdi:home-floor-0",
                aliases=("downstairs",),
            ),
            Floor(floor_id="upper", name="Upper floor", level=1),
        ),
        labels=(
            Label(label_id="lighting", name="Lighting", color="yellow", icon="mdi:lightbulb"),
            Label(label_id="energy", name="Energy", color="#00ff00", description="Things that use power"),
        ),
        areas=(
            Area(
                area_id="living_room",
                name="Living Room",
                floor_id="ground",
                labels=("lighting",),
                icon="mdi:sofa",
                room_type="living_room",
            ),
            Area(
                area_id="kitchen",
                name="Kitchen",
                floor_id="ground",
                aliases=("cooking",),
                room_type="kitchen",
            ),
            Area(area_id="bedroom_2", name="Bedroom 2", floor_id="upper", room_type="bedroom"),
            Area(area_id="primary_bedroom", name="Primary Bedroom", floor_id="upper", room_type="bedroom"),
            Area(area_id="laundry_room", name="Laundry Room", floor_id="ground", room_type="laundry"),
            Area(area_id="garden", name="Garden", room_type="garden"),
        ),
        devices=(
            Device(
                id=ids["phone"],
                name="Mateo's Phone",
                manufacturer="Apple",
                model="iPhone 15",
                model_id="iPhone15,4",
                area_id=None,
                device_type="phone",
            ),
            Device(
                id=ids["sprinkler"],
                name="Garden Sprinkler",
                manufacturer="Rachio",
                model="Smart Sprinkler Controller 3",
                area_id="garden",
                device_type="irrigation",
            ),
            Device(
                id=ids["light"],
                name="Living Room Ceiling Light",
                manufacturer="Signify",
                model="Hue White Ambiance",
                model_id="LTA001",
                area_id="living_room",
                labels=("lighting",),
                sw_version="1.104.2",
                device_type="ceiling_light",
            ),
            Device(
                id=ids["plug"],
                name="Kitchen Smart Plug",
                manufacturer="TP-Link",
                model="Kasa KP115",
                model_id="KP115",
                area_id="kitchen",
                labels=("energy",),
                device_type="smart_plug",
            ),
            Device(
                id=ids["motion"],
                name="Kitchen Motion Sensor",
                manufacturer="Aqara",
                model="Motion Sensor P1",
                model_id="RTCGQ14LM",
                area_id="kitchen",
                device_type="motion_sensor",
            ),
            Device(
                id=ids["vacuum"],
                name="Bedroom Robot Vacuum",
                manufacturer="Roborock",
                model="S8 Pro Ultra",
                model_id="roborock.vacuum.a70",
                area_id="bedroom_2",
                device_type="robot_vacuum",
            ),
            Device(
                id=ids["widget"],
                name="Bedroom Widget",
                manufacturer="Acme",
                model="Widget 3000",
                area_id="bedroom_2",
                device_type=PASSIVE_DEVICE_TYPE,
            ),
        ),
        entities=(
            Entity(
                entity_id="light.living_room_ceiling_light",
                unique_id="light_1",
                device_id=ids["light"],
                labels=("lighting",),
            ),
            Entity(entity_id="switch.kitchen_smart_plug", unique_id="plug_1", device_id=ids["plug"]),
            Entity(
                entity_id="sensor.kitchen_smart_plug_power",
                unique_id="plug_1_power",
                device_id=ids["plug"],
                device_class="power",
                unit_of_measurement="W",
                state_class="measurement",
                original_name="Power",
                precision=1,
                role="power",
            ),
            Entity(
                entity_id="sensor.kitchen_smart_plug_energy",
                unique_id="plug_1_energy",
                device_id=ids["plug"],
                device_class="energy",
                unit_of_measurement="kWh",
                state_class="total_increasing",
                original_name="Energy",
                precision=3,
                role="energy",
            ),
            Entity(
                entity_id="binary_sensor.kitchen_motion_sensor_motion",
                unique_id="motion_1",
                device_id=ids["motion"],
                device_class="motion",
                original_name="Motion",
            ),
            Entity(
                entity_id="sensor.kitchen_motion_sensor_illuminance",
                unique_id="motion_1_lux",
                device_id=ids["motion"],
                area_id="living_room",
                device_class="illuminance",
                unit_of_measurement="lx",
                state_class="measurement",
                original_name="Illuminance",
                precision=0,
                role="illuminance",
            ),
            Entity(
                entity_id="sensor.kitchen_motion_sensor_battery",
                unique_id="motion_1_battery",
                device_id=ids["motion"],
                device_class="battery",
                unit_of_measurement="%",
                state_class="measurement",
                original_name="Battery",
                precision=0,
                role="battery",
                entity_category="diagnostic",
            ),
            Entity(entity_id="vacuum.bedroom_robot_vacuum", unique_id="vacuum_1", device_id=ids["vacuum"]),
            Entity(
                entity_id="select.bedroom_robot_vacuum_suction_level",
                unique_id="vacuum_1_suction",
                device_id=ids["vacuum"],
                original_name="Suction level",
                options=("quiet", "max"),
                entity_category="config",
                role="suction",
            ),
            Entity(
                entity_id="button.bedroom_widget_identify",
                unique_id="widget_identify",
                device_id=ids["widget"],
                original_name="Identify",
                role="extra",
            ),
            Entity(
                entity_id="switch.bedroom_fan",
                unique_id="bedroom_fan",
                area_id="bedroom_2",
                has_entity_name=False,
                original_name="Bedroom Fan",
            ),
            Entity(entity_id="device_tracker.mateo_s_phone", unique_id="phone_1", device_id=ids["phone"]),
            Entity(
                entity_id="sensor.mateo_s_phone_battery_level",
                unique_id="phone_1_battery",
                device_id=ids["phone"],
                device_class="battery",
                unit_of_measurement="%",
                state_class="measurement",
                original_name="Battery level",
                precision=0,
                role="battery",
                entity_category="diagnostic",
            ),
            Entity(entity_id="switch.garden_sprinkler", unique_id="sprinkler_1", device_id=ids["sprinkler"]),
            Entity(
                entity_id="number.garden_sprinkler_run_time",
                unique_id="sprinkler_1_run_time",
                device_id=ids["sprinkler"],
                unit_of_measurement="min",
                original_name="Run time",
                entity_category="config",
                precision=0,  # HA keeps no precision for numbers: the import takes the catalog's
                role="setting",
            ),
            Entity(
                entity_id="person.mateo",
                unique_id="storage_home-person-mateo",
                platform="person",
                has_entity_name=False,
                original_name="Mateo",
                role="person",
            ),
        ),
        people=(
            Person(
                person_id="mateo",
                name="Mateo",
                entity_id="person.mateo",
                device_trackers=("device_tracker.mateo_s_phone",),
            ),
        ),
    )


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def exported(tmp_path: Path) -> Path:
    export_registries(make_home(), tmp_path / ".storage")
    return tmp_path


@pytest.fixture
def reference_copy(tmp_path: Path) -> Path:
    target = tmp_path / ".storage"
    shutil.copytree(REFERENCE, target)
    for path in target.iterdir():
        path.chmod(0o644)
    return target


# ------------------------------------------------------------------------------------------------ export


def test_export_matches_reference_field_for_field(exported: Path) -> None:
    for key in REGISTRIES:
        ours, reference = load(exported / ".storage" / key), load(REFERENCE / key)
        assert list(ours) == list(reference) == ["version", "minor_version", "key", "data"]
        assert (ours["version"], ours["minor_version"], ours["key"]) == (
            reference["version"],
            reference["minor_version"],
            key,
        )
        assert list(ours["data"]) == list(reference["data"])
        collection = next(iter(reference["data"]))
        reference_fields = {tuple(record) for record in reference["data"][collection]}
        assert len(reference_fields) == 1, key  # the reference writes every record with the same fields
        assert {tuple(record) for record in ours["data"][collection]} == reference_fields, key


def test_export_ids_timestamps_and_config_entry(exported: Path) -> None:
    home = make_home()
    storage = exported / ".storage"
    entry = load(storage / "core.config_entries")["data"]["entries"]
    assert [e["entry_id"] for e in entry] == [config_entry_id(home)]
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", entry[0]["entry_id"])
    assert entry[0]["domain"] == "homesim"
    stamps = {
        record[field]
        for key in REGISTRIES
        for records in load(storage / key)["data"].values()
        for record in records
        for field in ("created_at", "modified_at")
    }
    assert stamps == {"2025-03-01T00:00:00+00:00"}
    devices = load(storage / "core.device_registry")["data"]["devices"]
    assert all(d["config_entries"] == [entry[0]["entry_id"]] == [d["primary_config_entry"]] for d in devices)
    identifiers = [tuple(i) for d in devices for i in d["identifiers"]]
    assert len(set(identifiers)) == len(identifiers) == len(home.devices)
    entities = load(storage / "core.entity_registry")["data"]["entities"]
    assert all(re.fullmatch(r"[0-9a-f]{32}", e["id"]) for e in entities)
    assert len({e["id"] for e in entities}) == len(entities)
    assert all(isinstance(e["unique_id"], str) for e in entities)
    # Every homesim entity belongs to the config entry; the person integration's own has none.
    assert {(e["platform"], e["config_entry_id"]) for e in entities} == {
        ("homesim", entry[0]["entry_id"]),
        ("person", None),
    }
    by_id = {e["entity_id"]: e for e in entities}
    energy = by_id["sensor.kitchen_smart_plug_energy"]
    assert energy["capabilities"] == {"state_class": "total_increasing"}
    assert energy["options"] == {"sensor": {"suggested_display_precision": 3}}
    assert (energy["original_device_class"], energy["device_class"], energy["original_name"]) == (
        "energy",
        None,
        "Energy",
    )
    assert by_id["sensor.kitchen_motion_sensor_battery"]["entity_category"] == "diagnostic"
    assert by_id["select.bedroom_robot_vacuum_suction_level"]["capabilities"] == {"options": ["quiet", "max"]}
    assert by_id["light.living_room_ceiling_light"]["capabilities"] == {
        "supported_color_modes": ["brightness"]
    }
    assert by_id["switch.bedroom_fan"]["has_entity_name"] is False
    assert by_id["switch.bedroom_fan"]["capabilities"] is None


def test_export_writes_people_for_the_person_integration(exported: Path) -> None:
    person = load(exported / ".storage" / "person")
    assert (person["version"], person["minor_version"], person["key"]) == (2, 1, "person")
    # The id is the person entity's unique_id, so HA's person integration reuses the registry entry.
    assert person["data"]["items"] == [
        {
            "id": "storage_home-person-mateo",
            "name": "Mateo",
            "user_id": None,
            "device_trackers": ["device_tracker.mateo_s_phone"],
            "picture": None,
        }
    ]
    registry = load(exported / ".storage" / "core.entity_registry")["data"]["entities"]
    entities = {e["entity_id"]: e for e in registry}
    assert entities["person.mateo"]["platform"] == "person"
    assert entities["person.mateo"]["config_entry_id"] is None


def test_people_without_entity_or_trackers_are_reported(exported: Path) -> None:
    def people(doc: dict[str, Any]) -> None:
        items = doc["data"]["items"]
        items[0]["device_trackers"].append("device_tracker.gone")
        items.append(
            {"id": "nobody", "name": "Ghost", "user_id": None, "device_trackers": None, "picture": None}
        )

    edit(exported / ".storage", "person", people)
    home, warnings = import_home(exported)
    assert home.people[0].device_trackers == ("device_tracker.mateo_s_phone",)
    assert "person 'Mateo': device trackers ['device_tracker.gone'] are not imported; left out" in warnings
    assert "person 'Ghost' has no person entity in the registry; skipped" in warnings


def test_export_is_deterministic_and_atomic(tmp_path: Path) -> None:
    first = export_registries(make_home(), tmp_path / "a")
    second = export_registries(make_home(), tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    written = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert written == sorted([*REGISTRIES, "person"])  # and no temp files
    other = make_home().model_copy(
        update={"metadata": make_home().metadata.model_copy(update={"home_key": "x"})}
    )
    assert config_entry_id(other) != config_entry_id(make_home())


# ------------------------------------------------------------------------------------------------ import


def test_round_trip_keeps_every_registry_field(exported: Path) -> None:
    home = make_home()
    imported, warnings = import_home(exported)
    for field in ("floors", "areas", "labels", "devices", "entities", "people"):
        assert getattr(imported, field) == getattr(home, field), field
    assert imported.metadata.start == home.metadata.start  # from created_at
    widget = home.devices[-1].id
    assert warnings == (
        f"device {widget} ('Bedroom Widget') matches no catalog device type; imported as 'passive'",
    )


def test_config_dir_round_trip_recovers_location(tmp_path: Path) -> None:
    home = make_home()
    paths = export_config_dir(home, tmp_path)
    assert {p.name for p in paths} >= {"core.config", "configuration.yaml", "automations.yaml", ".HA_VERSION"}
    imported, _ = import_home(tmp_path, home_key="again", days=3)
    meta = imported.metadata
    assert (meta.climate_region, meta.grid_region, meta.timezone) == (
        "continental_us",
        "us_midwest",
        "America/Chicago",
    )
    assert (meta.latitude, meta.longitude, meta.home_key, meta.days) == (41.88, -87.63, "again", 3)


def test_reference_example_imports() -> None:
    home, warnings = import_home(REFERENCE)
    assert warnings == ()
    assert [f.floor_id for f in home.floors] == ["ground_floor", "first_floor"]
    assert [(a.area_id, a.room_type) for a in home.areas] == [
        ("living_room", "living_room"),
        ("kitchen", "kitchen"),
        ("bedroom", "bedroom"),
    ]
    assert [(d.name, d.device_type) for d in home.devices] == [
        ("Living Room Ceiling Light", "ceiling_light"),
        ("Kitchen Motion Sensor", "motion_sensor"),
        ("Bedroom Climate", "climate_sensor"),  # name_by_user wins
    ]
    entities = {e.entity_id: e for e in home.entities}
    assert len(entities) == 6
    temperature = entities["sensor.bedroom_climate_sensor_temperature"]
    assert (temperature.state_class, temperature.precision, temperature.role, temperature.device_class) == (
        "measurement",
        1,
        "temperature",
        "temperature",
    )
    assert entities["binary_sensor.kitchen_motion_sensor_occupancy"].role == "main"
    assert entities["switch.bedroom_fan"].device_id is None
    assert home.entity_area(entities["switch.bedroom_fan"]) == "bedroom"
    assert home.metadata.start == date(2025, 1, 1)


def edit(storage: Path, key: str, change: Callable[[dict[str, Any]], object]) -> None:
    path = storage / key
    document = load(path)
    change(document)
    path.write_text(json.dumps(document), encoding="utf-8")


def test_ha_load_rules_drop_records_with_warnings(reference_copy: Path) -> None:
    def entities(doc: dict[str, Any]) -> None:
        records = doc["data"]["entities"]
        records[0]["unique_id"] = 17  # HA drops non-string unique ids
        records[4]["disabled_by"] = "user"
        update = dict(records[5], entity_id="update.bedroom_fan_firmware", id="b" * 32)
        same_id = dict(
            records[5], entity_id="light.bedroom_fan_light", id="c" * 32
        )  # same unique_id, 2nd domain
        records.extend([update, same_id])

    def devices(doc: dict[str, Any]) -> None:
        doc["data"]["devices"][1]["config_entries"] = ["01JGZGONE0000000000000000"]

    edit(reference_copy, "core.entity_registry", entities)
    edit(reference_copy, "core.device_registry", devices)
    home, warnings = import_home(reference_copy.parent)
    assert [e.entity_id for e in home.entities] == [
        "sensor.bedroom_climate_sensor_temperature",
        "switch.bedroom_fan",
    ]
    assert [d.name for d in home.devices] == ["Living Room Ceiling Light", "Bedroom Climate"]
    text = "\n".join(warnings)
    for fragment in (
        "non-string unique_id",
        "8d2e3f4a5b6c4d7e8f901a2b3c4d5e62 ('Kitchen Motion Sensor'): no config entry exists; dropped",
        "entity binary_sensor.kitchen_motion_sensor_occupancy: its device was dropped",
        "entity sensor.bedroom_climate_sensor_humidity: disabled by user",
        "domain 'update' is not modelled",
        "entity light.bedroom_fan_light: unique_id 'bedroom_fan' of platform 'homesim' is already used",
    ):
        assert fragment in text


def set_path(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """An edit that sets (or deletes, or appends at index len) the value at a `/`-separated path."""

    def change(doc: dict[str, Any]) -> None:
        *parents, last = (int(part) if part.isdigit() else part for part in path.split("/"))
        target: Any = doc
        for part in parents:
            target = target[part]
        if value is _DELETE:
            del target[last]
        elif isinstance(target, list) and last == len(target):
            target.append(value)
        else:
            target[last] = value

    return change


_DELETE = object()

MALFORMED: list[tuple[str, Callable[[dict[str, Any]], object] | str, str]] = [
    ("core.entity_registry", "{not json", "core.entity_registry: not valid JSON"),
    ("core.entity_registry", "[1, 2]", "core.entity_registry: top level must be an object"),
    ("core.entity_registry", set_path("key", "core.entity_registy"), "field 'key' is 'core.entity_registy'"),
    ("core.device_registry", set_path("version", 2), "core.device_registry: field 'version' is 2"),
    ("core.area_registry", set_path("minor_version", "7"), "core.area_registry: field 'minor_version'"),
    ("core.label_registry", set_path("data", _DELETE), "core.label_registry: field 'data' is missing"),
    ("core.entity_registry", set_path("data/entities", {}), "field 'data.entities' is missing or not a list"),
    ("core.device_registry", set_path("data/devices/0", "x"), "data.devices[0] must be an object, not str"),
    (
        "core.entity_registry",
        set_path("data/entities/2/entity_id", _DELETE),
        "entities[2].entity_id: Field req",
    ),
    ("core.entity_registry", set_path("data/entities/1/has_entity_name", 1), "entities[1].has_entity_name"),
    ("core.floor_registry", set_path("data/floors/0/level", "0"), "core.floor_registry: data.floors[0].lev"),
    ("core.entity_registry", set_path("data/entities/3/device_id", "f" * 32), "field 'device_id' refers to"),
    ("core.area_registry", set_path("data/areas/0/floor_id", "attic"), "'living_room' field 'floor_id'"),
    (
        "core.device_registry",
        set_path("data/devices/0/labels", ["nope"]),
        "'labels' refers to unknown 'nope'",
    ),
    ("core.area_registry", set_path("data/areas/1/id", "living_room"), "core.area_registry: field 'id' rep"),
    ("core.area_registry", set_path("data/areas/3", {"id": "Spare Room", "name": "S"}), "areas[3]: area_id"),
    ("core.config_entries", set_path("data/entries/0/entry_id", 5), "core.config_entries: data.entries[0]"),
    ("core.entity_registry", "delete", "core.entity_registry: file missing"),
]


@pytest.mark.parametrize(("key", "change", "message"), MALFORMED)
def test_malformed_storage_names_file_and_field(
    reference_copy: Path, key: str, change: Callable[[dict[str, Any]], object] | str, message: str
) -> None:
    if change == "delete":
        (reference_copy / key).unlink()
    elif isinstance(change, str):
        (reference_copy / key).write_text(change, encoding="utf-8")
    else:
        edit(reference_copy, key, change)
    with pytest.raises(RegistryImportError, match=re.escape(message)):
        import_home(reference_copy.parent)


def test_duplicate_entity_in_the_same_domain_is_an_error(reference_copy: Path) -> None:
    edit(
        reference_copy,
        "core.entity_registry",
        lambda d: d["data"]["entities"].append(d["data"]["entities"][0]),
    )
    with pytest.raises(RegistryImportError, match=r"core.entity_registry: field 'entity_id' repeats"):
        import_home(reference_copy.parent)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["entity_id", "unique_id", "device_id", "capabilities", "options", "labels"]),
       value=json_values)  # fmt: skip
def test_any_json_in_a_record_imports_or_raises_registry_import_error(
    reference_copy: Path, field: str, value: object
) -> None:
    edit(reference_copy, "core.entity_registry", set_path(f"data/entities/3/{field}", value))
    try:
        import_home(reference_copy.parent)
    except RegistryImportError as exc:
        assert "core.entity_registry" in str(exc)
    finally:
        shutil.copyfile(REFERENCE / "core.entity_registry", reference_copy / "core.entity_registry")


def test_climate_region_and_metadata_defaults(reference_copy: Path) -> None:
    def core_config(**data: Any) -> None:
        (reference_copy / "core.config").write_text(
            json.dumps({"version": 1, "minor_version": 4, "key": "core.config", "data": data})
        )

    assert import_home(reference_copy.parent).home.metadata.climate_region == "temperate_eu"  # no core.config
    core_config(latitude=33, longitude=-84, time_zone="America/New_York")
    meta = import_home(reference_copy.parent).home.metadata
    assert (meta.climate_region, meta.latitude, meta.longitude) == ("humid_subtropical", 33.0, -84.0)
    core_config(latitude=40.0, longitude=-3.0, time_zone="Europe/Lisbon")  # no catalog city: the nearest
    assert import_home(reference_copy.parent).home.metadata.climate_region == "mediterranean"
    core_config(time_zone="Asia/Tokyo")  # neither a known zone nor a location
    meta = import_home(reference_copy.parent).home.metadata
    assert (meta.climate_region, meta.timezone, meta.latitude) == ("temperate_eu", "Asia/Tokyo", 52.37)
    explicit = import_home(
        reference_copy.parent, climate_region="nordic", start=date(2024, 6, 1)
    ).home.metadata
    assert (explicit.climate_region, explicit.grid_region, explicit.start) == (
        "nordic",
        "nordic",
        date(2024, 6, 1),
    )
    with pytest.raises(ValueError, match="unknown climate region 'arctic'"):
        import_home(reference_copy.parent, climate_region="arctic")


def test_start_without_created_at_defaults(reference_copy: Path) -> None:
    def strip(doc: dict[str, Any]) -> None:
        for records in doc["data"].values():
            for record in records:
                record.pop("created_at", None)

    for key in REGISTRIES:
        edit(reference_copy, key, strip)
    registries = import_registries(reference_copy)
    assert registries_to_home(registries).home.metadata.start == date(2025, 1, 1)


def test_device_type_guess_uses_entities_and_name() -> None:
    catalog = load_catalog()
    light = EntityRecord(entity_id="light.hall_lamp", unique_id="u", platform="hue")
    lamp = DeviceRecord(id="a" * 32, name="Hallway Floor Lamp", manufacturer="Other", model="Bulb")
    thing = DeviceRecord(id="b" * 32, name="Thing", manufacturer="Other", model="Bulb")
    guessed_lamp = guess_device_type(lamp, [light], catalog)
    guessed_thing = guess_device_type(thing, [light], catalog)
    assert guessed_lamp is not None and guessed_lamp.key == "floor_lamp"
    assert guessed_thing is not None and guessed_thing.key == "ceiling_light"
    plug_entities = [
        EntityRecord(entity_id="switch.p", unique_id="1", platform="x"),
        EntityRecord(entity_id="sensor.p_power", unique_id="2", platform="x", original_device_class="power"),
        EntityRecord(
            entity_id="sensor.p_energy", unique_id="3", platform="x", original_device_class="energy"
        ),
    ]
    guessed_plug = guess_device_type(DeviceRecord(id="c" * 32, name="P"), plug_entities, catalog)
    assert guessed_plug is not None and guessed_plug.key == "smart_plug"
    assert guess_device_type(DeviceRecord(id="d" * 32), [], catalog) is None


# ---------------------------------------------------------------------------------------- config dir, CLI


class _IncludeLoader(yaml.SafeLoader):
    """SafeLoader that reads HA's `!include` as a marker (HA's own loader resolves it)."""


def _include(loader: yaml.SafeLoader, node: yaml.Node) -> tuple[str, object]:
    assert isinstance(node, yaml.ScalarNode)
    return ("include", loader.construct_scalar(node))


_IncludeLoader.add_constructor("!include", _include)


def test_configuration_yaml_is_ha_loadable(tmp_path: Path) -> None:
    home = make_home()
    export_config_dir(home, tmp_path, automations_yaml="- id: '1'\n  alias: Lights\n")
    text = (tmp_path / "configuration.yaml").read_text()
    assert "\nautomation: !include automations.yaml\n" in text and "recorder:" not in text
    config = yaml.load(text, Loader=_IncludeLoader)  # a SafeLoader subclass
    assert config["automation"] == ("include", "automations.yaml")
    assert "default_config" in config
    assert config["homeassistant"] == {
        "name": "Synthetic home storage_home",
        "latitude": 41.88,
        "longitude": -87.63,
        "elevation": 0,
        "unit_system": "metric",
        "time_zone": "America/Chicago",
        "currency": "USD",
    }
    assert (tmp_path / "automations.yaml").read_text() == "- id: '1'\n  alias: Lights\n"
    assert (tmp_path / ".HA_VERSION").read_text() == HA_RELEASE
    core = load(tmp_path / ".storage" / "core.config")
    assert (core["version"], core["minor_version"], core["data"]["radius"]) == (1, 4, 100)
    export_config_dir(home, tmp_path / "empty")
    assert (tmp_path / "empty" / "automations.yaml").read_text() == "[]\n"
    unknown_grid = home.model_copy(
        update={"metadata": home.metadata.model_copy(update={"grid_region": "mars"})}
    )
    assert 'currency: "EUR"' in configuration_yaml(unknown_grid)


def test_config_dir_rejects_inconsistent_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs the home's events"):
        export_config_dir(make_home(), tmp_path, recorder=True)
    with pytest.raises(ValueError, match="pass recorder=True"):
        export_config_dir(make_home(), tmp_path, statistics=True)


def test_cli_import(tmp_path: Path, reference_copy: Path) -> None:
    app = typer.Typer()
    register_commands(app)
    runner = CliRunner()
    out = tmp_path / "home.json"
    result = runner.invoke(app, ["import", str(REFERENCE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert Home.model_validate_json(out.read_text()).devices[0].device_type == "ceiling_light"
    assert "devices" in result.output
    edit(reference_copy, "core.device_registry", set_path("data/devices/0/name", "Widget Hub"))
    edit(reference_copy, "core.device_registry", set_path("data/devices/0/model", "Hub"))
    edit(reference_copy, "core.entity_registry", set_path("data/entities/0/entity_id", "button.widget_hub"))
    result = runner.invoke(app, ["import", str(reference_copy.parent), "--out", str(out)])
    assert result.exit_code == 0 and "warning:" in result.output and "passive" in result.output
    edit(reference_copy, "core.device_registry", set_path("version", 9))
    result = runner.invoke(app, ["import", str(reference_copy.parent), "--out", str(tmp_path / "x.json")])
    assert result.exit_code == 2 and "field 'version' is 9" in result.output
    assert not (tmp_path / "x.json").exists()
