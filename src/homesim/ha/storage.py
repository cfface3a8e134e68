"""Home Assistant `.storage` registries: export a `Home` as the files HA 2025.1 writes, and import them back.

This module owns the floor, area, label, device and entity registries and `core.config_entries` in HA's
storage envelope (`version`, `minor_version`, `key`, `data`), field for field as HA 2025.1 writes them, and
the reverse mapping of a real HA `.storage` folder onto a `homesim.schema.home.Home` (device types guessed
from the catalog). Exports are deterministic: every id derives from the home, every timestamp from its
start date, so exporting the same home twice gives the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple, ParamSpec, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from homesim.generation.catalog import Catalog, DeviceType, EntitySpec, load_catalog
from homesim.io import write_json_atomic
from homesim.schema.home import Area, Device, Entity, Floor, Home, HomeMetadata, Label, Person
from homesim.schema.naming import HA_DOMAINS, slugify, split_entity_id

#: The Home Assistant release whose storage formats this module writes.
HA_VERSION = "2025.1"
#: `(version, minor_version)` HA 2025.1 writes for each storage key.
STORAGE_VERSIONS: dict[str, tuple[int, int]] = {
    "core.floor_registry": (1, 2),
    "core.area_registry": (1, 7),
    "core.label_registry": (1, 2),
    "core.device_registry": (1, 8),
    "core.entity_registry": (1, 15),
    "core.config_entries": (1, 4),
    "core.config": (1, 4),
    "person": (2, 1),
}
#: Integration domain of the config entry, device identifiers and entity platform homesim writes.
PLATFORM = "homesim"
#: Device type given to imported devices that match nothing in the catalog (they get no behaviour).
PASSIVE_DEVICE_TYPE = "passive"
#: Climate region of an imported home when neither the caller nor `core.config` says where it is.
DEFAULT_CLIMATE_REGION = "temperate_eu"
#: Start date of an imported home when neither the caller nor the registries' `created_at` give one.
DEFAULT_START = date(2025, 1, 1)

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Fixed namespace so entity registry ids are the same on every machine and every run.
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/homesim/homesim/ha/entity_registry")
_STATE_CLASSES = frozenset({"measurement", "total", "total_increasing"})
_ENTITY_CATEGORIES = frozenset({"config", "diagnostic"})
_ROOM_SUFFIX = re.compile(r"_\d+$")


class RegistryImportError(ValueError):
    """A `.storage` file that cannot be imported; the message names the file and the field."""


# --------------------------------------------------------------------------------------------- export


def config_entry_id(home: Home) -> str:
    """The homesim config entry's id: a ULID timed at the home's start, its randomness from the home key."""
    millis = (home.metadata.start - date(1970, 1, 1)).days * 86_400_000
    randomness = int.from_bytes(hashlib.sha256(home.metadata.home_key.encode()).digest()[:10], "big")
    value = (millis << 80) | randomness
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def entity_registry_id(entity: Entity) -> str:
    """A stable 32-hex registry id, unique per (platform, domain, unique_id) as HA requires."""
    return uuid.uuid5(_ID_NAMESPACE, f"{entity.platform}\x00{entity.domain}\x00{entity.unique_id}").hex


def export_registries(home: Home, storage_dir: Path) -> list[Path]:
    """Write the home's registries, its config entry and its people into `storage_dir` (a `.storage`)."""
    stamp = f"{home.metadata.start.isoformat()}T00:00:00+00:00"
    entry_id = config_entry_id(home)
    catalog = load_catalog()
    device_types = {d.id: d.device_type for d in home.devices}
    payloads: dict[str, dict[str, Any]] = {
        "core.floor_registry": {"floors": [_floor_record(f, stamp) for f in home.floors]},
        "core.area_registry": {"areas": [_area_record(a, stamp) for a in home.areas]},
        "core.label_registry": {"labels": [_label_record(lb, stamp) for lb in home.labels]},
        "core.device_registry": {
            "devices": [_device_record(d, stamp, entry_id) for d in home.devices],
            "deleted_devices": [],
        },
        "core.entity_registry": {
            "entities": [
                _entity_record(
                    e, stamp, entry_id, catalog.devices.get(device_types.get(e.device_id or "", ""))
                )
                for e in home.entities
            ],
            "deleted_entities": [],
        },
        "core.config_entries": {"entries": [_config_entry(home, entry_id, stamp)]},
        "person": {"items": [_person_record(home, p) for p in home.people]},
    }
    paths: list[Path] = []
    for key, data in payloads.items():
        path = storage_dir / key
        write_json_atomic(path, envelope(key, data))
        paths.append(path)
    return paths


