"""LineageTracker: where every training record came from and where it went (`<workspace>/lineage.sqlite`).

It owns the lineage tables (SQLite, WAL): `runs` (one per collector session, export or training, with its
status: running, completed or interrupted), `record_batches` (per collector batch, one row per group of
records that share cycle, home, stage, model version, outcome, model types and validator scores: the
group's record ids as a JSON array, so each record's source and validation outcome is derived from its
group and its run), `edges` (record → the records it was derived from), `exports` and `export_records`
(file → record ids), `trainings` (model version → export files) and `validation_sets` (model version → the
held-out homes it was evaluated on).

Re-running a cycle replaces its lineage: the first batch of a run that touches a (cycle, home, stage)
deletes the groups earlier runs recorded for it, in the same transaction as its own rows. A run left
without an end (its process killed) is closed as `interrupted` when the next tracker opens the database.
It answers "all data of cycle X / model type Y / model version Z" and upstream / downstream walks, exports
everything as JSON for audit, and emits OpenLineage run events (file transport to
`<workspace>/lineage/openlineage.jsonl` by default, HTTP when `OPENLINEAGE_URL` is set).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NamedTuple

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.transport import Transport
from openlineage.client.transport.file import FileConfig, FileTransport
from openlineage.client.transport.http import HttpConfig, HttpTransport

from homesim import __version__
from homesim.io import process_alive, write_text_atomic
from homesim.training_data.openlineage_facets import LineageFacets
from homesim.training_data.store import connect, transaction
from homesim.workspace import OPENLINEAGE_FILE

NAMESPACE: Final = "homesim"
PRODUCER: Final = f"https://github.com/homesim/homesim/tree/{__version__}"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, job TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT,
    dataset_id TEXT, generator_version TEXT, config_hash TEXT,
    status TEXT, -- running, then completed; interrupted when its process died before it ended
    pid INTEGER
);
CREATE TABLE IF NOT EXISTS record_batches (
    run_id TEXT NOT NULL, seq INTEGER NOT NULL, cycle INTEGER, home_key TEXT, stage TEXT,
    model_version TEXT, accepted INTEGER NOT NULL, model_types TEXT NOT NULL, detail TEXT NOT NULL,
    record_ids TEXT NOT NULL, PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS record_batches_key ON record_batches (cycle, home_key, stage);
CREATE TABLE IF NOT EXISTS edges (
    parent_id TEXT NOT NULL, child_id TEXT NOT NULL, PRIMARY KEY (parent_id, child_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_child ON edges (child_id);
CREATE TABLE IF NOT EXISTS exports (
    export_id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, path TEXT NOT NULL, model_type TEXT NOT NULL,
    cycle INTEGER, exported_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS export_records (
    export_id INTEGER NOT NULL, record_id TEXT NOT NULL, PRIMARY KEY (export_id, record_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS export_records_record ON export_records (record_id);
CREATE TABLE IF NOT EXISTS trainings (
    model_type TEXT NOT NULL, version TEXT NOT NULL, path TEXT NOT NULL, trained_at TEXT NOT NULL,
    run_id TEXT NOT NULL, PRIMARY KEY (model_type, version, path)
);
CREATE TABLE IF NOT EXISTS validation_sets (
    model_type TEXT NOT NULL, version TEXT NOT NULL, home_key TEXT NOT NULL, recorded_at TEXT NOT NULL,
    PRIMARY KEY (model_type, version, home_key)
);
"""

#: Tables without a rowid (clustered on their key, so a batch of inserts touches one B-tree): their order.
_KEY_ORDER: Final = {
    "record_batches": "run_id, seq",
    "edges": "parent_id, child_id",
    "export_records": "export_id, record_id",
}

_TABLES: Final = (
    "runs",
    "record_batches",
    "edges",
    "exports",
    "export_records",
    "trainings",
    "validation_sets",
)


@dataclass(frozen=True)
class Source:
    """Where a collector session's records come from (what the record itself does not say)."""

    dataset_id: str | None = None
    generator_version: str | None = None
    config_hash: str | None = None


