"""Home Assistant recorder database: write a home's events as the SQLite file HA 2025.1 keeps its history in.

This module owns `home-assistant_v2.db` at recorder schema version 48: the table definitions HA's
SQLAlchemy models produce on SQLite, the state history (`states`, `states_meta`, `state_attributes`), the
events an automation run fires (`events`, `event_types`, `event_data`), the bookkeeping tables
(`recorder_runs`, `schema_changes`, `migration_changes`, `statistics_runs`) and the long- and short-term
statistics HA's sensor integration compiles. Every column is derived with numpy/pyarrow over whole arrays
and written with `executemany`; the file is built under a temporary name and renamed when complete.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from homesim.io import atomic_path
from homesim.schema.events import Cause
from homesim.schema.home import Entity, Home
from homesim.schema.naming import slugify
from homesim.schema.vocabulary import VALUE_SERVICES, service_for_state, service_status

#: Recorder schema version of HA 2025.1 (`schema_changes.schema_version`).
SCHEMA_VERSION = 48
#: Days of 5-minute statistics kept, as HA's default `purge_keep_days` keeps them.
SHORT_TERM_KEEP_DAYS = 10

_SHORT_S = 300.0
_HOUR_S = 3600.0
_PERIODS_PER_HOUR = 12
_ORIGIN_LOCAL = 0
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: `(state, last_updated_ts, last_changed_ts or None, old_state_id or None)` of one `states` row.
StateRow = tuple[str, float, float | None, int | None]

# The DDL SQLAlchemy emits for HA's models on SQLite at schema 48 (schema 43 added `last_reported_ts`,
# 44-48 changed nothing on SQLite; `migration_changes` arrived with the live migrations). Column order
# matters to tools reading with `SELECT *`, so it follows the models.
_TABLES = """
CREATE TABLE event_data (
    data_id INTEGER NOT NULL, hash BIGINT, shared_data TEXT, PRIMARY KEY (data_id));
CREATE TABLE event_types (
    event_type_id INTEGER NOT NULL, event_type VARCHAR(64), PRIMARY KEY (event_type_id));
CREATE TABLE state_attributes (
    attributes_id INTEGER NOT NULL, hash BIGINT, shared_attrs TEXT, PRIMARY KEY (attributes_id));
CREATE TABLE states_meta (
    metadata_id INTEGER NOT NULL, entity_id VARCHAR(255), PRIMARY KEY (metadata_id));
CREATE TABLE statistics_meta (
    id INTEGER NOT NULL, statistic_id VARCHAR(255), source VARCHAR(32), unit_of_measurement VARCHAR(255),
    has_mean BOOLEAN, has_sum BOOLEAN, name VARCHAR(255), PRIMARY KEY (id));
CREATE TABLE recorder_runs (
    run_id INTEGER NOT NULL, start DATETIME NOT NULL, "end" DATETIME, closed_incorrect BOOLEAN NOT NULL,
    created DATETIME NOT NULL, PRIMARY KEY (run_id));
CREATE TABLE migration_changes (
    migration_id VARCHAR(255) NOT NULL, version SMALLINT NOT NULL, PRIMARY KEY (migration_id));
CREATE TABLE schema_changes (
    change_id INTEGER NOT NULL, schema_version INTEGER, changed DATETIME NOT NULL, PRIMARY KEY (change_id));
CREATE TABLE statistics_runs (
    run_id INTEGER NOT NULL, start DATETIME NOT NULL, PRIMARY KEY (run_id));
CREATE TABLE events (
    event_id INTEGER NOT NULL, event_type CHAR(0), event_data CHAR(0), origin CHAR(0), origin_idx SMALLINT,
    time_fired CHAR(0), time_fired_ts FLOAT, context_id CHAR(0), context_user_id CHAR(0),
    context_parent_id CHAR(0), data_id INTEGER, context_id_bin BLOB, context_user_id_bin BLOB,
    context_parent_id_bin BLOB, event_type_id INTEGER, PRIMARY KEY (event_id),
    FOREIGN KEY(data_id) REFERENCES event_data (data_id),
    FOREIGN KEY(event_type_id) REFERENCES event_types (event_type_id));
CREATE TABLE statistics (
    id INTEGER NOT NULL, created CHAR(0), created_ts FLOAT, metadata_id INTEGER, start CHAR(0),
    start_ts FLOAT, mean FLOAT, min FLOAT, max FLOAT, last_reset CHAR(0), last_reset_ts FLOAT, state FLOAT,
    sum FLOAT, PRIMARY KEY (id), FOREIGN KEY(metadata_id) REFERENCES statistics_meta (id) ON DELETE CASCADE);
