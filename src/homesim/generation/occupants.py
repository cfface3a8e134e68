"""Occupants: who lives in a home, their schedule parameters, and each day's schedule and presence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

from homesim.generation.activity_params import ActivityModel, draw_lognormal, load_activity_model
from homesim.generation.calendar import US_PER_H, DayGrid
from homesim.generation.catalog import HomeType
from homesim.schema.home import Occupant
from homesim.schema.naming import slugify

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
BoolArr = npt.NDArray[np.bool_]

_FIRST_NAMES = (
    "Alex",
    "Sam",
    "Jordan",
    "Maria",
    "Noah",
    "Emma",
    "Liam",
    "Olivia",
    "Lucas",
    "Mia",
    "Yuki",
    "Ava",
    "Ethan",
    "Sofia",
    "Mateo",
    "Chloe",
    "Arjun",
    "Lena",
    "Omar",
    "Grace",
    "Hannah",
    "Leo",
    "Nora",
    "Ivan",
)


#: Share of adults with a job or study away from home (EU/US employment rates of adults, 60–70 %).
_ADULT_WORKS_OUT = 0.65
#: Of those with a job, the share who usually work at home, every weekday (Eurostat: 12.3 % of the
#: employed aged 15–64 "usually" worked from home in 2020, 5 % before 2020; ATUS 2009: 24 % of the employed
#: did some or all of their work at home on days worked, about 16 % only there), and the share who work at
#: home one or two weekdays (hybrid).
_WORKS_AT_HOME = 0.14
_HYBRID = 0.4
#: Share of people living alone who are 65 or older (Eurostat 2014: 41.8 % of one-person households in
#: the EU; US census figures are close).
_SINGLE_SENIOR = 0.4
#: Per-person usual wake-up (out of bed) and bedtime (local hours, [mean, sd] across people). Employed
#: adults: time-use surveys (ATUS, HETUS) put weekday wake-ups around 06:30–07:00 and bedtimes around
#: 23:00–23:45, with about a quarter of adults still up at midnight. Without a work alarm people sleep on
#: their free-day clock: the Munich ChronoType Questionnaire's average chronotype sleeps 00:15–08:15 on
#: free days (mid-sleep 04:15), younger adults later, older ones earlier (Roenneberg et al. 2004, 2007).
#: Retired people: an early type's long night, in bed 23:18–07:48 (mid-sleep 03:33): ATUS puts sleep at
#: 65+ at about 8.9 h a day with naps (2007).
_WAKE_H = {"adult": (6.7, 0.6), "adult_free": (8.6, 1.3), "child": (7.0, 0.5), "senior": (7.8, 1.0)}
_BEDTIME_H = {"adult": (23.4, 0.8), "adult_free": (24.4, 1.2), "child": (20.8, 0.5), "senior": (23.3, 1.0)}
#: Correlation of a person's usual wake-up and bedtime through their chronotype (set, not fitted):
#: chronotype studies (the Munich ChronoType Questionnaire, Roenneberg et al. 2007) place people by when
#: they sleep, a late riser being a late sleeper, more than by how long; and the weekend lie-in of people
#: with a job (social jetlag: [mean, sd per chronotype sd] hours) grows with lateness.
_CHRONOTYPE_R = 0.8
_SOCIAL_JETLAG_H = (1.2, 0.5)
#: Between household members coming home together from a trip, one through the door after another (µs).
_ARRIVAL_STEP_US = 40_000_000
#: Household sizes, 1 to 6 people: EU-27 (Eurostat 2022: 36 % one person, 32 % two) and US (Census 2023:
#: 29 % one person, 35 % two) blended; a home type's [min, max] restricts it.
_HOUSEHOLD_SIZE = (0.32, 0.33, 0.15, 0.12, 0.05, 0.03)


def make_occupants(
    home_type: HomeType,
    rng: np.random.Generator,
    size: tuple[int, int] | None = None,
    social_clock_h: float = 0.0,
) -> list[Occupant]:
    """A household for `home_type` (of `size` [min, max] people if given, else the type's range): adults
    first, then children or seniors, with schedule parameters. `social_clock_h` shifts every clock time
    of the household (its region's social clock, `regions.yaml`)."""
    low, high = size or home_type.occupants
    weights = np.array(_HOUSEHOLD_SIZE[low - 1 : high]) if high <= len(_HOUSEHOLD_SIZE) else None
    if weights is None or low < 1 or low == high:
        count = int(rng.integers(low, high + 1))
    else:
        count = low + int(rng.choice(len(weights), p=weights / weights.sum()))
    names = rng.choice(len(_FIRST_NAMES), size=count, replace=False)
    roles: list[str] = []
    for i in range(count):
        if count == 1 and rng.random() < _SINGLE_SENIOR:
            roles.append("senior")
        elif i < min(2, count):
            roles.append("adult")
        elif home_type.key == "multi_generational" and i < 4:
            roles.append("senior")
        else:
            roles.append("child" if rng.random() < 0.8 else "adult")
    occupants = []
    for i, role in enumerate(roles):
        name = _FIRST_NAMES[int(names[i])]
        works_out = (role == "adult" and rng.random() < _ADULT_WORKS_OUT) or role == "child"
        where = rng.random() if role == "adult" and works_out else 1.0
        if where < _WORKS_AT_HOME:
            wfh: tuple[int, ...] = (0, 1, 2, 3, 4)
        elif where < _WORKS_AT_HOME + _HYBRID:
            wfh = tuple(sorted(int(d) for d in rng.choice(5, size=int(rng.integers(1, 3)), replace=False)))
        else:
            wfh = ()
        # People without a job or school get up later and with no alarm (Ordóñez residents: 09:30–11:00).
        clock = "adult_free" if role == "adult" and not works_out else role
        chronotype = rng.normal()
        own = np.sqrt(1 - _CHRONOTYPE_R**2) * rng.normal(0, 1, 2)
        wake = _WAKE_H[clock][0] + _WAKE_H[clock][1] * (_CHRONOTYPE_R * chronotype + own[0])
        sleep = _BEDTIME_H[clock][0] + _BEDTIME_H[clock][1] * (_CHRONOTYPE_R * chronotype + own[1])
        jetlag = _SOCIAL_JETLAG_H[0] + _SOCIAL_JETLAG_H[1] * chronotype if works_out else 0.3
        wake, sleep = wake + social_clock_h, sleep + social_clock_h
        leave = (7.6 if role == "child" else 8.1) + social_clock_h + rng.normal(0, 0.4)
        back = (15.6 if role == "child" else 17.6) + social_clock_h + rng.normal(0, 0.6)
        occupants.append(
            Occupant(
                person_id=slugify(name),
                name=name,
                role=role,
                wake_weekday_h=float(np.clip(wake, 5.0, 11.5)),
                wake_weekend_h=float(np.clip(wake + jetlag + rng.normal(0, 0.2), 6.0, 12.5)),
                leave_h=float(np.clip(leave, 6.0, 10.5)) if works_out else None,
                return_h=float(np.clip(back, 13.0, 21.0)) if works_out else None,
                sleep_h=float(np.clip(sleep, 19.5, 27.0)),
                work_from_home_days=wfh,
            )
        )
    return occupants


def household_vacations(
    rng: np.random.Generator, start: date, days: int, vacant_share: float
) -> tuple[tuple[date, date], ...]:
    """Whole-household trips: first and last away day. Vacation homes are mostly vacant."""
    trips: list[tuple[date, date]] = []
    if vacant_share > 0:
        # A vacation home is visited in stays; the gaps between stays are the "vacations".
        day = int(rng.integers(0, 7))
        while day < days:
            gap = int(rng.geometric(1 / max(2.0, 7 * vacant_share / (1 - vacant_share))))
            trips.append((start + timedelta(days=day), start + timedelta(days=min(days, day + gap) - 1)))
            day += gap + int(rng.integers(2, 10))
        return tuple(trips)
    n = int(rng.poisson(days / 120))
    for _ in range(n):
        length = int(rng.integers(3, 11))
        first = int(rng.integers(0, max(1, days - length)))
        trips.append((start + timedelta(days=first), start + timedelta(days=first + length - 1)))
    return tuple(trips)


@dataclass(frozen=True)
class Schedules:
    """Each occupant's realized day: arrays of shape (occupants, days) of UTC µs; -1 where absent.

    `transitions[o]` holds (times, at_home) of occupant o's presence changes, sorted.
    """

    wake: I64
    sleep: I64
    leave: I64
    back: I64
    away_day: BoolArr
    transitions: tuple[tuple[I64, BoolArr], ...]

    @property
    def occupants(self) -> int:
        return int(self.wake.shape[0])

    def at_home(self, occupant: int, times: I64) -> BoolArr:
        t, home = self.transitions[occupant]
        if len(t) == 0:  # never left home in the period
            return np.ones(times.shape, dtype=bool)
        idx = np.searchsorted(t, times, side="right") - 1
        return np.where(idx >= 0, home[np.maximum(idx, 0)], True)  # everyone starts at home

    def anyone_home(self, times: I64) -> BoolArr:
        result = np.zeros(times.shape, dtype=bool)
        for o in range(self.occupants):
            result |= self.at_home(o, times)
        return result

    def awake_at_home(self, occupant: int, times: I64, grid: DayGrid) -> BoolArr:
        day = grid.day_of(times)
        awake = (times >= self.wake[occupant, day]) & (times < self.sleep[occupant, day])
        prev = np.maximum(day - 1, 0)
        late = times < self.sleep[occupant, prev]  # still up after midnight
        result: BoolArr = (awake | late) & self.at_home(occupant, times)
        return result


def realize_schedules(
    occupants: list[Occupant],
    grid: DayGrid,
    rng: np.random.Generator,
    jitter: float,
    model: ActivityModel | None = None,
) -> Schedules:
    """Draw every occupant's daily wake, leave, return and sleep times, and their presence transitions.

    Day-to-day spread and outings follow `activities.yaml`: part of the sleep spread is shared by the
    household (people living together go to bed together); outings are a Poisson number a day at random
    times of the waking day, with lognormal durations. `model` replaces the packaged activity model
    (a calibrated home's).
    """
    model = model or load_activity_model()
    n, days = len(occupants), grid.days
    day = np.arange(days, dtype=np.int64)
    weekend = grid.weekday >= 5
    vacation = np.zeros(days, dtype=bool)
    wake = np.empty((n, days), dtype=np.int64)
    sleep = np.empty((n, days), dtype=np.int64)
    leave = np.full((n, days), -1, dtype=np.int64)
    back = np.full((n, days), -1, dtype=np.int64)
    for occ in occupants:
        for first, last in occ.vacations:
            lo = (first - grid.start).days
            hi = (last - grid.start).days
            vacation[max(lo, 0) : max(min(hi + 1, days), 0)] = True
    away = np.broadcast_to(vacation, (n, days)).copy()
    shared = model.sleep.shared_share
    shared_wake, shared_bed = rng.normal(0, 1, days), rng.normal(0, 1, days)
    transitions = []
    for o, occ in enumerate(occupants):
        has_job = occ.leave_h is not None and occ.return_h is not None
        workday = ~weekend & ~np.isin(grid.weekday, occ.work_from_home_days) & ~vacation & has_job
        wake_sd = np.where(workday, model.sleep.workday_wake_sd_h, model.sleep.wake_sd_h) * jitter
        wake_z = np.sqrt(shared) * shared_wake + np.sqrt(1 - shared) * rng.normal(0, 1, days)
        bed_z = np.sqrt(shared) * shared_bed + np.sqrt(1 - shared) * rng.normal(0, 1, days)
        # Without an alarm a late night is slept off: the wake-up follows the bedtime that began the night.
        follows = model.sleep.wake_follows_bedtime * ~workday[1:]
        wake_z[1:] = follows * bed_z[:-1] + np.sqrt(1 - follows**2) * wake_z[1:]
        wake_h = np.where(weekend, occ.wake_weekend_h, occ.wake_weekday_h) + wake_sd * wake_z
        sleep_h = np.maximum(
            occ.sleep_h + np.where(weekend, 0.6, 0.0) + model.sleep.bedtime_sd_h * jitter * bed_z, wake_h + 8
        )
        wake[o] = grid.local_time(day, wake_h)
        sleep[o] = grid.local_time(day, sleep_h)
        if occ.leave_h is not None and occ.return_h is not None:
            leave_h = np.maximum(occ.leave_h + rng.normal(0, 0.2 * jitter, days), wake_h + 0.4)
            back_h = occ.return_h + rng.normal(0, 0.5 * jitter, days)
            leave[o] = np.where(workday, grid.local_time(day, leave_h), -1)
            back[o] = np.where(workday, grid.local_time(day, back_h), -1)
        out_start, out_end, out_day = _outings(model, grid, rng, wake_h, sleep_h, workday, vacation)
        # Free days: the day's first outing is its "leave" and "return" (routines anchor on them).
        day_first = np.ones(len(out_day), dtype=bool)
        day_first[1:] = out_day[1:] != out_day[:-1]
        free = ~workday[out_day] & day_first
        leave[o, out_day[free]] = out_start[free]
        back[o, out_day[free]] = out_end[free]
        work = leave[o] >= 0
        starts = np.concatenate([leave[o][work & workday], out_start])
        ends = np.concatenate([back[o][work & workday], out_end])
        transitions.append(_presence_transitions(grid, starts, ends, vacation, wake[o], o))
    return Schedules(
        wake=wake, sleep=sleep, leave=leave, back=back, away_day=away, transitions=tuple(transitions)
    )


def _outings(
    model: ActivityModel,
    grid: DayGrid,
    rng: np.random.Generator,
    wake_h: F64,
    sleep_h: F64,
    workday: BoolArr,
    vacation: BoolArr,
) -> tuple[I64, I64, I64]:
    """Errands and outings: (start µs, end µs, day) sorted by time, inside the waking day."""
    rate = np.where(workday, model.outings.workday, model.outings.free_day) * ~vacation
    day = np.repeat(np.arange(grid.days, dtype=np.int64), rng.poisson(rate))
    lo, hi = model.outings.window
    span = sleep_h[day] - wake_h[day]
    start_h = wake_h[day] + rng.uniform(lo, hi, len(day)) * span
    length_h = draw_lognormal(rng, model.kinds["leaving"].duration or (60, 0, 60, 60), len(day)) / 60
    end_h = np.minimum(start_h + length_h, sleep_h[day] - 0.25)
    keep = end_h > start_h + 5 / 60
    day = day[keep]
    return grid.local_time(day, start_h[keep]), grid.local_time(day, end_h[keep]), day


def _presence_transitions(
    grid: DayGrid, starts: I64, ends: I64, vacation: BoolArr, wake: I64, order: int
) -> tuple[I64, BoolArr]:
    """Sorted (time, at_home) changes: the union of daily absences and whole-day trips."""
    days = grid.days
    # A trip starts the morning of its first day and ends the evening of its last, the household coming
    # home one after another (`order`): trackers never report two people home in the same instant, and
    # an automation on "the first person arrives" sees one of them first.
    edges = np.diff(np.concatenate([[False], vacation, [False]]).astype(np.int8))
    first = np.flatnonzero(edges == 1)
    last = np.flatnonzero(edges == -1) - 1
    arrive = 18 * US_PER_H + order * _ARRIVAL_STEP_US
    trip_end = np.minimum(grid.midnights[np.minimum(last, days - 1)] + arrive, grid.end_us - 1)
    s, e = merge_intervals(
        np.concatenate([starts, wake[first] + US_PER_H]).astype(np.int64),
        np.concatenate([ends, trip_end]).astype(np.int64),
    )
    times = np.stack([s, e], axis=1).reshape(-1)
    at_home = np.tile(np.array([False, True]), len(s))
    return times, at_home


def merge_intervals(starts: I64, ends: I64) -> tuple[I64, I64]:
    """The union of intervals [start, end) as sorted, disjoint intervals."""
    if len(starts) == 0:
        return starts.astype(np.int64), ends.astype(np.int64)
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    running = np.maximum.accumulate(e)
    new = np.ones(len(s), dtype=bool)
    new[1:] = s[1:] > running[:-1]
    first = np.flatnonzero(new)
    return s[first], np.maximum.reduceat(e, first)
