"""TrainingDataCollector: the persistent `RecordSink` that validates records and stores them per cycle.

It owns the collection points (one per simulation stage: record type, model types fed, validators, quality
threshold) and the batching: records wait in memory until `batch_size` are pending (or `flush`/`close`),
then each is validated, and the batch's accepted records and rejects (with reasons, never dropped
silently) are written to the `RecordStore` in one transaction. Lineage (when a tracker is given) is
recorded just before that commit, idempotently, so a process killed at any point loses no committed record
and leaves no partial batch; re-running the cycle fills in what was lost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from homesim.schema.ground_truth import GroundTruth
from homesim.schema.records import (
    AnyRecord,
    AskAIRecord,
    AutomationRecord,
    DeviceHealthRecord,
    PatternRecord,
    StageRecord,
    SuggestionRecord,
    SynergyRecord,
)
from homesim.training_data import validators as v
from homesim.training_data.lineage_tracker import Collected, LineageTracker, Source
from homesim.training_data.store import Accepted, RecordStore, Reject, content_hash


class UnknownCollectionPointError(ValueError):
    """A record arrived for a collection point that was never registered."""


@dataclass(frozen=True)
class CollectionPoint:
    name: str
    record_type: type[StageRecord]
    model_types: tuple[str, ...]
    validators: tuple[v.Validator, ...]
    #: Records whose quality (minimum over the validators) is below this are rejected.
    threshold: float = 0.5


DEFAULT_POINTS: Final[tuple[CollectionPoint, ...]] = (
    CollectionPoint("pattern", PatternRecord, ("pattern_detection",), v.COMMON),
    CollectionPoint("synergy", SynergyRecord, ("gnn_synergy",), v.COMMON),
    # Suggestions are stored and traced but feed no exporter directly: they reach yaml_generation as the
    # request side of the automation records derived from them (the exporters take one record type each).
    CollectionPoint("suggestion", SuggestionRecord, (), (*v.COMMON, v.TEXT)),
    CollectionPoint("automation", AutomationRecord, ("yaml_generation",), (*v.COMMON, v.YAML)),
    CollectionPoint("ask_ai", AskAIRecord, ("soft_prompt",), (*v.COMMON, v.TEXT, v.YAML)),
    CollectionPoint("device_health", DeviceHealthRecord, ("device_intelligence",), v.COMMON),
)


@dataclass
class _Stats:
    by_point: dict[str, Counter[str]] = field(default_factory=dict)
    by_model_type: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)


class TrainingDataCollector:
    """Validates records at registered collection points and stores them (see the module docstring)."""

    def __init__(
        self,
        store: RecordStore | Path,
        *,
        points: Iterable[CollectionPoint] = DEFAULT_POINTS,
        batch_size: int = 1000,
        truth_of: Callable[[str], GroundTruth | None] | Mapping[str, GroundTruth] | None = None,
        lineage: LineageTracker | None = None,
        source: Source | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._owns_store = not isinstance(store, RecordStore)
        self.store = RecordStore(store) if isinstance(store, Path) else store
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
        """Validate the pending records and commit them (accepted and rejected) in one transaction."""
        if not self._pending:
            return
        accepted: list[Accepted] = []
        rejects: list[Reject] = []
        collected: list[Collected] = []
        seen = self._ctx.seen
        for point, record in self._pending:
            cycle = getattr(record, "cycle", None)
            if isinstance(cycle, int) and cycle not in seen:
                seen[cycle] = self.store.content_hashes(cycle)
            payload, scores, reasons = _validate(point, record, self._ctx)
            quality = min(scores.values())
            ok = quality >= point.threshold
            stats = self._stats.by_point.setdefault(point.name, Counter())
            stats["accepted" if ok else "rejected"] += 1
            if ok:
                seen[record.cycle][content_hash(record)] = record.record_id
                accepted.append(
                    (
                        record.model_copy(update={"quality": quality, **self._lineage_ids(record)}),
                        quality,
                        point.model_types,
                    )
                )
                self._stats.by_model_type.update(point.model_types)
            else:
                self._stats.reasons.update(r.split(":", 1)[0] for r in reasons)
                rejects.append(
                    (
                        _attr(record, "record_id") or "?",
                        cycle,
                        _attr(record, "home_key"),
                        point.name,
                        quality,
                        list(reasons),
                        payload,
                    )
                )
            if self.lineage is not None:
                collected.append(
                    Collected(
                        record_id=_attr(record, "record_id") or "?",
                        cycle=cycle,
                        home_key=_attr(record, "home_key"),
                        stage=point.name,
                        model_version=_attr(record, "model_version"),
                        derived_from=tuple(getattr(record, "derived_from", ())),
                        accepted=ok,
                        model_types=point.model_types if ok else (),
                        scores=scores,
                        reasons=reasons,
                    )
                )
        if self.lineage is not None and self.run_id is not None:
            self.lineage.record_collected(self.run_id, collected, self.source)
        self.store.add_batch(accepted, rejects)
        self._pending.clear()

    def _lineage_ids(self, record: AnyRecord) -> dict[str, Any]:
        return {} if self.run_id is None else {"lineage_ids": (*record.lineage_ids, self.run_id)}

    def stats(self) -> dict[str, Any]:
        """Counts of flushed records by point (accepted/rejected), by model type (accepted), by outcome,
        and the rejects by validator."""
        by_point = {name: dict(c) for name, c in sorted(self._stats.by_point.items())}
        return {
            "by_point": by_point,
            "by_model_type": dict(sorted(self._stats.by_model_type.items())),
            "by_outcome": {
                outcome: sum(c.get(outcome, 0) for c in by_point.values())
                for outcome in ("accepted", "rejected")
            },
            "reject_reasons": dict(sorted(self._stats.reasons.items())),
            "pending": len(self._pending),
        }

    def pass_rates(self) -> dict[str, float]:
        """Accepted share of the flushed records of each point."""
        return {
            name: c["accepted"] / (c["accepted"] + c["rejected"])
            for name, c in sorted(self._stats.by_point.items())
        }


def _attr(record: object, name: str) -> Any:
    """A field of a record that may have been built without validation (missing fields read as None)."""
    return getattr(record, name, None)


def _validate(
    point: CollectionPoint, record: AnyRecord, ctx: v.Context
) -> tuple[str, dict[str, float], tuple[str, ...]]:
    """The record's JSON, each validator's score, and the reasons. A record that cannot be serialised is
    not looked at further; a validator that cannot read a malformed record scores it 0."""
    try:
        payload = record.model_dump_json(warnings=False)
    except Exception as exc:  # a record built without validation may not even serialise
        return repr(record), {v.SCHEMA.name: 0.0}, (f"schema: record does not serialise: {exc}",)
    scores: dict[str, float] = {}
    reasons: list[str] = []
    for validator in point.validators:
        try:
            verdict = validator(record, payload, ctx)
        except Exception as exc:  # a record that failed the schema check may lack what this one reads
            verdict = v.Verdict(0.0, (f"{validator.name}: could not check: {type(exc).__name__}: {exc}",))
        scores[validator.name] = verdict.score
        reasons += verdict.reasons
    return payload, scores, tuple(reasons)