CREATE TABLE statistics_short_term (
    id INTEGER NOT NULL, created CHAR(0), created_ts FLOAT, metadata_id INTEGER, start CHAR(0),
    start_ts FLOAT, mean FLOAT, min FLOAT, max FLOAT, last_reset CHAR(0), last_reset_ts FLOAT, state FLOAT,
    sum FLOAT, PRIMARY KEY (id), FOREIGN KEY(metadata_id) REFERENCES statistics_meta (id) ON DELETE CASCADE);
CREATE TABLE states (
    state_id INTEGER NOT NULL, entity_id CHAR(0), state VARCHAR(255), attributes CHAR(0), event_id SMALLINT,
    last_changed CHAR(0), last_changed_ts FLOAT, last_reported_ts FLOAT, last_updated CHAR(0),
    last_updated_ts FLOAT, old_state_id INTEGER, attributes_id INTEGER, context_id CHAR(0),
    context_user_id CHAR(0), context_parent_id CHAR(0), origin_idx SMALLINT, context_id_bin BLOB,
    context_user_id_bin BLOB, context_parent_id_bin BLOB, metadata_id INTEGER, PRIMARY KEY (state_id),
    FOREIGN KEY(old_state_id) REFERENCES states (state_id),
    FOREIGN KEY(attributes_id) REFERENCES state_attributes (attributes_id),
    FOREIGN KEY(metadata_id) REFERENCES states_meta (metadata_id));
"""

# HA's indexes, created after the bulk load because maintaining them row by row is what makes loads slow.
_INDEXES = """
CREATE INDEX ix_event_data_hash ON event_data (hash);
CREATE UNIQUE INDEX ix_event_types_event_type ON event_types (event_type);
CREATE INDEX ix_state_attributes_hash ON state_attributes (hash);
CREATE UNIQUE INDEX ix_states_meta_entity_id ON states_meta (entity_id);
CREATE UNIQUE INDEX ix_statistics_meta_statistic_id ON statistics_meta (statistic_id);
CREATE INDEX ix_recorder_runs_start_end ON recorder_runs (start, "end");
CREATE INDEX ix_statistics_runs_start ON statistics_runs (start);
CREATE INDEX ix_events_event_type_id_time_fired_ts ON events (event_type_id, time_fired_ts);
CREATE INDEX ix_events_context_id_bin ON events (context_id_bin);
CREATE INDEX ix_events_time_fired_ts ON events (time_fired_ts);
CREATE INDEX ix_events_data_id ON events (data_id);
CREATE UNIQUE INDEX ix_statistics_statistic_id_start_ts ON statistics (metadata_id, start_ts);
CREATE INDEX ix_statistics_start_ts ON statistics (start_ts);
CREATE UNIQUE INDEX ix_statistics_short_term_statistic_id_start_ts
    ON statistics_short_term (metadata_id, start_ts);