def envelope(key: str, data: dict[str, Any]) -> dict[str, Any]:
    """HA's storage envelope around `data`, with the version HA 2025.1 writes for `key`."""
    version, minor = STORAGE_VERSIONS[key]
    return {"version": version, "minor_version": minor, "key": key, "data": data}


def _floor_record(floor: Floor, stamp: str) -> dict[str, Any]:
    return {
        "aliases": list(floor.aliases),
        "floor_id": floor.floor_id,
        "icon": floor.icon,
        "level": floor.level,
        "name": floor.name,
        "created_at": stamp,
        "modified_at": stamp,
    }


def _area_record(area: Area, stamp: str) -> dict[str, Any]:
    return {
        "aliases": list(area.aliases),
        "floor_id": area.floor_id,
        "icon": area.icon,
        "id": area.area_id,
        "labels": list(area.labels),
        "name": area.name,
        "picture": None,
        "created_at": stamp,
        "modified_at": stamp,
    }


def _label_record(label: Label, stamp: str) -> dict[str, Any]:
    return {
        "color": label.color,
        "description": label.description,
        "icon": label.icon,
        "label_id": label.label_id,
        "name": label.name,
        "created_at": stamp,
        "modified_at": stamp,
    }


def _device_record(device: Device, stamp: str, entry_id: str) -> dict[str, Any]:
    return {
        "area_id": device.area_id,
        "config_entries": [entry_id],
        "configuration_url": None,
        "connections": [],
        "created_at": stamp,
        "disabled_by": None,
        "entry_type": None,
        "hw_version": None,
        "id": device.id,
        # Device ids are unique within a home, so identifiers built from them never clash.
        "identifiers": [[PLATFORM, device.id]],
        "labels": list(device.labels),
        "manufacturer": device.manufacturer,
        "model": device.model,
        "model_id": device.model_id,
        "modified_at": stamp,
        "name_by_user": None,
        "name": device.name,
        "primary_config_entry": entry_id,
        "serial_number": None,
        "sw_version": device.sw_version,
        "via_device_id": None,
    }


def _capabilities(entity: Entity, device_type: DeviceType | None) -> dict[str, Any] | None:
    """The capability attributes HA caches in the registry (and shows on restored, unavailable entities)."""
    if entity.domain == "sensor" and entity.state_class is not None:
        return {"state_class": entity.state_class}
    if entity.domain == "select" and entity.options:
        return {"options": list(entity.options)}
    if entity.domain == "light":
        dimmable = device_type is not None and "dimmable" in device_type.tags
        return {"supported_color_modes": ["brightness" if dimmable else "onoff"]}
    return None


def _entity_record(
    entity: Entity, stamp: str, entry_id: str, device_type: DeviceType | None
) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if entity.domain == "sensor" and entity.precision is not None:
        options["sensor"] = {"suggested_display_precision": entity.precision}
    return {
        "aliases": [],
        "area_id": entity.area_id,
        "categories": {},
        "capabilities": _capabilities(entity, device_type),
        # Entities of other platforms (person, sun) belong to no config entry of homesim's.
        "config_entry_id": entry_id if entity.platform == PLATFORM else None,
        "created_at": stamp,
        # `device_class` is the user's override; the integration's class goes to `original_device_class`.
        "device_class": None,
        "device_id": entity.device_id,
        "disabled_by": None,
        "entity_category": entity.entity_category,
        "entity_id": entity.entity_id,
        "hidden_by": None,
        "icon": None,
        "id": entity_registry_id(entity),
        "has_entity_name": entity.has_entity_name,
        "labels": list(entity.labels),
        "modified_at": stamp,
        "name": None,
        "options": options,
        "original_device_class": entity.device_class,
        "original_icon": None,
        "original_name": entity.original_name,
        "platform": entity.platform,
        "supported_features": 0,
        "translation_key": None,
        "unique_id": entity.unique_id,
        "previous_unique_id": None,
        "unit_of_measurement": entity.unit_of_measurement,
    }


