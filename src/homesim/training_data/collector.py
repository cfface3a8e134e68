"""TrainingDataCollector: the persistent `RecordSink` that validates records and stages them per cycle.

It owns the collection points (one per simulation stage: record type, model types fed, validators, quality
threshold) and the batching: records wait in memory until `batch_size` are pending (or `flush`/`close`),
then each point's records are serialised once (payload + content hash), run through the point's validators
batch-wise (validator by validator over the whole group), and the batch's accepted records and rejects
(with reasons, never dropped silently) are committed to the store (SQLite or Parquet staging) at once.
Lineage (when a tracker is given) is recorded just before that commit, one row per group of the batch's
records that share cycle, home, stage, model version and outcome, idempotently, so a process
killed at any point loses no committed record and leaves no partial batch; re-running the cycle fills in
what was lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any, Final

import polars as pl

from homesim.schema.ground_truth import GroundTruth
from homesim.schema.records import (
    ActivityRecord,
    AnyRecord,
    AskAIRecord,
    AutomationRecord,
    DeviceHealthRecord,
    PatternRecord,
    StageRecord,
    SuggestionRecord,
    SynergyRecord,
)
from homesim.simulation.sink import records_gc_paused
from homesim.training_data import validators as v
from homesim.training_data.lineage_tracker import Collected, LineageTracker, Source
from homesim.training_data.store import (
    Reject,
    Store,
    StoredRow,
    TypeRow,
    collector_fields,
    lineage_json,
    open_store,
    serialise,
)


class UnknownCollectionPointError(ValueError):
    """A record arrived for a collection point that was never registered."""


@dataclass(frozen=True)
class CollectionPoint:
    name: str
    record_type: type[StageRecord]
    model_types: tuple[str, ...]
    #: Run in this order over each batch; a duplicate check must come last (see `DuplicateValidator`).
    validators: tuple[v.Validator, ...]
    #: Records whose quality (minimum over the validators) is below this are rejected.
    threshold: float = 0.5


DEFAULT_POINTS: Final[tuple[CollectionPoint, ...]] = (
    CollectionPoint("pattern", PatternRecord, ("pattern_detection",), v.COMMON),
    CollectionPoint("synergy", SynergyRecord, ("gnn_synergy",), v.COMMON),
    # A suggestion is the natural-language request side of the YAML its automation record holds: the
    # yaml_generation exporter pairs them (suggestion text → YAML).
    CollectionPoint("suggestion", SuggestionRecord, ("yaml_generation",), (*v.CHECKS, v.TEXT, v.DUPLICATE)),
    CollectionPoint("automation", AutomationRecord, ("yaml_generation",), (*v.CHECKS, v.YAML, v.DUPLICATE)),
    CollectionPoint("ask_ai", AskAIRecord, ("soft_prompt",), (*v.CHECKS, v.TEXT, v.YAML, v.DUPLICATE)),
    CollectionPoint("device_health", DeviceHealthRecord, ("device_intelligence",), v.COMMON),
    CollectionPoint("activity", ActivityRecord, ("activity_recognition",), v.COMMON),
)

OUTCOMES: Final = ("accepted", "rejected")


@dataclass
class _Stats:
    #: (point, outcome) → records; (point, model type, outcome) → records; validator → rejects it caused.
    by_point: Counter[tuple[str, str]] = field(default_factory=Counter)
    by_point_model_type: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)

    def count(self, point: CollectionPoint, outcome: str, n: int) -> None:
        if n:
            self.by_point[point.name, outcome] += n
            for model_type in point.model_types:
                self.by_point_model_type[point.name, model_type, outcome] += n

    def add(self, other: _Stats) -> None:
        self.by_point.update(other.by_point)
        self.by_point_model_type.update(other.by_point_model_type)
        self.reasons.update(other.reasons)


@dataclass
class _Batch:
    """What one flush commits."""

    rows: list[StoredRow] = field(default_factory=list)
    types: list[TypeRow] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    #: Lineage: the batch's records grouped by (cycle, home, stage, model version, outcome, scores) —
    #: rejects one group each — and their (parent, child) derivation edges.
    groups: dict[tuple[object, ...], Collected] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    #: Counted into the collector's stats once the batch is committed.
    stats: _Stats = field(default_factory=_Stats)


class TrainingDataCollector:
    """Validates records at registered collection points and stores them (see the module docstring)."""

    def __init__(
        self,
        store: Store | Path,
        *,
        points: Iterable[CollectionPoint] = DEFAULT_POINTS,
        batch_size: int = 1000,
        truth_of: Callable[[str], GroundTruth | None] | Mapping[str, GroundTruth] | None = None,
        lineage: LineageTracker | None = None,
        source: Source | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._owns_store = isinstance(store, Path)
        self.store: Store = open_store(store) if isinstance(store, Path) else store
        self.points: dict[str, CollectionPoint] = {}
        for point in points:
            self.register(point)
        self.batch_size = batch_size
        lookup = truth_of.get if isinstance(truth_of, Mapping) else truth_of
        self._ctx = v.Context(truth_of=lookup) if lookup is not None else v.Context()
        self.lineage, self.source = lineage, source
        self.run_id = lineage.start_run("collect", source) if lineage is not None else None
        self._pending: list[tuple[CollectionPoint, AnyRecord]] = []
        self._stats = _Stats()

    def register(self, point: CollectionPoint) -> None:
        """Add (or replace) a collection point; records are routed to the point named like their stage."""
        self.points[point.name] = point

    def __enter__(self) -> TrainingDataCollector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Flush what is pending and release the store (when the collector opened it)."""
        self.flush()
        if self.lineage is not None and self.run_id is not None:
            self.lineage.end_run(self.run_id)
        if self._owns_store:
            self.store.close()

    # --------------------------------------------------------------------------------------- receiving

    def point_of(self, record: AnyRecord) -> CollectionPoint:
        """The collection point of a record; `UnknownCollectionPointError` if none is registered for it."""
        name = getattr(record, "stage", None)
        point = self.points.get(name) if isinstance(name, str) else None
        if point is None:
            raise UnknownCollectionPointError(
                f"no collection point {name!r} is registered (registered: {', '.join(sorted(self.points))})"
            )
        if not isinstance(record, point.record_type):
            raise UnknownCollectionPointError(
                f"collection point {name!r} takes {point.record_type.__name__}, not {type(record).__name__}"
            )
        return point

    def emit(self, record: AnyRecord) -> None:
        self._pending.append((self.point_of(record), record))
        if len(self._pending) >= self.batch_size:
            self.flush()

    def emit_many(self, records: Iterable[AnyRecord]) -> None:
        for record in records:
            self.emit(record)

    async def aemit(self, stream: AsyncIterable[AnyRecord]) -> None:
        """Drain an async stream of records (flushing every `batch_size`)."""
        async for record in stream:
            self.emit(record)

    # ---------------------------------------------------------------------------------------- writing

    def flush(self) -> None:
        """Validate the pending records point by point and commit them (accepted and rejected, with their
        lineage) in one transaction."""
        if not self._pending:
            return
        with records_gc_paused():  # a batch allocates tens of thousands of objects
            self._flush()

    def emit_frame(self, stage: str, frame: pl.DataFrame) -> None:
        """Collect a frame of `stage`'s records (`frames.record_schema` of the point's record type: the
        columns its records serialise to) as one batch, after what is pending: validated column-wise, with
        a record object built only for the rows a validator must look at on their own, and committed in
        one transaction. The outcome (stored rows, payloads, rejects and their reasons, lineage) is the
        one `emit_many` gives for the same records."""
        point = self.points.get(stage)
        if point is None:
            raise UnknownCollectionPointError(
                f"no collection point {stage!r} is registered (registered: {', '.join(sorted(self.points))})"
            )
        under_check = v.Batch.of_frame(point.record_type, frame)  # ValueError before anything is flushed
        self.flush()
        if frame.height == 0:
            return
        with records_gc_paused():
            batch = _Batch()
            self._check(point, under_check, batch)
            self._commit(batch)

    def _flush(self) -> None:
        groups: dict[str, list[AnyRecord]] = {}
        for point, record in self._pending:
            groups.setdefault(point.name, []).append(record)
        batch = _Batch()
        for name, records in groups.items():
            self._validate(self.points[name], records, batch)
        self._commit(batch)
        self._pending.clear()

    def _commit(self, batch: _Batch) -> None:
        """Lineage, then the store rows of `batch`, then its stats."""
        if self.lineage is not None and self.run_id is not None:
            self.lineage.record_collected(self.run_id, list(batch.groups.values()), batch.edges)
        self.store.add_rows(batch.rows, batch.types, batch.rejects)
        self._stats.add(batch.stats)

    def _validate(self, point: CollectionPoint, records: Sequence[AnyRecord], batch: _Batch) -> None:
        """Serialise `records` of `point` once, then check them as one batch (`_check`)."""
        items: list[v.Item] = []
        for record in records:
            try:
                items.append(v.Item(record, serialise(record)))
            except Exception as exc:  # a record built without validation may not even serialise
                self._reject(
                    point,
                    record,
                    repr(record),
                    {v.SCHEMA.name: 0.0},
                    (f"schema: record does not serialise: {exc}",),
                    batch,
                )
        self._check(point, v.Batch(items), batch)

    def _check(self, point: CollectionPoint, under_check: v.Batch, batch: _Batch) -> None:
        """Score the records of `under_check` validator by validator over the whole batch and sort them into
        `batch` (what is read of every record is read column by column)."""
        seen = self._ctx.seen
        cycles = under_check.column("cycle", lenient=True)
        for cycle in set(cycles) - seen.keys():
            if isinstance(cycle, int):
                seen[cycle] = self.store.content_hashes(cycle)
        # One column of verdicts per validator; a record's quality is its lowest score so far, kept only for
        # the records some validator did not pass outright (most records: none, and nothing per record).
        n = len(under_check.items)
        columns: list[list[v.Verdict]] = []
        flawed: dict[int, float] = {}
        for validator in point.validators:
            passing = [True] * n
            for i, lowest in flawed.items():
                passing[i] = lowest >= point.threshold
            column = v.check_batch(validator, under_check, self._ctx, passing)
            for i in [i for i, verdict in enumerate(column) if verdict is not v.OK]:
                flawed[i] = min(flawed.get(i, v.PASS), column[i].score)
            columns.append(column)
        names = [validator.name for validator in point.validators]
        clean = dict.fromkeys(names, v.PASS)  # shared (read-only) by every record that passed everything
        accept = _Accepting(self, point, under_check, batch, cycles, clean)
        start = 0
        # Runs of records that passed everything are taken column-wise; each flawed one on its own.
        for i in [*sorted(flawed), n]:
            if start < i:
                accept(slice(start, i), v.PASS, clean, ())
            if i < n:
                verdicts = [column[i] for column in columns]
                s = {name: verdict.score for name, verdict in zip(names, verdicts, strict=True)}
                r = tuple(reason for verdict in verdicts for reason in verdict.reasons)
                if flawed[i] < point.threshold:
                    item = under_check.items[i]
                    self._reject(point, item.record, item.payload, s, r, batch)
                else:
                    accept(slice(i, i + 1), flawed[i], s, r)
            start = i + 1
        batch.stats.count(point, "accepted", accept.accepted)

    def _reject(
        self,
        point: CollectionPoint,
        record: AnyRecord,
        payload: str,
        scores: dict[str, float],
        reasons: tuple[str, ...],
        batch: _Batch,
    ) -> None:
        batch.stats.count(point, "rejected", 1)
        batch.stats.reasons.update({r.split(":", 1)[0] for r in reasons})
        record_id = _attr(record, "record_id") or "?"
        cycle, home_key = _attr(record, "cycle"), _attr(record, "home_key")
        quality = min(scores.values(), default=0.0)
        batch.rejects.append((record_id, cycle, home_key, point.name, quality, list(reasons), payload))
        if self.lineage is not None:  # a reject has its own reasons: a group of its own
            group = _group(cycle, home_key, point, _attr(record, "model_version"), scores, reasons, False)
            group.record_ids.append(record_id)
            batch.groups[len(batch.groups), "reject"] = group
            batch.edges += [(p, record_id) for p in getattr(record, "derived_from", ())]

    def stats(self) -> dict[str, Any]:
        """Counts of the flushed records: by point and outcome, by model type (accepted), by point, model
        type and outcome, by outcome, and the rejects by validator (a reject counts once per validator that
        gave a reason)."""
        st = self._stats
        points = sorted({p for p, _ in st.by_point})
        by_point = {p: {o: st.by_point[p, o] for o in OUTCOMES} for p in points}
        by_point_model_type: dict[str, dict[str, dict[str, int]]] = {}
        for (p, m, o), n in sorted(st.by_point_model_type.items()):
            by_point_model_type.setdefault(p, {}).setdefault(m, dict.fromkeys(OUTCOMES, 0))[o] = n
        by_model_type: Counter[str] = Counter()
        for (_, m, o), n in st.by_point_model_type.items():
            if o == "accepted":
                by_model_type[m] += n
        return {
            "by_point": by_point,
            "by_model_type": dict(sorted(by_model_type.items())),
            "by_point_model_type": by_point_model_type,
            "by_outcome": {o: sum(c[o] for c in by_point.values()) for o in OUTCOMES},
            "reject_reasons": dict(sorted(st.reasons.items())),
            "pending": len(self._pending),
        }

    def pass_rates(self) -> dict[str, float]:
        """Accepted share of the flushed records of each point."""
        return {
            p: c["accepted"] / (c["accepted"] + c["rejected"]) for p, c in self.stats()["by_point"].items()
        }