CREATE INDEX ix_statistics_short_term_start_ts ON statistics_short_term (start_ts);
CREATE INDEX ix_states_metadata_id_last_updated_ts ON states (metadata_id, last_updated_ts);
CREATE INDEX ix_states_context_id_bin ON states (context_id_bin);
CREATE INDEX ix_states_last_updated_ts ON states (last_updated_ts);
CREATE INDEX ix_states_old_state_id ON states (old_state_id);
CREATE INDEX ix_states_attributes_id ON states (attributes_id);
"""


@dataclass(frozen=True)
class RecorderSummary:
    """What `export_recorder` wrote."""

    path: Path
    states: int
    #: Events that repeated an entity's state and attributes: HA records them as `last_reported_ts` only.
    reported: int
    state_attributes: int
    entities: int
    events: int
    statistics: int
    statistics_short_term: int


def export_recorder(home: Home, events: pa.Table, db_path: Path, statistics: bool = True) -> RecorderSummary:
    """Write `events` (homesim's events table, sorted by time) as HA's recorder database at `db_path`."""
    columns = _Columns.from_table(events, home)
    history = _History.build(columns)
    attribute_ids, attribute_rows = _state_attributes(home, columns, history.kept)
    event_rows = _automation_events(columns)
    stats = _compile_statistics(home, columns, history.kept) if statistics else _Statistics.empty()
    run_start, run_end = _sql_datetimes(np.array(_time_span(home, columns)))

    with atomic_path(db_path) as tmp:
        con = sqlite3.connect(tmp)
        try:
            # No journal while building: a crash leaves only the temp file, which atomic_path removes.
            con.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _TABLES)
            _insert_states(con, columns, history, attribute_ids)
            con.executemany("INSERT INTO state_attributes VALUES (?, ?, ?)", attribute_rows)
            con.executemany("INSERT INTO states_meta VALUES (?, ?)", enumerate(columns.entity_names, start=1))
            event_rows.insert(con)
            stats.insert(con)
            con.execute("INSERT INTO recorder_runs VALUES (1, ?, ?, 0, ?)", (run_start, run_end, run_start))
            con.execute("INSERT INTO schema_changes VALUES (1, ?, ?)", (SCHEMA_VERSION, run_start))
            con.executescript(_INDEXES)
            con.commit()
            # HA runs SQLite in WAL mode; the mode is stored in the file, so set it before handing it over.
            con.execute("PRAGMA journal_mode=WAL")
        finally:
            con.close()
    return RecorderSummary(
        path=db_path,
        states=len(history.kept),
        reported=columns.rows - len(history.kept),
        state_attributes=len(attribute_rows),
        entities=len(columns.entity_names),
        events=event_rows.count,
        statistics=stats.long_count,
        statistics_short_term=stats.short_count,
    )


def read_state_history(db_path: Path) -> dict[str, list[StateRow]]:
    """Each entity's recorded states in `state_id` order, read back with plain SQL."""
    con = _read_only(db_path)
    try:
        rows = con.execute(
            "SELECT m.entity_id, s.state, s.last_updated_ts, s.last_changed_ts, s.old_state_id "
            "FROM states s JOIN states_meta m ON m.metadata_id = s.metadata_id ORDER BY s.state_id"
        ).fetchall()
    finally:
        con.close()
    history: dict[str, list[StateRow]] = {}
    for entity_id, state, updated, changed, old in rows:
        history.setdefault(entity_id, []).append((state, updated, changed, old))
    return history


def table_counts(db_path: Path) -> dict[str, int]:
    """Row count of every table in a recorder database."""
    con = _read_only(db_path)
    try:
        names = [
            r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        ]
        return {name: con.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0] for name in names}
    finally:
        con.close()


def _read_only(db_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)


def fnv1a_32(data: bytes) -> int:
    """The 32-bit FNV-1a hash HA keys `state_attributes` and `event_data` by."""
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


# ------------------------------------------------------------------------------------- columns and states


@dataclass(frozen=True)
class _Columns:
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
    def from_table(cls, table: pa.Table, home: Home) -> _Columns:
        time_us = table.column("time").cast(pa.int64()).to_numpy()
        if np.any(np.diff(time_us) < 0):
            raise ValueError("events must be sorted by time")
        entity_codes, entity_names = _encode(table.column("entity_id"))
        unknown = sorted(set(entity_names) - {e.entity_id for e in home.entities})
        if unknown:
            raise ValueError(f"events name entities the home does not have: {unknown[:5]}")
        state_codes, state_values = _encode(table.column("state"))
        attr_codes, attr_values = _encode(table.column("attributes"))
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


def _encode(column: pa.ChunkedArray | pa.Array) -> tuple[IntArray, list[str]]:
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
    for i, char in enumerate(_CROCKFORD):
        table[ord(char)] = table[ord(char.lower())] = i
    return table


_ULID_DIGITS = _digit_table()


