"""TruthVerifier: an independent miner of time-of-day patterns and trigger→action sequences.

It sees what Home Assistant's recorder sees — time, entity and state of each state change — and never the
provenance columns (`cause`, `cause_id`) nor the context links, so what it finds is evidence that the
ground truth is present in the events themselves. It is the reference detector behind the ground-truth
accuracy report and the detector baseline in every `ground_truth.json`.

Two miners run, both column-wise over numpy/polars arrays (loops run over keys and rounds, never events):

* Sequences: for every state change of an actuator, the latest change of every other (entity, state)
  within `max_delay_s` before it. A pair is a pattern when its log-delays are tight (a small robust sigma,
  the window of ±3 sigmas inside the horizon), and the action follows the trigger far more often than the
  trigger's rate allows by chance. Per action, antecedents are chosen greedily — most of its events
  explained, then most often followed by it, then the steadiest delay — and each explains away
  the events it accounts for, so chains (departure → alarm → lock) and confounders (the door that opens at
  every arrival) do not yield extra patterns; the next change of an explained action's entity (the light
  going off again) is explained with it. The household's presence is derived as HA's `zone.home` does:
  `occupied` at the first arrival, `empty` at the last departure.
* Time of day: what is left unexplained of each actuator (entity, state) is binned per day in three
  frames — local clock, minutes from sunset, minutes from sunrise — and scanned with circular windows of
  several widths for the window that most days share, far above the entity's own base rate, about once a
  day; weekdays and weekends are scored separately, and up to `max_peaks` windows are taken per key.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from homesim.generation.calendar import US_PER_S
from homesim.ground_truth.mining_numerics import (
    binomial_llr,
    circular_median,
    circular_window_sums,
    circular_within,
    distinct_count,
    minutes_from,
)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
BoolArr = npt.NDArray[np.bool_]

#: Domains whose state changes are actions a person or an automation takes (candidate pattern actions).
ACTUATOR_DOMAINS: frozenset[str] = frozenset(
    {
        "light",
        "switch",
        "fan",
        "cover",
        "lock",
        "climate",
        "media_player",
        "vacuum",
        "water_heater",
        "humidifier",
        "alarm_control_panel",
        "camera",
        "valve",
        "siren",
    }
)
#: Domains whose states are numbers or timestamps: no categorical pattern to mine.
_SKIPPED_DOMAINS = frozenset({"sensor", "number", "button", "event", "scene", "input_number"})
_SKIPPED_STATES = ("unavailable", "unknown")
HOME_ZONE = "zone.home"
ZONE_OCCUPIED = "occupied"
ZONE_EMPTY = "empty"
#: Least log-delay sigma: a fixed stagger still jitters by about a percent (clocks, radio).
_MIN_SPREAD = 0.01
_BINS = 288  # five-minute bins per day
_BIN_MIN = 1440 // _BINS
Frame = Literal["clock", "sunset", "sunrise"]
DayGroup = Literal["all", "weekdays", "weekends"]
_GROUPS: tuple[DayGroup, ...] = ("all", "weekdays", "weekends")


class VerifierConfig(BaseModel):
    """The miner's thresholds; the defaults are what the ground-truth accuracy benchmark was tuned on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_delay_s: float = Field(default=300.0, gt=0, description="longest trigger→action delay searched")
    min_support: int = Field(default=5, ge=1, description="fewest explained events or days for a pattern")
    min_lift: float = Field(default=20.0, gt=0, description="sequence association above chance")
    max_spread: float = Field(default=0.45, gt=0, description="robust sigma of a pattern's log-delays")
    max_return_s: float = Field(default=3600.0, ge=0, description="longest hold of an explained action")
    tie_ratio: float = Field(default=0.9, gt=0, le=1, description="scores this close to the best tie")
    max_rounds: int = Field(default=4, ge=1, description="antecedents chosen per action")
    tod_half_widths_min: tuple[int, ...] = Field(default=(10, 20, 40, 80), min_length=1)
    tod_min_confidence: float = Field(default=0.1, ge=0, le=1, description="least share of days")
    tod_min_lift: float = Field(default=3.0, gt=0, description="day share above the entity's base rate")
    tod_min_llr: float = Field(default=10.0, ge=0, description="least log-likelihood ratio of a window")
    tod_max_per_day: float = Field(default=1.6, gt=0, description="most events per covered day in a window")
    sun_frame_margin: float = Field(
        default=1.25, ge=1, description="how much a sun frame must beat the clock"
    )
    max_peaks: int = Field(default=3, ge=1, description="time-of-day windows per (entity, state)")
    high_confidence: float = Field(
        default=0.5, ge=0, le=1, description="confidence of a high-confidence pattern"
    )