def _person_record(home: Home, person: Person) -> dict[str, Any]:
    # HA's person entity takes its unique_id from the item's id; matching it keeps the registry entry.
    return {
        "id": home.entity(person.entity_id).unique_id,
        "name": person.name,
        "user_id": None,
        "device_trackers": list(person.device_trackers),
        "picture": None,
    }


def _config_entry(home: Home, entry_id: str, stamp: str) -> dict[str, Any]:
    return {
        "created_at": stamp,
        "data": {},
        "disabled_by": None,
        "discovery_keys": {},
        "domain": PLATFORM,
        "entry_id": entry_id,
        "minor_version": 1,
        "modified_at": stamp,
        "options": {},
        "pref_disable_new_entities": False,
        "pref_disable_polling": False,
        "source": "user",
        "title": f"Synthetic home {home.metadata.home_key}",
        "unique_id": None,
        "version": 1,
    }


# --------------------------------------------------------------------------------------------- import


class _Record(BaseModel):
    # Strict: HA writes exact JSON types, and coercing (say) an int unique_id would hide a broken file.
    # Unknown keys are ignored so registries from newer minor versions still import.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    created_at: datetime | None = Field(default=None, strict=False)


class FloorRecord(_Record):
    floor_id: str
    name: str
    level: int | None = None
    icon: str | None = None
    aliases: list[str] = []


class AreaRecord(_Record):
    id: str
    name: str
    floor_id: str | None = None
    labels: list[str] = []
    icon: str | None = None
    aliases: list[str] = []


class LabelRecord(_Record):
    label_id: str
    name: str
    color: str | None = None
    icon: str | None = None
    description: str | None = None


class DeviceRecord(_Record):
    id: str
    name: str | None = None
    name_by_user: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    model_id: str | None = None
    area_id: str | None = None
    labels: list[str] = []
    sw_version: str | None = None
    config_entries: list[str] = []


class EntityRecord(_Record):
    entity_id: str
    unique_id: str
    platform: str
    device_id: str | None = None
    area_id: str | None = None
    device_class: str | None = None
    original_device_class: str | None = None
    unit_of_measurement: str | None = None
    capabilities: dict[str, Any] | None = None
    options: dict[str, Any] = {}
    original_name: str | None = None
    has_entity_name: bool = False
    labels: list[str] = []
    entity_category: str | None = None
    disabled_by: str | None = None


class _EntryRecord(_Record):
    entry_id: str


class PersonRecord(_Record):
    id: str
    name: str
    # Old onboarding wrote null here; HA reads it as an empty list, and so does homesim.
    device_trackers: list[str] | None = None