@dataclass(frozen=True)
class _History:
    """Which events become `states` rows, and each row's chain and timestamps (all in event order)."""

    #: Indices of the events that become rows; row k gets state_id k + 1.
    kept: IntArray
    old_state_id: IntArray  # 0 = none
    last_changed: FloatArray  # NaN = equal to last_updated, stored as NULL
    last_reported: FloatArray  # NaN = equal to last_updated, stored as NULL

    @classmethod
    def build(cls, c: _Columns) -> _History:
        n = c.rows
        order = np.argsort(c.entity, kind="stable")  # grouped by entity, in time order within each
        entity, state, attrs = c.entity[order], c.state[order], c.attrs[order]
        first = np.ones(n, dtype=bool)
        first[1:] = entity[1:] != entity[:-1]
        same_state = np.zeros(n, dtype=bool)
        same_state[1:] = state[1:] == state[:-1]
        same_attrs = np.zeros(n, dtype=bool)
        same_attrs[1:] = attrs[1:] == attrs[:-1]
        # HA writes no row when neither state nor attributes change; it only moves last_reported.
        report = ~first & same_state & same_attrs
        keep = ~report
        kept_sorted = order[keep]  # kept events, grouped by entity
        keep_event = np.zeros(n, dtype=bool)
        keep_event[kept_sorted] = True
        state_id = np.cumsum(keep_event)  # state_id of each kept event (rows are numbered in time order)

        kept_first = first[keep]
        prev_id = np.zeros(len(kept_sorted), dtype=np.int64)
        prev_id[1:] = state_id[kept_sorted[:-1]]
        old = np.where(kept_first, 0, prev_id)

        kept_state = state[keep]
        changed = kept_first.copy()
        changed[1:] |= kept_state[1:] != kept_state[:-1]
        position = np.arange(len(kept_sorted))
        since = np.maximum.accumulate(np.where(changed, position, 0))
        last_changed = np.where(changed, np.nan, c.time_s[kept_sorted[since]])

        # The last report of each run of reports sets last_reported on the row the run follows.
        folded_into = np.cumsum(keep) - 1
        run_end = report.copy()
        run_end[:-1] &= ~report[1:]
        last_reported = np.full(len(kept_sorted), np.nan)
        last_reported[folded_into[run_end]] = c.time_s[order[run_end]]

        # HA stores both as NULL when they equal last_updated, which same-instant events can make them.
        updated = c.time_s[kept_sorted]
        last_changed[last_changed == updated] = np.nan
        last_reported[last_reported == updated] = np.nan
        in_time_order = np.argsort(kept_sorted)
        return cls(
            kept=kept_sorted[in_time_order],
            old_state_id=old[in_time_order],
            last_changed=last_changed[in_time_order],
            last_reported=last_reported[in_time_order],
        )


def _insert_states(con: sqlite3.Connection, c: _Columns, h: _History, attribute_ids: IntArray) -> None:
    k = h.kept
    state_id = np.arange(1, len(k) + 1)
    # Binding a parameter costs as much as the value it carries, NULL included, so the mostly-NULL
    # columns are left out of the insert and filled afterwards where they have a value.
    con.executemany(
        "INSERT INTO states (state_id, state, last_updated_ts, old_state_id, attributes_id, origin_idx, "
        f"context_id_bin, metadata_id) VALUES (?, ?, ?, ?, ?, {_ORIGIN_LOCAL}, ?, ?)",
        zip(
            state_id.tolist(),
            c.state_values[c.state[k]].tolist(),
            c.time_s[k].tolist(),
            _nullable_ids(h.old_state_id),
            attribute_ids.tolist(),
            _blobs(c.context[k]),
            (c.entity[k] + 1).tolist(),
            strict=True,
        ),
    )
    changed, reported, parent = ~np.isnan(h.last_changed), ~np.isnan(h.last_reported), c.has_parent[k]
    for column, present, values in (
        ("last_changed_ts", changed, h.last_changed[changed].tolist()),
        ("last_reported_ts", reported, h.last_reported[reported].tolist()),
        ("context_parent_id_bin", parent, _blobs(c.parent[k[parent]])),
    ):
        con.executemany(
            f"UPDATE states SET {column} = ? WHERE state_id = ?",
            zip(values, state_id[present].tolist(), strict=True),
        )


def _blobs(rows: npt.NDArray[np.uint8]) -> list[bytes]:
    return list(np.ascontiguousarray(rows).view("V16").ravel().tolist())


def _nullable_ids(values: IntArray) -> list[int | None]:
    out = values.astype(object)
    out[values == 0] = None
    return list(out.tolist())


# ------------------------------------------------------------------------------------------- attributes


def _state_attributes(home: Home, c: _Columns, kept: IntArray) -> tuple[IntArray, list[tuple[int, int, str]]]:
    """Each row's attributes_id, and the deduplicated `state_attributes` rows in order of first use."""
    if len(kept) == 0:
        return np.zeros(0, dtype=np.int64), []
    # One JSON document per (entity, attributes) pair: few distinct pairs, however many events.
    key = c.entity[kept] * (len(c.attr_values) + 1) + (c.attrs[kept] + 1)
    pairs, first_row, inverse = np.unique(key, return_index=True, return_inverse=True)
    entities = {e.entity_id: e for e in home.entities}
    names = _friendly_names(home)
    ids_by_text: dict[str, int] = {}
    pair_ids = np.zeros(len(pairs), dtype=np.int64)
    for p in np.argsort(first_row):
        row = kept[first_row[p]]
        entity = entities[c.entity_names[c.entity[row]]]
        extra = c.attr_values[c.attrs[row]] if c.attrs[row] >= 0 else None
        text = _attributes_json(entity, names[entity.entity_id], extra)
        pair_ids[p] = ids_by_text.setdefault(text, len(ids_by_text) + 1)
    rows = [(i, fnv1a_32(text.encode()), text) for text, i in ids_by_text.items()]
    return pair_ids[inverse.ravel()], rows