class Delays(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    p05_s: float
    median_s: float
    p95_s: float


class TimeOfDayPattern(BaseModel):
    """`entity_id` takes `state` in a daily window: local clock hours, or hours from sunset/sunrise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["time_of_day"] = "time_of_day"
    entity_id: str
    state: str
    frame: Frame
    #: Median of the window's events: a local hour (clock) or signed hours from the sun event.
    center_h: float
    half_width_min: float
    days: DayGroup
    #: Days with an event in the window.
    support: int
    #: Share of the group's days with an event in the window.
    confidence: float
    lift: float


class SequencePattern(BaseModel):
    """`trigger_entity` taking `trigger_state` is followed by `action_entity` taking `action_state`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["sequence"] = "sequence"
    trigger_entity: str
    trigger_state: str
    action_entity: str
    action_state: str
    delay: Delays
    #: Action events this trigger explains.
    support: int
    #: Share of the trigger's events followed by the action within the delay window.
    confidence: float
    #: Share of the action's events this trigger explains.
    coverage: float
    lift: float


ExtractedPattern = TimeOfDayPattern | SequencePattern


class ExtractedPatterns(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    time_of_day: tuple[TimeOfDayPattern, ...]
    sequences: tuple[SequencePattern, ...]

    @property
    def all(self) -> tuple[ExtractedPattern, ...]:
        return (*self.time_of_day, *self.sequences)


class TruthVerifier:
    """Mines one home's events; `extract` is deterministic in its inputs."""

    def __init__(self, config: VerifierConfig | None = None) -> None:
        self.config = config or VerifierConfig()

    def extract(self, events: pa.Table | pl.DataFrame, timezone: str) -> ExtractedPatterns:
        """Patterns in `events` (HA state changes; provenance columns are ignored) of a home in `timezone`."""
        frame = events if isinstance(events, pl.DataFrame) else pl.from_arrow(events)
        assert isinstance(frame, pl.DataFrame)
        table = state_changes(frame, _SKIPPED_DOMAINS)
        if table.height == 0:
            return ExtractedPatterns(time_of_day=(), sequences=())
        keys = table.select("entity_id", "state").unique().sort("entity_id", "state")
        keys = keys.with_columns(
            pl.int_range(pl.len(), dtype=pl.Int64).alias("key"),
            pl.col("entity_id").rank("dense").cast(pl.Int64).alias("entity_code"),
            pl.col("entity_id").str.split(".").list.first().is_in(list(ACTUATOR_DOMAINS)).alias("actuator"),
        )
        table = table.join(keys, on=["entity_id", "state"]).sort("time", "key")
        miner = _Miner(
            self.config,
            time=table.get_column("time").to_numpy().astype(np.int64),
            key=table.get_column("key").to_numpy().astype(np.int64),
            entity=table.get_column("entity_code").to_numpy().astype(np.int64),
            actuator=keys.get_column("actuator").to_numpy(),
            names=list(
                zip(keys.get_column("entity_id").to_list(), keys.get_column("state").to_list(), strict=True)
            ),
        )
        sequences, explained = miner.sequences()
        explained |= miner.returns_of(explained)
        local = _local_clock(table, timezone)
        time_of_day = miner.time_of_day(~explained, local, _sun_times(table))
        return ExtractedPatterns(time_of_day=tuple(time_of_day), sequences=tuple(sequences))


# ------------------------------------------------------------------------------------------ inputs


def state_changes(events: pl.DataFrame, skipped_domains: Collection[str]) -> pl.DataFrame:
    """What a pattern miner sees of a home's events — the verifier here and the pipeline's pattern stage
    alike: the categorical state changes (time µs, entity_id, state; no provenance, no numbers, nothing
    in `skipped_domains`, no unavailable/unknown) and the `zone.home` changes derived from all of the
    people's changes (an unknown person is not at home, as HA counts), sorted by time."""
    domain = pl.col("entity_id").str.split(".").list.first()
    numeric = (
        pl.col("value").is_not_null() & pl.col("value").is_not_nan()
        if "value" in events.columns
        else pl.lit(False)
    )
    table = events.select(
        pl.col("time").dt.epoch("us").alias("time"),
        pl.col("entity_id").cast(pl.Utf8),
        pl.col("state").cast(pl.Utf8),
        numeric.alias("numeric"),
    )
    changes = table.filter(
        ~pl.col("numeric") & ~domain.is_in(list(skipped_domains)) & ~pl.col("state").is_in(_SKIPPED_STATES)
    )
    people = table.filter(pl.col("entity_id").str.starts_with("person."))
    return (
        pl.concat([changes, home_zone_changes(people)], how="diagonal")
        .drop("numeric")
        .sort("time", "entity_id", maintain_order=True)
    )


def home_zone_changes(frame: pl.DataFrame) -> pl.DataFrame:
    """`zone.home` changes derived from `person.*` changes: `occupied` at each first arrival, `empty` at
    each last departure (HA's zone.home counts the people at home). Input and output: time (µs), entity_id,
    state."""
    people = frame.filter(pl.col("entity_id").str.starts_with("person.")).sort("time", "entity_id")
    if people.height == 0:
        return people.clear()
    at_home = (pl.col("state") == "home").cast(pl.Int64)
    # Only changes are recorded: each person's first change tells where they were before it.
    people = people.with_columns(
        (at_home - at_home.shift(1).over("entity_id").fill_null(1 - at_home)).alias("delta"),
        at_home.first().over("entity_id").alias("first_home"),
    )
    initial = people.group_by("entity_id").agg((1 - pl.col("first_home").first()).alias("was_home"))
    count = people.get_column("delta").cum_sum() + int(initial.get_column("was_home").sum())
    occupied = (count > 0).to_numpy()
    before = np.concatenate([[bool(initial.get_column("was_home").sum() > 0)], occupied[:-1]])
    change = occupied != before
    return pl.DataFrame(
        {
            "time": people.get_column("time").to_numpy()[change],
            "entity_id": np.full(int(change.sum()), HOME_ZONE),
            "state": np.where(occupied[change], ZONE_OCCUPIED, ZONE_EMPTY),
        },
        schema={"time": pl.Int64, "entity_id": pl.Utf8, "state": pl.Utf8},
    )


def _local_clock(table: pl.DataFrame, timezone: str) -> tuple[F64, I64, int]:
    """Local minute of day and local day index (from the first event's day) of each event, and the
    weekday of that first day (Monday = 0)."""
    local = (
        pl.from_epoch(table.get_column("time"), time_unit="us")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(timezone)
    )
    minute = (local.dt.hour().cast(pl.Float64) * 60 + local.dt.minute() + local.dt.second() / 60).to_numpy()
    epoch_day = local.dt.date().cast(pl.Int64).to_numpy()
    first = int(epoch_day.min())
    return minute, (epoch_day - first).astype(np.int64), (first + 3) % 7  # 1970-01-01 was a Thursday


def _sun_times(table: pl.DataFrame) -> dict[Frame, I64]:
    """Times of the sun events seen in the events (sun.sun going below/above the horizon)."""
    sun = table.filter(pl.col("entity_id") == "sun.sun")

    def times(state: str) -> I64:
        return sun.filter(pl.col("state") == state).get_column("time").to_numpy().astype(np.int64)

    return {"sunset": times("below_horizon"), "sunrise": times("above_horizon")}


# ------------------------------------------------------------------------------------------- mining


class _Miner:
    def __init__(
        self,
        config: VerifierConfig,
        *,
        time: I64,
        key: I64,
        entity: I64,
        actuator: BoolArr,
        names: list[tuple[str, str]],
    ) -> None:
        self.c = config
        self.time = time
        self.key = key
        self.entity = entity
        self.actuator = actuator
        self.names = names
        self.n_keys = len(names)
        self.key_count = np.bincount(key, minlength=self.n_keys)
        self.span_us = max(int(time[-1] - time[0]), 1)

    # -- sequences -------------------------------------------------------------------------------------
    def sequences(self) -> tuple[list[SequencePattern], BoolArr]:
        """Sequence patterns, and which events they explain."""
        explained = np.zeros(len(self.time), dtype=bool)
        pairs = self._pairs()
        peaks = _delay_peaks(pairs)
        found: list[SequencePattern] = []
        cons_keys = np.unique(pairs.ckey)
        rows = np.searchsorted(pairs.ckey, np.append(cons_keys, self.n_keys))  # pairs are sorted by ckey
        stats = np.searchsorted(peaks[0], np.append(cons_keys, self.n_keys))
        for i, ckey in enumerate(cons_keys):
            _, keys, *per_key = (column[stats[i] : stats[i + 1]] for column in peaks)
            dense = [np.full(self.n_keys, fill) for fill in (0.0, np.inf, np.inf)]
            for array, values in zip(dense, per_key, strict=True):
                array[keys] = values
            found += self._explain(int(ckey), pairs.take(np.arange(rows[i], rows[i + 1])), dense, explained)
        return found, explained

    def _pairs(self) -> _Pairs:
        """For each actuator event and each other (entity, state): its latest change within the horizon."""
        horizon = int(self.c.max_delay_s * US_PER_S)
        cons = np.flatnonzero(self.actuator[self.key])
        lo = np.searchsorted(self.time, self.time[cons] - horizon, side="left")
        hi = np.searchsorted(self.time, self.time[cons], side="left")  # strictly before the action
        counts = hi - lo
        total = int(counts.sum())
        ante = np.repeat(lo, counts) + np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        cons_rep = np.repeat(cons, counts)
        keep = self.entity[ante] != self.entity[cons_rep]
        # Latest antecedent of each key per action: rows are in time order, so the largest row wins.
        frame = (
            pl.DataFrame({"cons": cons_rep[keep], "ante": ante[keep], "akey": self.key[ante[keep]]})
            .group_by("cons", "akey")
            .agg(pl.col("ante").max())
        )
        cons_rep = frame.get_column("cons").to_numpy().astype(np.int64)
        ante = frame.get_column("ante").to_numpy().astype(np.int64)
        delay_s = np.maximum((self.time[cons_rep] - self.time[ante]) / US_PER_S, 1e-3)
        pairs = _Pairs(
            cons=cons_rep, ante=ante, ckey=self.key[cons_rep], akey=self.key[ante], logd=np.log(delay_s)
        )
        return pairs.take(np.lexsort((pairs.akey, pairs.cons, pairs.ckey)))

    def _explain(
        self, ckey: int, pairs: _Pairs, peaks: list[F64], explained: BoolArr
    ) -> list[SequencePattern]:
        """Greedy choice of antecedents for one action (entity, state), each explaining away its events.

        `peaks` holds, per antecedent key, the log-delay peak's centre and sigma and the delay jitter."""
        akey, logd, cons, ante = pairs.akey, pairs.logd, pairs.cons, pairs.ante
        center, spread, jitter = peaks
        lo, hi = center - 3 * spread, center + 3 * spread
        inwin = (logd >= lo[akey]) & (logd <= hi[akey])
        # A delay peak cut off by the horizon may be the tail of a wide spread, not a peak.
        untruncated = hi <= np.log(self.c.max_delay_s)
        width_s = np.exp(hi) - np.exp(lo)
        rate = self.key_count / (self.span_us / US_PER_S)  # changes of each key per second
        chance = 1 - np.exp(-rate * width_s)
        n_c = int(self.key_count[ckey])
        found: list[SequencePattern] = []
        free = np.ones(len(cons), dtype=bool)
        for _ in range(self.c.max_rounds):
            hit = inwin & free & ~explained[cons]
            support = np.bincount(akey, weights=hit, minlength=self.n_keys)
            distinct = distinct_count(akey[hit], ante[hit], self.n_keys)
            coverage = support / max(n_c, 1)
            confidence = np.minimum(distinct / np.maximum(self.key_count, 1), 1.0)
            lift = coverage / np.maximum(chance, 1e-12)
            ok = (
                (support >= self.c.min_support)
                & (lift >= self.c.min_lift)
                & (spread <= self.c.max_spread)
                & untruncated
            )
            if not ok.any():
                break
            # The trigger explains the most of the action's events (a door opening at arrivals and departures
            # over each person arriving); of those about as good, the one most often followed by the action
            # (the household's arrival over the door that opens at every move); of those, the steadiest delay
            # (along a chain, departure → alarm → lock, and between two effects of one cause, arrival →
            # unlock and arrival → disarm, delay variances add up); ties go to the latest.
            near = np.flatnonzero(ok)
            near = near[coverage[near] >= self.c.tie_ratio * coverage[near].max()]
            near = near[confidence[near] >= self.c.tie_ratio * confidence[near].max()]
            best = int(near[np.lexsort((center[near], jitter[near]))[0]])
            chosen = hit & (akey == best)
            explained[cons[chosen]] = True
            free &= akey != best
            delays = np.exp(logd[chosen])
            trigger, action = self.names[best], self.names[ckey]
            found.append(
                SequencePattern(
                    trigger_entity=trigger[0],
                    trigger_state=trigger[1],
                    action_entity=action[0],
                    action_state=action[1],
                    delay=Delays(
                        p05_s=float(np.quantile(delays, 0.05)),
                        median_s=float(np.median(delays)),
                        p95_s=float(np.quantile(delays, 0.95)),
                    ),
                    support=int(support[best]),
                    confidence=float(confidence[best]),
                    coverage=float(coverage[best]),
                    lift=float(lift[best]),
                )
            )
        return found

    def returns_of(self, explained: BoolArr) -> BoolArr:
        """The next change of each explained event's entity within `max_return_s`: its return (the light
        going off again) belongs to the sequence that explained it; a change hours later is another story."""
        order = np.lexsort((self.time, self.entity))
        follows = np.zeros(len(order), dtype=bool)
        soon = np.diff(self.time[order]) <= self.c.max_return_s * US_PER_S
        follows[1:] = explained[order[:-1]] & (self.entity[order[1:]] == self.entity[order[:-1]]) & soon
        returns = np.zeros(len(order), dtype=bool)
        returns[order] = follows
        return returns

    # -- time of day -----------------------------------------------------------------------------------
    def time_of_day(
        self, candidates: BoolArr, local: tuple[F64, I64, int], sun: dict[Frame, I64]
    ) -> list[TimeOfDayPattern]:
        minute, day, first_weekday = local
        n_days = int(day.max()) + 1
        day_weekday = (first_weekday + np.arange(n_days)) % 7
        groups: dict[DayGroup, BoolArr] = {
            "all": np.ones(n_days, dtype=bool),
            "weekdays": day_weekday < 5,
            "weekends": day_weekday >= 5,
        }
        frames: dict[Frame, F64] = {"clock": minute}
        for name, times in sun.items():
            if len(times) >= self.c.min_support:
                frames[name] = minutes_from(self.time, times)
        rows = np.flatnonzero(candidates & self.actuator[self.key])
        rows = rows[np.argsort(self.key[rows], kind="stable")]
        keys, starts, counts = np.unique(self.key[rows], return_index=True, return_counts=True)
        found: list[TimeOfDayPattern] = []
        for k, start, count in zip(keys, starts, counts, strict=True):
            if count >= self.c.min_support:
                found += self._peaks(int(k), rows[start : start + count], day, frames, groups)
        return found

    def _peaks(
        self, k: int, rows: I64, day: I64, frames: dict[Frame, F64], groups: dict[DayGroup, BoolArr]
    ) -> list[TimeOfDayPattern]:
        remaining = np.ones(len(rows), dtype=bool)
        peaks: list[TimeOfDayPattern] = []
        for _ in range(self.c.max_peaks):
            best: _Window | None = None
            for frame, minutes in frames.items():  # clock first: a sun frame must beat it clearly
                found = self._best_window(frame, minutes[rows][remaining], day[rows][remaining], groups)
                margin = 1.0 if best is None or best.frame != "clock" else self.c.sun_frame_margin
                if found is not None and (best is None or found.llr > margin * best.llr):
                    best = found
            if best is None:
                break
            minutes = frames[best.frame][rows]
            in_window = remaining & groups[best.group][day[rows]]
            in_window &= circular_within(
                minutes, (best.center + 0.5) * _BIN_MIN, (best.half + 0.5) * _BIN_MIN
            )
            peaks.append(self._pattern(k, best, minutes[in_window], day[rows][in_window], groups))
            remaining &= ~in_window
            if remaining.sum() < self.c.min_support:
                break
        return peaks

    def _best_window(
        self, frame: Frame, minutes: F64, day: I64, groups: dict[DayGroup, BoolArr]
    ) -> _Window | None:
        """The window of this frame with the highest log-likelihood ratio that passes the thresholds, all
        widths, day groups and centres scored at once."""
        bins = np.clip((minutes // _BIN_MIN).astype(np.int64), 0, _BINS - 1)
        active, row = np.unique(day, return_inverse=True)  # days without an event cover no window
        occupied = np.zeros((len(active), _BINS), dtype=np.int32)
        occupied[row, bins] = 1
        halves = np.array(sorted({max(h // _BIN_MIN, 1) for h in self.c.tod_half_widths_min}))
        masks = np.stack([groups[g] for g in _GROUPS])  # (group, day)
        n_group = masks.sum(axis=1).astype(np.float64)
        in_group = masks[:, day]  # (group, event)
        n_events = in_group.sum(axis=1)
        histogram = np.stack([np.bincount(bins[m], minlength=_BINS) for m in in_group])
        covered = (circular_window_sums(occupied, halves) > 0).astype(np.float32)  # (width, day, centre)
        k = (masks[:, active].astype(np.float32) @ covered).astype(np.float64)  # (width, group, centre)
        per_window = circular_window_sums(histogram, halves)
        # Chance of a day with an event in the window if the key's events fell anywhere in the day.
        share = ((2 * halves + 1) / _BINS)[:, None, None]
        p0 = 1 - np.exp(-(n_events / np.maximum(n_group, 1))[None, :, None] * share)
        conf = k / np.maximum(n_group, 1)[None, :, None]
        lift = conf / np.maximum(p0, 1e-12)
        llr = binomial_llr(k, n_group[None, :, None], p0)
        ok = (
            (k >= self.c.min_support)
            & (n_events >= self.c.min_support)[None, :, None]
            & (conf >= self.c.tod_min_confidence)
            & (lift >= self.c.tod_min_lift)
            & (per_window <= self.c.tod_max_per_day * np.maximum(k, 1))
            # Thousands of windows are tried per key: only a clearly significant one counts.
            & (llr >= self.c.tod_min_llr)
        )
        if not ok.any():
            return None
        w, g, c = np.unravel_index(int(np.argmax(np.where(ok, llr, -np.inf))), ok.shape)
        return _Window(float(llr[w, g, c]), frame, int(c), int(halves[w]), _GROUPS[g], float(lift[w, g, c]))

    def _pattern(
        self, k: int, window: _Window, minutes: F64, day: I64, groups: dict[DayGroup, BoolArr]
    ) -> TimeOfDayPattern:
        n_group = int(groups[window.group].sum())
        support = len(np.unique(day))
        if window.frame == "clock":
            center = circular_median(minutes) / 60
        else:
            center = (float(np.median(minutes)) - 720) / 60
        entity, state = self.names[k]
        return TimeOfDayPattern(
            entity_id=entity,
            state=state,
            frame=window.frame,
            center_h=round(center, 4),
            half_width_min=window.half * _BIN_MIN,
            days=window.group,
            support=support,
            confidence=support / n_group,
            lift=window.lift,
        )


@dataclass(frozen=True)
class _Pairs:
    """(action event, latest earlier change of another key) pairs: event rows, keys, log-delay in seconds."""

    cons: I64
    ante: I64
    ckey: I64
    akey: I64
    logd: F64

    def take(self, index: I64) -> _Pairs:
        return _Pairs(
            self.cons[index], self.ante[index], self.ckey[index], self.akey[index], self.logd[index]
        )


@dataclass(frozen=True)
class _Window:
    llr: float
    frame: Frame
    center: int  # bin
    half: int  # bins
    group: DayGroup
    lift: float


# ---------------------------------------------------------------------------------------- numerics


def _delay_peaks(pairs: _Pairs) -> tuple[I64, I64, F64, F64, F64]:
    """Per (action key, antecedent key), sorted: the keys, the median and robust sigma (1.4826 MAD, at
    least 1%, a fixed stagger's jitter) of the log-delays, and the robust spread of the delays (seconds)
    within 3 sigmas.

    A causal delay is lognormal with a small sigma; chance delays spread over the whole horizon (sigma near
    1), and so do delays between two effects of one jittered cause."""
    frame = pl.DataFrame({"ckey": pairs.ckey, "akey": pairs.akey, "logd": pairs.logd})
    median = pl.col("logd").median()
    stats = frame.group_by("ckey", "akey").agg(
        median.alias("center"),
        ((pl.col("logd") - median).abs().median() * 1.4826).clip(_MIN_SPREAD).alias("spread"),
    )
    inside = frame.join(stats, on=["ckey", "akey"]).filter(
        (pl.col("logd") - pl.col("center")).abs() <= 3 * pl.col("spread")
    )
    delay = pl.col("logd").exp()
    jitter = inside.group_by("ckey", "akey").agg(
        ((delay - delay.median()).abs().median() * 1.4826).alias("jitter")
    )
    stats = stats.join(jitter, on=["ckey", "akey"], how="left").sort("ckey", "akey")
    return (
        stats.get_column("ckey").to_numpy().astype(np.int64),
        stats.get_column("akey").to_numpy().astype(np.int64),
        stats.get_column("center").to_numpy().astype(np.float64),
        stats.get_column("spread").to_numpy().astype(np.float64),
        stats.get_column("jitter").fill_null(np.inf).to_numpy().astype(np.float64),
    )
