"""Where stage records go: the `RecordSink` protocol, and `InMemorySink` for tests and small runs.

The training-data collector provides the persistent sink; the simulation only ever talks to this protocol.
`records_gc_paused` is for code that builds or receives many records at once.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterable, Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

from homesim.schema.records import AnyRecord, StageName


@runtime_checkable
class RecordSink(Protocol):
    """Receives records as stages produce them (in home-completion order, stage order within a home)."""

    def emit(self, record: AnyRecord) -> None: ...

    def emit_many(self, records: Iterable[AnyRecord]) -> None: ...


class InMemorySink:
    """Keeps every record in a list, in arrival order."""

    def __init__(self) -> None:
        self.records: list[AnyRecord] = []

    def emit(self, record: AnyRecord) -> None:
        self.records.append(record)

    def emit_many(self, records: Iterable[AnyRecord]) -> None:
        self.records.extend(records)

    async def aemit(self, stream: AsyncIterable[AnyRecord]) -> None:
        """Drain an async stream of records into the list."""
        async for record in stream:
            self.records.append(record)

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
