"""Near-miss decoys: devices that switch together seconds apart without one causing the other.

Three kinds, all hard negatives for synergy detection (a detector that only counts co-activations calls
them synergies):
- manual co-use (`CoUse`): an occupant's habit of switching two devices in one room by hand, seconds
  apart, mostly in one order but sometimes the other (the lamp and the TV at night); each is switched off
  on its own later. No automation and no trigger: the shared cause is the person in the room. A motion,
  door or occupancy sensor can be the first of the two (someone walks in, opens the door, sits down or goes
  to bed, and switches the light by hand): the shape of the commonest automations, without them.
- a walk-in (`plan_walk_in`): a light switched by hand seconds after some of a motion sensor's own
  detections (the sensor may drive another light of the room): the shape of the commonest automation.
- a scene (planned by `behaviors.py` as a `scene` behaviour) that switches several devices of one room
  together: they follow each other in seconds every time, but the cause is the scene, not A → B.

A decoy is never a potential synergy, even where its events meet a potential's evidence of use
(`ground_truth.evidence`: a walk-in's light switched by hand after the sensor): the plan names its shared
cause, the person.

The planner (`behaviors.py`) chooses the pairs and names each as a `DecoySpec` (the cause ids are the
co-use's or the scene's id), so the ground truth lists them exactly; `emit_co_uses` turns a plan's
co-uses into events (cause `noise`: manual toggles, with the co-use's id as cause id).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from homesim.generation.calendar import US_PER_MIN, US_PER_S, DayGrid
from homesim.generation.event_table import EventBuffer
from homesim.schema.events import Cause
from homesim.schema.home import Entity
from homesim.schema.states import MOTION_CLEAR_S

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]

#: The state a manual toggle sets and then returns from, by domain.
TOGGLES: dict[str, tuple[str, str]] = {
    "light": ("on", "off"),
    "switch": ("on", "off"),
    "fan": ("on", "off"),
    "humidifier": ("on", "off"),
    "cover": ("open", "closed"),
    "lock": ("unlocked", "locked"),
    "media_player": ("playing", "off"),
}
#: The states a co-use sets and returns from: the toggles, and a sensor's detection (never toggled by the
#: manual noise, so not in `TOGGLES`).
CO_USE_STATES: dict[str, tuple[str, str]] = {**TOGGLES, "binary_sensor": ("on", "off")}
#: Domains people switch together by hand in one room (a lamp and the TV, the blinds and a lamp), and the
#: sensors that see them do it (`plan_co_uses` pairs a sensor with an actuator only).
CO_USE_DOMAINS = ("light", "media_player", "cover", "switch", "fan", "binary_sensor")
#: Pairs of domains chosen first: pairs automations also link (a TV dimming a lamp, motion turning on a
#: light; `habits.py` automates the others in some homes), so the decoy shares its shape, area and kinds
#: with real synergies and only its timing tells it apart.
LOOK_ALIKE = frozenset(
    {
        frozenset(("media_player", "light")),
        frozenset(("cover", "light")),
        frozenset(("media_player", "cover")),
        frozenset(("light",)),
        frozenset(("binary_sensor", "light")),
    }
)
#: Minutes a co-use's sensor of a `_BRIEF_SENSORS` class stays on (it clears in seconds to a minute; an
#: occupancy sensor stays on while the person stays, as long as the device they switched).
_SENSOR_HOLD_MIN = 0.5
_BRIEF_SENSORS = ("motion", "door")


#: Co-use habits per home at most, each in its own area.
MAX_CO_USES = 4
#: Probability that an area's co-use starts with a sensor when it can: walking in (or sitting down) and
#: switching the light by hand is the commonest co-use, and has the shape of the commonest automation.
_SENSOR_LED = 0.6
#: Sessions a day of a hand-switched habit (a co-use's, or a habit synergy's trigger), log-uniform: some
#: pairs are switched together daily, others a couple of times a week, so five days of events hold from
#: none to a handful of them (sparse evidence: a rare decoy looks like an unused opportunity, a rare
#: automation like a decoy).
_SESSIONS_PER_DAY = (0.05, 1.5)
#: Share of its motion sensor's detections a walk-in's light follows, log-uniform: from a few in a month
#: (five days may hold none) to a third.
_FOLLOW_SHARE = (0.005, 0.3)


def sessions_per_day(rng: np.random.Generator) -> float:
    """A habit's sessions a day, log-uniform over `_SESSIONS_PER_DAY`."""
    lo, hi = np.log(_SESSIONS_PER_DAY)
    return round(float(np.exp(rng.uniform(lo, hi))), 3)


