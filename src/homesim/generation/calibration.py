"""Calibration overrides: a home layout, routine times and activity-model parameters fitted from one real
home (`homesim calibrate`, `real_homes.calibration`), and the per-home draws around them.

A `Calibration` in `GenerationConfig.calibration` replaces, for every home of the dataset, the household
(its size and its clock: wake-up and bedtime), the rooms and their binary activity sensors, and the
activity model (`activities.yaml`'s `ActivityModel`, the same model with fitted fields). Each home draws
its own variation around the fitted values from its own stream, so home *i* stays reproducible alone.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from homesim.generation.activity_params import ActivityModel, Lognormal
from homesim.generation.catalog import load_catalog
from homesim.generation.seeds import Stream, stream_rng
from homesim.schema.activities import ACTIVITIES
from homesim.schema.home import Home

SensorKind = Literal["motion", "occupancy", "door", "opening", "appliance"]
#: The catalog device type that gives a room one binary sensor of each kind.
KIND_DEVICES: dict[str, str] = {
    "motion": "motion_sensor",
    "occupancy": "occupancy_sensor",
    "door": "door_sensor",
    "opening": "window_sensor",
    "appliance": "coffee_maker",
}


def _non_decreasing(value: tuple[float, ...]) -> tuple[float, ...]:
    if value[0] < 0 or any(b < a for a, b in pairwise(value)):
        raise ValueError("quantiles must be non-negative and non-decreasing")
    return value


#: Quantiles of a distribution at evenly spaced probabilities from 0 to 1 (`draw_quantiles`), so a fitted
#: distribution keeps the real shape (a PIR's on-time is its clear time plus a short tail, not lognormal).
Quantiles = Annotated[tuple[float, ...], Field(min_length=2), AfterValidator(_non_decreasing)]
#: A sensor's on-time (seconds) when the real home has too few activations of it to fit one.
DEFAULT_ON_S: tuple[float, ...] = (1.0, 20.0, 120.0, 720.0, 36_000.0)


def draw_quantiles(rng: np.random.Generator, quantiles: tuple[float, ...], n: int) -> npt.NDArray[np.float64]:
    """`n` draws from the distribution with these quantiles (linear between them)."""
    return np.interp(rng.random(n), np.linspace(0.0, 1.0, len(quantiles)), quantiles)


Positive = Annotated[float, Field(gt=0)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SensorFit(_Spec):
    """One binary activity sensor of the real home and how it responds to what the occupants do."""

    kind: SensorKind
    #: Activations per hour while any occupant does each activity (`activities.yaml` names); empty: the
    #: sensor follows the default model (a door on leaving and returning, a PIR on room movement).
    per_hour: dict[str, float] = Field(default_factory=dict)
    #: How long an activation stays on, seconds: quantiles.
    on_s: Quantiles = DEFAULT_ON_S
    #: Share of its activations the same sensor fires again next (someone staying and moving in its view),
    #: and the seconds from one start to the next then: lognormal (median, log-sd, min, max).
    repeat: float = Field(default=0.0, ge=0.0, le=0.95)
    repeat_gap_s: Lognormal = (300.0, 1.0, 30.0, 7_200.0)
    #: With episodes: the chance that a further activation of this sensor in one episode stays (a real
    #: sensor fires again only while someone stays in its view), matched by simulation to `repeat`.
    again: float = Field(default=1.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _known(self) -> SensorFit:
        unknown = sorted(set(self.per_hour) - set(ACTIVITIES))
        if unknown:
            raise ValueError(f"unknown activities {unknown}")
        return self


class RoomLayout(_Spec):
    """One room of the calibrated home: its catalog room type and its binary activity sensors."""

    room_type: str
    sensors: tuple[SensorFit, ...] = ()

    @field_validator("room_type")
    @classmethod
    def _known_room(cls, value: str) -> str:
        rooms = load_catalog().rooms
        if value not in rooms:
            raise ValueError(f"unknown room type {value!r}; expected one of {sorted(rooms)}")
        return value


class Episodes(_Spec):
    """Real activity comes in episodes — bursts of activations with long quiet spells between — and the
    calibrated sensors' activations gather into them: `per_h` episodes per awake hour at home, and within
    one, consecutive activations `gap_s` apart."""

    per_h: float = Field(gt=0)
    #: Quantiles of the seconds between consecutive activations of different sensors in an episode (in
    #: different rooms, when `room_gap_s` is given).
    gap_s: Quantiles
    #: The same for two sensors in one room (moving about a room and walking between rooms differ in
    #: pace); None: `gap_s`.
    room_gap_s: Quantiles | None = None
    #: The same when the two activations are of one sensor (someone staying and moving in its view).
    same_gap_s: Quantiles
    #: The number of activations from one episode's start to the next is gamma with this shape (1: about
    #: geometric; larger: episodes of more even size), matched by simulation to the real sizes' spread;
    #: None: each activation starts an episode independently at the rate's chance.
    size_shape: float | None = Field(default=None, gt=0)


class Calibration(_Spec):
    """What a real home fixes in the homes generated like it (see the module docstring)."""

    source: str = Field(description="home key of the real home the values were fitted from")
    residents: int = Field(ge=1, le=12)
    layout: tuple[RoomLayout, ...] = Field(min_length=1)
    wake_h: float = Field(ge=3, le=12, description="usual wake-up, local hour")
    bedtime_h: float = Field(ge=19, le=27.5, description="usual bedtime, local hour (past midnight > 24)")
    activities: ActivityModel
    #: The episodes the calibrated sensors' activations gather into (None: each at its own time).
    episodes: Episodes | None = None
    #: Multipliers on the calibrated sensors' rates by local hour of day (24, from midnight), matched by
    #: simulation to the real home's hourly profile (None: the activity model's profile alone).
    hourly: tuple[Positive, ...] | None = Field(default=None, min_length=24, max_length=24)
    #: Per-home spread: sd (hours) of each home's wake-up and bedtime around the fitted ones, and the
    #: log-sd of each home's multiplier on rates (night wake-ups, outings, scattered activities, motion).
    time_sd_h: float = Field(default=0.4, ge=0, le=3)
    rate_log_sd: float = Field(default=0.15, ge=0, le=1)


class HomeDraw(_Spec):
    """One generated home's own values around the calibration."""

    wake_h: float
    bedtime_h: float
    activities: ActivityModel