class CoreConfigRecord(BaseModel):
    """The location part of `core.config` (lax: HA writes whole-number coordinates as ints)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    latitude: float | None = None
    longitude: float | None = None
    time_zone: str | None = None


@dataclass(frozen=True)
class ImportedRegistries:
    """The registry records of one `.storage` folder, each file checked for shape and version."""

    floors: tuple[FloorRecord, ...]
    areas: tuple[AreaRecord, ...]
    labels: tuple[LabelRecord, ...]
    devices: tuple[DeviceRecord, ...]
    entities: tuple[EntityRecord, ...]
    people: tuple[PersonRecord, ...]
    #: Ids in `core.config_entries`; None when the file is absent (then no device counts as orphaned).
    config_entry_ids: frozenset[str] | None
    core_config: CoreConfigRecord | None
    #: Records HA itself would drop on load, with why.
    warnings: tuple[str, ...]


class HomeImport(NamedTuple):
    home: Home
    warnings: tuple[str, ...]


_R = TypeVar("_R", bound=BaseModel)


def import_registries(storage_dir: Path) -> ImportedRegistries:
    """Read and check the registries in `storage_dir`; device and entity registries are required."""
    warnings: list[str] = []
    entries = _read_data(storage_dir, "core.config_entries", required=False)
    core = _read_data(storage_dir, "core.config", required=False)
    return ImportedRegistries(
        floors=_read_records(storage_dir, "core.floor_registry", "floors", FloorRecord, warnings),
        areas=_read_records(storage_dir, "core.area_registry", "areas", AreaRecord, warnings),
        labels=_read_records(storage_dir, "core.label_registry", "labels", LabelRecord, warnings),
        devices=_read_records(storage_dir, "core.device_registry", "devices", DeviceRecord, warnings),
        entities=_read_records(storage_dir, "core.entity_registry", "entities", EntityRecord, warnings),
        people=_read_records(storage_dir, "person", "items", PersonRecord, warnings),
        config_entry_ids=None
        if entries is None
        else frozenset(
            r.entry_id for r in _parse_list("core.config_entries", "entries", entries, _EntryRecord, warnings)
        ),
        core_config=None if core is None else _parse("core.config", "data", core, CoreConfigRecord),
        warnings=tuple(warnings),
    )


def import_home(
    config_dir: Path,
    *,
    home_key: str | None = None,
    home_type: str = "imported",
    size_m2: float = 100.0,
    climate_region: str | None = None,
    start: date | None = None,
    days: int = 30,
    seed: int = 0,
) -> HomeImport:
    """Import an HA config dir (or a bare `.storage` folder) as a Home, with the warnings of the mapping.

    Metadata the registries lack comes from the arguments; `home_key` defaults to the folder's name.
    """
    storage = config_dir / ".storage"
    registries = import_registries(storage if storage.is_dir() else config_dir)
    return registries_to_home(
        registries,
        home_key=home_key or slugify(config_dir.resolve().name, default="imported"),
        home_type=home_type,
        size_m2=size_m2,
        climate_region=climate_region,
        start=start,
        days=days,
        seed=seed,
    )


def registries_to_home(
    registries: ImportedRegistries,
    *,
    home_key: str = "imported",
    home_type: str = "imported",
    size_m2: float = 100.0,
    climate_region: str | None = None,
    start: date | None = None,
    days: int = 30,
    seed: int = 0,
) -> HomeImport:
    """Map registry records onto a Home: devices get catalog device types, entities their roles.

    Follows HA's own load rules: devices whose config entries are all gone are dropped with their
    entities; disabled entities and entities of domains homesim does not model are left out. Each of
    these, and every device that matches no catalog type (it becomes "passive"), adds a warning.
    """
    catalog = load_catalog()
    warnings = list(registries.warnings)
    devices, entities = _loaded_devices_and_entities(registries, warnings)
    _check_references(registries, devices, entities)
    entities_by_device: dict[str, list[EntityRecord]] = {}
    for entity in entities:
        if entity.device_id is not None:
            entities_by_device.setdefault(entity.device_id, []).append(entity)

    device_types: dict[str, DeviceType | None] = {}
    for device in devices:
        device_types[device.id] = guess_device_type(device, entities_by_device.get(device.id, []), catalog)
        if device_types[device.id] is None:
            warnings.append(
                f"device {device.id} ({_device_name(device)!r}) matches no catalog device type; "
                f"imported as {PASSIVE_DEVICE_TYPE!r}"
            )
    specs: dict[str, EntitySpec] = {}
    for device_id, device_entities in entities_by_device.items():
        specs |= _entity_specs(device_entities, device_types[device_id])
    entity_ids = {e.entity_id for e in entities}

    home = Home(
        metadata=_metadata(
            registries, home_key, home_type, size_m2, climate_region, start, days, seed, catalog
        ),
        floors=tuple(
            _build("core.floor_registry", f"data.floors[{i}]", _floor, r)
            for i, r in enumerate(registries.floors)
        ),
        areas=tuple(
            _build("core.area_registry", f"data.areas[{i}]", _area, r, catalog)
            for i, r in enumerate(registries.areas)
        ),
        labels=tuple(
            _build("core.label_registry", f"data.labels[{i}]", _label, r)
            for i, r in enumerate(registries.labels)
        ),
        devices=tuple(
            _build("core.device_registry", f"device {r.id!r}", _device, r, device_types[r.id])
            for r in devices
        ),
        entities=tuple(
            _build("core.entity_registry", f"entity {r.entity_id!r}", _entity, r, specs) for r in entities
        ),
        people=_people(registries.people, entities, entity_ids, warnings),
    )
    return HomeImport(home, tuple(warnings))


def guess_device_type(
    device: DeviceRecord, entities: Sequence[EntityRecord], catalog: Catalog
) -> DeviceType | None:
    """The catalog device type a registry device most likely is, or None when nothing fits.

    An exact manufacturer and model match wins. Otherwise a type qualifies when the device has an entity
    like the type's first (defining) entity, and scores by how alike the entity sets are (multiset
    Jaccard over domain and device class), plus a bonus when the device's name contains the type's name.
    """
    for device_type in catalog.devices.values():
        if any(m.manufacturer == device.manufacturer and m.model == device.model for m in device_type.models):
            return device_type
    have = Counter((_domain(e), _device_class(e)) for e in entities)
    name = slugify(f"{_device_name(device)} {device.model or ''}")
    best: DeviceType | None = None
    best_score = 0.0
    for device_type in catalog.devices.values():
        want = Counter((s.domain, s.device_class) for s in device_type.entities)
        defining = device_type.entities[0]
        if have[(defining.domain, defining.device_class)] == 0:
            continue
        score = sum((have & want).values()) / sum((have | want).values())
        if slugify(device_type.name) in name or device_type.key in name:
            score += 0.5
        if score > best_score:
            best, best_score = device_type, score
    return best


def _read_data(storage_dir: Path, key: str, *, required: bool) -> dict[str, Any] | None:
    """The `data` of one storage file after checking its envelope; None when optional and absent."""
    path = storage_dir / key
    if not path.is_file():
        if required:
            raise RegistryImportError(f"{key}: file missing from {storage_dir}")
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RegistryImportError(f"{key}: not valid JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise RegistryImportError(f"{key}: top level must be an object with version, key and data")
    if document.get("key") != key:
        raise RegistryImportError(f"{key}: field 'key' is {document.get('key')!r}, expected {key!r}")
    version = document.get("version")
    expected = STORAGE_VERSIONS[key][0]
    if type(version) is not int or version != expected:
        raise RegistryImportError(
            f"{key}: field 'version' is {version!r}; homesim reads version {expected} (HA {HA_VERSION})"
        )
    # Minor versions only add fields, so any minor of a known major version reads correctly.
    if "minor_version" in document and type(document["minor_version"]) is not int:
        raise RegistryImportError(f"{key}: field 'minor_version' must be an integer")
    data = document.get("data")
    if not isinstance(data, dict):
        raise RegistryImportError(f"{key}: field 'data' is missing or not an object")
    return data


def _read_records(
    storage_dir: Path, key: str, collection: str, model: type[_R], warnings: list[str]
) -> tuple[_R, ...]:
    required = key in ("core.device_registry", "core.entity_registry")
    data = _read_data(storage_dir, key, required=required)
    return () if data is None else _parse_list(key, collection, data, model, warnings)


def _parse_list(
    key: str, collection: str, data: dict[str, Any], model: type[_R], warnings: list[str]
) -> tuple[_R, ...]:
    items = data.get(collection)
    if not isinstance(items, list):
        raise RegistryImportError(f"{key}: field 'data.{collection}' is missing or not a list")
    records: list[_R] = []
    for i, item in enumerate(items):
        where = f"data.{collection}[{i}]"
        if (
            model is EntityRecord
            and isinstance(item, dict)
            and not isinstance(item.get("unique_id", ""), str)
        ):
            # HA drops such an entity silently on load; homesim drops it too, but says so.
            warnings.append(f"{key}: {where} ({item.get('entity_id')!r}) has a non-string unique_id; dropped")
            continue
        records.append(_parse(key, where, item, model))
    return tuple(records)


def _parse(key: str, where: str, item: object, model: type[_R]) -> _R:
    if not isinstance(item, dict):
        raise RegistryImportError(f"{key}: {where} must be an object, not {type(item).__name__}")
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        raise RegistryImportError(f"{key}: {where}.{_first_error(exc)}") from exc


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "(record)"
    return f"{field}: {error['msg']}"


_T = TypeVar("_T")
_P = ParamSpec("_P")


def _build(key: str, where: str, factory: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run a homesim model constructor, reporting its validation error against the registry record."""
    try:
        return factory(*args, **kwargs)
    except ValidationError as exc:
        raise RegistryImportError(f"{key}: {where}: {_first_error(exc)}") from exc


