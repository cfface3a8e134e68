"""Pydantic models of a home in Home Assistant's registry shapes, with HA's naming and reference rules."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from homesim.schema.naming import HA_DOMAINS, is_valid_entity_id, split_entity_id

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:_[a-z0-9]+)*$", min_length=1, max_length=255)]
HexId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
_COLOR_RE = re.compile(r"^(#[0-9a-fA-F]{6}|[a-z][a-z_-]*)$")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Floor(_Record):
    floor_id: Slug
    name: str = Field(min_length=1)
    level: int | None = None
    icon: str | None = None
    aliases: tuple[str, ...] = ()


class Label(_Record):
    label_id: Slug
    name: str = Field(min_length=1)
    color: str | None = None
    icon: str | None = None
    description: str | None = None

    @field_validator("color")
    @classmethod
    def _color(cls, value: str | None) -> str | None:
        if value is not None and not _COLOR_RE.match(value):
            raise ValueError("color must be '#rrggbb' or an HA colour name such as 'indigo'")
        return value


class Area(_Record):
    area_id: Slug
    name: str = Field(min_length=1)
    floor_id: Slug | None = None
    labels: tuple[Slug, ...] = ()
    icon: str | None = None
    aliases: tuple[str, ...] = ()
    #: homesim's room type from the catalog (kitchen, bedroom, …); not an HA field.
    room_type: str = "room"


class Device(_Record):
    id: HexId
    name: str = Field(min_length=1)
    manufacturer: str
    model: str
    model_id: str | None = None
    area_id: Slug | None
    labels: tuple[Slug, ...] = ()
    sw_version: str | None = None
    #: homesim's catalog key of the device type (ceiling_light, motion_sensor, …).
    device_type: str


class Entity(_Record):
    entity_id: str
    unique_id: str = Field(min_length=1)
    platform: str = "homesim"
    device_id: HexId | None = None
    #: The entity's own area; None inherits the device's, as in HA's registry.
    area_id: Slug | None = None
    device_class: str | None = None
    unit_of_measurement: str | None = None
    state_class: Literal["measurement", "total", "total_increasing"] | None = None
    original_name: str | None = None
    has_entity_name: bool = True
    labels: tuple[Slug, ...] = ()
    entity_category: Literal["config", "diagnostic"] | None = None
    #: Valid states for `select` entities, and zone names for `person`.
    options: tuple[str, ...] = ()
    #: Number of decimals in the state string of numeric entities.
    precision: int | None = Field(default=None, ge=0, le=6)
    #: homesim's role of this entity inside its device type (main, power, battery, …).
    role: str = "main"

    @field_validator("entity_id")
    @classmethod
    def _entity_id(cls, value: str) -> str:
        if not is_valid_entity_id(value):
            domain = split_entity_id(value)[0]
            if domain and domain not in HA_DOMAINS and "." in value:
                raise ValueError(f"unknown Home Assistant domain {domain!r} in entity_id {value!r}")
            raise ValueError(
                f"entity_id {value!r} must be 'domain.object_id' in lowercase letters, digits and single "
                "underscores"
            )
        return value

    @property
    def domain(self) -> str:
        return split_entity_id(self.entity_id)[0]

    @property
    def object_id(self) -> str:
        return split_entity_id(self.entity_id)[1]


class Person(_Record):
    person_id: Slug
    name: str = Field(min_length=1)
    entity_id: str
    device_trackers: tuple[str, ...] = ()

    @field_validator("entity_id")
    @classmethod
    def _person_entity(cls, value: str) -> str:
        if not value.startswith("person.") or not is_valid_entity_id(value):
            raise ValueError(f"person entity_id {value!r} must be 'person.<slug>'")
        return value


class Occupant(_Record):
    """One resident and the schedule parameters that drive their presence (homesim metadata)."""

    person_id: Slug
    name: str
    role: Literal["adult", "child", "senior"]
    wake_weekday_h: float = Field(ge=3, le=12)
    wake_weekend_h: float = Field(ge=3, le=13)
    leave_h: float | None = Field(ge=5, le=14)
    return_h: float | None = Field(ge=11, le=23)
    sleep_h: float = Field(ge=19, le=27.5)
    work_from_home_days: tuple[int, ...] = ()
    vacations: tuple[tuple[date, date], ...] = ()


class SourceFile(_Record):
    """One input file an imported home was read from."""

    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    lines: int = Field(ge=0)


class RealSource(_Record):
    """Where an imported real home's history came from (`source == "real"`)."""

    #: Input format: `ordonez`, `casas`, `recorder`.
    format: str
    #: The public dataset, e.g. "UCI ADL Binary Dataset (Ordóñez)"; None for a user's own recorder database.
    dataset: str | None = None
    citation: str | None = None
    license: str | None = None
    #: The dataset's own name of the home (`OrdonezA`, `aruba`).
    original_name: str | None = None
    files: tuple[SourceFile, ...] = ()


