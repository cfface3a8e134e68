"""Occupants: who lives in a home, their schedule parameters, and each day's schedule and presence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt

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


def make_occupants(
    home_type: HomeType, rng: np.random.Generator, size: tuple[int, int] | None = None
) -> list[Occupant]:
    """A household for `home_type` (of `size` [min, max] people if given, else the type's range): adults
    first, then children or seniors, with schedule parameters."""
    low, high = size or home_type.occupants
    count = int(rng.integers(low, high + 1))
    names = rng.choice(len(_FIRST_NAMES), size=count, replace=False)
    roles: list[str] = []
    for i in range(count):
        if i < min(2, count):
            roles.append("adult")
        elif home_type.key == "multi_generational" and i < 4:
            roles.append("senior")
        else:
            roles.append("child" if rng.random() < 0.8 else "adult")
    occupants = []
    for i, role in enumerate(roles):
        name = _FIRST_NAMES[int(names[i])]
        works_out = (role == "adult" and rng.random() < 0.8) or role == "child"
        wfh = (
            tuple(sorted(int(d) for d in rng.choice(5, size=int(rng.integers(1, 3)), replace=False)))
            if role == "adult" and works_out and rng.random() < 0.4
            else ()
        )
        wake = {"adult": 6.7, "child": 7.0, "senior": 6.6}[role] + rng.normal(0, 0.5)
        sleep = {"adult": 23.1, "child": 20.8, "senior": 22.2}[role] + rng.normal(0, 0.5)
        occupants.append(
            Occupant(
                person_id=slugify(name),
                name=name,
                role=role,
                wake_weekday_h=float(np.clip(wake, 5.0, 9.5)),
                wake_weekend_h=float(np.clip(wake + 1.2 + rng.normal(0, 0.4), 6.0, 11.0)),
                leave_h=float(np.clip((7.6 if role == "child" else 8.1) + rng.normal(0, 0.4), 6.0, 10.0))
                if works_out
                else None,
                return_h=float(np.clip((15.6 if role == "child" else 17.6) + rng.normal(0, 0.6), 13.0, 20.5))
                if works_out
                else None,
                sleep_h=float(np.clip(sleep, 19.5, 25.5)),
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
    occupants: list[Occupant], grid: DayGrid, rng: np.random.Generator, jitter: float
) -> Schedules:
    """Draw every occupant's daily wake, leave, return and sleep times, and their presence transitions."""
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
    transitions = []
    for o, occ in enumerate(occupants):
        wake_h = np.where(weekend, occ.wake_weekend_h, occ.wake_weekday_h) + rng.normal(
            0, 0.25 * jitter, days
        )
        sleep_h = occ.sleep_h + np.where(weekend, 0.6, 0.0) + rng.normal(0, 0.35 * jitter, days)
        wake[o] = grid.local_time(day, wake_h)
        sleep[o] = grid.local_time(day, np.maximum(sleep_h, wake_h + 8))
        workday = ~weekend & ~np.isin(grid.weekday, occ.work_from_home_days) & ~vacation
        if occ.leave_h is not None and occ.return_h is not None:
            leave_h = np.maximum(occ.leave_h + rng.normal(0, 0.2 * jitter, days), wake_h + 0.4)
            back_h = occ.return_h + rng.normal(0, 0.5 * jitter, days)
            leave[o] = np.where(workday, grid.local_time(day, leave_h), -1)
            back[o] = np.where(workday, grid.local_time(day, back_h), -1)
        # Errands: on free days some people go out for a few hours.
        errand = ~workday & ~vacation & (rng.random(days) < 0.45)
        e_start = 10.0 + rng.random(days) * 5.0
        e_len = 1.0 + rng.random(days) * 2.5
        leave[o] = np.where(errand, grid.local_time(day, e_start), leave[o])
        back[o] = np.where(errand, grid.local_time(day, e_start + e_len), back[o])
        transitions.append(_presence_transitions(grid, leave[o], back[o], vacation, wake[o]))
    return Schedules(
        wake=wake, sleep=sleep, leave=leave, back=back, away_day=away, transitions=tuple(transitions)
    )


def _presence_transitions(
    grid: DayGrid, leave: I64, back: I64, vacation: BoolArr, wake: I64
) -> tuple[I64, BoolArr]:
    """Sorted (time, at_home) changes: daily outings plus whole-day trips, with repeats removed."""
    days = grid.days
    has = leave >= 0
    times = [leave[has], back[has]]
    states = [np.zeros(int(has.sum()), dtype=bool), np.ones(int(has.sum()), dtype=bool)]
    # A trip starts the morning of its first day and ends the evening of its last.
    edges = np.diff(np.concatenate([[False], vacation, [False]]).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1) - 1
    times += [
        wake[starts] + US_PER_H,
        np.minimum(grid.midnights[np.minimum(ends, days - 1)] + 18 * US_PER_H, grid.end_us - 1),
    ]
    states += [np.zeros(len(starts), dtype=bool), np.ones(len(ends), dtype=bool)]
    t = np.concatenate(times).astype(np.int64)
    s = np.concatenate(states)
    order = np.argsort(t, kind="stable")
    t, s = t[order], s[order]
    keep = np.ones(len(s), dtype=bool)
    if len(s):
        keep[1:] = s[1:] != s[:-1]
        keep[0] = not s[0]  # everyone starts at home, so a first "return" is no change
    return t[keep], s[keep]
