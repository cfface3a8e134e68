"""RecordStore: the SQLite (WAL) store of collected records, accepted and rejected, per cycle.

It owns the `records`, `record_model_types` and `rejects` tables of `<workspace>/training_data/
records.sqlite`. Each batch is written in one transaction, so a process killed mid-cycle leaves every
committed batch intact and no part of an uncommitted one. Exporters read accepted records back per model
type with `accepted()`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from pydantic import TypeAdapter

from homesim.schema.records import AnyRecord

RECORD_ADAPTER: Final[TypeAdapter[AnyRecord]] = TypeAdapter(AnyRecord)

#: An accepted record: the record, its quality and the model types it feeds.
Accepted = tuple[AnyRecord, float, tuple[str, ...]]
#: A reject: record id, cycle, home key, stage, quality, reasons, payload (the record's JSON, or its repr
#: when it could not be serialised).
Reject = tuple[str, int | None, str | None, str | None, float, list[str], str]


def content_hash(record: AnyRecord) -> str:
    """SHA-256 (32 hex chars) over a record's stage, home, inputs and outputs (not its id, cycle, label,
    quality or lineage): two records with the same hash are the same training example."""
    body = record.model_dump_json(include={"stage", "home_key", "inputs", "outputs"}, warnings=False)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    record_id TEXT PRIMARY KEY, cycle INTEGER NOT NULL, home_key TEXT NOT NULL, stage TEXT NOT NULL,
    quality REAL NOT NULL, content_hash TEXT NOT NULL, payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_cycle ON records (cycle);
CREATE INDEX IF NOT EXISTS records_hash ON records (cycle, content_hash);
CREATE TABLE IF NOT EXISTS record_model_types (
    record_id TEXT NOT NULL, model_type TEXT NOT NULL, PRIMARY KEY (model_type, record_id)
);
CREATE TABLE IF NOT EXISTS rejects (
    record_id TEXT NOT NULL, cycle INTEGER, home_key TEXT, stage TEXT, quality REAL NOT NULL,
    reasons TEXT NOT NULL, payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rejects_cycle ON rejects (cycle);
"""


def connect(path: Path) -> sqlite3.Connection:
    """A connection to a WAL-mode SQLite database (created with its folder when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a killed process never loses a commit
    db.execute("PRAGMA busy_timeout=30000")
    return db


class RecordStore:
    """Accepted records (with their quality and the model types they feed) and rejects (with reasons)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = connect(path)
        self._db.executescript(_SCHEMA)

    def __enter__(self) -> RecordStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def add_accepted(self, records: Sequence[Accepted]) -> None:
        """Store accepted records (record, quality, model types) in one transaction; a record id already
        stored is replaced."""
        self.add_batch(records, [])

    def add_rejected(self, rejects: Sequence[Reject]) -> None:
        """Store rejects in one transaction."""
        self.add_batch([], rejects)

    def add_batch(self, accepted: Sequence[Accepted], rejects: Sequence[Reject]) -> None:
        """Accepted records and rejects of one batch in a single transaction (all or nothing)."""
        rows = [
            (r.record_id, r.cycle, r.home_key, r.stage, q, content_hash(r), r.model_dump_json())
            for r, q, _ in accepted
        ]
        types = [(r.record_id, t) for r, _, model_types in accepted for t in model_types]
        reject_rows = [(*reject[:5], json.dumps(reject[5]), reject[6]) for reject in rejects]
        with transaction(self._db):
            self._db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.executemany("INSERT OR IGNORE INTO record_model_types VALUES (?, ?)", types)
            self._db.executemany("INSERT INTO rejects VALUES (?, ?, ?, ?, ?, ?, ?)", reject_rows)

    def accepted(self, model_type: str, cycles: Sequence[int] | None = None) -> Iterator[AnyRecord]:
        """Accepted records feeding `model_type` (of `cycles`, or all), by cycle then record id."""
        sql = (
            "SELECT r.payload FROM records r JOIN record_model_types t USING (record_id) "
            "WHERE t.model_type = ?"
        )
        params: list[Any] = [model_type]
        if cycles is not None:
            sql += f" AND r.cycle IN ({','.join('?' * len(cycles))})"
            params += list(cycles)
        for (payload,) in self._db.execute(sql + " ORDER BY r.cycle, r.record_id", params):
            yield RECORD_ADAPTER.validate_json(payload)

    def rejected(self, cycle: int | None = None) -> list[tuple[str, str, list[str]]]:
        """(record id, stage, reasons) of the rejects (of `cycle`, or all), in insertion order."""
        sql, params = "SELECT record_id, stage, reasons FROM rejects", list[int]()
        if cycle is not None:
            sql, params = sql + " WHERE cycle = ?", [cycle]
        return [
            (rid, stage, json.loads(r)) for rid, stage, r in self._db.execute(sql + " ORDER BY rowid", params)
        ]

    def content_hashes(self, cycle: int) -> dict[str, str]:
        """Content hash → record id of the accepted records of `cycle` (duplicates across restarts)."""
        return dict(self._db.execute("SELECT content_hash, record_id FROM records WHERE cycle = ?", (cycle,)))

    def cycles(self) -> list[int]:
        """Cycles with at least one accepted or rejected record, ascending."""
        sql = "SELECT cycle FROM records UNION SELECT cycle FROM rejects WHERE cycle IS NOT NULL ORDER BY 1"
        return [c for (c,) in self._db.execute(sql)]

    def counts(self) -> dict[str, Any]:
        """Accepted and rejected counts: totals, per stage, per model type and per cycle."""
        q = self._db.execute
        return {
            "accepted": q("SELECT count(*) FROM records").fetchone()[0],
            "rejected": q("SELECT count(*) FROM rejects").fetchone()[0],
            "accepted_by_stage": dict(q("SELECT stage, count(*) FROM records GROUP BY stage ORDER BY 1")),
            "rejected_by_stage": dict(q("SELECT stage, count(*) FROM rejects GROUP BY stage ORDER BY 1")),
            "by_model_type": dict(
                q("SELECT model_type, count(*) FROM record_model_types GROUP BY model_type ORDER BY 1")
            ),
            "accepted_by_cycle": dict(q("SELECT cycle, count(*) FROM records GROUP BY cycle ORDER BY 1")),
        }


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE … COMMIT on an autocommit connection; ROLLBACK when the body raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
