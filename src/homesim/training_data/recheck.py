"""Re-validation of stored records as they are read for export: the store is a file like any other.

A record is exported only if (1) its payload still parses as its record type with its row's id and cycle,
(2) its content hash (home key, stage, inputs, outputs: see `store.serialise`) is one the collector
recorded for its cycle, so a payload edited after collection (a confidence turned from 0.714 into 0.914)
is caught, and (3) it passes its collection point's validators (all but the duplicate check, which the
store's own dedupe already answers) with the point's threshold — the same verdict as when it was
collected, so rows injected into the store (a confidence of 7.5, a home key `../../etc/passwd`, an invalid
entity id, a NaN) are refused. Any failure refuses the whole export with `IntegrityError`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

from pydantic import ValidationError

from homesim.io import IntegrityError
from homesim.schema.ground_truth import GroundTruth
from homesim.training_data import validators as v
from homesim.training_data.collector import DEFAULT_POINTS, CollectionPoint
from homesim.training_data.store import RECORD_ADAPTER, PayloadRow, serialise

#: Problems named in the error (the rest are counted).
SHOWN = 3


def recheck(
    rows: Sequence[PayloadRow],
    recorded_hashes: Callable[[int], Mapping[str, str]],
    truth_of: Callable[[str], GroundTruth | None],
    where: str,
    points: Sequence[CollectionPoint] = DEFAULT_POINTS,
) -> None:
    """Raise `IntegrityError` naming the first bad records of `rows` (read from `where`) and why."""
    by_stage = {point.name: point for point in points}
    problems: list[str] = []
    groups: dict[str, list[v.Item]] = {}
    hashes = functools.cache(lambda cycle: set(recorded_hashes(cycle)))
    for record_id, cycle, payload in rows:
        try:
            record = RECORD_ADAPTER.validate_json(payload)
            item = v.Item(record, serialise(record))
        except (ValidationError, ValueError) as exc:
            problems.append(f"{record_id}: does not parse: {_first(exc)}")
            continue
        if (record.record_id, record.cycle) != (record_id, cycle):
            problems.append(
                f"{record_id}: its payload names record {record.record_id} of cycle {record.cycle}"
            )
        elif item.serialised.content_hash not in hashes(cycle):
            problems.append(f"{record_id}: content changed since it was collected (no matching content hash)")
        elif record.stage not in by_stage:
            problems.append(f"{record_id}: no collection point {record.stage!r}")
        else:
            groups.setdefault(record.stage, []).append(item)
    ctx = v.Context(truth_of=functools.cache(truth_of))
    for stage, items in groups.items():
        problems += _failing(by_stage[stage], items, ctx)
    if problems:
        shown = "; ".join(problems[:SHOWN]) + (
            f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        )
        raise IntegrityError(
            f"{where}: {len(problems)} stored record(s) fail re-validation, refusing to export them: {shown}"
        )


def _failing(point: CollectionPoint, items: Sequence[v.Item], ctx: v.Context) -> list[str]:
    """The records of `items` whose quality under `point`'s validators is below its threshold, with why."""
    batch = v.Batch(items)
    quality = [1.0] * len(items)
    reasons: list[list[str]] = [[] for _ in items]
    for validator in point.validators:
        if validator is v.DUPLICATE:
            continue
        passing = [q >= point.threshold for q in quality]
        for n, verdict in enumerate(v.check_batch(validator, batch, ctx, passing)):
            quality[n] = min(quality[n], verdict.score)
            reasons[n] += verdict.reasons
    return [
        f"{item.record.record_id}: {', '.join(why) or 'below the quality threshold'}"
        for item, q, why in zip(items, quality, reasons, strict=True)
        if q < point.threshold
    ]


def _first(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return f"{'.'.join(map(str, error['loc']))}: {error['msg']}"
    return str(exc)