def _friendly_names(home: Home) -> dict[str, str | None]:
    """HA's friendly_name: under has_entity_name the device's name, then the entity's; else the entity's own.

    An entity without a name of its own gets none (HA then shows its entity_id).
    """
    devices = {d.id: d.name for d in home.devices}
    names: dict[str, str | None] = {}
    for e in home.entities:
        device = devices.get(e.device_id or "")
        if e.has_entity_name and device is not None:
            names[e.entity_id] = f"{device} {e.original_name}" if e.original_name else device
        else:
            names[e.entity_id] = e.original_name
    return names


def _attributes_json(entity: Entity, friendly_name: str | None, extra: str | None) -> str:
    """The attributes as HA's recorder stores them: key order of `Entity._async_calculate_state`, compact."""
    attrs: dict[str, Any] = {}
    if entity.domain == "sensor" and entity.state_class is not None:
        attrs["state_class"] = entity.state_class  # a capability attribute, so it comes first
    if extra is not None:
        parsed = json.loads(extra)
        if not isinstance(parsed, dict):
            raise ValueError(f"{entity.entity_id}: attributes must be a JSON object, not {extra[:40]!r}")
        attrs.update(parsed)
    if entity.unit_of_measurement is not None:
        attrs["unit_of_measurement"] = entity.unit_of_measurement
    if entity.device_class is not None:
        attrs["device_class"] = entity.device_class
    if friendly_name is not None:
        attrs["friendly_name"] = friendly_name
    # orjson's output, which HA hashes: no spaces, UTF-8 kept as is.
    return json.dumps(attrs, separators=(",", ":"), ensure_ascii=False)


# ----------------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class _EventRows:
    types: list[tuple[int, str]]
    data: list[tuple[int, int, str]]
    events: list[tuple[Any, ...]]

    @property
    def count(self) -> int:
        return len(self.events)

    def insert(self, con: sqlite3.Connection) -> None:
        con.executemany("INSERT INTO event_types VALUES (?, ?)", self.types)
        con.executemany("INSERT INTO event_data VALUES (?, ?, ?)", self.data)
        con.executemany(
            "INSERT INTO events (event_id, event_type_id, time_fired_ts, context_id_bin, "
            f"context_parent_id_bin, data_id, origin_idx) VALUES (?, ?, ?, ?, ?, ?, {_ORIGIN_LOCAL})",
            self.events,
        )


_TRIGGERED, _CALL = "automation_triggered", "call_service"


def _automation_events(c: _Columns) -> _EventRows:
    """`automation_triggered` once per automation run (one context), then a `call_service` per action.

    Event data depends only on (automation, trigger entity) or (entity, state), so JSON is built once per
    distinct pair and the events themselves are assembled as arrays.
    """
    rows = c.automation
    if len(rows) == 0:
        return _EventRows([], [], [])
    taken = pa.array(rows)
    run_codes, _ = _encode(c.context_ids.take(taken))
    run_start = np.zeros(len(rows), dtype=bool)
    run_start[np.unique(run_codes, return_index=True)[1]] = True
    # The trigger of a run is the entity whose change carries the run's parent context.
    trigger_row = pc.index_in(c.parent_ids.take(taken), value_set=c.context_ids).fill_null(-1).to_numpy()
    trigger = np.where(trigger_row >= 0, c.entity[np.maximum(trigger_row, 0)], -1)
    cause_codes, cause_names = _encode(c.cause_ids.take(taken))

    texts: dict[str, int] = {}
    triggered = np.flatnonzero(run_start)
    triggered_text = _texts_by_key(
        cause_codes[triggered] * (len(c.entity_names) + 1) + trigger[triggered] + 1,
        lambda i: _run_data(
            cause_names[cause_codes[triggered[i]]] if cause_codes[triggered[i]] >= 0 else None,
            c.entity_names[trigger[triggered[i]]] if trigger[triggered[i]] >= 0 else None,
        ),
        texts,
    )
    call_text = _texts_by_key(
        c.entity[rows] * len(c.state_values) + c.state[rows],
        lambda i: _service_call(c.entity_names[c.entity[rows[i]]], str(c.state_values[c.state[rows[i]]])),
        texts,
    )
    calls = np.flatnonzero(call_text >= 0)

    position = np.concatenate((triggered, calls))
    kind = np.concatenate((np.zeros(len(triggered), np.int64), np.ones(len(calls), np.int64)))
    text_id = np.concatenate((triggered_text, call_text[calls]))
    order = np.lexsort((kind, position))  # each run's trigger event precedes its service calls
    position, kind, text_id = position[order], kind[order], text_id[order]
    event_rows = rows[position]
    # Ids in order of first use, as HA assigns them while recording.
    used, first_use, inverse = np.unique(text_id, return_index=True, return_inverse=True)
    rank = np.empty(len(used), dtype=np.int64)
    rank[np.argsort(first_use)] = np.arange(1, len(used) + 1)
    text_of = {i: text for text, i in texts.items()}
    type_names = [_TRIGGERED, _CALL] if len(calls) else [_TRIGGERED]
    parent = np.array(_blobs(c.parent[event_rows]), dtype=object)
    parent[~c.has_parent[event_rows]] = None
    events = list(
        zip(
            range(1, len(order) + 1),
            (kind + 1).tolist(),
            c.time_s[event_rows].tolist(),
            _blobs(c.context[event_rows]),
            parent.tolist(),
            rank[inverse.ravel()].tolist(),
            strict=True,
        )
    )
    data = [(int(rank[j]), fnv1a_32(text_of[int(u)].encode()), text_of[int(u)]) for j, u in enumerate(used)]
    return _EventRows(
        types=list(enumerate(type_names, start=1)),
        data=sorted(data),
        events=events,
    )