def _loaded_devices_and_entities(
    registries: ImportedRegistries, warnings: list[str]
) -> tuple[list[DeviceRecord], list[EntityRecord]]:
    """The devices and entities HA would keep at startup, and that homesim can model."""
    devices: list[DeviceRecord] = []
    dropped: set[str] = set()
    entry_ids = registries.config_entry_ids
    for device in registries.devices:
        if (
            entry_ids is not None
            and device.config_entries
            and not entry_ids.intersection(device.config_entries)
        ):
            # HA deletes, at startup, every device whose config entries are all missing, with its entities.
            dropped.add(device.id)
            warnings.append(f"device {device.id} ({_device_name(device)!r}): no config entry exists; dropped")
        else:
            devices.append(device)
    entities: list[EntityRecord] = []
    kept_domains: dict[tuple[str, str], str] = {}
    for entity in registries.entities:
        domain = _domain(entity)
        if entity.device_id in dropped:
            warnings.append(f"entity {entity.entity_id}: its device was dropped; dropped")
        elif domain not in HA_DOMAINS:
            warnings.append(f"entity {entity.entity_id}: domain {domain!r} is not modelled; skipped")
        elif entity.disabled_by is not None:
            warnings.append(f"entity {entity.entity_id}: disabled by {entity.disabled_by}; skipped")
        elif (first := kept_domains.setdefault((entity.platform, entity.unique_id), domain)) != domain:
            # HA keys unique ids per domain, homesim per platform: keep the first where HA keeps both.
            warnings.append(
                f"entity {entity.entity_id}: unique_id {entity.unique_id!r} of platform {entity.platform!r} "
                f"is already used in domain {first!r}; skipped"
            )
        else:
            entities.append(entity)
    return devices, entities


