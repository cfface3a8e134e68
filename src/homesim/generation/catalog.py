"""The catalog: home types, room types, device types and regions, loaded from the packaged YAML data."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from homesim.schema.naming import HA_DOMAINS
from homesim.schema.states import DOMAIN_STATES

IntRange = tuple[int, int]
FloatRange = tuple[float, float]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceModel(_Spec):
    manufacturer: str
    model: str
    model_id: str


class EntitySpec(_Spec):
    domain: str
    #: Entity name under HA 2024 naming; None for the device's main entity (named after the device).
    name: str | None = None
    device_class: str | None = None
    unit: str | None = None
    state_class: Literal["measurement", "total", "total_increasing"] | None = None
    precision: int | None = None
    role: str = "main"
    range: FloatRange | None = None
    report_s: float | None = Field(default=None, gt=0)
    states: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    entity_category: Literal["config", "diagnostic"] | None = None

    @model_validator(mode="after")
    def _check(self) -> EntitySpec:
        if self.domain not in HA_DOMAINS:
            raise ValueError(f"unknown HA domain {self.domain!r}")
        allowed = DOMAIN_STATES.get(self.domain)
        bad = [s for s in self.states if allowed is not None and s not in allowed]
        if bad:
            raise ValueError(f"states {bad} are not valid for domain {self.domain!r}")
        return self


class DeviceType(_Spec):
    key: str
    name: str
    labels: tuple[str, ...] = ()
    tags: frozenset[str] = frozenset()
    models: tuple[DeviceModel, ...] = Field(min_length=1)
    entities: tuple[EntitySpec, ...] = Field(min_length=1)


class RoomDevice(_Spec):
    type: str
    p: float = Field(ge=0, le=1)
    n: IntRange = (1, 1)


class RoomType(_Spec):
    key: str
    name: str
    icon: str
    floor: Literal["ground", "upper", "any", "basement", "outdoor"]
    devices: tuple[RoomDevice, ...]


class HomeType(_Spec):
    key: str
    name: str
    share: float = Field(gt=0, le=1)
    floors: IntRange
    size_m2: FloatRange
    occupants: IntRange
    density: float = Field(gt=0)
    rooms: dict[str, IntRange]
    optional: dict[str, float] = Field(default_factory=dict)
    outdoor: str | None = None
    #: Share of days on which nobody is home (vacation homes).
    vacant_share: float = Field(default=0.0, ge=0, lt=1)


class Location(_Spec):
    city: str
    latitude: float
    longitude: float
    timezone: str


class ClimateRegion(_Spec):
    key: str
    name: str
    weight: float = Field(gt=0)
    location: Location
    mean_c: float
    seasonal_c: float
    diurnal_c: float
    coldest_doy: int = Field(ge=1, le=366)
    humidity: float = Field(gt=0, le=100)
    cloudiness: float = Field(ge=0, le=1)
    grid: str
    #: Hours the region's daily life runs later than the survey clocks of `occupants.py` (meals, sleep,
    #: work), which follow the US and north-western European time-use surveys.
    social_clock_h: float = Field(default=0.0, ge=-2, le=2)


class GridRegion(_Spec):
    key: str
    name: str
    base_g: float = Field(gt=0)
    solar_drop: float = Field(ge=0, lt=1)
    evening_peak: float = Field(ge=0, lt=1)
    currency: str
    tariff: dict[Literal["off_peak", "standard", "peak"], float]


class Catalog(_Spec):
    home_types: dict[str, HomeType]
    rooms: dict[str, RoomType]
    devices: dict[str, DeviceType]
    climates: dict[str, ClimateRegion]
    grids: dict[str, GridRegion]

    @model_validator(mode="after")
    def _references(self) -> Catalog:
        errors: list[str] = []
        total = sum(h.share for h in self.home_types.values())
        if abs(total - 1.0) > 1e-6:
            errors.append(f"home type shares sum to {total:.4f}, expected 1")
        for h in self.home_types.values():
            for room in [*h.rooms, *h.optional, *([h.outdoor] if h.outdoor else [])]:
                if room not in self.rooms:
                    errors.append(f"home type {h.key}: unknown room type {room!r}")
        for r in self.rooms.values():
            errors += [
                f"room {r.key}: unknown device type {d.type!r}"
                for d in r.devices
                if d.type not in self.devices
            ]
        errors += [
            f"climate {c.key}: unknown grid {c.grid!r}"
            for c in self.climates.values()
            if c.grid not in self.grids
        ]
        if errors:
            raise ValueError("; ".join(errors))
        return self

    @property
    def domains(self) -> frozenset[str]:
        return frozenset(e.domain for d in self.devices.values() for e in d.entities)


def _load_yaml(name: str) -> dict[str, Any]:
    text = resources.files("homesim.generation").joinpath("catalog_data").joinpath(name).read_text("utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"catalog file {name} must hold a mapping")
    return data


def _keyed(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {key: {"key": key, **value} for key, value in data.items()}


@cache
def load_catalog() -> Catalog:
    """The packaged catalog, parsed and cross-checked once per process."""
    regions = _load_yaml("regions.yaml")
    return Catalog.model_validate(
        {
            "home_types": _keyed(_load_yaml("home_types.yaml")),
            "rooms": _keyed(_load_yaml("rooms.yaml")),
            "devices": _keyed(_load_yaml("device_types.yaml")),
            "climates": _keyed(regions["climate"]),
            "grids": _keyed(regions["grid"]),
        }
    )
