"""Re-validation of stored records as they are read for export: the store is a file like any other.

A record is exported only if (1) its payload still parses as its record type with its row's id and cycle,
(2) its content hash (home key, stage, inputs, outputs: see `store.serialise`) is one the collector
recorded for its cycle, so a payload edited after collection (a confidence turned from 0.714 into 0.914)
is caught, and (3) it passes its collection point's validators (all but the duplicate check, which the
store's own dedupe already answers) with the point's threshold — the same verdict as when it was
collected, so rows injected into the store (a confidence of 7.5, a home key `../../etc/passwd`, an invalid
entity id, a NaN) are refused. Any failure refuses the whole export with `IntegrityError`.

`Rechecked` remembers, in memory, the rows a process has already re-validated (by a digest of record id,
cycle and payload bytes), each with its natural key: the loop exports every cycle and then the aggregate of
all cycles, and would otherwise parse and validate every stored record again each time. A row whose id,
cycle or payload bytes changed has a new digest and is checked again; the memory is never written to disk,
so nothing outside the process can vouch for a row.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping, Sequence

from pydantic import ValidationError

from homesim.io import IntegrityError
from homesim.schema.ground_truth import GroundTruth
from homesim.training_data import validators as v
from homesim.training_data.collector import DEFAULT_POINTS, CollectionPoint
from homesim.training_data.formatters import natural_key
from homesim.training_data.store import RECORD_ADAPTER, PayloadRow, serialise

#: Problems named in the error (the rest are counted).
SHOWN = 3


def _digest(row: PayloadRow) -> bytes:
    record_id, cycle, payload = row
    return hashlib.sha256(f"{record_id}\0{cycle}\0{payload}".encode()).digest()


class Rechecked:
    """Rows this process has re-validated: digest of (record id, cycle, payload) → the record's natural key
    (`formatters.natural_key`, which the aggregated export deduplicates by)."""

    def __init__(self) -> None:
        self._keys: dict[bytes, str] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, digest: object) -> bool:
        return digest in self._keys

    def add(self, keys: Mapping[bytes, str]) -> None:
        self._keys.update(keys)

    def natural_keys(self, rows: Sequence[PayloadRow]) -> list[str]:
        """The natural key of each of `rows`; every row must have been rechecked (`KeyError` if not)."""
        return [self._keys[_digest(row)] for row in rows]


def recheck(
    rows: Sequence[PayloadRow],
    recorded_hashes: Callable[[int], Mapping[str, str]],
    truth_of: Callable[[str], GroundTruth | None],
    where: str,
    points: Sequence[CollectionPoint] = DEFAULT_POINTS,
    done: Rechecked | None = None,
) -> None:
    """Raise `IntegrityError` naming the first bad records of `rows` (read from `where`) and why. Rows in
    `done` are skipped; when all pass, the others are added to it."""
    by_stage = {point.name: point for point in points}
    problems: list[str] = []
    groups: dict[str, list[v.Item]] = {}
    hashes = functools.cache(lambda cycle: set(recorded_hashes(cycle)))
    checked: dict[bytes, str] = {}
    for row in rows:
        record_id, cycle, payload = row
        digest = _digest(row)
        if done is not None and digest in done:
            continue
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
            if done is not None:
                checked[digest] = natural_key(record)
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
    if done is not None:
        done.add(checked)


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