class CoUse(BaseModel):
    """An occupant's habit of switching `entity_a` then `entity_b` (or, with `swap`, b then a) by hand."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    area_id: str
    entity_a: str
    entity_b: str
    #: Sessions per day, at random times while someone is awake at home: no clock time (a clock habit
    #: would be a time-of-day pattern the truth does not list).
    per_day: float = Field(gt=0)
    #: Probability that b is switched first.
    swap: float = Field(ge=0, le=1)
    #: Lognormal seconds between the two toggles (median, log-sigma).
    lag_median_s: float = Field(gt=0)
    lag_sigma: float = Field(ge=0)
    #: Lognormal minutes each device stays in its toggled state (median; log-sigma 0.5).
    hold_median_min: float = Field(gt=0)
    #: Median minutes `entity_a` stays on instead, if set (a motion or door sensor).
    hold_a_median_min: float | None = Field(default=None, gt=0)
    #: Seconds `entity_a` stays on past its hold: a motion sensor's clear time after the last detection.
    clear_a_s: float = Field(default=0.0, ge=0)
    #: A walk-in (`plan_walk_in`): `entity_a` is a motion sensor that fires on its own (and may trigger an
    #: automation of another device); `entity_b` is switched by hand after this share of its detections
    #: instead of at sessions of its own, and `entity_a` is not switched here.
    follow_share: float | None = Field(default=None, gt=0, le=1)


def is_look_alike(pair: tuple[Entity, Entity]) -> bool:
    """Whether a pair's domains are of a kind automations also link (`LOOK_ALIKE`)."""
    return frozenset((pair[0].domain, pair[1].domain)) in LOOK_ALIKE


def ranked_pairs(
    candidates: Sequence[Entity],
    area_of: Callable[[Entity], str | None],
    busy: set[str],
    linked: set[frozenset[str]],
    rng: np.random.Generator,
) -> list[tuple[str, list[tuple[Entity, Entity]]]]:
    """Each area's pairs of `candidates` (main entities of `CO_USE_DOMAINS`, at most one a sensor, which
    comes first) that no synergy or scene drives (`busy`) and no behaviour links (`linked`): its look-alike
    pairs (`LOOK_ALIKE`) if it has any, else all. Areas with a look-alike pair first, in a random order
    within each group."""
    by_area: dict[str, list[Entity]] = {}
    for e in sorted(candidates, key=lambda e: (e.domain != "binary_sensor", e.entity_id)):
        area = area_of(e)
        if area is not None and e.domain in CO_USE_DOMAINS and e.entity_id not in busy:
            by_area.setdefault(area, []).append(e)
    pairs: dict[str, list[tuple[Entity, Entity]]] = {}
    for area, members in sorted(by_area.items()):
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if b.domain != "binary_sensor" and frozenset((a.entity_id, b.entity_id)) not in linked:
                    pairs.setdefault(area, []).append((a, b))

    def look_alike(area: str) -> list[tuple[Entity, Entity]]:
        return [p for p in pairs[area] if is_look_alike(p)]

    ranked = sorted(pairs, key=lambda area: (not look_alike(area), float(rng.random())))
    return [(area, look_alike(area) or pairs[area]) for area in ranked]


def plan_co_uses(
    candidates: Sequence[Entity],
    area_of: Callable[[Entity], str | None],
    busy: set[str],
    linked: set[frozenset[str]],
    rng: np.random.Generator,
) -> list[CoUse]:
    """Up to `MAX_CO_USES` co-use habits in different areas over `ranked_pairs`, one pair drawn per area (a
    sensor-led one with probability `_SENSOR_LED` where the area has one), in a random order unless a
    sensor leads (a sensor sees the person first). Ids are `c<i>-co_use`."""
    uses: list[CoUse] = []
    for area, options in ranked_pairs(candidates, area_of, busy, linked, rng)[:MAX_CO_USES]:
        sensor_led = [p for p in options if p[0].domain == "binary_sensor"]
        if sensor_led and rng.random() < _SENSOR_LED:
            options = sensor_led
        first, second = options[int(rng.integers(len(options)))]
        if rng.random() < 0.5 and first.domain != "binary_sensor":
            first, second = second, first
        uses.append(
            CoUse(
                id=f"c{len(uses):03d}-co_use",
                area_id=area,
                entity_a=first.entity_id,
                entity_b=second.entity_id,
                per_day=sessions_per_day(rng),
                swap=round(float(rng.uniform(0.05, 0.3)), 3),
                lag_median_s=round(float(rng.uniform(2, 12)), 2),
                lag_sigma=round(float(rng.uniform(0.25, 0.8)), 2),
                hold_median_min=round(float(rng.uniform(20, 90)), 1),
                hold_a_median_min=_SENSOR_HOLD_MIN if first.device_class in _BRIEF_SENSORS else None,
                clear_a_s=MOTION_CLEAR_S if first.device_class == "motion" else 0.0,
            )
        )
    return uses