class HomeMetadata(_Record):
    home_key: str = Field(min_length=1)
    home_type: str
    #: Floor area; None when not known (imported real homes).
    size_m2: float | None = Field(default=None, gt=0)
    climate_region: str
    grid_region: str
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    timezone: str
    occupants: tuple[Occupant, ...]
    seed: int
    home_index: int = Field(ge=0)
    generator_version: str
    start: date
    days: int = Field(gt=0)
    #: "synthetic" for generated homes; "real" for a history imported by `homesim import-history`, whose
    #: events are observed (no ground truth), whose occupants are unknown and whose location is approximate.
    source: Literal["synthetic", "real"] = "synthetic"
    #: The dataset or database a real home came from; None for synthetic homes.
    real_source: RealSource | None = None

    @model_validator(mode="after")
    def _real_source(self) -> HomeMetadata:
        if (self.source == "real") != (self.real_source is not None):
            raise ValueError("real_source is set exactly when source is 'real'")
        return self


class Home(_Record):
    """A home as HA's registries describe it, plus homesim's metadata. Validates every reference."""

    metadata: HomeMetadata
    floors: tuple[Floor, ...]
    areas: tuple[Area, ...]
    labels: tuple[Label, ...] = ()
    devices: tuple[Device, ...]
    entities: tuple[Entity, ...]
    people: tuple[Person, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> Home:
        errors: list[str] = []
        _unique("floors", [f.floor_id for f in self.floors], errors)
        _unique("areas", [a.area_id for a in self.areas], errors)
        _unique("labels", [lb.label_id for lb in self.labels], errors)
        _unique("devices", [d.id for d in self.devices], errors)
        _unique("entities", [e.entity_id for e in self.entities], errors)
        _unique("entity unique_ids", [f"{e.platform}:{e.unique_id}" for e in self.entities], errors)
        _unique("people", [p.person_id for p in self.people], errors)
        floors = {f.floor_id for f in self.floors}
        areas = {a.area_id for a in self.areas}
        labels = {lb.label_id for lb in self.labels}
        devices = {d.id for d in self.devices}
        entity_ids = {e.entity_id for e in self.entities}
        for i, area in enumerate(self.areas):
            if area.floor_id is not None and area.floor_id not in floors:
                errors.append(f"areas[{i}].floor_id: unknown floor {area.floor_id!r}")
            errors += _missing_labels(f"areas[{i}]", area.labels, labels)
        for i, device in enumerate(self.devices):
            if device.area_id is not None and device.area_id not in areas:
                errors.append(f"devices[{i}].area_id: unknown area {device.area_id!r}")
            errors += _missing_labels(f"devices[{i}]", device.labels, labels)
        for i, entity in enumerate(self.entities):
            if entity.device_id is not None and entity.device_id not in devices:
                errors.append(f"entities[{i}].device_id: unknown device {entity.device_id!r}")
            if entity.area_id is not None and entity.area_id not in areas:
                errors.append(f"entities[{i}].area_id: unknown area {entity.area_id!r}")
            errors += _missing_labels(f"entities[{i}]", entity.labels, labels)
        for i, person in enumerate(self.people):
            if person.entity_id not in entity_ids:
                errors.append(f"people[{i}].entity_id: no entity {person.entity_id!r}")
            for tracker in person.device_trackers:
                if tracker not in entity_ids:
                    errors.append(f"people[{i}].device_trackers: no entity {tracker!r}")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def entity(self, entity_id: str) -> Entity:
        for entity in self.entities:
            if entity.entity_id == entity_id:
                return entity
        raise KeyError(entity_id)

    def entity_area(self, entity: Entity) -> str | None:
        """The entity's effective area: its own, else its device's (HA's inheritance rule)."""
        if entity.area_id is not None or entity.device_id is None:
            return entity.area_id
        return next((d.area_id for d in self.devices if d.id == entity.device_id), None)


def _unique(what: str, values: list[str], errors: list[str]) -> None:
    repeated = sorted(v for v, n in Counter(values).items() if n > 1)
    if repeated:
        errors.append(f"{what}: duplicate ids {repeated[:5]}")


def _missing_labels(where: str, used: tuple[str, ...], known: set[str]) -> list[str]:
    return [f"{where}.labels: unknown label {label!r}" for label in used if label not in known]