def _texts_by_key(
    keys: IntArray, make: Callable[[int], dict[str, Any] | None], texts: dict[str, int]
) -> IntArray:
    """The event-data text id of each row (-1 for none), calling `make` once per distinct key."""
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    ids = np.full(len(unique), -1, dtype=np.int64)
    for u, row in enumerate(first.tolist()):
        payload = make(row)
        if payload is not None:
            text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
            ids[u] = texts.setdefault(text, len(texts))
    return ids[inverse.ravel()]


def _run_data(automation: str | None, trigger: str | None) -> dict[str, Any]:
    """`automation_triggered` data: the automation's name and entity, and what triggered it."""
    data: dict[str, Any] = {
        "name": automation or "homesim",
        "entity_id": f"automation.{slugify(automation or 'homesim')}",
    }
    if trigger is not None:
        data["source"] = f"state of {trigger}"
    return data


def _service_call(entity_id: str, state: str) -> dict[str, Any] | None:
    """The `call_service` event data of the action that set `entity_id` to `state`, if a service does."""
    domain = entity_id.partition(".")[0]
    service_data: dict[str, Any] = {}
    if domain in VALUE_SERVICES:
        service, field = VALUE_SERVICES[domain]
        service_data[field] = state
    else:
        found = service_for_state(entity_id, state)
        if found is None:
            return None
        service = found[0].partition(".")[2]
        if service_status(domain, service) != "known":
            return None  # sensors and the like change on their own, not through a service
    service_data["entity_id"] = [entity_id]
    return {"domain": domain, "service": service, "service_data": service_data}


# ------------------------------------------------------------------------------------------- statistics


_Rows = list[tuple[Any, ...]]


@dataclass(frozen=True)
class _Statistics:
    meta: list[tuple[int, str, str, str | None, bool, bool, None]]
    #: (mean/min/max rows, state/sum rows) of `statistics` and of `statistics_short_term`.
    long: tuple[_Rows, _Rows]
    short: tuple[_Rows, _Rows]
    runs: list[tuple[int, str]]

    @classmethod
    def empty(cls) -> _Statistics:
        return cls([], ([], []), ([], []), [])

    @property
    def long_count(self) -> int:
        return sum(map(len, self.long))

    @property
    def short_count(self) -> int:
        return sum(map(len, self.short))

    def insert(self, con: sqlite3.Connection) -> None:
        con.executemany("INSERT INTO statistics_meta VALUES (?, ?, ?, ?, ?, ?, ?)", self.meta)
        for table, (means, sums) in (("statistics", self.long), ("statistics_short_term", self.short)):
            con.executemany(
                f"INSERT INTO {table} (id, created_ts, metadata_id, start_ts, mean, min, max) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                means,
            )
            con.executemany(
                f"INSERT INTO {table} (id, created_ts, metadata_id, start_ts, state, sum) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                sums,
            )
        con.executemany("INSERT INTO statistics_runs VALUES (?, ?)", self.runs)


