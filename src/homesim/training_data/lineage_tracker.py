"""LineageTracker: where every training record came from and where it went (`<workspace>/lineage.sqlite`).

It owns the lineage tables (SQLite, WAL): `runs` (one per collector session), `sources` (cycle, dataset,
home, stage, generator version, config hash, model version of each record), `transformations` (each
record's validation outcome with every validator's score), `edges` (record → the records it was derived
from), `record_model_types`, `exports` and `export_records` (file → record ids), `trainings` (model
version → export files) and `validation_sets` (model version → the held-out homes it was evaluated on).
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
from homesim.io import write_text_atomic
from homesim.training_data.openlineage_facets import LineageFacets
from homesim.training_data.store import connect, transaction
from homesim.workspace import OPENLINEAGE_FILE

NAMESPACE: Final = "homesim"
PRODUCER: Final = f"https://github.com/homesim/homesim/tree/{__version__}"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, job TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT,
    dataset_id TEXT, generator_version TEXT, config_hash TEXT
);
CREATE TABLE IF NOT EXISTS sources (
    record_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, cycle INTEGER, dataset_id TEXT, home_key TEXT,
    stage TEXT, generator_version TEXT, config_hash TEXT, model_version TEXT, accepted INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sources_cycle ON sources (cycle);
CREATE TABLE IF NOT EXISTS transformations (
    record_id TEXT NOT NULL, run_id TEXT NOT NULL, step TEXT NOT NULL, outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transformations_record ON transformations (record_id);
CREATE TABLE IF NOT EXISTS edges (
    parent_id TEXT NOT NULL, child_id TEXT NOT NULL, PRIMARY KEY (parent_id, child_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_child ON edges (child_id);
CREATE TABLE IF NOT EXISTS record_model_types (
    record_id TEXT NOT NULL, model_type TEXT NOT NULL, PRIMARY KEY (model_type, record_id)
) WITHOUT ROWID;
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
    "sources": "record_id",
    "edges": "parent_id, child_id",
    "record_model_types": "model_type, record_id",
    "export_records": "export_id, record_id",
}

_TABLES: Final = (
    "runs",
    "sources",
    "transformations",
    "edges",
    "record_model_types",
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
    """One record's outcome in the collector: what lineage keeps of it (a tuple: one per record, built
    cheaply)."""

    record_id: str
    cycle: int | None
    home_key: str | None
    stage: str | None
    model_version: str | None
    derived_from: tuple[str, ...]
    accepted: bool
    model_types: tuple[str, ...]
    #: Score of each validator that ran (name → score), and the reasons it lost points.
    scores: dict[str, float]
    reasons: tuple[str, ...]


def _now() -> str:
    return datetime.now(UTC).isoformat()


class LineageTracker:
    """SQLite lineage of records: sources, validation, relationships, exports and trainings."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = connect(path)
        self._db.executescript(_SCHEMA)

    def __enter__(self) -> LineageTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------------------------------ writing

    def start_run(self, job: str, source: Source | None = None) -> str:
        """A new run (collector session, export, training) of `job`; returns its UUID."""
        run_id, s = str(uuid.uuid4()), source or Source()
        self._db.execute(
            "INSERT INTO runs VALUES (?, ?, ?, NULL, ?, ?, ?)",
            (run_id, job, _now(), s.dataset_id, s.generator_version, s.config_hash),
        )
        return run_id

    def end_run(self, run_id: str) -> None:
        self._db.execute("UPDATE runs SET ended_at = ? WHERE run_id = ?", (_now(), run_id))

    def record_collected(self, run_id: str, items: Sequence[Collected], source: Source | None = None) -> None:
        """Sources, validation outcomes, derivation edges and model types of a batch (one transaction;
        re-recording a record replaces its source)."""
        s = source or Source()
        sources = [
            (
                i.record_id,
                run_id,
                i.cycle,
                s.dataset_id,
                i.home_key,
                i.stage,
                s.generator_version,
                s.config_hash,
                i.model_version,
                int(i.accepted),
            )
            for i in items
        ]
        # Most records of a batch share their scores (all 1.0, no reasons): serialise each outcome once.
        details: dict[tuple[tuple[tuple[str, float], ...], tuple[str, ...]], str] = {}
        steps = []
        for i in items:
            key = (tuple(i.scores.items()), i.reasons)
            detail = details.get(key)
            if detail is None:
                detail = details[key] = json.dumps({"scores": i.scores, "reasons": i.reasons})
            steps.append((i.record_id, run_id, "validate", "accepted" if i.accepted else "rejected", detail))
        edges = sorted((parent, i.record_id) for i in items for parent in i.derived_from)
        types = sorted((i.record_id, t) for i in items if i.accepted for t in i.model_types)
        sources.sort(key=lambda row: row[0])  # key order: each B-tree page is visited once per batch
        with transaction(self._db):
            self._db.executemany(
                "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", sources
            )
            self._db.executemany("INSERT INTO transformations VALUES (?, ?, ?, ?, ?)", steps)
            self._db.executemany("INSERT OR IGNORE INTO edges VALUES (?, ?)", edges)
            self._db.executemany("INSERT OR IGNORE INTO record_model_types VALUES (?, ?)", types)

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
        accepted = "" if include_rejected else " AND accepted = 1"
        return self._ids(f"SELECT record_id FROM sources WHERE cycle = ?{accepted} ORDER BY 1", (cycle,))

    def records_of_model_type(self, model_type: str) -> list[str]:
        """Accepted record ids feeding `model_type`, sorted."""
        return self._ids(
            "SELECT record_id FROM record_model_types WHERE model_type = ? ORDER BY 1", (model_type,)
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
                "SELECT cycle, dataset_id, home_key, stage, count(*) FROM sources "
                "WHERE record_id IN (SELECT value FROM json_each(?)) GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
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
        cur = self._db.execute("SELECT * FROM sources WHERE record_id = ?", (record_id,))
        row = cur.fetchone()
        return None if row is None else dict(zip([d[0] for d in cur.description], row, strict=True))

    def show(self, record_id: str) -> dict[str, Any]:
        """Everything known about a record: source, transformations, up/downstream, export files."""
        steps = self._db.execute(
            "SELECT step, outcome, detail FROM transformations WHERE record_id = ? ORDER BY rowid",
            (record_id,),
        )
        exports = self._db.execute(
            "SELECT e.path, e.model_type, e.cycle FROM exports e JOIN export_records er USING (export_id) "
            "WHERE er.record_id = ? ORDER BY e.export_id",
            (record_id,),
        )
        return {
            "record_id": record_id,
            "source": self.source(record_id),
            "transformations": [{"step": s, "outcome": o, **json.loads(d)} for s, o, d in steps],
            "model_types": self._ids(
                "SELECT model_type FROM record_model_types WHERE record_id = ? ORDER BY 1", (record_id,)
            ),
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
        out.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"exported_at": _now(), "tables": tables}, indent=1, default=str)
        write_text_atomic(out, text)  # a killed export never leaves half a file
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
            "SELECT s.run_id, t.model_type, sum(s.accepted) FROM sources s "
            "JOIN record_model_types t USING (record_id) GROUP BY s.run_id, t.model_type ORDER BY 1, 2"
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
                        eventType=RunState.COMPLETE,
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
