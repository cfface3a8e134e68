"""Where stage records go: the `RecordSink` protocol, and `InMemorySink` for tests and small runs.

Records arrive as objects (`emit`, `emit_many`) or, from the stages that build them column-wise, as one
record frame per home and stage (`emit_frame`: a `record_frames.record_schema` frame of the stage's record
type). The training-data collector provides the persistent sink; the simulation only ever talks to this
protocol.
`records_gc_paused` is for code that builds or receives many records at once.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, runtime_checkable

import polars as pl

from homesim.schema.record_frames import RecordFrame
from homesim.schema.records import RECORD_TYPES, AnyRecord, StageName


@runtime_checkable
class RecordSink(Protocol):
    """Receives records as stages produce them (in home-completion order, stage order within a home)."""

    def emit(self, record: AnyRecord) -> None: ...

    def emit_many(self, records: Iterable[AnyRecord]) -> None: ...

    def emit_frame(self, stage: StageName, frame: pl.DataFrame) -> None: ...


class InMemorySink:
    """Keeps every record in arrival order: records as they come, frames as frames (`received`), their
    records built only when `records` is read."""

    def __init__(self) -> None:
        self.received: list[AnyRecord | RecordFrame[Any]] = []

    @property
    def records(self) -> list[AnyRecord]:
        """Every record, in arrival order (each frame's records built, once)."""
        records: list[AnyRecord] = []
        for item in self.received:
            if isinstance(item, RecordFrame):
                records += item
            else:
                records.append(item)
        return records

    def emit(self, record: AnyRecord) -> None:
        self.received.append(record)

    def emit_many(self, records: Iterable[AnyRecord]) -> None:
        self.received.extend(records)

    def emit_frame(self, stage: StageName, frame: pl.DataFrame) -> None:
        self.received.append(RecordFrame(RECORD_TYPES[stage], frame))

    async def aemit(self, stream: AsyncIterable[AnyRecord]) -> None:
        """Drain an async stream of records into the list."""
        async for record in stream:
            self.received.append(record)

    def by_stage(self, stage: StageName) -> list[AnyRecord]:
        return [r for r in self.records if r.stage == stage]


@contextmanager
def records_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection in the block. Building tens of thousands of records (validating,
    unpickling) allocates so many objects that collections keep triggering, and each full one walks the
    whole heap, every record still held included: measured, the block then costs 3–4× more. Records hold
    no reference cycles; what the block frees goes by reference counting, and any cycle it leaves is
    collected once the collector is back on. The switch is process-wide: with two threads in such blocks
    (the collector's flush, a result unpickled by the executor's thread) a pause may end early, but the
    collector is always back on once the first block that switched it off has ended."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