def _check_references(
    registries: ImportedRegistries, devices: Sequence[DeviceRecord], entities: Sequence[EntityRecord]
) -> None:
    """Every duplicate and dangling reference, reported against the file and field that holds it."""
    _unique("core.floor_registry", "floor_id", [r.floor_id for r in registries.floors])
    _unique("core.area_registry", "id", [r.id for r in registries.areas])
    _unique("core.label_registry", "label_id", [r.label_id for r in registries.labels])
    _unique("core.device_registry", "id", [r.id for r in devices])
    _unique("core.entity_registry", "entity_id", [r.entity_id for r in entities])
    _unique(
        "core.entity_registry",
        "(domain, platform, unique_id)",
        [f"{_domain(r)}/{r.platform}/{r.unique_id}" for r in entities],
    )
    floors = {r.floor_id for r in registries.floors}
    areas = {r.id for r in registries.areas}
    labels = {r.label_id for r in registries.labels}
    device_ids = {r.id for r in devices}
    for area in registries.areas:
        _known("core.area_registry", f"area {area.id!r}", "floor_id", area.floor_id, floors)
        _known_labels("core.area_registry", f"area {area.id!r}", area.labels, labels)
    for device in devices:
        _known("core.device_registry", f"device {device.id!r}", "area_id", device.area_id, areas)
        _known_labels("core.device_registry", f"device {device.id!r}", device.labels, labels)
    for entity in entities:
        where = f"entity {entity.entity_id!r}"
        _known("core.entity_registry", where, "device_id", entity.device_id, device_ids)
        _known("core.entity_registry", where, "area_id", entity.area_id, areas)
        _known_labels("core.entity_registry", where, entity.labels, labels)


def _unique(key: str, field: str, values: list[str]) -> None:
    repeated = sorted(v for v, n in Counter(values).items() if n > 1)
    if repeated:
        raise RegistryImportError(f"{key}: field '{field}' repeats {repeated[:5]}")


def _known(key: str, where: str, field: str, value: str | None, known: set[str]) -> None:
    if value is not None and value not in known:
        raise RegistryImportError(f"{key}: {where} field '{field}' refers to unknown {value!r}")


def _known_labels(key: str, where: str, used: Sequence[str], known: set[str]) -> None:
    for label in used:
        _known(key, where, "labels", label, known)


def _domain(record: EntityRecord) -> str:
    return split_entity_id(record.entity_id)[0]


