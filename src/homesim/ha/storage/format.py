"""What HA 2025.1's `.storage` files are: the storage keys and their versions, HA's envelope, the platform
homesim writes as, the defaults an import falls back on, and the one error an import raises."""

from __future__ import annotations

from datetime import date
from typing import Any

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


class RegistryImportError(ValueError):
    """A `.storage` file that cannot be imported; the message names the file and the field."""


def envelope(key: str, data: dict[str, Any]) -> dict[str, Any]:
    """HA's storage envelope around `data`, with the version HA 2025.1 writes for `key`."""
    version, minor = STORAGE_VERSIONS[key]
    return {"version": version, "minor_version": minor, "key": key, "data": data}
