"""The daily activity model's parameters, loaded from `catalog_data/activities.yaml` (fitted values and their
provenance live in that file, not in code)."""

from __future__ import annotations

from functools import cache
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from homesim.generation.catalog import _load_yaml
from homesim.schema.activities import ACTIVITIES

F64 = npt.NDArray[np.float64]
#: (median, log-sd, min, max): a lognormal clipped to [min, max].
Lognormal = tuple[float, float, float, float]
MeanSd = tuple[float, float]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KindSpec(_Spec):
    room: str
    duration: Lognormal | None = None
    motion_per_h: float = Field(default=0.0, ge=0)
    moving_share: float = Field(default=0.0, ge=0, le=1)
    #: Expected detections in the first and in the last `minutes` of the interval, and `minutes`.
    settling: tuple[float, float, float] | None = None


class SleepSpec(_Spec):
    wake_sd_h: float = Field(ge=0)
    workday_wake_sd_h: float = Field(ge=0)
    bedtime_sd_h: float = Field(ge=0)
    shared_share: float = Field(ge=0, le=1)
    #: Correlation of a night's bedtime with the next wake-up on days without a work alarm.
    wake_follows_bedtime: float = Field(default=0.0, ge=0, le=1)
    night_wakeups: tuple[float, float]
    #: The window night wake-ups fall in, [from, to] as shares of the night.
    wakeup_at: tuple[float, float]
    #: Hours from falling asleep to the night's first wake-up (the time to first void), a lognormal.
    first_void_h: Lognormal
    senior_factor: float = Field(gt=0)
    child_factor: float = Field(gt=0)
    nap_per_day: float = Field(ge=0, le=1)
    senior_nap_per_day: float = Field(ge=0, le=1)
    nap_duration: Lognormal
    nap_at: MeanSd

    @model_validator(mode="after")
    def _wakeups_inside_the_night(self) -> SleepSpec:
        low, high = self.wakeup_at
        if not 0 <= low <= high <= 1:
            raise ValueError("sleep.wakeup_at must be [from, to] with 0 <= from <= to <= 1")
        return self


class RoutineSpec(_Spec):
    kind: str
    p: float = Field(ge=0, le=1)
    after_wake_h: MeanSd | None = None
    before_bed_h: MeanSd | None = None
    day_share: MeanSd | None = None

    @model_validator(mode="after")
    def _one_anchor(self) -> RoutineSpec:
        anchors = [self.after_wake_h, self.before_bed_h, self.day_share]
        if sum(a is not None for a in anchors) != 1:
            raise ValueError("a routine needs exactly one of after_wake_h, before_bed_h, day_share")
        return self


class OutingSpec(_Spec):
    free_day: float = Field(ge=0)
    workday: float = Field(ge=0)
    window: tuple[float, float]


class ObjectSpec(_Spec):
    """How a sensor on a thing people use responds to the activities in its room."""

    holds: dict[str, float] = Field(default_factory=dict)
    min_hold_min: float = Field(default=0.0, ge=0)
    uses: dict[str, float] = Field(default_factory=dict)
    use_s: Lognormal = (6.0, 0.8, 2.0, 120.0)
    #: Chance that an interval's first use comes within a minute of its start (what one came in for).
    first_use_soon: float = Field(default=1.0, ge=0, le=1)


class PirViewSpec(_Spec):
    """A motion sensor's field of view: how often it is mounted so, and the chance it sees a detection of
    someone passing its room's doorway (`passage`), moving about inside it (`moving`), or doing something
    at one place in it for a while (`doing`: cooking, washing; the activity's `moving_share`)."""

    share: float = Field(gt=0)
    passage: float = Field(ge=0, le=1)
    moving: float = Field(ge=0, le=1)
    doing: float = Field(ge=0, le=1)


class ActivityModel(_Spec):
    kinds: dict[str, KindSpec]
    sleep: SleepSpec
    routines: dict[str, RoutineSpec]
    scattered: dict[str, float]
    clustering: tuple[float, float]
    outings: OutingSpec
    work_from_home_h: tuple[float, float]
    detection_s: Lognormal
    #: Seconds from the detection of someone leaving a room to that of their entering the next one.
    transition_s: Lognormal
    transit: dict[Literal["hallway"], float]
    #: By view (a whole room, a zone in it, its doorway); each motion sensor draws one.
    pir_views: dict[str, PirViewSpec]
    #: Where an activity with room `errand` happens: weight by room type (the person's own bedroom).
    errand_rooms: dict[str, float] = Field(default_factory=dict)
    #: By device tag (bed, seat, fridge, cupboard).
    objects: dict[str, ObjectSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_kinds(self) -> ActivityModel:
        used = set(self.kinds) | {r.kind for r in self.routines.values()} | set(self.scattered)
        used |= {a for spec in self.objects.values() for a in (*spec.holds, *spec.uses)}
        unknown = sorted(used - set(ACTIVITIES))
        if unknown:
            raise ValueError(f"activities.yaml names unknown activities {unknown}")
        return self


@cache
def load_activity_model() -> ActivityModel:
    """The packaged activity model, parsed once per process."""
    return ActivityModel.model_validate(_load_yaml("activities.yaml"))


def draw_lognormal(rng: np.random.Generator, spec: Lognormal, n: int) -> F64:
    """`n` draws (in the spec's unit) of a clipped lognormal."""
    median, sigma, low, high = spec
    return np.clip(rng.lognormal(np.log(median), sigma, n), low, high)