@dataclass
class _Table:
    """Statistics rows of one table, gathered per sensor as arrays."""

    metadata_id: list[IntArray]
    start: list[FloatArray]
    has_mean: list[BoolArray]
    #: (mean, min, max) of mean sensors, (state, sum) of sum sensors padded with an unused column.
    values: list[list[FloatArray]]

    def add(self, metadata_id: int, start: FloatArray, values: Sequence[FloatArray]) -> None:
        self.metadata_id.append(np.full(len(start), metadata_id, dtype=np.int64))
        self.start.append(start)
        self.has_mean.append(np.full(len(start), len(values) == 3))
        self.values.append([*values, np.zeros(len(start))][:3])

    def rows(self, duration: float) -> tuple[_Rows, _Rows]:
        """Rows numbered period by period, every sensor in each (HA's compile order), split by kind."""
        if not self.start:
            return [], []
        meta, start = np.concatenate(self.metadata_id), np.concatenate(self.start)
        order = np.lexsort((meta, start))
        ids = np.arange(1, len(order) + 1)
        meta, start, mean_kind = meta[order], start[order], np.concatenate(self.has_mean)[order]
        columns = [np.concatenate([v[i] for v in self.values])[order] for i in range(3)]
        split: list[_Rows] = []
        for kind, width in ((mean_kind, 3), (~mean_kind, 2)):
            split.append(
                list(
                    zip(
                        ids[kind].tolist(),
                        (start[kind] + duration).tolist(),  # compiled when the period ends
                        meta[kind].tolist(),
                        start[kind].tolist(),
                        *(column[kind].tolist() for column in columns[:width]),
                        strict=True,
                    )
                )
            )
        return split[0], split[1]


def _compile_statistics(home: Home, c: _Columns, kept: IntArray) -> _Statistics:
    """Hourly and 5-minute statistics as HA's sensor integration compiles them from the recorded states.

    5-minute periods: time-weighted mean, min and max of `measurement` sensors (the state in force at
    the period's start counts), `state` and running `sum` of `total`/`total_increasing` ones (a drop
    below 90 % of the previous value starts a new meter cycle). Hours summarise their twelve periods
    as HA does: the average of the means, the extreme min and max, the last state and sum.
    """
    if len(kept) == 0:
        return _Statistics.empty()
    grid_start = np.floor(c.time_s[kept[0]] / _HOUR_S) * _HOUR_S
    grid_end = (np.floor(c.time_s[kept[-1]] / _HOUR_S) + 1) * _HOUR_S
    bounds = np.arange(grid_start, grid_end + _SHORT_S / 2, _SHORT_S)
    hours = (len(bounds) - 1) // _PERIODS_PER_HOUR
    short_from = grid_end - SHORT_TERM_KEEP_DAYS * 86_400
    sensors = {e.entity_id: e for e in home.entities if e.domain == "sensor" and e.state_class is not None}
    kept_entity = c.entity[kept]
    meta: list[tuple[int, str, str, str | None, bool, bool, None]] = []
    long, short = _Table([], [], [], []), _Table([], [], [], [])
    for code, entity_id in enumerate(c.entity_names):
        entity = sensors.get(entity_id)
        if entity is None:
            continue
        rows = kept[kept_entity == code]
        t, v = c.time_s[rows], c.value[rows]
        valid = np.isfinite(v)
        if entity.state_class == "total_increasing":
            valid &= v >= 0  # HA skips negative meter readings
        t, v = t[valid], v[valid]
        if len(t) == 0:
            continue
        has_mean = entity.state_class == "measurement"
        metadata_id = len(meta) + 1
        meta.append(
            (metadata_id, entity_id, "recorder", entity.unit_of_measurement, has_mean, not has_mean, None)
        )
        if has_mean:
            mean, low, high, ok = _mean_periods(t, v, bounds)
            columns_5m = [mean, low, high]
            hourly = _hourly_mean(mean, low, high, ok, hours)
        else:
            state, total, ok = _sum_periods(t, v, bounds, entity.state_class == "total_increasing")
            columns_5m = [state, total]
            hourly = _hourly_last(state, total, ok, hours)
        recent = ok & (bounds[:-1] >= short_from)
        short.add(metadata_id, bounds[:-1][recent], [col[recent] for col in columns_5m])
        hour_ok, hour_columns = hourly
        long.add(metadata_id, bounds[:-1:_PERIODS_PER_HOUR][hour_ok], [col[hour_ok] for col in hour_columns])
    runs = list(enumerate(_sql_datetimes(bounds[:-1]), start=1))
    return _Statistics(meta, long.rows(_HOUR_S), short.rows(_SHORT_S), runs)