def _device_class(record: EntityRecord) -> str | None:
    return record.device_class or record.original_device_class


def _device_name(record: DeviceRecord) -> str:
    return record.name_by_user or record.name or record.model or record.id


def _entity_specs(entities: Sequence[EntityRecord], device_type: DeviceType | None) -> dict[str, EntitySpec]:
    """The catalog entity spec each entity of a device plays, best match first; unmatched ones get none."""
    specs = list(device_type.entities) if device_type is not None else []
    matched: dict[str, EntitySpec] = {}
    passes: tuple[Callable[[EntityRecord, EntitySpec], bool], ...] = (
        lambda e, s: (_domain(e), _device_class(e), e.original_name) == (s.domain, s.device_class, s.name),
        lambda e, s: (_domain(e), _device_class(e)) == (s.domain, s.device_class),
        lambda e, s: _domain(e) == s.domain,
    )
    for matches in passes:
        for entity in entities:
            if entity.entity_id in matched:
                continue
            spec = next((s for s in specs if matches(entity, s)), None)
            if spec is not None:
                matched[entity.entity_id] = spec
                specs.remove(spec)
    return matched


def _people(
    records: Sequence[PersonRecord],
    entities: Sequence[EntityRecord],
    entity_ids: set[str],
    warnings: list[str],
) -> tuple[Person, ...]:
    """People from HA's `person` storage, each tied to the registry entity whose unique_id is its id."""
    person_entities = {e.unique_id: e.entity_id for e in entities if e.platform == "person"}
    people: list[Person] = []
    for i, record in enumerate(records):
        entity_id = person_entities.get(record.id)
        if entity_id is None:
            warnings.append(f"person {record.name!r} has no person entity in the registry; skipped")
            continue
        trackers = record.device_trackers or []
        missing = [t for t in trackers if t not in entity_ids]
        if missing:
            warnings.append(f"person {record.name!r}: device trackers {missing} are not imported; left out")
        people.append(
            _build(
                "person",
                f"data.items[{i}]",
                Person,
                person_id=split_entity_id(entity_id)[1],
                name=record.name,
                entity_id=entity_id,
                device_trackers=tuple(t for t in trackers if t in entity_ids),
            )
        )
    return tuple(people)


def _floor(record: FloorRecord) -> Floor:
    return Floor(
        floor_id=record.floor_id,
        name=record.name,
        level=record.level,
        icon=record.icon,
        aliases=tuple(record.aliases),
    )


def _area(record: AreaRecord, catalog: Catalog) -> Area:
    return Area(
        area_id=record.id,
        name=record.name,
        floor_id=record.floor_id,
        labels=tuple(record.labels),
        icon=record.icon,
        aliases=tuple(record.aliases),
        room_type=_room_type(record, catalog),
    )


def _room_type(record: AreaRecord, catalog: Catalog) -> str:
    """The catalog room type an area is named after, else the generic "room".

    Tried in turn: the id or name without a `_2` suffix as a room key (`bedroom_2`), the room's display
    name (`Laundry Room`), and a room key the id ends with (`primary_bedroom`).
    """
    candidates = [_ROOM_SUFFIX.sub("", c) for c in (record.id, slugify(record.name))]
    for candidate in candidates:
        if candidate in catalog.rooms:
            return candidate
    for key, room in catalog.rooms.items():
        if slugify(room.name) in candidates:
            return key
    by_length = sorted(catalog.rooms, key=len, reverse=True)
    return next((k for c in candidates for k in by_length if c.endswith(f"_{k}")), "room")


def _label(record: LabelRecord) -> Label:
    return Label(
        label_id=record.label_id,
        name=record.name,
        color=record.color,
        icon=record.icon,
        description=record.description,
    )


def _device(record: DeviceRecord, device_type: DeviceType | None) -> Device:
    return Device(
        id=record.id,
        name=_device_name(record),
        manufacturer=record.manufacturer or "unknown",
        model=record.model or "unknown",
        model_id=record.model_id,
        area_id=record.area_id,
        labels=tuple(record.labels),
        sw_version=record.sw_version,
        device_type=device_type.key if device_type is not None else PASSIVE_DEVICE_TYPE,
    )


