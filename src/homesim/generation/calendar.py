"""The local-day grid of a home: each local midnight as UTC microseconds, DST-aware."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

US_PER_S = 1_000_000
US_PER_MIN = 60 * US_PER_S
US_PER_H = 3_600 * US_PER_S
US_PER_DAY = 24 * US_PER_H

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
_ONE_US = timedelta(microseconds=1)


@dataclass(frozen=True)
class DayGrid:
    """`midnights[d]` is the UTC µs of local midnight of day d; `midnights[days]` ends the period."""

    start: date
    days: int
    timezone: str
    midnights: I64
    weekday: npt.NDArray[np.int8]  # Monday = 0

    @property
    def begin_us(self) -> int:
        return int(self.midnights[0])

    @property
    def end_us(self) -> int:
        return int(self.midnights[-1])

    def local_time(self, day: npt.NDArray[np.int64], hours: F64) -> I64:
        """UTC µs of local clock time `hours` (may exceed 24: past midnight) on local day `day`.

        Clock times are measured from local midnight in wall-clock hours, so a 07:00 routine stays at
        07:00 across DST changes: the hours are added to that day's midnight and corrected by the
        day's UTC-offset change, the way a person's alarm clock follows DST.
        """
        base = self.midnights[day]
        length = self.midnights[np.minimum(day + 1, self.days)] - base
        shift = np.where(hours >= 3.0, length - US_PER_DAY, 0)  # DST jumps happen at 02:00–03:00 local
        return (base + np.round(hours * US_PER_H).astype(np.int64) + shift).astype(np.int64)

    def random_times(
        self, expected: float, rng: np.random.Generator, keep: Callable[[I64], npt.NDArray[np.bool_]]
    ) -> I64:
        """A Poisson number (mean `expected`) of uniform times over the grid, those `keep` accepts
        (someone awake at home, say), sorted: when an occupant does something no routine times."""
        n = int(rng.poisson(expected))
        times = self.begin_us + (rng.random(n) * (self.end_us - self.begin_us)).astype(np.int64)
        return np.sort(times[keep(times)])

    def day_of(self, times_us: I64) -> I64:
        """Local day index of each UTC µs time (clipped to the grid)."""
        idx = np.searchsorted(self.midnights, times_us, side="right") - 1
        return np.clip(idx, 0, self.days - 1).astype(np.int64, copy=False)

    def since_midnight(self, times_us: I64) -> I64:
        """µs since the local midnight of each UTC µs time's day (`day_of`)."""
        since: I64 = times_us - self.midnights.take(self.day_of(times_us))
        return since

    def utc_offsets(self, times_us: I64) -> I64:
        """The local UTC offset (µs) at each time; zoneinfo is asked only on days whose offset changes
        and for the times outside the grid (a day's offset is its midnight's otherwise)."""
        epoch_day = self.start.toordinal() - date(1970, 1, 1).toordinal()
        naive_midnights = (epoch_day + np.arange(self.days + 1, dtype=np.int64)) * US_PER_DAY
        day_offset = naive_midnights - self.midnights
        day = self.day_of(times_us)
        offsets = day_offset[day].copy()
        outside = (times_us < self.begin_us) | (times_us >= self.end_us)
        asked = np.flatnonzero((day_offset[day] != day_offset[day + 1]) | outside)
        if asked.size:
            tz = ZoneInfo(self.timezone)
            for i in asked:  # only the hours of DST-change days (and the rare times past the grid)
                local = datetime.fromtimestamp(int(times_us[i]) // US_PER_S, tz)
                offsets[i] = (local.utcoffset() or timedelta(0)) // _ONE_US
        return offsets


def day_grid(start: date, days: int, timezone: str) -> DayGrid:
    tz = ZoneInfo(timezone)
    midnights = np.empty(days + 1, dtype=np.int64)
    weekday = np.empty(days, dtype=np.int8)
    for d in range(days + 1):  # one zoneinfo call per day, not per event
        local = datetime.combine(start + timedelta(days=d), datetime.min.time(), tzinfo=tz)
        midnights[d] = int(local.timestamp()) * US_PER_S
        if d < days:
            weekday[d] = local.weekday()
    return DayGrid(start=start, days=days, timezone=timezone, midnights=midnights, weekday=weekday)
