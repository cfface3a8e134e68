"""Writing and reading `home-assistant_v2.db`: the file built under a temporary name from the states,
events and statistics writers, with its bookkeeping tables, and renamed when complete."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from homesim.ha.recorder.columns import Columns, sql_datetimes, time_span
from homesim.ha.recorder.events import automation_events
from homesim.ha.recorder.states import History, insert_states, state_attributes
from homesim.ha.recorder.statistics import Statistics, compile_statistics
from homesim.ha.recorder.tables import INDEXES, SCHEMA_VERSION, TABLES, StateRow
from homesim.io import atomic_path
from homesim.schema.home import Home


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
    columns = Columns.from_table(events, home)
    history = History.build(columns)
    attribute_ids, attribute_rows = state_attributes(home, columns, history.kept)
    event_rows = automation_events(columns)
    stats = compile_statistics(home, columns, history.kept) if statistics else Statistics.empty()
    run_start, run_end = sql_datetimes(np.array(time_span(home, columns)))

    with atomic_path(db_path) as tmp:
        con = sqlite3.connect(tmp)
        try:
            # No journal while building: a crash leaves only the temp file, which atomic_path removes.
            con.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + TABLES)
            insert_states(con, columns, history, attribute_ids)
            con.executemany("INSERT INTO state_attributes VALUES (?, ?, ?)", attribute_rows)
            con.executemany("INSERT INTO states_meta VALUES (?, ?)", enumerate(columns.entity_names, start=1))
            event_rows.insert(con)
            stats.insert(con)
            con.execute("INSERT INTO recorder_runs VALUES (1, ?, ?, 0, ?)", (run_start, run_end, run_start))
            con.execute("INSERT INTO schema_changes VALUES (1, ?, ?)", (SCHEMA_VERSION, run_start))
            con.executescript(INDEXES)
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
