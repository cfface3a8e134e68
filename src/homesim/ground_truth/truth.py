"""A home's ground truth (`ground_truth.json`) from its behaviours and its events' provenance.

Patterns are the behaviours, with everything measured from the events (`cause_id` names the behaviour or
fault behind each event; `parent_context_id` links an action to its trigger and a revert to its action):
occurrences, observed delays and time windows, confidence, first and last seen — never from the plan,
since HA records state changes only and some planned actions changed nothing. Each pattern carries an HA
automation (2024.10+ syntax) that would reproduce it. Synergies are the behaviours with a device trigger
(active; potential if it never fired) plus complementary device pairs in one area that no behaviour links
and the household uses by hand or by routine (potential, `ground_truth.evidence`); decoys are pairs of
actions of one shared cause that never cause each other. Baselines add the per-domain daily event
rates, the share of events by cause, and the scores of the reference detector (`TruthVerifier`).

The automation of each pattern is built by `ground_truth.automations`; re-checking a whole dataset with the
verifier is `datasets.verification`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from homesim.generation.behaviors import Behavior, BehaviorPlan, linked_pairs
from homesim.generation.calendar import US_PER_DAY, US_PER_S, day_grid
from homesim.generation.catalog import load_catalog
from homesim.generation.decoys import CO_USE_STATES
from homesim.ground_truth.accuracy import match_home
from homesim.ground_truth.automations import AutomationBuilder, parse_attributes
from homesim.ground_truth.evidence import LEVELS, MIN_USES, Candidate, Level, uses
from homesim.ground_truth.verifier import (
    ZONE_EMPTY,
    ZONE_OCCUPIED,
    TruthVerifier,
    home_zone_changes,
)
from homesim.io import atomic_path, write_bytes_atomic
from homesim.schema.ground_truth import (
    Baselines,
    Decoy,
    DelaySpec,
    FaultTruth,
    GroundTruth,
    Pattern,
    PatternAction,
    PatternParameters,
    Quantiles,
    RevertSpec,
    Synergy,
    Threshold,
    TimeWindow,
    flatten,
)
from homesim.schema.home import Entity, Home
from homesim.schema.patterns import (
    CheapestHourTriggerSpec,
    NumericTriggerSpec,
    PresenceTriggerSpec,
    StateTriggerSpec,
    TimeTriggerSpec,
)
from homesim.workspace import HomeFolder

if TYPE_CHECKING:
    from homesim.generation.home import GeneratedHome

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: Staggered actions of one firing land within this many seconds of the last stagger.
_FIRING_GAP_S = 60.0
#: Two actions of a shared cause co-occur when they happen within this many minutes.
_CO_OCCURRENCE_MIN = 30.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Homes whose ground truth carries the reference detector's scores: the first few and every 40th. The
#: verifier's pass costs about a quarter of a home's generation, so a dataset measures its recall on this
#: sample (`homesim ground-truth verify` checks every home). Chosen by index alone, so a home's files are
#: the same whichever dataset (or request of one home) makes it.
VERIFIED_FIRST = 4
VERIFIED_EVERY = 40


# ------------------------------------------------------------------------------------------- entry points


def verified_home(index: int) -> bool:
    """Whether home `index`'s ground truth records the reference detector's scores (see VERIFIED_EVERY)."""
    return index < VERIFIED_FIRST or index % VERIFIED_EVERY == 0


def build_ground_truth(
    generated: GeneratedHome, verifier: TruthVerifier | None = None, *, verify: bool | None = None
) -> GroundTruth:
    """The ground truth of one generated home (deterministic in the home). The detector's scores are
    measured when `verify`, by default for the homes `verified_home` names."""
    home = generated.home
    meta = home.metadata
    table = generated.events.unify_dictionaries().combine_chunks()
    events = event_frame(table.filter(_measured_rows(table, home, generated.plan)))
    patterns = build_patterns(home, generated.plan, events)
    grid = day_grid(meta.start, meta.days, meta.timezone)
    detector = None
    if verified_home(meta.home_index) if verify is None else verify:
        verifier = verifier or TruthVerifier()
        detector = match_home(
            meta.home_key,
            patterns,
            verifier.extract(event_frame(table), meta.timezone),
            high_confidence=verifier.config.high_confidence,
        ).scores()
    entity_counts = _dictionary_counts(table.column("entity_id"))
    return GroundTruth(
        home_key=meta.home_key,
        generator_version=meta.generator_version,
        timezone=meta.timezone,
        start=_datetime(grid.begin_us),
        end=_datetime(grid.end_us),
        patterns=patterns,
        synergies=_synergies(home, generated.plan, patterns, table),
        decoys=_decoys(generated.plan, patterns, events),
        faults=_faults(generated, events),
        baselines=Baselines(
            days=meta.days,
            events=table.num_rows,
            events_per_day_by_domain=_per_day_by_domain(entity_counts, meta.days),
            cause_share=_cause_share(_dictionary_counts(table.column("cause")), table.num_rows),
            detector=detector,
        ),
    )


def ground_truth_json(truth: GroundTruth) -> bytes:
    """The exact bytes of `ground_truth.json`."""
    return (truth.model_dump_json(indent=2) + "\n").encode("utf-8")


def write_ground_truth(truth: GroundTruth, directory: Path) -> Path:
    path = HomeFolder(directory).ground_truth
    write_bytes_atomic(path, ground_truth_json(truth))
    return path


def read_ground_truth(directory: Path) -> GroundTruth:
    return GroundTruth.model_validate_json(HomeFolder(directory).ground_truth.read_text("utf-8"))


def write_ground_truth_parquet(truths: Iterable[GroundTruth], directory: Path) -> list[Path]:
    """Flatten many homes' ground truth into `ground_truth_<table>.parquet` files in `directory`."""
    paths = []
    for name, table in flatten(truths).items():
        path = directory / f"ground_truth_{name}.parquet"
        with atomic_path(path) as tmp:
            pq.write_table(table, tmp, compression="zstd")
        paths.append(path)
    return paths


