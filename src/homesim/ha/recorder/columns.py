"""A home's events as the recorder's columns: entity and state codes, times in seconds, and ULID context ids
as 16-byte blobs, decoded over whole arrays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from homesim.ha.recorder.tables import BoolArray, FloatArray, IntArray
from homesim.ids import optional_ulid_bytes, ulid_bytes
from homesim.schema.events import Cause
from homesim.schema.home import Home


def fnv1a_32(data: bytes) -> int:
    """The 32-bit FNV-1a hash HA keys `state_attributes` and `event_data` by.

    Kept as FNV-1a on purpose: HA's recorder (`db_schema.StateAttributes.hash_shared_attrs_bytes`, via the
    `fnv-hash-fast` package) looks rows up by exactly this hash, so any other hash (hashlib, blake2b) would
    make HA store duplicate attribute rows. The stdlib has no FNV, and a C dependency for eight lines that
    run once per distinct attribute set is not worth it; test vectors pin it to the published values."""
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


@dataclass(frozen=True)
class Columns:
    """The events table as numpy arrays; string columns as first-appearance dictionary codes."""

    rows: int
    time_s: FloatArray
    entity: IntArray
    entity_names: list[str]
    state: IntArray
    state_values: npt.NDArray[np.object_]
    attrs: IntArray
    attr_values: list[str]
    value: FloatArray
    context: npt.NDArray[np.uint8]
    parent: npt.NDArray[np.uint8]
    has_parent: BoolArray
    context_ids: pa.Array
    parent_ids: pa.Array
    automation: IntArray
    cause_ids: pa.Array

    @classmethod
    def from_table(cls, table: pa.Table, home: Home) -> Columns:
        time_us = table.column("time").cast(pa.int64()).to_numpy()
        if np.any(np.diff(time_us) < 0):
            raise ValueError("events must be sorted by time")
        entity_codes, entity_names = encode(table.column("entity_id"))
        unknown = sorted(set(entity_names) - {e.entity_id for e in home.entities})
        if unknown:
            raise ValueError(f"events name entities the home does not have: {unknown[:5]}")
        state_codes, state_values = encode(table.column("state"))
        attr_codes, attr_values = encode(table.column("attributes"))
        context_ids = table.column("context_id").cast(pa.string()).combine_chunks()
        parent_ids = table.column("parent_context_id").cast(pa.string()).combine_chunks()
        cause = table.column("cause").cast(pa.string()).combine_chunks()
        return cls(
            rows=table.num_rows,
            time_s=time_us / 1e6,
            entity=entity_codes,
            entity_names=entity_names,
            state=state_codes,
            state_values=np.array(state_values, dtype=object),
            attrs=attr_codes,
            attr_values=attr_values,
            value=table.column("value").to_numpy().astype(np.float64),
            context=ulid_bytes(context_ids, "context_id"),
            parent=optional_ulid_bytes(parent_ids, "parent_context_id"),
            has_parent=parent_ids.is_valid().to_numpy(zero_copy_only=False),
            context_ids=context_ids,
            parent_ids=parent_ids,
            automation=np.flatnonzero(
                pc.equal(cause, Cause.AUTOMATION.value).fill_null(False).to_numpy(zero_copy_only=False)
            ),
            cause_ids=table.column("cause_id").cast(pa.string()).combine_chunks(),
        )


def encode(column: pa.ChunkedArray | pa.Array) -> tuple[IntArray, list[str]]:
    """Dictionary codes in order of first appearance (nulls are -1), and the values they stand for."""
    chunked = column if isinstance(column, pa.ChunkedArray) else pa.chunked_array([column])
    encoded = chunked.cast(pa.string()).combine_chunks().dictionary_encode()
    codes = encoded.indices.fill_null(-1).to_numpy().astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


def time_span(home: Home, c: Columns) -> tuple[float, float]:
    """The recorder run: from the home's first day (or earlier event) to its last event."""
    day_one = datetime.combine(home.metadata.start, datetime.min.time(), tzinfo=UTC).timestamp()
    if c.rows == 0:
        return day_one, day_one
    return min(day_one, float(c.time_s[0])), float(c.time_s[-1])


def sql_datetimes(timestamps: FloatArray) -> list[str]:
    """SQLAlchemy's SQLite DATETIME text (naive UTC with microseconds) of epoch seconds."""
    iso = np.datetime_as_string(np.round(timestamps * 1e6).astype("datetime64[us]"), unit="us")
    return list(np.char.replace(iso, "T", " ").tolist())
