"""Reading a real HA `.storage` folder: each registry file's envelope checked and its records parsed strictly
(a broken field names its file and field), the records HA itself drops at startup dropped with a warning,
and the references between registries checked as HA checks them."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from homesim.ha.storage.format import HA_VERSION, STORAGE_VERSIONS, RegistryImportError
from homesim.schema.naming import HA_DOMAINS, split_entity_id


class Record(BaseModel):
    # Strict: HA writes exact JSON types, and coercing (say) an int unique_id would hide a broken file.
    # Unknown keys are ignored so registries from newer minor versions still import.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    created_at: datetime | None = Field(default=None, strict=False)


class FloorRecord(Record):
    floor_id: str
    name: str
    level: int | None = None
    icon: str | None = None
    aliases: list[str] = []


class AreaRecord(Record):
    id: str
    name: str
    floor_id: str | None = None
    labels: list[str] = []
    icon: str | None = None
    aliases: list[str] = []


class LabelRecord(Record):
    label_id: str
    name: str
    color: str | None = None
    icon: str | None = None
    description: str | None = None


class DeviceRecord(Record):
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


class EntityRecord(Record):
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


class _EntryRecord(Record):
    entry_id: str


class PersonRecord(Record):
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


def _read_data(storage_dir: Path, key: str, *, required: bool) -> dict[str, Any] | None:
    """The `data` of one storage file after checking its envelope; None when optional and absent."""
    path = storage_dir / key
    if not path.is_file():
        if required:
            raise RegistryImportError(f"{key}: file missing from {storage_dir}")
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, a 5,000-digit number, deep nesting
        raise RegistryImportError(f"{key}: not valid JSON ({type(exc).__name__}: {exc})") from exc
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
        raise RegistryImportError(f"{key}: {where}.{first_error(exc)}") from exc


def first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "(record)"
    return f"{field}: {error['msg']}"


def loaded_devices_and_entities(
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
            warnings.append(
                f"device {device.id} ({record_device_name(device)!r}): no config entry exists; dropped"
            )
        else:
            devices.append(device)
    entities: list[EntityRecord] = []
    kept_domains: dict[tuple[str, str], str] = {}
    for entity in registries.entities:
        domain = record_domain(entity)
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


def check_references(
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
        [f"{record_domain(r)}/{r.platform}/{r.unique_id}" for r in entities],
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


def record_domain(record: EntityRecord) -> str:
    return split_entity_id(record.entity_id)[0]


def record_device_class(record: EntityRecord) -> str | None:
    return record.device_class or record.original_device_class


def record_device_name(record: DeviceRecord) -> str:
    return record.name_by_user or record.name or record.model or record.id
