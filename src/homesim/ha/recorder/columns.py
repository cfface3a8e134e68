"""A home's events as the recorder's columns: entity and state codes, times in seconds, and ULID context ids
as 16-byte blobs, decoded over whole arrays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from homesim.ha.recorder.tables import CROCKFORD, BoolArray, FloatArray, IntArray
from homesim.schema.events import Cause
from homesim.schema.home import Home


def fnv1a_32(data: bytes) -> int:
    """The 32-bit FNV-1a hash HA keys `state_attributes` and `event_data` by."""
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
            context=_ulid_bytes(context_ids, "context_id"),
            parent=_optional_ulid_bytes(parent_ids, "parent_context_id"),
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


def _ulid_bytes(ulids: pa.Array, name: str) -> npt.NDArray[np.uint8]:
    """26-character Crockford ULIDs as rows of 16 bytes, decoded with array arithmetic."""
    n = len(ulids)
    if n == 0:
        return np.zeros((0, 16), dtype=np.uint8)
    if ulids.null_count or not pc.all(pc.equal(pc.binary_length(ulids), 26)).as_py():
        raise ValueError(f"{name}: every ULID must have 26 ASCII characters")
    offsets = np.frombuffer(ulids.buffers()[1], dtype=np.int32)[ulids.offset : ulids.offset + n + 1]
    chars = np.frombuffer(ulids.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(n, 26)
    digits = _ULID_DIGITS[chars]
    if np.any(digits == 255) or np.any(digits[:, 0] > 7):
        raise ValueError(f"{name}: not a ULID (Crockford base32, first character 0-7)")
    out = np.empty((n, 16), dtype=np.uint8)
    # 26 digits x 5 bits = 130 bits, whose top two are zero: 2 digits give byte 0, each next 8 give 5 bytes.
    out[:, 0] = digits[:, 0].astype(np.uint16) * 32 + digits[:, 1]
    groups = digits[:, 2:].reshape(n, 3, 8).astype(np.uint64) @ _GROUP_WEIGHTS  # three 40-bit numbers
    out[:, 1:] = groups.astype(">u8").view(np.uint8).reshape(n, 3, 8)[:, :, 3:].reshape(n, 15)
    return out


_GROUP_WEIGHTS = np.uint64(32) ** np.arange(7, -1, -1, dtype=np.uint64)


def _optional_ulid_bytes(ulids: pa.Array, name: str) -> npt.NDArray[np.uint8]:
    """Like `_ulid_bytes`, zero rows where the ULID is null (most parent contexts are)."""
    out = np.zeros((len(ulids), 16), dtype=np.uint8)
    valid = ulids.is_valid()
    out[valid.to_numpy(zero_copy_only=False)] = _ulid_bytes(ulids.filter(valid), name)
    return out


def _digit_table() -> npt.NDArray[np.uint8]:
    table = np.full(256, 255, dtype=np.uint8)
    for i, char in enumerate(CROCKFORD):
        table[ord(char)] = table[ord(char.lower())] = i
    return table


_ULID_DIGITS = _digit_table()


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
