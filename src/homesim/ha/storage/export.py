"""Exporting a `Home` as the `.storage` files HA 2025.1 writes: floor, area, label, device and entity
registries, `core.config_entries` and `person`, field for field. Deterministic: every id derives from the
home, every timestamp from its start date, so exporting the same home twice gives the same bytes."""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from homesim.generation.catalog import DeviceType, load_catalog
from homesim.ha.storage.format import PLATFORM, envelope
from homesim.ids import ulid
from homesim.io import write_json_atomic
from homesim.schema.home import Area, Device, Entity, Floor, Home, Label, Person

# Fixed namespace so entity registry ids are the same on every machine and every run.
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/homesim/homesim/ha/entity_registry")


def config_entry_id(home: Home) -> str:
    """The homesim config entry's id: a ULID timed at the home's start, its randomness from the home key."""
    millis = (home.metadata.start - date(1970, 1, 1)).days * 86_400_000
    randomness = int.from_bytes(hashlib.sha256(home.metadata.home_key.encode()).digest()[:10], "big")
    return ulid(millis, randomness)


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