class Collected(NamedTuple):
    """A group of records of one collector batch with the same outcome: what lineage keeps of them (one row
    of `record_batches`)."""

    cycle: int | None
    home_key: str | None
    stage: str | None
    model_version: str | None
    accepted: bool
    model_types: tuple[str, ...]
    #: Score of each validator that ran (name → score), and the reasons the records lost points.
    scores: dict[str, float]
    reasons: tuple[str, ...]
    record_ids: list[str]


def _now() -> str:
    return datetime.now(UTC).isoformat()


#: A record's source, derived from its group (latest first) and the group's run.
_SOURCE_SQL: Final = (
    "SELECT ? AS record_id, b.run_id, b.cycle, r.dataset_id, b.home_key, b.stage, r.generator_version, "
    "r.config_hash, b.model_version, b.accepted FROM record_batches b JOIN runs r USING (run_id) "
    "WHERE instr(b.record_ids, ?) > 0 AND EXISTS (SELECT 1 FROM json_each(b.record_ids) WHERE value = ?) "
    "ORDER BY r.started_at DESC, b.seq DESC LIMIT 1"
)


class LineageTracker:
    """SQLite lineage of records: sources, validation, relationships, exports and trainings."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = connect(path)
        self._db.executescript(_SCHEMA)
        #: (run, cycle, home, stage) whose earlier runs' groups this tracker has deleted; next group number
        #: of each run.
        self._cleared: set[tuple[str, int | None, str | None, str | None]] = set()
        self._seq: dict[str, int] = {}
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
        with transaction(self._db):
            for column, kind in (("status", "TEXT"), ("pid", "INTEGER")):  # databases written before both
                if column not in columns:
                    self._db.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
            self._migrate_per_record_tables()
            self._close_interrupted()

    def __enter__(self) -> LineageTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _migrate_per_record_tables(self) -> None:
        """A database written before `record_batches` (one `sources`, `transformations` and
        `record_model_types` row per record): each record becomes a group of one, then those tables go."""
        tables = {name for (name,) in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"sources", "transformations"} <= tables:
            return
        self._db.execute(
            "INSERT INTO record_batches SELECT s.run_id, -s.n, s.cycle, s.home_key, s.stage, "
            "s.model_version, s.accepted, "
            "(SELECT json_group_array(t.model_type) FROM record_model_types t "
            "WHERE t.record_id = s.record_id), "
            "coalesce((SELECT detail FROM transformations x WHERE x.record_id = s.record_id "
            'ORDER BY x.rowid DESC LIMIT 1), \'{"scores": {}, "reasons": []}\'), json_array(s.record_id) '
            "FROM (SELECT row_number() OVER (PARTITION BY run_id ORDER BY record_id) AS n, * FROM sources) s"
        )
        for table in ("sources", "transformations", "record_model_types"):
            self._db.execute(f"DROP TABLE IF EXISTS {table}")  # names are ours, never input

    def _close_interrupted(self) -> None:
        """Runs without an end whose process is gone were interrupted: say so, with the time it was seen."""
        open_runs = self._db.execute("SELECT run_id, pid FROM runs WHERE ended_at IS NULL").fetchall()
        dead = [(_now(), run_id) for run_id, pid in open_runs if not process_alive(pid)]
        self._db.executemany("UPDATE runs SET ended_at = ?, status = 'interrupted' WHERE run_id = ?", dead)

    # ------------------------------------------------------------------------------------------ writing

    def start_run(self, job: str, source: Source | None = None) -> str:
        """A new run (collector session, export, training) of `job`; returns its UUID."""
        run_id, s = str(uuid.uuid4()), source or Source()
        self._db.execute(
            "INSERT INTO runs VALUES (?, ?, ?, NULL, ?, ?, ?, 'running', ?)",
            (run_id, job, _now(), s.dataset_id, s.generator_version, s.config_hash, os.getpid()),
        )
        return run_id

    def end_run(self, run_id: str) -> None:
        self._db.execute(
            "UPDATE runs SET ended_at = ?, status = 'completed' WHERE run_id = ?", (_now(), run_id)
        )

    def record_collected(
        self, run_id: str, groups: Sequence[Collected], edges: Sequence[tuple[str, str]] = ()
    ) -> None:
        """The record groups of one batch and the (parent, child) derivation edges of its records, in one
        transaction. The first time this run records a (cycle, home, stage), the groups other runs recorded
        for it are deleted: a re-run of a cycle replaces its lineage."""
        seq = self._seq.get(run_id, 0)
        rows = []
        fresh = set()
        details: dict[tuple[tuple[tuple[str, float], ...], tuple[str, ...]], str] = {}
        for g in groups:
            key = (tuple(g.scores.items()), g.reasons)
            detail = details.get(key)
            if detail is None:
                detail = details[key] = json.dumps({"scores": g.scores, "reasons": g.reasons})
            rows.append(
                (
                    run_id,
                    seq,
                    g.cycle,
                    g.home_key,
                    g.stage,
                    g.model_version,
                    int(g.accepted),
                    json.dumps(g.model_types),
                    detail,
                    json.dumps(g.record_ids),
                )
            )
            seq += 1
            scope = (run_id, g.cycle, g.home_key, g.stage)
            if scope not in self._cleared:
                fresh.add(scope)
        with transaction(self._db):
            self._db.executemany(
                "DELETE FROM record_batches "
                "WHERE cycle IS ? AND home_key IS ? AND stage IS ? AND run_id != ?",
                [(c, h, st, r) for r, c, h, st in sorted(fresh, key=repr)],
            )
            self._db.executemany("INSERT INTO record_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.executemany("INSERT OR IGNORE INTO edges VALUES (?, ?)", sorted(edges))
        self._cleared |= fresh
        self._seq[run_id] = seq

    def record_export(self, path: Path, model_type: str, cycle: int | None, record_ids: Sequence[str]) -> int:
        """An export file and the record ids it holds (`cycle` None for aggregated exports); its id."""
        run_id = self.start_run(f"export.{model_type}")
        with transaction(self._db):
            cur = self._db.execute(
                "INSERT INTO exports (run_id, path, model_type, cycle, exported_at) VALUES (?, ?, ?, ?, ?)",
                (run_id, str(path), model_type, cycle, _now()),
            )
            export_id = cur.lastrowid
            assert export_id is not None
            self._db.executemany(
                "INSERT OR IGNORE INTO export_records VALUES (?, ?)",
                [(export_id, r) for r in sorted(record_ids)],
            )
        self.end_run(run_id)
        return export_id

    def record_training(self, model_type: str, version: str, files: Sequence[Path]) -> None:
        """Model `version` of `model_type` was trained on the export `files`."""
        run_id, now = self.start_run(f"train.{model_type}"), _now()
        with transaction(self._db):  # every file or none
            self._db.executemany(
                "INSERT OR REPLACE INTO trainings VALUES (?, ?, ?, ?, ?)",
                [(model_type, version, str(f), now, run_id) for f in files],
            )
        self.end_run(run_id)

    def record_validation_set(self, model_type: str, version: str, home_keys: Sequence[str]) -> None:
        """Model `version` of `model_type` was evaluated on the held-out homes `home_keys`."""
        now = _now()
        with transaction(self._db):  # every home or none
            self._db.executemany(
                "INSERT OR REPLACE INTO validation_sets VALUES (?, ?, ?, ?)",
                [(model_type, version, h, now) for h in home_keys],
            )

    # ------------------------------------------------------------------------------------------ queries

    def validation_homes(self, model_type: str, version: str) -> list[str]:
        """The held-out homes model `version` of `model_type` was evaluated on, sorted."""
        return self._ids(
            "SELECT home_key FROM validation_sets WHERE model_type = ? AND version = ? ORDER BY 1",
            (model_type, version),
        )

    def _ids(self, sql: str, params: Sequence[object]) -> list[str]:
        return [r for (r,) in self._db.execute(sql, params)]

    def records_of_cycle(self, cycle: int, include_rejected: bool = False) -> list[str]:
        """Record ids of `cycle` (accepted only unless `include_rejected`), sorted."""
        accepted = "" if include_rejected else " AND b.accepted = 1"
        return self._ids(
            "SELECT DISTINCT j.value FROM record_batches b, json_each(b.record_ids) j "
            f"WHERE b.cycle = ?{accepted} ORDER BY 1",
            (cycle,),
        )

    def records_of_model_type(self, model_type: str) -> list[str]:
        """Accepted record ids feeding `model_type`, sorted."""
        return self._ids(
            "SELECT DISTINCT j.value FROM record_batches b, json_each(b.record_ids) j "
            "WHERE b.accepted = 1 AND EXISTS (SELECT 1 FROM json_each(b.model_types) WHERE value = ?) "
            "ORDER BY 1",
            (model_type,),
        )

    def records_of_model_version(self, model_type: str, version: str) -> list[str]:
        """Record ids in the export files model `version` of `model_type` was trained on, sorted."""
        return self._ids(
            "SELECT DISTINCT er.record_id FROM trainings t JOIN exports e ON e.path = t.path "
            "AND e.model_type = t.model_type JOIN export_records er USING (export_id) "
            "WHERE t.model_type = ? AND t.version = ? ORDER BY 1",
            (model_type, version),
        )

    def summarize(self, record_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Where `record_ids` came from, grouped: records per (cycle, dataset, home, stage), in that order."""
        return [
            {"cycle": c, "dataset_id": d, "home_key": h, "stage": s, "records": n}
            for c, d, h, s, n in self._db.execute(
                "SELECT b.cycle, r.dataset_id, b.home_key, b.stage, count(DISTINCT j.value) "
                "FROM record_batches b JOIN runs r USING (run_id), json_each(b.record_ids) j "
                "WHERE j.value IN (SELECT value FROM json_each(?)) GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
                (json.dumps(list(record_ids)),),
            )
        ]

    def upstream(self, record_id: str) -> list[str]:
        """Every record `record_id` was derived from, transitively, sorted."""
        return self._ids(
            "WITH RECURSIVE up(id) AS (SELECT parent_id FROM edges WHERE child_id = ? "
            "UNION SELECT e.parent_id FROM edges e JOIN up ON e.child_id = up.id) "
            "SELECT id FROM up ORDER BY 1",
            (record_id,),
        )

    def downstream(self, record_id: str) -> list[str]:
        """Every record derived from `record_id`, transitively, sorted."""
        return self._ids(
            "WITH RECURSIVE down(id) AS (SELECT child_id FROM edges WHERE parent_id = ? "
            "UNION SELECT e.child_id FROM edges e JOIN down ON e.parent_id = down.id) "
            "SELECT id FROM down ORDER BY 1",
            (record_id,),
        )

    def source(self, record_id: str) -> dict[str, Any] | None:
        """A record's source row (cycle, dataset, home, stage, versions, config hash, accepted), or None."""
        quoted = json.dumps(record_id)  # as it appears in a group's JSON array: a cheap pre-filter
        cur = self._db.execute(_SOURCE_SQL, (record_id, quoted, record_id))
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))

    def show(self, record_id: str) -> dict[str, Any]:
        """Everything known about a record: source, transformations, up/downstream, export files."""
        steps = self._db.execute(
            "SELECT b.accepted, b.detail, b.model_types FROM record_batches b JOIN runs r USING (run_id) "
            "WHERE instr(b.record_ids, ?) > 0 AND EXISTS (SELECT 1 FROM json_each(b.record_ids) "
            "WHERE value = ?) ORDER BY r.started_at, b.seq",
            (json.dumps(record_id), record_id),
        ).fetchall()
        exports = self._db.execute(
            "SELECT e.path, e.model_type, e.cycle FROM exports e JOIN export_records er USING (export_id) "
            "WHERE er.record_id = ? ORDER BY e.export_id",
            (record_id,),
        )
        return {
            "record_id": record_id,
            "source": self.source(record_id),
            "transformations": [
                {"step": "validate", "outcome": "accepted" if a else "rejected", **json.loads(d)}
                for a, d, _ in steps
            ],
            "model_types": sorted({t for a, _, m in steps if a for t in json.loads(m)}),
            "upstream": self.upstream(record_id),
            "downstream": self.downstream(record_id),
            "exports": [{"path": p, "model_type": m, "cycle": c} for p, m, c in exports],
        }

    # ------------------------------------------------------------------------------------------- export

    def _rows(self, table: str) -> Iterator[dict[str, Any]]:
        order = _KEY_ORDER.get(table, "rowid")
        cur = self._db.execute(f"SELECT * FROM {table} ORDER BY {order}")  # names are ours, never input
        names = [d[0] for d in cur.description]
        for row in cur:
            yield dict(zip(names, row, strict=True))

    def export_json(self, out: Path) -> dict[str, int]:
        """Write every lineage table to `out` as JSON (audit); returns the row count per table."""
        tables = {t: list(self._rows(t)) for t in _TABLES}
        write_text_atomic(out, json.dumps({"exported_at": _now(), "tables": tables}, indent=1, default=str))
        return {t: len(rows) for t, rows in tables.items()}

    def openlineage_events(self) -> list[RunEvent]:
        """START and COMPLETE run events of every run: collector sessions read their dataset and write the
        record store; exports read the record store and write a file; trainings read export files. Datasets
        and jobs carry their facets (`openlineage_facets`: schema, dataSource, outputStatistics, the
        generator config)."""
        facets = LineageFacets(self.path.parent)
        inputs: dict[str, list[InputDataset]] = {}
        outputs: dict[str, list[OutputDataset]] = {}
        for r in self._rows("runs"):
            if r["dataset_id"] is not None:
                inputs.setdefault(r["run_id"], []).append(
                    InputDataset(
                        NAMESPACE, f"dataset/{r['dataset_id']}", facets=facets.dataset(r["dataset_id"])
                    )
                )
        for run_id, model_type, accepted in self._db.execute(
            "SELECT b.run_id, t.value, sum(json_array_length(b.record_ids)) "
            "FROM record_batches b, json_each(b.model_types) t "
            "WHERE b.accepted = 1 GROUP BY b.run_id, t.value ORDER BY 1, 2"
        ):
            outputs.setdefault(run_id, []).append(
                OutputDataset(
                    NAMESPACE,
                    f"training_records/{model_type}",
                    facets=facets.records(),
                    outputFacets=facets.records_written(int(accepted)),
                )
            )
        for e in self._rows("exports"):
            inputs.setdefault(e["run_id"], []).append(
                InputDataset(NAMESPACE, f"training_records/{e['model_type']}", facets=facets.records())
            )
            path = Path(e["path"])
            outputs.setdefault(e["run_id"], []).append(
                OutputDataset(
                    "file",
                    e["path"],
                    facets=facets.export_file(path),
                    outputFacets=facets.export_written(path),
                )
            )
        for t in self._rows("trainings"):
            path = Path(t["path"])
            inputs.setdefault(t["run_id"], []).append(
                InputDataset("file", t["path"], facets=facets.export_file(path))
            )
            name = f"models/{t['model_type']}/{t['version']}"
            outputs.setdefault(
                t["run_id"],
                [OutputDataset(NAMESPACE, name, facets=facets.model(t["model_type"], t["version"]))],
            )
        events = []
        for r in self._rows("runs"):
            job = Job(namespace=NAMESPACE, name=r["job"], facets=facets.job(r["dataset_id"]))
            run = Run(runId=r["run_id"])
            events.append(
                RunEvent(
                    eventType=RunState.START,
                    eventTime=r["started_at"],
                    run=run,
                    job=job,
                    producer=PRODUCER,
                    inputs=inputs.get(r["run_id"], []),
                )
            )
            if r["ended_at"] is not None:
                events.append(
                    RunEvent(
                        # A run whose process died before it ended is closed as interrupted: ABORT.
                        eventType=RunState.ABORT if r["status"] == "interrupted" else RunState.COMPLETE,
                        eventTime=r["ended_at"],
                        run=run,
                        job=job,
                        producer=PRODUCER,
                        inputs=inputs.get(r["run_id"], []),
                        outputs=outputs.get(r["run_id"], []),
                    )
                )
        return events

    def emit_openlineage(self, transport: Transport | None = None) -> int:
        """Send every run event through `transport` (default: `default_transport(<root>)`); the count."""
        client = OpenLineageClient(transport=transport or default_transport(self.path.parent))
        events = self.openlineage_events()
        for event in events:
            client.emit(event)
        return len(events)


def default_transport(root: Path) -> Transport:
    """HTTP to `OPENLINEAGE_URL` when set, else a file transport appending to
    `<root>/lineage/openlineage.jsonl` (one event per line)."""
    url = os.environ.get("OPENLINEAGE_URL")
    if url:
        return HttpTransport(HttpConfig(url=url))
    path = root / OPENLINEAGE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileTransport(FileConfig(log_file_path=str(path), append=True))