def event_frame(events: pa.Table) -> pl.DataFrame:
    """The events as a polars frame with plain string columns (dictionaries decoded)."""
    frame = pl.from_arrow(events)
    assert isinstance(frame, pl.DataFrame)
    return frame.with_columns(
        pl.col("entity_id", "cause", "cause_id").cast(pl.Utf8),
        pl.col("time").dt.epoch("us").alias("time_us"),
    )


def _measured_rows(table: pa.Table, home: Home, plan: BehaviorPlan) -> pa.Array:
    """The rows the truth is measured from (one-chunk table): events with a cause id (behaviours, faults),
    fault events, `person.*` events (zone.home) and the events of state triggers (opportunities) and of
    walk-ins' sensors. A home's ~10^5 sensor reports are none of these, so the string frame the measures
    run on is built for a few thousand rows instead of every event. The parents these rows name are among
    them by construction (a behaviour's parents are its state trigger's events, a revert's its own action),
    which tests/test_ground_truth.py checks, so no id lookup over every event is needed."""
    (cause_id,) = table.column("cause_id").chunks or [pa.array([], pa.int32())]
    (cause,) = table.column("cause").chunks or [pa.array([], pa.int8())]
    (entity,) = table.column("entity_id").chunks or [pa.array([], pa.int32())]
    keep = cause_id.is_valid().to_numpy(zero_copy_only=False)
    causes = cause.dictionary.to_pylist()
    if "fault" in causes:
        keep |= cause.indices.to_numpy(zero_copy_only=False) == causes.index("fault")
    triggers = {b.trigger.entity_id for b in plan.behaviors if isinstance(b.trigger, StateTriggerSpec)}
    # A walk-in's sensor: its own detections are what the walk-in follows (its decoy's co-occurrences).
    triggers |= {u.entity_a for u in plan.co_uses if u.follow_share is not None}
    wanted = np.array(
        [e.startswith("person.") or e in triggers for e in entity.dictionary.to_pylist()], dtype=bool
    )
    if len(wanted):
        keep |= wanted.take(entity.indices.to_numpy(zero_copy_only=False))
    return pa.array(keep)


# --------------------------------------------------------------------------------------------- patterns