def _mean_periods(
    t: FloatArray, v: FloatArray, bounds: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray]:
    """Time-weighted mean, min, max per period, and whether the sensor had a state in it."""
    lo, hi = bounds[:-1], bounds[1:]
    ok = hi > t[0]
    # Integral of the step function up to x: cumulative area before the step in force, plus its part.
    area = np.concatenate(([0.0], np.cumsum(v[:-1] * np.diff(t))))

    def integral(x: FloatArray) -> FloatArray:
        step = np.maximum(np.searchsorted(t, x, side="right") - 1, 0)
        return area[step] + v[step] * (x - t[step])

    begin = np.maximum(lo, t[0])  # HA starts the average at the first state when none precedes the period
    mean = np.full(len(lo), np.nan)
    mean[ok] = (integral(hi[ok]) - integral(begin[ok])) / (hi[ok] - begin[ok])

    in_force = np.searchsorted(t, lo, side="right") - 1  # the state at the period's start, -1 if none
    inside_from, inside_to = in_force + 1, np.searchsorted(t, hi, side="left")
    busy = inside_to > inside_from
    padded = np.append(v, np.nan)  # reduceat needs every boundary, including len(v), to be an index
    pairs = np.column_stack((inside_from[busy], inside_to[busy])).ravel()
    at_start = np.where(in_force >= 0, v[np.maximum(in_force, 0)], np.nan)
    inside_min = np.full(len(lo), np.nan)
    inside_max = np.full(len(lo), np.nan)
    if len(pairs):
        inside_min[busy] = np.minimum.reduceat(padded, pairs)[::2]
        inside_max[busy] = np.maximum.reduceat(padded, pairs)[::2]
    low = np.where(ok, np.fmin(at_start, inside_min), np.nan)
    high = np.where(ok, np.fmax(at_start, inside_max), np.nan)
    return mean, low, high, ok


def _sum_periods(
    t: FloatArray, v: FloatArray, bounds: FloatArray, increasing: bool
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Last state and running sum per period, HA's meter-cycle rule for total_increasing sensors."""
    step = np.diff(v)
    if increasing:
        step = np.where(v[1:] < 0.9 * v[:-1], v[1:], step)  # a new cycle counts from zero
    total = np.concatenate(([0.0], np.cumsum(step)))  # the first state is the zero point
    last = np.searchsorted(t, bounds[1:], side="left") - 1
    ok = last >= 0
    state = np.where(ok, v[np.maximum(last, 0)], np.nan)
    return state, np.where(ok, total[np.maximum(last, 0)], np.nan), ok


def _hourly_mean(
    mean: FloatArray, low: FloatArray, high: FloatArray, ok: BoolArray, hours: int
) -> tuple[BoolArray, list[FloatArray]]:
    shape = (hours, _PERIODS_PER_HOUR)
    count = ok.reshape(shape).sum(axis=1)
    hour_ok = count > 0
    total = np.where(ok, mean, 0.0).reshape(shape).sum(axis=1)
    hourly_mean = np.divide(total, count, out=np.full(hours, np.nan), where=hour_ok)
    hourly_min = np.where(ok, low, np.inf).reshape(shape).min(axis=1)
    hourly_max = np.where(ok, high, -np.inf).reshape(shape).max(axis=1)
    return hour_ok, [hourly_mean, hourly_min, hourly_max]


def _hourly_last(
    state: FloatArray, total: FloatArray, ok: BoolArray, hours: int
) -> tuple[BoolArray, list[FloatArray]]:
    # Once a sensor has a state it has one in every later period, so an hour's last period is its latest.
    shape = (hours, _PERIODS_PER_HOUR)
    return ok.reshape(shape)[:, -1], [state.reshape(shape)[:, -1], total.reshape(shape)[:, -1]]


# ---------------------------------------------------------------------------------------------- helpers


def _time_span(home: Home, c: _Columns) -> tuple[float, float]:
    """The recorder run: from the home's first day (or earlier event) to its last event."""
    day_one = datetime.combine(home.metadata.start, datetime.min.time(), tzinfo=UTC).timestamp()
    if c.rows == 0:
        return day_one, day_one
    return min(day_one, float(c.time_s[0])), float(c.time_s[-1])


def _sql_datetimes(timestamps: FloatArray) -> list[str]:
    """SQLAlchemy's SQLite DATETIME text (naive UTC with microseconds) of epoch seconds."""
    iso = np.datetime_as_string(np.round(timestamps * 1e6).astype("datetime64[us]"), unit="us")
    return list(np.char.replace(iso, "T", " ").tolist())