def _entity(record: EntityRecord, specs: Mapping[str, EntitySpec]) -> Entity:
    capabilities = record.capabilities or {}
    domain = _domain(record)
    state_class = capabilities.get("state_class") if domain == "sensor" else None
    options = capabilities.get("options") if domain == "select" else None
    spec = specs.get(record.entity_id)
    sensor_options = record.options.get("sensor")
    precision = None
    if isinstance(sensor_options, dict):
        # The user's display precision wins over the integration's suggestion, as in HA's UI.
        precision = sensor_options.get("display_precision", sensor_options.get("suggested_display_precision"))
    if not isinstance(precision, int) and spec is not None:
        precision = spec.precision  # HA keeps none for most domains; the catalog knows the device's
    return Entity(
        entity_id=record.entity_id,
        unique_id=record.unique_id,
        platform=record.platform,
        device_id=record.device_id,
        area_id=record.area_id,
        device_class=_device_class(record),
        unit_of_measurement=record.unit_of_measurement,
        state_class=cast(Literal["measurement", "total", "total_increasing"] | None, state_class)
        if state_class in _STATE_CLASSES
        else None,
        original_name=record.original_name,
        has_entity_name=record.has_entity_name,
        labels=tuple(record.labels),
        entity_category=cast(Literal["config", "diagnostic"] | None, record.entity_category)
        if record.entity_category in _ENTITY_CATEGORIES
        else None,
        options=tuple(str(o) for o in options) if isinstance(options, list) else (),
        precision=precision if isinstance(precision, int) else None,
        role=_role(record, spec),
    )


def _role(record: EntityRecord, spec: EntitySpec | None) -> str:
    if spec is not None:
        return spec.role
    if record.device_id is not None:
        return "extra"  # an entity the catalog's device type does not have
    return "person" if _domain(record) == "person" else "main"


def _metadata(
    registries: ImportedRegistries,
    home_key: str,
    home_type: str,
    size_m2: float,
    climate_region: str | None,
    start: date | None,
    days: int,
    seed: int,
    catalog: Catalog,
) -> HomeMetadata:
    config = registries.core_config
    region = climate_region or _climate_from_config(config, catalog)
    if region not in catalog.climates:
        raise ValueError(f"unknown climate region {region!r}; known: {sorted(catalog.climates)}")
    climate = catalog.climates[region]
    latitude, longitude = climate.location.latitude, climate.location.longitude
    if config is not None and config.latitude is not None and config.longitude is not None:
        latitude, longitude = config.latitude, config.longitude
    return HomeMetadata(
        home_key=home_key,
        home_type=home_type,
        size_m2=size_m2,
        climate_region=region,
        grid_region=climate.grid,
        latitude=latitude,
        longitude=longitude,
        timezone=(config.time_zone if config is not None else None) or climate.location.timezone,
        occupants=(),
        seed=seed,
        home_index=0,
        generator_version=f"ha-import-{HA_VERSION}",
        start=start or _earliest_created(registries) or DEFAULT_START,
        days=days,
    )


def _climate_from_config(config: CoreConfigRecord | None, catalog: Catalog) -> str:
    """The climate region whose reference city shares the home's time zone, else the nearest one."""
    if config is None:
        return DEFAULT_CLIMATE_REGION
    for key, climate in catalog.climates.items():
        if climate.location.timezone == config.time_zone:
            return key
    if config.latitude is None or config.longitude is None:
        return DEFAULT_CLIMATE_REGION
    lat, lon = config.latitude, config.longitude

    def distance(key: str) -> float:
        loc = catalog.climates[key].location
        # Equirectangular distance is plenty to pick the nearest of a handful of reference cities.
        dx = math.radians(loc.longitude - lon) * math.cos(math.radians((loc.latitude + lat) / 2))
        return math.hypot(dx, math.radians(loc.latitude - lat))

    return min(catalog.climates, key=distance)


def _earliest_created(registries: ImportedRegistries) -> date | None:
    records: list[_Record] = [
        *registries.floors,
        *registries.areas,
        *registries.labels,
        *registries.devices,
        *registries.entities,
    ]
    # Dates, not datetimes: a hand-edited file may mix naive and aware stamps, which do not compare.
    days = [r.created_at.date() for r in records if r.created_at is not None]
    return min(days) if days else None