def build_patterns(home: Home, plan: BehaviorPlan, events: pl.DataFrame) -> tuple[Pattern, ...]:
    """One pattern per behaviour, measured from the events that carry its id."""
    stats = _BehaviorStats(home, plan, events)
    builder = AutomationBuilder(home)
    patterns = []
    for b in plan.behaviors:
        observed = stats.of(b.id)
        opportunities = stats.opportunities(b)
        rate = observed.firing_days if _daily(b) else observed.occurrences
        patterns.append(
            Pattern(
                id=b.id,
                type=b.type,
                description=b.description,
                trigger=b.trigger,
                trigger_entities=builder.trigger_entities(b),
                actions=tuple(
                    PatternAction(
                        entity_id=a.entity_id,
                        state=a.state,
                        attributes=parse_attributes(a.attributes),
                        stagger_s=a.stagger_s,
                    )
                    for a in b.actions
                ),
                conditions=tuple(c for c, on in b.conditions.model_dump().items() if on),
                parameters=_parameters(b, observed),
                probability=b.probability,
                occurrences=observed.occurrences,
                events=observed.events,
                opportunities=opportunities,
                confidence=min(rate / opportunities, 1.0) if opportunities else 0.0,
                first_seen=observed.first_seen,
                last_seen=observed.last_seen,
                automation=builder.build(b, observed.action_window),
            )
        )
    return tuple(patterns)


def _parameters(b: Behavior, observed: _Observed) -> PatternParameters:
    trigger, delay, revert = b.trigger, b.delay, b.revert
    return PatternParameters(
        time_window=observed.action_window,
        revert_time_window=observed.revert_window,
        weekdays=getattr(trigger, "weekdays", tuple(range(7))),
        delay=DelaySpec(median_s=delay.median_s, sigma=delay.sigma, observed_s=observed.delay_s)
        if delay
        else None,
        revert=RevertSpec(
            state=revert.state,
            median_min=revert.median_min,
            sigma=revert.sigma,
            after_trigger_clears=revert.after_trigger_clears,
            observed_min=observed.revert_min,
        )
        if revert
        else None,
        threshold=Threshold(variable=trigger.variable, above=trigger.above, below=trigger.below)
        if isinstance(trigger, NumericTriggerSpec)
        else None,
        active_hours=trigger.window
        if isinstance(trigger, NumericTriggerSpec | CheapestHourTriggerSpec)
        else None,
    )


def _daily(b: Behavior) -> bool:
    """Whether the behaviour has one chance a day (its confidence counts firing days)."""
    return isinstance(b.trigger, TimeTriggerSpec | NumericTriggerSpec | CheapestHourTriggerSpec)


@dataclass(frozen=True)
class _Observed:
    occurrences: int = 0
    events: int = 0
    firing_days: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    action_window: TimeWindow | None = None
    revert_window: TimeWindow | None = None
    delay_s: Quantiles | None = None
    revert_min: Quantiles | None = None


