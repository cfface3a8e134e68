"""Calibration overrides: a home layout, routine times and activity-model parameters fitted from one real
home (`homesim calibrate`, `real_homes.calibration`), and the per-home draws around them.

A `Calibration` in `GenerationConfig.calibration` replaces, for every home of the dataset, the household
(its size and its clock: wake-up and bedtime), the rooms and their binary activity sensors, and the
activity model (`activities.yaml`'s `ActivityModel`, the same model with fitted fields). Each home draws
its own variation around the fitted values from its own stream, so home *i* stays reproducible alone.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from homesim.generation.activity_params import ActivityModel, Lognormal
from homesim.generation.seeds import Stream, stream_rng

SensorKind = Literal["motion", "occupancy", "door", "opening", "appliance"]
#: The catalog device type that gives a room one binary sensor of each kind.
KIND_DEVICES: dict[str, str] = {
    "motion": "motion_sensor",
    "occupancy": "occupancy_sensor",
    "door": "door_sensor",
    "opening": "window_sensor",
    "appliance": "coffee_maker",
}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoomLayout(_Spec):
    """One room of the calibrated home: its catalog room type and how many sensors of each kind it has."""

    room_type: str
    sensors: dict[SensorKind, int] = Field(default_factory=dict)


class Calibration(_Spec):
    """What a real home fixes in the homes generated like it (see the module docstring)."""

    source: str = Field(description="home key of the real home the values were fitted from")
    residents: int = Field(ge=1, le=12)
    layout: tuple[RoomLayout, ...] = Field(min_length=1)
    wake_h: float = Field(ge=3, le=12, description="usual wake-up, local hour")
    bedtime_h: float = Field(ge=19, le=27.5, description="usual bedtime, local hour (past midnight > 24)")
    activities: ActivityModel
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
