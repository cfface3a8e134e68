"""The long- and short-term statistics HA's sensor integration compiles: hourly and 5-minute mean/min/max of
measurements and state/sum of totals, over whole arrays."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from homesim.ha.recorder.columns import Columns, sql_datetimes
from homesim.ha.recorder.tables import (
    HOUR_S,
    PERIODS_PER_HOUR,
    SHORT_S,
    SHORT_TERM_KEEP_DAYS,
    BoolArray,
    FloatArray,
    IntArray,
)
from homesim.schema.home import Home

_Rows = list[tuple[Any, ...]]


@dataclass(frozen=True)
class Statistics:
    meta: list[tuple[int, str, str, str | None, bool, bool, None]]
    #: (mean/min/max rows, state/sum rows) of `statistics` and of `statistics_short_term`.
    long: tuple[_Rows, _Rows]
    short: tuple[_Rows, _Rows]
    runs: list[tuple[int, str]]

    @classmethod
    def empty(cls) -> Statistics:
        return cls([], ([], []), ([], []), [])

    @property
    def long_count(self) -> int:
        return sum(map(len, self.long))

    @property
    def short_count(self) -> int:
        return sum(map(len, self.short))

    def insert(self, con: sqlite3.Connection) -> None:
        con.executemany("INSERT INTO statistics_meta VALUES (?, ?, ?, ?, ?, ?, ?)", self.meta)
        for table, (means, sums) in (("statistics", self.long), ("statistics_short_term", self.short)):
            con.executemany(
                f"INSERT INTO {table} (id, created_ts, metadata_id, start_ts, mean, min, max) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                means,
            )
            con.executemany(
                f"INSERT INTO {table} (id, created_ts, metadata_id, start_ts, state, sum) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                sums,
            )
        con.executemany("INSERT INTO statistics_runs VALUES (?, ?)", self.runs)


@dataclass
class _Table:
    """Statistics rows of one table, gathered per sensor as arrays."""

    metadata_id: list[IntArray]
    start: list[FloatArray]
    has_mean: list[BoolArray]
    #: (mean, min, max) of mean sensors, (state, sum) of sum sensors padded with an unused column.
    values: list[list[FloatArray]]

    def add(self, metadata_id: int, start: FloatArray, values: Sequence[FloatArray]) -> None:
        self.metadata_id.append(np.full(len(start), metadata_id, dtype=np.int64))
        self.start.append(start)
        self.has_mean.append(np.full(len(start), len(values) == 3))
        self.values.append([*values, np.zeros(len(start))][:3])

    def rows(self, duration: float) -> tuple[_Rows, _Rows]:
        """Rows numbered period by period, every sensor in each (HA's compile order), split by kind."""
        if not self.start:
            return [], []
        meta, start = np.concatenate(self.metadata_id), np.concatenate(self.start)
        order = np.lexsort((meta, start))
        ids = np.arange(1, len(order) + 1)
        meta, start, mean_kind = meta[order], start[order], np.concatenate(self.has_mean)[order]
        columns = [np.concatenate([v[i] for v in self.values])[order] for i in range(3)]
        split: list[_Rows] = []
        for kind, width in ((mean_kind, 3), (~mean_kind, 2)):
            split.append(
                list(
                    zip(
                        ids[kind].tolist(),
                        (start[kind] + duration).tolist(),  # compiled when the period ends
                        meta[kind].tolist(),
                        start[kind].tolist(),
                        *(column[kind].tolist() for column in columns[:width]),
                        strict=True,
                    )
                )
            )
        return split[0], split[1]


def compile_statistics(home: Home, c: Columns, kept: IntArray) -> Statistics:
    """Hourly and 5-minute statistics as HA's sensor integration compiles them from the recorded states.

    5-minute periods: time-weighted mean, min and max of `measurement` sensors (the state in force at
    the period's start counts), `state` and running `sum` of `total`/`total_increasing` ones (a drop
    below 90 % of the previous value starts a new meter cycle). Hours summarise their twelve periods
    as HA does: the average of the means, the extreme min and max, the last state and sum.
    """
    if len(kept) == 0:
        return Statistics.empty()
    grid_start = np.floor(c.time_s[kept[0]] / HOUR_S) * HOUR_S
    grid_end = (np.floor(c.time_s[kept[-1]] / HOUR_S) + 1) * HOUR_S
    bounds = np.arange(grid_start, grid_end + SHORT_S / 2, SHORT_S)
    hours = (len(bounds) - 1) // PERIODS_PER_HOUR
    short_from = grid_end - SHORT_TERM_KEEP_DAYS * 86_400
    sensors = {e.entity_id: e for e in home.entities if e.domain == "sensor" and e.state_class is not None}
    kept_entity = c.entity[kept]
    meta: list[tuple[int, str, str, str | None, bool, bool, None]] = []
    long, short = _Table([], [], [], []), _Table([], [], [], [])
    for code, entity_id in enumerate(c.entity_names):
        entity = sensors.get(entity_id)
        if entity is None:
            continue
        rows = kept[kept_entity == code]
        t, v = c.time_s[rows], c.value[rows]
        valid = np.isfinite(v)
        if entity.state_class == "total_increasing":
            valid &= v >= 0  # HA skips negative meter readings
        t, v = t[valid], v[valid]
        if len(t) == 0:
            continue
        has_mean = entity.state_class == "measurement"
        metadata_id = len(meta) + 1
        meta.append(
            (metadata_id, entity_id, "recorder", entity.unit_of_measurement, has_mean, not has_mean, None)
        )
        if has_mean:
            mean, low, high, ok = _mean_periods(t, v, bounds)
            columns_5m = [mean, low, high]
            hourly = _hourly_mean(mean, low, high, ok, hours)
        else:
            state, total, ok = _sum_periods(t, v, bounds, entity.state_class == "total_increasing")
            columns_5m = [state, total]
            hourly = _hourly_last(state, total, ok, hours)
        recent = ok & (bounds[:-1] >= short_from)
        short.add(metadata_id, bounds[:-1][recent], [col[recent] for col in columns_5m])
        hour_ok, hour_columns = hourly
        long.add(metadata_id, bounds[:-1:PERIODS_PER_HOUR][hour_ok], [col[hour_ok] for col in hour_columns])
    runs = list(enumerate(sql_datetimes(bounds[:-1]), start=1))
    return Statistics(meta, long.rows(HOUR_S), short.rows(SHORT_S), runs)


def _mean_periods(
    t: FloatArray, v: FloatArray, bounds: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray]:
    """Time-weighted mean, min, max per period, and whether the sensor had a state in it."""
    lo, hi = bounds[:-1], bounds[1:]
    ok = hi > t[0]
    # Integral of the step function up to x: cumulative area before the step in force, plus its part.
    area = np.concatenate(([0.0], np.cumsum(v[:-1] * np.diff(t))))

    def integral(x: FloatArray) -> FloatArray:
        step = np.maximum(np.searchsorted(t, x, side="right") - 1, 0)
        return area[step] + v[step] * (x - t[step])

    begin = np.maximum(lo, t[0])  # HA starts the average at the first state when none precedes the period
    mean = np.full(len(lo), np.nan)
    mean[ok] = (integral(hi[ok]) - integral(begin[ok])) / (hi[ok] - begin[ok])

    in_force = np.searchsorted(t, lo, side="right") - 1  # the state at the period's start, -1 if none
    inside_from, inside_to = in_force + 1, np.searchsorted(t, hi, side="left")
    busy = inside_to > inside_from
    padded = np.append(v, np.nan)  # reduceat needs every boundary, including len(v), to be an index
    pairs = np.column_stack((inside_from[busy], inside_to[busy])).ravel()
    at_start = np.where(in_force >= 0, v[np.maximum(in_force, 0)], np.nan)
    inside_min = np.full(len(lo), np.nan)
    inside_max = np.full(len(lo), np.nan)
    if len(pairs):
        inside_min[busy] = np.minimum.reduceat(padded, pairs)[::2]
        inside_max[busy] = np.maximum.reduceat(padded, pairs)[::2]
    low = np.where(ok, np.fmin(at_start, inside_min), np.nan)
    high = np.where(ok, np.fmax(at_start, inside_max), np.nan)
    return mean, low, high, ok


def _sum_periods(
    t: FloatArray, v: FloatArray, bounds: FloatArray, increasing: bool
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Last state and running sum per period, HA's meter-cycle rule for total_increasing sensors."""
    step = np.diff(v)
    if increasing:
        step = np.where(v[1:] < 0.9 * v[:-1], v[1:], step)  # a new cycle counts from zero
    total = np.concatenate(([0.0], np.cumsum(step)))  # the first state is the zero point
    last = np.searchsorted(t, bounds[1:], side="left") - 1
    ok = last >= 0
    state = np.where(ok, v[np.maximum(last, 0)], np.nan)
    return state, np.where(ok, total[np.maximum(last, 0)], np.nan), ok


def _hourly_mean(
    mean: FloatArray, low: FloatArray, high: FloatArray, ok: BoolArray, hours: int
) -> tuple[BoolArray, list[FloatArray]]:
    shape = (hours, PERIODS_PER_HOUR)
    count = ok.reshape(shape).sum(axis=1)
    hour_ok = count > 0
    total = np.where(ok, mean, 0.0).reshape(shape).sum(axis=1)
    hourly_mean = np.divide(total, count, out=np.full(hours, np.nan), where=hour_ok)
    hourly_min = np.where(ok, low, np.inf).reshape(shape).min(axis=1)
    hourly_max = np.where(ok, high, -np.inf).reshape(shape).max(axis=1)
    return hour_ok, [hourly_mean, hourly_min, hourly_max]


def _hourly_last(
    state: FloatArray, total: FloatArray, ok: BoolArray, hours: int
) -> tuple[BoolArray, list[FloatArray]]:
    # Once a sensor has a state it has one in every later period, so an hour's last period is its latest.
    shape = (hours, PERIODS_PER_HOUR)
    return ok.reshape(shape)[:, -1], [state.reshape(shape)[:, -1], total.reshape(shape)[:, -1]]
