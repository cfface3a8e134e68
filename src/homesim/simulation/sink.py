"""Where stage records go: the `RecordSink` protocol, and `InMemorySink` for tests and small runs.

The training-data collector provides the persistent sink; the simulation only ever talks to this protocol.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable
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
