"""HomeGenerator: a home's structure — floors, areas, labels, devices, entities, people — from a seed.

Names follow HA 2024: a device is named after its area and type ("Kitchen Ceiling Light"); an entity's
object id is the slug of device name + entity name (`sensor.bedroom_climate_sensor_temperature`), with
HA's `_2` suffix on collisions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from homesim import GENERATOR_VERSION
from homesim.generation.calibration import KIND_DEVICES, Calibration, HomeDraw, draw_home
from homesim.generation.catalog import Catalog, DeviceType, HomeType, RoomType, load_catalog
from homesim.generation.config import GenerationConfig
from homesim.generation.occupants import household_vacations, make_occupants
from homesim.generation.seeds import Stream, stream_rng
from homesim.schema.home import Area, Device, Entity, Floor, Home, HomeMetadata, Label, Occupant, Person
from homesim.schema.naming import entity_object_id, slugify, unique_slug

_GOLDEN = 0.6180339887498949
_FLOOR_NAMES = {-1: "Basement", 0: "Ground Floor", 1: "First Floor", 2: "Second Floor", 3: "Third Floor"}
_LABEL_STYLE = {
    "lighting": ("Lighting", "amber", "mdi:lightbulb"),
    "security": ("Security", "red", "mdi:shield-home"),
    "energy": ("Energy", "green", "mdi:lightning-bolt"),
    "climate": ("Climate", "light-blue", "mdi:thermometer"),
    "media": ("Media", "purple", "mdi:television"),
    "kitchen": ("Kitchen appliances", "orange", "mdi:coffee-maker"),
    "cleaning": ("Cleaning", "cyan", "mdi:robot-vacuum"),
    "outdoor": ("Outdoor", "brown", "mdi:tree"),
}


def pick_home_type(config: GenerationConfig, index: int) -> str:
    """Home type of home `index`: a golden-ratio sequence over the shares' CDF.

    Any run of consecutive homes matches the shares closely (unlike independent draws), and home i's type
    depends only on (seed, i).
    """
    shares = config.home_type_shares()
    keys = sorted(k for k, v in shares.items() if v > 0)
    offset = stream_rng(config.seed, 0, Stream.HOME_TYPE).random()
    u = (offset + index * _GOLDEN) % 1.0
    cdf = np.cumsum([shares[k] for k in keys])
    return keys[min(int(np.searchsorted(cdf / cdf[-1], u, side="right")), len(keys) - 1)]


#: Device types a calibrated layout places itself (one per sensor of the real home), appliances, and the
#: catalog's other binary activity sensors (a calibrated home has exactly the real home's).
_CALIBRATED_TYPES = frozenset(KIND_DEVICES.values()) | {
    "dishwasher",
    "washing_machine",
    "bed_sensor",
    "seat_sensor",
    "fridge_sensor",
    "cupboard_sensor",
    "microwave_sensor",
    "toilet_sensor",
}


def _calibrated_occupants(
    home_type: HomeType, rng: np.random.Generator, cal: Calibration, draw: HomeDraw
) -> list[Occupant]:
    """The real home's household size, on its clock (this home's draw); at home all day, no job or trip
    (the real home's absences are its fitted outings)."""
    occupants = make_occupants(home_type, rng, (cal.residents, cal.residents))
    return [
        o.model_copy(
            update={
                "role": "adult",
                "wake_weekday_h": draw.wake_h,
                "wake_weekend_h": draw.wake_h,
                "sleep_h": draw.bedtime_h,
                "leave_h": None,
                "return_h": None,
                "work_from_home_days": (),
            }
        )
        for o in occupants
    ]


@dataclass
class _Names:
    area_ids: set[str]
    object_ids: set[str]
    device_names: set[str]


class HomeGenerator:
    """Builds the structure of home `index` of a config; events are the EventGenerator's job."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog or load_catalog()

    def generate(self, config: GenerationConfig, index: int) -> Home:
        rng = stream_rng(config.seed, index, Stream.STRUCTURE)
        home_type = self.catalog.home_types[pick_home_type(config, index)]
        climate_keys = sorted(config.climate_regions or self.catalog.climates)
        weights = np.array([self.catalog.climates[k].weight for k in climate_keys])
        climate = self.catalog.climates[
            climate_keys[int(rng.choice(len(climate_keys), p=weights / weights.sum()))]
        ]
        occ_rng = stream_rng(config.seed, index, Stream.OCCUPANTS)
        cal = config.calibration
        if cal is None:
            occupants = make_occupants(home_type, occ_rng, config.occupants, climate.social_clock_h)
            trips = household_vacations(occ_rng, config.start, config.days, home_type.vacant_share)
            occupants = [o.model_copy(update={"vacations": trips}) for o in occupants]
        else:
            occupants = _calibrated_occupants(home_type, occ_rng, cal, draw_home(cal, config.seed, index))
        names = _Names(set(), set(), set())
        wanted = [r.room_type for r in cal.layout] if cal is not None else None
        floors, room_plan = self._floors_and_rooms(home_type, occupants, rng, wanted)
        areas: list[Area] = []
        devices: list[Device] = []
        entities: list[Entity] = []
        density = config.device_density * home_type.density
        key = config.home_key(index)
        for r, (room, floor_id, ordinal) in enumerate(room_plan):
            area = self._area(room, floor_id, ordinal, names)
            areas.append(area)
            fixed = [] if cal is None else [s.kind for s in cal.layout[r].sensors]
            for spec in room.devices:
                # A calibrated home has exactly the real home's activity sensors (added below).
                if cal is not None and spec.type in _CALIBRATED_TYPES:
                    continue
                if rng.random() >= min(1.0, spec.p * density):
                    continue
                types = [spec.type] * int(rng.integers(spec.n[0], spec.n[1] + 1))
                for device_type_key in types:
                    device_type = self.catalog.devices[device_type_key]
                    device = self._device(device_type, area, rng, names)
                    devices.append(device)
                    entities += self._entities(device_type, device, key, names)
            for kind in fixed:
                device_type = self.catalog.devices[KIND_DEVICES[kind]]
                device = self._device(device_type, area, rng, names)
                devices.append(device)
                entities += self._entities(device_type, device, key, names)
        people: list[Person] = []
        for occ in occupants:
            phone_type = self.catalog.devices["phone"]
            phone = self._device(phone_type, None, rng, names, owner=occ.name)
            devices.append(phone)
            phone_entities = self._entities(phone_type, phone, key, names)
            entities += phone_entities
            person_entity = Entity(
                entity_id=f"person.{unique_slug(occ.person_id, names.object_ids)}",
                unique_id=f"{key}-person-{occ.person_id}",
                platform="person",
                original_name=occ.name,
                has_entity_name=False,
                role="person",
            )
            names.object_ids.add(person_entity.object_id)
            entities.append(person_entity)
            trackers = tuple(e.entity_id for e in phone_entities if e.domain == "device_tracker")
            people.append(
                Person(
                    person_id=occ.person_id,
                    name=occ.name,
                    entity_id=person_entity.entity_id,
                    device_trackers=trackers,
                )
            )
        entities.append(
            Entity(
                entity_id="sun.sun",
                unique_id=f"{key}-sun",
                platform="sun",
                original_name="Sun",
                has_entity_name=False,
            )
        )
        used_labels = sorted({lb for d in devices for lb in d.labels})
        labels = [
            Label(label_id=lb, name=_LABEL_STYLE[lb][0], color=_LABEL_STYLE[lb][1], icon=_LABEL_STYLE[lb][2])
            for lb in used_labels
        ]
        size = float(np.round(rng.uniform(*(config.size_m2 or home_type.size_m2)), 1))
        metadata = HomeMetadata(
            home_key=key,
            home_type=home_type.key,
            size_m2=size,
            climate_region=climate.key,
            grid_region=climate.grid,
            latitude=round(climate.location.latitude + float(rng.normal(0, 0.15)), 4),
            longitude=round(climate.location.longitude + float(rng.normal(0, 0.15)), 4),
            timezone=climate.location.timezone,
            occupants=tuple(occupants),
            seed=config.seed,
            home_index=index,
            generator_version=GENERATOR_VERSION,
            start=config.start,
            days=config.days,
        )
        return Home(
            metadata=metadata,
            floors=tuple(floors),
            areas=tuple(areas),
            labels=tuple(labels),
            devices=tuple(devices),
            entities=tuple(entities),
            people=tuple(people),
        )

    def _floors_and_rooms(
        self,
        home_type: HomeType,
        occupants: list[Occupant],
        rng: np.random.Generator,
        rooms: list[str] | None = None,
    ) -> tuple[list[Floor], list[tuple[RoomType, str, int]]]:
        """Floors and (room type, floor, ordinal) of each room: `rooms` when given (a calibrated
        layout), else drawn from the home type."""
        wanted: list[str] = list(rooms or [])
        for room_key, (lo, hi) in home_type.rooms.items() if rooms is None else ():
            wanted += [room_key] * int(rng.integers(lo, hi + 1))
        for room_key, p in home_type.optional.items() if rooms is None else ():
            if room_key == "kids_room" and not any(o.role == "child" for o in occupants):
                continue
            if rng.random() < p:
                wanted.append(room_key)
        n_levels = int(rng.integers(home_type.floors[0], home_type.floors[1] + 1))
        levels = list(range(n_levels))
        if "basement" in wanted:
            levels = [-1, *levels]
        floors = [
            Floor(
                floor_id=slugify(_FLOOR_NAMES[lv]),
                name=_FLOOR_NAMES[lv],
                level=lv,
                icon="mdi:home-floor-" + str(max(lv, 0)),
            )
            for lv in levels
        ]
        upper = [lv for lv in levels if lv > 0] or [0]
        plan: list[tuple[RoomType, str, int]] = []
        seen: dict[str, int] = {}
        for room_key in wanted:
            room = self.catalog.rooms[room_key]
            if room.floor == "basement":
                level = -1
            elif room.floor == "upper":
                level = int(rng.choice(upper))
            elif room.floor == "any":
                level = int(rng.choice([lv for lv in levels if lv >= 0]))
            else:  # ground and outdoor areas sit on the ground floor
                level = 0
            seen[room_key] = seen.get(room_key, 0) + 1
            plan.append((room, slugify(_FLOOR_NAMES[level]), seen[room_key]))
        return floors, plan

    @staticmethod
    def _area(room: RoomType, floor_id: str, ordinal: int, names: _Names) -> Area:
        name = room.name if ordinal == 1 else f"{room.name} {ordinal}"
        if room.key == "bedroom" and ordinal == 1:
            name = "Primary Bedroom"
        area_id = unique_slug(slugify(name), names.area_ids)
        names.area_ids.add(area_id)
        return Area(area_id=area_id, name=name, floor_id=floor_id, icon=room.icon, room_type=room.key)

    @staticmethod
    def _device(
        device_type: DeviceType, area: Area | None, rng: np.random.Generator, names: _Names, owner: str = ""
    ) -> Device:
        model = device_type.models[int(rng.integers(len(device_type.models)))]
        base = (
            f"{owner}'s {device_type.name}"
            if owner
            else f"{area.name if area else ''} {device_type.name}".strip()
        )
        name, n = base, 2
        while name in names.device_names:
            name, n = f"{base} {n}", n + 1
        names.device_names.add(name)
        return Device(
            id=bytes(rng.integers(0, 256, 16, dtype=np.uint8)).hex(),
            name=name,
            manufacturer=model.manufacturer,
            model=model.model,
            model_id=model.model_id,
            area_id=area.area_id if area else None,
            labels=device_type.labels,
            sw_version=f"{int(rng.integers(1, 5))}.{int(rng.integers(0, 30))}.{int(rng.integers(0, 10))}",
            device_type=device_type.key,
        )

    @staticmethod
    def _entities(device_type: DeviceType, device: Device, home_key: str, names: _Names) -> list[Entity]:
        out = []
        for spec in device_type.entities:
            object_id = unique_slug(entity_object_id(device.name, spec.name), names.object_ids)
            names.object_ids.add(object_id)
            digest = hashlib.sha1(f"{home_key}/{device.id}/{spec.role}/{spec.domain}".encode()).hexdigest()[
                :16
            ]
            out.append(
                Entity(
                    entity_id=f"{spec.domain}.{object_id}",
                    unique_id=digest,
                    device_id=device.id,
                    device_class=spec.device_class,
                    unit_of_measurement=spec.unit,
                    state_class=spec.state_class,
                    original_name=spec.name,
                    labels=device.labels if spec.role == "main" else (),
                    entity_category=spec.entity_category,
                    options=spec.options,
                    precision=spec.precision,
                    role=spec.role,
                )
            )
        return out