class _Accepting:
    """Sorts accepted records of a batch under check into a `_Batch`, a run of them at once, column-wise
    (they are well-formed: their fields read directly)."""

    def __init__(
        self,
        collector: TrainingDataCollector,
        point: CollectionPoint,
        under_check: v.Batch,
        batch: _Batch,
        cycles: list[Any],
        clean: dict[str, float],
    ) -> None:
        self.point, self.batch, self.cycles, self.clean = point, batch, cycles, clean
        self.seen, self.traced = collector._ctx.seen, collector.lineage is not None
        self.run = () if collector.run_id is None else (collector.run_id,)
        columns = ("record_id", "home_key", "model_version", "lineage_ids", "derived_from")
        self.ids, self.homes, self.versions, self.lineages, self.parents = (
            under_check.column(f, lenient=True) for f in columns
        )
        self.serialised = under_check.serialised_all()
        #: The collector fields spliced into payloads, per (quality, lineage ids): most records share them.
        self._fields: dict[tuple[float, tuple[str, ...]], str] = {}
        self.accepted = 0

    def fields(self, quality: float, ids: tuple[str, ...]) -> str:
        spliced = self._fields.get((quality, ids))
        if spliced is None:
            spliced = self._fields[quality, ids] = collector_fields(quality, lineage_json((*ids, *self.run)))
        return spliced

    def __call__(self, run: slice, q: float, s: dict[str, float], r: tuple[str, ...]) -> None:
        """Accept the records of `run`, all with quality `q`, scores `s` and reasons `r`."""
        point, batch = self.point, self.batch
        ids, cycles, homes = self.ids[run], self.cycles[run], self.homes[run]
        rows, lineages = self.serialised[run], self.lineages[run]
        hashes = [row.content_hash for row in rows]
        for cycle, digest, record_id in zip(cycles, hashes, ids, strict=True):
            self.seen[cycle][digest] = record_id
        plain = self.fields(q, ())
        if not any(lineages):  # most records come without lineage ids of their own
            payloads = [row.with_fields(plain) for row in rows]
        else:
            payloads = [
                row.with_fields(self.fields(q, tuple(lineage)) if lineage else plain)
                for row, lineage in zip(rows, lineages, strict=True)
            ]
        batch.rows += zip(ids, cycles, homes, repeat(point.name), repeat(q), hashes, payloads, strict=False)
        for model_type in point.model_types:
            batch.types += zip(ids, repeat(model_type), strict=False)
        self.accepted += len(ids)
        if not self.traced:
            return
        outcome = None if s is self.clean else tuple(s.values())
        homes_of = zip(cycles, homes, self.versions[run], ids, strict=True)
        for (cycle, home_key, version), members in groupby(homes_of, key=itemgetter(0, 1, 2)):
            key = (cycle, home_key, point.name, version, outcome, r)
            group = batch.groups.get(key)
            if group is None:
                group = batch.groups[key] = _group(cycle, home_key, point, version, s, r)
            group.record_ids.extend(map(itemgetter(3), members))
        batch.edges += [(p, i) for ps, i in zip(self.parents[run], ids, strict=True) if ps for p in ps]


def _group(
    cycle: int | None,
    home_key: str | None,
    point: CollectionPoint,
    model_version: str | None,
    scores: dict[str, float],
    reasons: tuple[str, ...],
    accepted: bool = True,
) -> Collected:
    """An empty lineage group of `point`'s records (the model types of accepted records only)."""
    model_types = point.model_types if accepted else ()
    return Collected(cycle, home_key, point.name, model_version, accepted, model_types, scores, reasons, [])


def _attr(record: object, name: str) -> Any:
    """A field of a record that may have been built without validation (missing fields read as None)."""
    return getattr(record, name, None)
