"""Home Assistant `.storage` registries: export a `Home` as the files HA 2025.1 writes, and import them back.

The floor, area, label, device and entity registries and `core.config_entries` in HA's storage envelope
(`version`, `minor_version`, `key`, `data`), field for field as HA 2025.1 writes them (`export`), and the
reverse mapping of a real HA `.storage` folder onto a `homesim.schema.home.Home`: `records` reads and
checks the files, `importer` maps them (device types guessed from the catalog). `format` holds what both
sides share: keys, versions, the envelope, defaults.
"""

from homesim.ha.storage.export import config_entry_id, entity_registry_id, export_registries
from homesim.ha.storage.format import (
    DEFAULT_CLIMATE_REGION,
    DEFAULT_START,
    HA_VERSION,
    PASSIVE_DEVICE_TYPE,
    PLATFORM,
    STORAGE_VERSIONS,
    RegistryImportError,
    envelope,
)
from homesim.ha.storage.importer import HomeImport, guess_device_type, import_home, registries_to_home
from homesim.ha.storage.records import (
    AreaRecord,
    CoreConfigRecord,
    DeviceRecord,
    EntityRecord,
    FloorRecord,
    ImportedRegistries,
    LabelRecord,
    PersonRecord,
    import_registries,
)

__all__ = [
    "DEFAULT_CLIMATE_REGION",
    "DEFAULT_START",
    "HA_VERSION",
    "PASSIVE_DEVICE_TYPE",
    "PLATFORM",
    "STORAGE_VERSIONS",
    "AreaRecord",
    "CoreConfigRecord",
    "DeviceRecord",
    "EntityRecord",
    "FloorRecord",
    "HomeImport",
    "ImportedRegistries",
    "LabelRecord",
    "PersonRecord",
    "RegistryImportError",
    "config_entry_id",
    "entity_registry_id",
    "envelope",
    "export_registries",
    "guess_device_type",
    "import_home",
    "import_registries",
    "registries_to_home",
]