def _scaled(spec: Lognormal, factor: float) -> Lognormal:
    median, sigma, low, high = spec
    return (float(np.clip(median * factor, low, high)), sigma, low, high)


def draw_home(calibration: Calibration, seed: int, index: int) -> HomeDraw:
    """Home `index`'s values: times shifted and rates scaled by draws from its own stream."""
    rng = stream_rng(seed, index, Stream.CALIBRATION)
    shift = rng.normal(0.0, calibration.time_sd_h, 2)
    factor = np.exp(rng.normal(0.0, calibration.rate_log_sd, 5))
    m = calibration.activities
    wakeups = m.sleep.night_wakeups
    kinds = {
        k: spec.model_copy(update={"motion_per_h": spec.motion_per_h * float(factor[3])})
        for k, spec in m.kinds.items()
    }
    leaving = kinds["leaving"]
    if leaving.duration is not None:
        longer = _scaled(leaving.duration, float(factor[4]))
        kinds["leaving"] = leaving.model_copy(update={"duration": longer})
    model = m.model_copy(
        update={
            "sleep": m.sleep.model_copy(
                update={"night_wakeups": (wakeups[0] * float(factor[0]), wakeups[1])}
            ),
            "outings": m.outings.model_copy(
                update={
                    "free_day": m.outings.free_day * float(factor[1]),
                    "workday": m.outings.workday * float(factor[1]),
                }
            ),
            "scattered": {k: v * float(factor[2]) for k, v in m.scattered.items()},
            "kinds": kinds,
        }
    )
    # Within the bounds of `schema.home.Occupant`.
    wake = float(np.clip(calibration.wake_h + shift[0], 3.0, 12.0))
    bedtime = float(np.clip(calibration.bedtime_h + shift[1], max(19.0, wake + 10.0), 27.5))
    return HomeDraw(wake_h=wake, bedtime_h=bedtime, activities=model)


def layout_entities(home: Home, calibration: Calibration) -> dict[str, tuple[int, int]]:
    """Entity id → (room, sensor) index in the layout of each sensor the layout placed, matched by area
    and creation order (the structure adds a room's layout sensors in layout order)."""
    main = {e.device_id: e.entity_id for e in home.entities if e.device_id and e.role == "main"}
    placed: dict[str, list[str]] = {}
    for device in home.devices:
        if device.area_id and device.device_type in KIND_DEVICES.values() and device.id in main:
            placed.setdefault(device.area_id, []).append(main[device.id])
    return {
        entity_id: (r, j)
        for r, (area, room) in enumerate(zip(home.areas, calibration.layout, strict=False))
        for j, entity_id in enumerate(placed.get(area.area_id, [])[: len(room.sensors)])
    }


def calibrated_sensors(home: Home, calibration: Calibration) -> dict[str, SensorFit]:
    """Entity id → fit of each placed sensor with a response (`per_hour`)."""
    fits = {e: calibration.layout[r].sensors[j] for e, (r, j) in layout_entities(home, calibration).items()}
    return {e: fit for e, fit in fits.items() if fit.per_hour}
