"""Importing a real HA `.storage` folder: its registries (read by `records`) mapped onto a
`homesim.schema.home.Home`, device types guessed from the catalog and entities matched to their specs."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Literal, NamedTuple, ParamSpec, TypeVar, cast

from pydantic import ValidationError

from homesim.generation.catalog import Catalog, DeviceType, EntitySpec, load_catalog
from homesim.ha.storage.format import (
    DEFAULT_CLIMATE_REGION,
    DEFAULT_START,
    HA_VERSION,
    PASSIVE_DEVICE_TYPE,
    RegistryImportError,
)
from homesim.ha.storage.records import (
    AreaRecord,
    CoreConfigRecord,
    DeviceRecord,
    EntityRecord,
    FloorRecord,
    ImportedRegistries,
    LabelRecord,
    PersonRecord,
    Record,
    check_references,
    first_error,
    import_registries,
    loaded_devices_and_entities,
    record_device_class,
    record_device_name,
    record_domain,
)
from homesim.schema.home import Area, Device, Entity, Floor, Home, HomeMetadata, Label, Person
from homesim.schema.naming import slugify, split_entity_id

_STATE_CLASSES = frozenset({"measurement", "total", "total_increasing"})
_ENTITY_CATEGORIES = frozenset({"config", "diagnostic"})
_ROOM_SUFFIX = re.compile(r"_\d+$")


class HomeImport(NamedTuple):
    home: Home
    warnings: tuple[str, ...]


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
    devices, entities = loaded_devices_and_entities(registries, warnings)
    check_references(registries, devices, entities)
    entities_by_device: dict[str, list[EntityRecord]] = {}
    for entity in entities:
        if entity.device_id is not None:
            entities_by_device.setdefault(entity.device_id, []).append(entity)

    device_types: dict[str, DeviceType | None] = {}
    for device in devices:
        device_types[device.id] = guess_device_type(device, entities_by_device.get(device.id, []), catalog)
        if device_types[device.id] is None:
            warnings.append(
                f"device {device.id} ({record_device_name(device)!r}) matches no catalog device type; "
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

    The types with the device's exact manufacturer and model are the candidates (one hardware model can
    serve several purposes: the same contact sensor on a door or on a fridge), else every type. A candidate
    qualifies when the device has an entity like the type's first (defining) entity, and scores by how
    alike the entity sets are (multiset Jaccard over domain and device class), plus a bonus when the
    device's name contains the type's name. A single exact match wins outright.
    """
    exact = [
        t
        for t in catalog.devices.values()
        if any(m.manufacturer == device.manufacturer and m.model == device.model for m in t.models)
    ]
    if len(exact) == 1:
        return exact[0]
    have = Counter((record_domain(e), record_device_class(e)) for e in entities)
    name = slugify(f"{record_device_name(device)} {device.model or ''}")
    best: DeviceType | None = exact[0] if exact else None
    best_score = 0.0
    for device_type in exact or catalog.devices.values():
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


_T = TypeVar("_T")
_P = ParamSpec("_P")


def _build(key: str, where: str, factory: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """Run a homesim model constructor, reporting its validation error against the registry record."""
    try:
        return factory(*args, **kwargs)
    except ValidationError as exc:
        raise RegistryImportError(f"{key}: {where}: {first_error(exc)}") from exc


def _entity_specs(entities: Sequence[EntityRecord], device_type: DeviceType | None) -> dict[str, EntitySpec]:
    """The catalog entity spec each entity of a device plays, best match first; unmatched ones get none."""
    specs = list(device_type.entities) if device_type is not None else []
    matched: dict[str, EntitySpec] = {}
    passes: tuple[Callable[[EntityRecord, EntitySpec], bool], ...] = (
        lambda e, s: (
            (record_domain(e), record_device_class(e), e.original_name) == (s.domain, s.device_class, s.name)
        ),
        lambda e, s: (record_domain(e), record_device_class(e)) == (s.domain, s.device_class),
        lambda e, s: record_domain(e) == s.domain,
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
        name=record_device_name(record),
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
    domain = record_domain(record)
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
        device_class=record_device_class(record),
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
    return "person" if record_domain(record) == "person" else "main"


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
    records: list[Record] = [
        *registries.floors,
        *registries.areas,
        *registries.labels,
        *registries.devices,
        *registries.entities,
    ]
    # Dates, not datetimes: a hand-edited file may mix naive and aware stamps, which do not compare.
    days = [r.created_at.date() for r in records if r.created_at is not None]
    return min(days) if days else None