def plan_walk_in(
    sensors: Sequence[Entity],
    lights: Sequence[Entity],
    area_of: Callable[[Entity], str | None],
    linked: set[frozenset[str]],
    index: int,
    rng: np.random.Generator,
) -> CoUse | None:
    """A walk-in: a light of a motion sensor's area that someone switches by hand seconds after some of
    the sensor's detections (`CoUse.follow_share`), though no automation links them; the sensor may drive
    another light of the room. The commonest automation's shape without it. Id `c<index>-co_use`."""
    pairs = [
        (s, light)
        for s in sensors
        for light in lights
        if area_of(s) is not None
        and area_of(s) == area_of(light)
        and frozenset((s.entity_id, light.entity_id)) not in linked
    ]
    if not pairs:
        return None
    sensor, light = pairs[int(rng.integers(len(pairs)))]
    return CoUse(
        id=f"c{index:03d}-co_use",
        area_id=str(area_of(sensor)),
        entity_a=sensor.entity_id,
        entity_b=light.entity_id,
        per_day=1.0,  # unused: the sessions are the sensor's detections
        swap=0.0,
        lag_median_s=round(float(rng.uniform(2, 12)), 2),
        lag_sigma=round(float(rng.uniform(0.25, 0.8)), 2),
        hold_median_min=round(float(rng.uniform(20, 90)), 1),
        follow_share=round(float(np.exp(rng.uniform(*np.log(_FOLLOW_SHARE)))), 3),
    )


def emit_co_uses(
    co_uses: Sequence[CoUse],
    domain_of: Callable[[str], str],
    buffer: EventBuffer,
    grid: DayGrid,
    awake: Callable[[I64], BoolArr],
    rng: np.random.Generator,
) -> None:
    """Each co-use's sessions: Poisson many at uniform times, those while someone is awake at home kept;
    the first device then the second a lognormal lag later, each back off after its own hold (a motion
    or door sensor's a short one)."""
    for use in co_uses:
        if use.follow_share is not None:  # a walk-in: some of the sensor's own detections
            detections = buffer.changes_to(use.entity_a, CO_USE_STATES["binary_sensor"][0])[0]
            starts = detections[rng.random(len(detections)) < use.follow_share]
        else:
            starts = grid.random_times(use.per_day * grid.days, rng, awake)
        lag = (rng.lognormal(np.log(use.lag_median_s), use.lag_sigma, len(starts)) * US_PER_S).astype(
            np.int64
        )
        if use.follow_share is not None:
            states = CO_USE_STATES[domain_of(use.entity_b)]
            switch_by_hand(buffer, use.entity_b, states, starts + lag, use.hold_median_min, use.id, rng)
            continue
        swap = rng.random(len(starts)) < use.swap
        times = {
            use.entity_a: np.where(swap, starts + lag, starts),
            use.entity_b: np.where(swap, starts, starts + lag),
        }
        for entity_id, t in times.items():
            median, clear_s = use.hold_median_min, 0.0
            if entity_id == use.entity_a:
                median, clear_s = use.hold_a_median_min or median, use.clear_a_s
            switch_by_hand(
                buffer,
                entity_id,
                CO_USE_STATES[domain_of(entity_id)],
                t,
                median,
                use.id,
                rng,
                int(clear_s * US_PER_S),
            )


def switch_by_hand(
    buffer: EventBuffer,
    entity_id: str,
    states: tuple[str, str],
    times: I64,
    hold_median_min: float,
    cause_id: str,
    rng: np.random.Generator,
    extra_us: int = 0,
) -> None:
    """`entity_id` set to `states[0]` at `times` by hand (cause `noise`, `cause_id`) and back to `states[1]`
    a lognormal hold later (median minutes, log-sigma 0.5), plus `extra_us`."""
    on, off = states
    hold = (rng.lognormal(np.log(hold_median_min), 0.5, len(times)) * US_PER_MIN).astype(np.int64) + extra_us
    rows = buffer.add(entity_id, times, Cause.NOISE, cause_id, state=on)
    buffer.add(entity_id, times + hold, Cause.NOISE, cause_id, state=off, parents=rows)