class _BehaviorStats:
    """Everything measured about the behaviours from their events, computed column-wise for all at once:
    each event is matched to its (behaviour, entity, state) role by integer codes, and each behaviour's
    rows are a slice of numpy columns sorted by (behaviour, time), not a frame op per measure."""

    def __init__(self, home: Home, plan: BehaviorPlan, events: pl.DataFrame) -> None:
        meta = home.metadata
        self.grid = day_grid(meta.start, meta.days, meta.timezone)
        self._events = events
        ids = [b.id for b in plan.behaviors]
        # One role per (behaviour, entity, state), the first named: (is an action, the firing gap).
        first: dict[tuple[str, str, str], tuple[bool, int]] = {}
        for b in plan.behaviors:
            gap_us = int((max(x.stagger_s for x in b.actions) + _FIRING_GAP_S) * US_PER_S)
            for a in b.actions:
                for to, is_action in ((a.state, True), (b.revert.state if b.revert else None, False)):
                    if to is not None:
                        first.setdefault((b.id, a.entity_id, to), (is_action, gap_us))
        coded = _Coded(events, ids, (e for _, e, _ in first), (s for _, _, s in first))
        # The state triggers' events (their opportunities), counted by comparisons in one select.
        triggers = list(
            dict.fromkeys(
                (b.trigger.entity_id, b.trigger.to)
                for b in plan.behaviors
                if isinstance(b.trigger, StateTriggerSpec)
            )
        )
        counted = events.select(
            ((pl.col("entity_id") == e) & (pl.col("state") == to)).sum().alias(str(i))
            for i, (e, to) in enumerate(triggers)
        )
        self.state_counts = dict(zip(triggers, counted.row(0) if triggers else (), strict=True))
        self.counts = dict(
            zip(ids, np.bincount(coded.cause, minlength=len(ids) + 1)[1:].tolist(), strict=True)
        )
        rows, which = coded.rows_of(list(first))
        # Each behaviour's rows in time order (the events' own order among equal times).
        time_us = events.get_column("time_us").to_numpy()
        order = np.lexsort((time_us[rows], coded.cause[rows]))
        rows, which = rows[order], which[order]
        owner, t = coded.cause[rows], time_us[rows]
        action = np.array([is_action for is_action, _ in first.values()], dtype=bool)[which]
        gap = np.array([gap for _, gap in first.values()], dtype=np.int64)[which]
        parents = events.select(pl.col("context_id").alias("parent_context_id"), "time_us")
        parent_us = (
            events.select(pl.col("parent_context_id").gather(rows))
            .join(parents, on="parent_context_id", how="left", maintain_order="left")
            .get_column("time_us")
            .to_numpy()
        )
        # Divisions as multiplications by the reciprocal, as polars divides a column by a scalar (the
        # measures were taken with polars: the same bits).
        since = (t - parent_us) * (1 / US_PER_S)  # NaN where the event has no parent among the events
        local = t + self.grid.utc_offsets(t)
        second = local // US_PER_S % 86400
        hours = (second // 3600).astype(np.float64) + second // 60 % 60 * (1 / 60) + second % 60 * (1 / 3600)
        self.actions = _slices(ids, owner[action], since[action], hours[action])
        self.reverts = _slices(ids, owner[~action], since[~action], hours[~action])
        # A firing's staggered actions follow each other within the gap; the next firing comes later.
        owner, t, gap, day = owner[action], t[action], gap[action], local[action] // US_PER_DAY
        new = np.ones(len(owner), dtype=bool)
        new[1:] = (owner[1:] != owner[:-1]) | (t[1:] - t[:-1] > gap[1:])
        starts, ends = _runs(owner)
        occurrences = np.add.reduceat(new.astype(np.int64), starts) if len(owner) else starts
        # The distinct (behaviour, local day) pairs, counted by behaviour.
        days = np.bincount(np.unique((owner << 32) | day) >> 32, minlength=len(ids) + 1)
        self.firings = {
            ids[owner[s] - 1]: (int(n), int(days[owner[s]]), int(t[s]), int(t[e - 1]))
            for s, e, n in zip(starts.tolist(), ends.tolist(), occurrences.tolist(), strict=True)
        }

    @cached_property
    def zone_counts(self) -> dict[str, int]:
        """`zone.home` changes by state: asked only by presence-triggered behaviours."""
        events = self._events.select(pl.col("time_us").alias("time"), "entity_id", "state")
        return dict(home_zone_changes(events).group_by("state").len().iter_rows())

    def of(self, behavior_id: str) -> _Observed:
        row = self.firings.get(behavior_id)
        if row is None:
            return _Observed(events=self.counts.get(behavior_id, 0))
        occurrences, firing_days, first_us, last_us = row
        action_since, action_hours = self.actions[behavior_id]
        reverts = self.reverts.get(behavior_id)
        delays = action_since[~np.isnan(action_since)]
        holds = reverts[0][~np.isnan(reverts[0])] / 60 if reverts is not None else None
        return _Observed(
            occurrences=occurrences,
            events=self.counts.get(behavior_id, 0),
            firing_days=firing_days,
            first_seen=_datetime(first_us),
            last_seen=_datetime(last_us),
            action_window=_time_window(action_hours),
            revert_window=_time_window(reverts[1]) if reverts is not None else None,
            delay_s=_quantiles(delays),
            revert_min=_quantiles(holds) if holds is not None else None,
        )

    def opportunities(self, b: Behavior) -> int:
        """The chances the behaviour had: eligible days, trigger events, first arrivals or last departures."""
        trigger = b.trigger
        if isinstance(trigger, StateTriggerSpec):
            return int(self.state_counts.get((trigger.entity_id, trigger.to), 0))
        if isinstance(trigger, PresenceTriggerSpec):
            return int(
                self.zone_counts.get(ZONE_OCCUPIED if trigger.event == "first_arrival" else ZONE_EMPTY, 0)
            )
        weekdays = getattr(trigger, "weekdays", (0, 1, 2, 3, 4, 5, 6))
        return int(np.isin(self.grid.weekday, weekdays).sum())


class _Coded:
    """The events' cause ids, entities and states as 1-based codes into the words asked about (0: none
    of them), so that rows are matched to (cause id, entity, state) keys by integers: an enum cast per
    column (entities and states only on the rows of the causes asked about, a few thousand), then a
    sorted search, instead of a join of string columns."""

    def __init__(
        self, events: pl.DataFrame, causes: Iterable[str], entities: Iterable[str], states: Iterable[str]
    ) -> None:
        self.words = [list(dict.fromkeys(words)) for words in (causes, entities, states)]
        self._index = [{w: i + 1 for i, w in enumerate(words)} for words in self.words]
        self.cause = events.select(_codes("cause_id", self.words[0])).to_series().to_numpy()
        some = np.flatnonzero(self.cause)
        codes = events.select(pl.col("entity_id", "state").gather(some)).select(
            _codes("entity_id", self.words[1]), _codes("state", self.words[2])
        )
        self.entity, self.state = (np.zeros(len(self.cause), np.int64) for _ in range(2))
        self.entity[some], self.state[some] = (codes.to_series(i).to_numpy() for i in range(2))

    def _pack(self, cause: Any, entity: Any, state: Any) -> Any:
        return (cause * (len(self.words[1]) + 1) + entity) * (len(self.words[2]) + 1) + state

    def rows_of(self, keys: Sequence[tuple[str, str, str]]) -> tuple[I64, I64]:
        """The rows whose (cause id, entity, state) is one of `keys` (distinct, of the words asked about),
        in the events' order, and the index of the key of each."""
        if not keys:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        packed = np.array(
            [self._pack(*(index[w] for index, w in zip(self._index, key, strict=True))) for key in keys],
            dtype=np.int64,
        )
        order = np.argsort(packed)
        events = self._pack(self.cause, self.entity, self.state)
        at = np.minimum(np.searchsorted(packed[order], events), len(keys) - 1)
        rows = np.flatnonzero(packed[order][at] == events)
        return rows, order[at[rows]]


def _codes(column: str, words: list[str]) -> pl.Expr:
    """Each row's 1-based index of `column`'s value in `words` (0: not among them): a cast to an enum of
    the words, one hash lookup per row."""
    index = pl.col(column).cast(pl.Enum(words), strict=False).to_physical().cast(pl.Int64)
    return (index + 1).fill_null(0)


def _slices(ids: list[str], behavior: I64, since: F64, hours: F64) -> dict[str, tuple[F64, F64]]:
    """Each behaviour's seconds since its events' parents (NaN: none) and local hours, from rows sorted
    by behaviour: the groups as slices of two numpy columns, not a frame per behaviour."""
    starts, ends = _runs(behavior)
    return {
        ids[behavior[s] - 1]: (since[s:e], hours[s:e])
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
    }


def _runs(keys: I64) -> tuple[I64, I64]:
    """Where each run of equal values of `keys` starts and ends (exclusive)."""
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return starts, np.r_[starts[1:], len(keys)]


def _time_window(hours: F64) -> TimeWindow | None:
    """5–95% window and median of local hours, taken around their circular mean (midnight-safe)."""
    if len(hours) == 0:
        return None
    angle = hours / 24 * 2 * np.pi
    mean = float(np.arctan2(np.sin(angle).mean(), np.cos(angle).mean()) / (2 * np.pi) * 24)
    shifted = (hours - mean + 12) % 24 - 12
    p05, median, p95 = (round(float((q + mean) % 24), 4) % 24 for q in _p05_median_p95(shifted))
    return TimeWindow(start_h=p05, end_h=p95, median_h=median)


def _quantiles(values: F64) -> Quantiles | None:
    if len(values) == 0:
        return None
    p05, median, p95 = (round(float(q), 3) for q in _p05_median_p95(values))
    return Quantiles(p05=p05, median=median, p95=p95)


_QUANTILES = (0.05, 0.5, 0.95)


def _p05_median_p95(values: F64) -> list[np.float64]:
    """`np.quantile(values, [0.05, 0.5, 0.95])` for non-empty values without NaN, bit for bit, without its
    per-call overhead (a home asks ~50 times): numpy's linear method, the same float operations on
    scalars: virtual index (n-1)·q, the same partition (which places -0.0 and 0.0 alike), lerp from the
    lower value below t = 0.5, from the upper one at or above."""
    n = len(values)
    virtual = [(n - 1) * q for q in _QUANTILES]
    # At or past the last value numpy reads the last value from both sides, its lower index being -1.
    lower = [-1 if v >= n - 1 else math.floor(v) for v in virtual]
    upper = [-1 if lo == -1 else lo + 1 for lo in lower]
    ordered = np.partition(values, sorted({0, -1, *lower, *upper}))
    out = []
    for v, lo, up in zip(virtual, lower, upper, strict=True):
        a, b, t = ordered[lo], ordered[up], v - lo
        diff = b - a
        out.append(b - diff * (1 - t) if t >= 0.5 else a + diff * t)
    return out


# ------------------------------------------------------------------------------------ synergies, decoys


@dataclass(frozen=True)
class _Relation:
    """A complementary device pair: a trigger entity that can drive an action entity to a state."""

    name: str
    trigger_tags: frozenset[str]
    trigger_role: str
    trigger_state: str | None
    action_tags: frozenset[str]
    action_state: str
    #: Prior value of automating the pair: comfort, safety or energy saved.
    benefit: float
    #: A numeric trigger's trigger state (`trigger_state` None): a level of its own readings.
    level: Level | None = None


def _rule(
    name: str,
    trigger: str,
    role: str,
    state: str | None,
    actions: str,
    to: str,
    benefit: float,
    level: Level | None = None,
) -> _Relation:
    return _Relation(
        name, frozenset(trigger.split()), role, state, frozenset(actions.split()), to, benefit, level
    )


_RELATIONS = (
    _rule("motion_light", "motion", "main", "on", "light", "on", 0.9),
    _rule("occupancy_light", "occupancy", "main", "on", "light", "on", 0.85),
    _rule("door_light", "door", "main", "on", "light", "on", 0.75),
    _rule("presence_recording", "camera", "person_detected", "on", "camera", "recording", 0.8),
    _rule("alarm_lock", "alarm", "main", "armed_away", "lock", "locked", 0.9),
    _rule("window_climate", "window", "main", "on", "heating cooling", "off", 0.85),
    _rule(
        "humidity_ventilation",
        "climate_sensor",
        "humidity",
        None,
        "exhaust_fan dehumidifier",
        "on",
        0.7,
        LEVELS["humidity"],
    ),
    _rule("daylight_lighting", "motion", "illuminance", None, "light", "on", 0.6, LEVELS["illuminance"]),
    _rule("media_lighting", "tv", "main", "playing", "light", "off", 0.55),
    _rule("smoke_lighting", "smoke", "main", "on", "light", "on", 0.5),
)
#: Relation and benefit of an active synergy that no rule describes.
_OTHER_RELATION = ("state_trigger", 0.5)


def _synergies(
    home: Home, plan: BehaviorPlan, patterns: Sequence[Pattern], table: pa.Table
) -> tuple[Synergy, ...]:
    """Active synergies (device-triggered behaviours seen in the events) and potential ones: a behaviour
    that never fired, and complementary pairs in one area that no behaviour links, that are no decoy, and
    that the household uses by hand or by routine (`ground_truth.evidence`: at least `MIN_USES` times)."""
    catalog = load_catalog()
    device_tags = {d.id: catalog.devices[d.device_type].tags for d in home.devices}
    entities = {e.entity_id: e for e in home.entities}

    def fits(entity: Entity, tags: frozenset[str], role: str) -> bool:
        return (
            entity.role == role
            and entity.device_id is not None
            and bool(device_tags[entity.device_id] & tags)
        )

    def relation(trigger: Entity, action: Entity) -> tuple[str, float]:
        for rule in _RELATIONS:
            if fits(trigger, rule.trigger_tags, rule.trigger_role) and fits(action, rule.action_tags, "main"):
                return rule.name, rule.benefit
        return _OTHER_RELATION

    occurrences = {p.id: p.occurrences for p in patterns}
    decoys = {frozenset((d.entity_a, d.entity_b)) for d in plan.decoys}
    synergies: list[Synergy] = []
    linked: set[tuple[str, str]] = set()
    for b in plan.behaviors:
        if not isinstance(b.trigger, StateTriggerSpec):
            continue
        active = occurrences[b.id] > 0
        for action in b.actions:
            linked.add((b.trigger.entity_id, action.entity_id))
            name, benefit = relation(entities[b.trigger.entity_id], entities[action.entity_id])
            synergies.append(
                Synergy(
                    id=f"synergy-{b.id}",
                    status="active" if active else "potential",
                    trigger_entity=b.trigger.entity_id,
                    trigger_state=b.trigger.to,
                    action_entity=action.entity_id,
                    action_state=action.state,
                    relation=name,
                    area_id=home.entity_area(entities[action.entity_id]),
                    behavior_id=b.id if active else None,
                    occurrences=occurrences[b.id],
                    benefit=benefit,
                )
            )
    by_area: dict[str, list[Entity]] = {}
    for entity in home.entities:
        area = home.entity_area(entity)
        if area is not None:
            by_area.setdefault(area, []).append(entity)
    candidates = sorted(
        (rule.name, trigger.entity_id, action.entity_id, area, rule)
        for area, members in by_area.items()
        for rule in _RELATIONS
        for trigger in members
        if fits(trigger, rule.trigger_tags, rule.trigger_role)
        for action in members
        if fits(action, rule.action_tags, "main")
        and (trigger.entity_id, action.entity_id) not in linked
        # A pair the household switches together by hand or by scene is a decoy, not an opportunity.
        and frozenset((trigger.entity_id, action.entity_id)) not in decoys
    )
    counts = uses(
        table,
        [
            Candidate(t, rule.trigger_state, rule.level, a, rule.action_state)
            for _, t, a, _, rule in candidates
        ],
    )
    used = [(c, n) for c, n in zip(candidates, counts, strict=True) if n >= MIN_USES]
    for i, ((name, trigger_id, action_id, area, rule), n) in enumerate(used):
        synergies.append(
            Synergy(
                id=f"potential-{i:03d}",
                status="potential",
                trigger_entity=trigger_id,
                trigger_state=rule.trigger_state,
                action_entity=action_id,
                action_state=rule.action_state,
                relation=name,
                area_id=area,
                behavior_id=None,
                occurrences=n,
                benefit=rule.benefit,
            )
        )
    return tuple(synergies)


def _shared_cause(b: Behavior) -> str | None:
    """What makes this behaviour's actions co-occur with other behaviours' actions without causing them."""
    trigger = b.trigger
    if isinstance(trigger, TimeTriggerSpec) and trigger.anchor not in ("clock",):
        return f"{trigger.anchor}:{trigger.occupant}" if trigger.occupant else trigger.anchor
    if isinstance(trigger, PresenceTriggerSpec):
        return trigger.event
    if isinstance(trigger, StateTriggerSpec):
        return f"{trigger.entity_id}:{trigger.to}"
    return None


def _decoys(plan: BehaviorPlan, patterns: Sequence[Pattern], events: pl.DataFrame) -> tuple[Decoy, ...]:
    """The plan's decoys (shared causes: a scene's actions, a manual co-use's toggles), and every pair of
    actions of two behaviours with one shared cause that co-occur, unless some behaviour links the two
    entities (then the pair is causal)."""
    linked = linked_pairs(plan.behaviors)
    keys = [(p.id, a.entity_id, a.state) for p in patterns for a in p.actions] + [
        (u.id, e, CO_USE_STATES[e.split(".", 1)[0]][0])
        for u in plan.co_uses
        for e in (u.entity_a, u.entity_b)
    ]
    distinct = list(dict.fromkeys(keys))
    coded = _Coded(events, *(tuple(k[i] for k in distinct) for i in range(3)))
    rows, which = coded.rows_of(distinct)
    # An event matching a key named twice counts twice (as it did joined to the list of actions).
    named = Counter(keys)
    rows = np.repeat(rows, np.array([named[key] for key in distinct], dtype=np.int64)[which])
    # Each (behaviour, entity)'s sorted action times as slices of one sorted column, not a frame each.
    owner, entity = coded.cause[rows], coded.entity[rows]
    time_us = events.get_column("time_us").to_numpy()[rows]
    order = np.lexsort((time_us, entity, owner))
    owner, entity, times = owner[order], entity[order], time_us[order]
    causes, entities = coded.words[0], coded.words[1]
    starts, ends = _runs(owner * (len(entities) + 1) + entity)
    action_times: dict[tuple[str, str], I64] = {
        (causes[owner[s] - 1], entities[entity[s] - 1]): times[s:e]
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
    }

    walk_ins = {u.id: u for u in plan.co_uses if u.follow_share is not None}

    def co_occurrences(b1: str, a: str, b2: str, c: str) -> int:
        first = action_times.get((b1, a), np.zeros(0, np.int64))
        if b1 in walk_ins and a == walk_ins[b1].entity_a:  # a walk-in follows its sensor's own detections
            on = CO_USE_STATES["binary_sensor"][0]
            first = np.sort(
                events.filter((pl.col("entity_id") == a) & (pl.col("state") == on))["time_us"].to_numpy()
            )
        second = action_times.get((b2, c), np.zeros(0, np.int64))
        if len(first) == 0 or len(second) == 0:
            return 0
        reach = int(_CO_OCCURRENCE_MIN * 60 * US_PER_S)
        lo = np.searchsorted(second, first - reach, side="left")
        hi = np.searchsorted(second, first + reach, side="right")
        return int(np.sum(hi > lo))

    found: dict[frozenset[str], Decoy] = {}
    for d in plan.decoys:
        found[frozenset((d.entity_a, d.entity_b))] = Decoy(
            entity_a=d.entity_a,
            entity_b=d.entity_b,
            behaviors=d.behaviors,
            shared_cause=d.shared_cause,
            co_occurrences=co_occurrences(d.behaviors[0], d.entity_a, d.behaviors[1], d.entity_b),
        )
    groups: dict[str, list[Behavior]] = {}
    for b in plan.behaviors:
        cause = _shared_cause(b)
        if cause is not None:
            groups.setdefault(cause, []).append(b)
    for cause, members in sorted(groups.items()):
        for b1, b2 in combinations(members, 2):
            for a in b1.actions:
                for c in b2.actions:
                    pair = frozenset((a.entity_id, c.entity_id))
                    if len(pair) < 2 or pair in linked or pair in found:
                        continue
                    count = co_occurrences(b1.id, a.entity_id, b2.id, c.entity_id)
                    if count:
                        found[pair] = Decoy(
                            entity_a=a.entity_id,
                            entity_b=c.entity_id,
                            behaviors=(b1.id, b2.id),
                            shared_cause=cause,
                            co_occurrences=count,
                        )
    return tuple(found.values())


# ---------------------------------------------------------------------------------------- faults, baselines


def _faults(generated: GeneratedHome, events: pl.DataFrame) -> tuple[FaultTruth, ...]:
    spans = {
        key: (lo, hi, n)
        for key, lo, hi, n in events.filter(pl.col("cause") == "fault")
        .group_by("cause_id")
        .agg(pl.col("time_us").min().alias("lo"), pl.col("time_us").max().alias("hi"), pl.len())
        .iter_rows()
    }
    faults = []
    for f in generated.faults:
        lo, hi, n = spans.get(f.id, (f.start_us, f.end_us, 0))
        faults.append(
            FaultTruth(
                id=f.id,
                entity_id=f.entity_id,
                kind=f.kind,
                start=_datetime(min(f.start_us, lo)),
                end=_datetime(max(f.end_us, hi)),
                magnitude=f.magnitude,
                anomalous_events=n,
            )
        )
    return tuple(faults)


def _dictionary_counts(column: pa.ChunkedArray) -> dict[str, int]:
    """Events per distinct value of a dictionary column (one chunk), from its codes; absent values left
    out. A few hundred entities or eight causes: counted on the codes, not on each event's text."""
    (chunk,) = column.chunks or [pa.array([], column.type)]
    counts = np.bincount(chunk.indices.to_numpy(zero_copy_only=False), minlength=len(chunk.dictionary))
    return {word: int(n) for word, n in zip(chunk.dictionary.to_pylist(), counts.tolist(), strict=True) if n}


def _per_day_by_domain(entity_counts: dict[str, int], days: int) -> dict[str, float]:
    counts: dict[str, int] = {}
    for entity_id, n in entity_counts.items():
        domain = entity_id.split(".", 1)[0]
        counts[domain] = counts.get(domain, 0) + n
    return {domain: round(counts[domain] / days, 4) for domain in sorted(counts)}


def _cause_share(cause_counts: dict[str, int], events: int) -> dict[str, float]:
    total = max(events, 1)
    return {cause: round(cause_counts[cause] / total, 6) for cause in sorted(cause_counts)}


def _datetime(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)
