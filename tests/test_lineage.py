"""LineageTracker: sources, validation outcomes, derivation edges, exports and trainings; the queries by
cycle, model type and model version; JSON audit export; OpenLineage run events; the `lineage` CLI."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import jsonschema
import pytest
import typer
from openlineage.client.transport.file import FileTransport
from openlineage.client.transport.http import HttpTransport
from typer.testing import CliRunner

from homesim.cli import lineage as lineage_cli
from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.schema.records import AnyRecord, AutomationRecord
from homesim.simulation.cycle import DEFAULT_STAGES
from homesim.simulation.home_view import HomeView, load_home_view
from homesim.simulation.model_provider import NoModels
from homesim.training_data.collector import TrainingDataCollector
from homesim.training_data.exporters import Exporter
from homesim.training_data.lineage_tracker import LineageTracker, Source, default_transport
from homesim.training_data.openlineage_facets import GENERATOR_FACET
from homesim.training_data.schemas import SYNERGIES
from homesim.training_data.store import RecordStore
from homesim.workspace import Workspace

SOURCE = Source(dataset_id="ds-test", generator_version="1.2.3", config_hash="abc123")

#: The core of the OpenLineage JSON Schema, spec 2-0-2 (`https://openlineage.io/spec/2-0-2/OpenLineage.json`,
#: the version openlineage-python writes in `schemaURL`): BaseEvent, RunEvent, Run, Job and the datasets, as
#: published (facet definitions, which our events do not use, left out). The tests have no network access.
OPENLINEAGE_SPEC = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
    "$defs": {
        "BaseEvent": {
            "type": "object",
            "properties": {
                "eventTime": {"type": "string", "format": "date-time"},
                "producer": {"type": "string", "format": "uri"},
                "schemaURL": {"type": "string", "format": "uri"},
            },
            "required": ["eventTime", "producer", "schemaURL"],
        },
        "RunEvent": {
            "allOf": [
                {"$ref": "#/$defs/BaseEvent"},
                {
                    "type": "object",
                    "properties": {
                        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
                        "run": {"$ref": "#/$defs/Run"},
                        "job": {"$ref": "#/$defs/Job"},
                        "inputs": {"type": "array", "items": {"$ref": "#/$defs/InputDataset"}},
                        "outputs": {"type": "array", "items": {"$ref": "#/$defs/OutputDataset"}},
                    },
                    "required": ["run", "job"],
                },
            ],
            "type": "object",
        },
        "Run": {
            "type": "object",
            "properties": {"runId": {"type": "string", "format": "uuid"}, "facets": {"type": "object"}},
            "required": ["runId"],
        },
        "Job": {
            "type": "object",
            "properties": {
                "namespace": {"type": "string"},
                "name": {"type": "string"},
                "facets": {"type": "object"},
            },
            "required": ["namespace", "name"],
        },
        "Dataset": {
            "type": "object",
            "properties": {
                "namespace": {"type": "string"},
                "name": {"type": "string"},
                "facets": {"type": "object"},
            },
            "required": ["namespace", "name"],
        },
        "InputDataset": {
            "allOf": [{"$ref": "#/$defs/Dataset"}, {"properties": {"inputFacets": {"type": "object"}}}],
            "type": "object",
        },
        "OutputDataset": {
            "allOf": [{"$ref": "#/$defs/Dataset"}, {"properties": {"outputFacets": {"type": "object"}}}],
            "type": "object",
        },
    },
    "$ref": "#/$defs/RunEvent",
}


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, dict[int, list[AnyRecord]]]:
    """One home simulated as cycles 1 and 2, collected with lineage into a workspace."""
    workspace = Workspace(tmp_path_factory.mktemp("ws"))
    generated = generate_home(GenerationConfig(days=14, seed=9), 0)
    stages = list(DEFAULT_STAGES)
    by_cycle: dict[int, list[AnyRecord]] = {}
    with LineageTracker(workspace.lineage_db) as tracker:
        for cycle in (1, 2):
            view = HomeView.from_generated(generated)
            for name, stage in stages:
                view.upstream[name] = list(stage(view, NoModels(), cycle))
            by_cycle[cycle] = [r for records in view.upstream.values() for r in records]
            with TrainingDataCollector(
                workspace.training_store, truth_of={view.key: view.truth}, lineage=tracker, source=SOURCE
            ) as collector:
                collector.emit_many(by_cycle[cycle])
    return workspace, by_cycle


def test_queries_return_exactly_the_right_ids(
    collected: tuple[Workspace, dict[int, list[AnyRecord]]],
) -> None:
    workspace, by_cycle = collected
    with RecordStore(workspace.training_store) as store, LineageTracker(workspace.lineage_db) as tracker:
        rejected = {rid for rid, _, _ in store.rejected()}
        for cycle, records in by_cycle.items():
            expected = sorted({r.record_id for r in records} - rejected)
            assert tracker.records_of_cycle(cycle) == expected
            assert tracker.records_of_cycle(cycle, include_rejected=True) == sorted(
                {r.record_id for r in records}
            )
        assert not set(tracker.records_of_cycle(1)) & set(tracker.records_of_cycle(2))
        synergy = sorted(
            r.record_id for records in by_cycle.values() for r in records if r.stage == "synergy"
        )
        assert tracker.records_of_model_type("gnn_synergy") == synergy
        assert tracker.records_of_model_type("gnn_synergy") == sorted(
            r.record_id for r in store.accepted("gnn_synergy")
        )
        soft = sorted(
            r.record_id
            for records in by_cycle.values()
            for r in records
            if r.stage == "ask_ai" and r.record_id not in rejected
        )
        assert tracker.records_of_model_type("soft_prompt") == soft
        # The records carry the collector's run id as a lineage id.
        assert all(len(r.lineage_ids) == 1 for r in store.accepted("gnn_synergy"))


def test_source_and_relationships(collected: tuple[Workspace, dict[int, list[AnyRecord]]]) -> None:
    workspace, by_cycle = collected
    automation = next(r for r in by_cycle[2] if isinstance(r, AutomationRecord) and r.derived_from)
    suggestion = next(r for r in by_cycle[2] if r.record_id == automation.derived_from[0])
    with LineageTracker(workspace.lineage_db) as tracker:
        source = tracker.source(automation.record_id)
        assert source is not None
        assert (source["cycle"], source["home_key"], source["stage"]) == (
            2,
            automation.home_key,
            "automation",
        )
        assert (source["dataset_id"], source["generator_version"], source["config_hash"]) == (
            "ds-test",
            "1.2.3",
            "abc123",
        )
        assert tracker.upstream(automation.record_id) == sorted(
            {suggestion.record_id, *suggestion.derived_from}
        )
        assert automation.record_id in tracker.downstream(suggestion.derived_from[0])
        shown = tracker.show(automation.record_id)
        assert shown["transformations"][0]["step"] == "validate"
        assert set(shown["transformations"][0]["scores"]) >= {"schema", "consistency", "yaml"}
        assert tracker.source("0" * 24) is None


def test_exports_and_model_versions(
    collected: tuple[Workspace, dict[int, list[AnyRecord]]], tmp_path: Path
) -> None:
    _, by_cycle = collected
    with LineageTracker(tmp_path / "lineage.sqlite") as tracker:
        ids_1 = [r.record_id for r in by_cycle[1] if r.stage == "synergy"]
        ids_2 = [r.record_id for r in by_cycle[2] if r.stage == "synergy"]
        f1, f2 = tmp_path / "c1" / "synergies.parquet", tmp_path / "c2" / "synergies.parquet"
        tracker.record_export(f1, "gnn_synergy", 1, ids_1)
        tracker.record_export(f2, "gnn_synergy", 2, ids_2)
        tracker.record_training("gnn_synergy", "v1", [f1])
        tracker.record_training("gnn_synergy", "v2", [f1, f2])
        assert tracker.records_of_model_version("gnn_synergy", "v1") == sorted(ids_1)
        assert tracker.records_of_model_version("gnn_synergy", "v2") == sorted(ids_1 + ids_2)
        assert tracker.records_of_model_version("gnn_synergy", "v3") == []
        assert tracker.show(ids_2[0])["exports"] == [
            {"path": str(f2), "model_type": "gnn_synergy", "cycle": 2}
        ]
        events = tracker.openlineage_events()
        train = [e for e in events if e.job.name == "train.gnn_synergy" and e.eventType is not None]
        assert {d.name for e in train for d in e.inputs or []} == {str(f1), str(f2)}


def test_json_audit_and_openlineage_events(
    collected: tuple[Workspace, dict[int, list[AnyRecord]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace, _ = collected
    monkeypatch.delenv("OPENLINEAGE_URL", raising=False)
    with LineageTracker(workspace.lineage_db) as tracker:
        counts = tracker.export_json(tmp_path / "audit.json")
        audit = json.loads((tmp_path / "audit.json").read_text())
        assert {t: len(rows) for t, rows in audit["tables"].items()} == counts
        # One row per group of records, not per record; every record id is derivable from the rows.
        groups = audit["tables"]["record_batches"]
        ids = sorted(i for g in groups for i in json.loads(g["record_ids"]))
        assert ids == sorted(tracker.records_of_cycle(1, True) + tracker.records_of_cycle(2, True))
        assert counts["record_batches"] < len(ids) / 10
        assert isinstance(default_transport(tmp_path), FileTransport)
        sent = tracker.emit_openlineage()
    lines = (workspace.root / "lineage" / "openlineage.jsonl").read_text().splitlines()
    assert len(lines) == sent == 4  # two collector runs: START and COMPLETE each
    checker = jsonschema.Draft202012Validator(OPENLINEAGE_SPEC, format_checker=jsonschema.FormatChecker())
    events = [json.loads(line) for line in lines]
    for event in events:
        checker.validate(event)
        uuid.UUID(event["run"]["runId"])
        assert event["schemaURL"].startswith("https://openlineage.io/spec/2-0-2/OpenLineage.json")
    broken = {**events[0], "run": {"runId": 7}}
    del broken["eventTime"]
    assert len(list(checker.iter_errors(broken))) == 2  # the schema does catch a malformed event
    complete = [e for e in events if e["eventType"] == "COMPLETE"]
    assert [(d["namespace"], d["name"]) for d in complete[0]["inputs"]] == [("homesim", "dataset/ds-test")]
    assert {o["name"] for o in complete[0]["outputs"]} >= {"training_records/gnn_synergy"}
    monkeypatch.setenv("OPENLINEAGE_URL", "http://lineage.invalid:5000")
    assert isinstance(default_transport(tmp_path), HttpTransport)  # built, never contacted


def test_cli(collected: tuple[Workspace, dict[int, list[AnyRecord]]], tmp_path: Path) -> None:
    workspace, by_cycle = collected
    app = typer.Typer()
    lineage_cli.register(app)
    runner = CliRunner()
    root = ["--workspace", str(workspace.root)]
    with LineageTracker(workspace.lineage_db) as tracker:
        cycle_2 = tracker.records_of_cycle(2)
    result = runner.invoke(app, ["lineage", "query", "--cycle", "2", "--ids", *root])
    assert result.exit_code == 0, result.output
    assert result.output.split() == cycle_2
    record = by_cycle[1][0].record_id
    result = runner.invoke(app, ["lineage", "query", "--record", record, *root])
    assert json.loads(result.output)["cycle"] == 1
    result = runner.invoke(app, ["lineage", "show", record, *root])
    assert json.loads(result.output)["source"]["stage"] == by_cycle[1][0].stage
    assert runner.invoke(app, ["lineage", "show", "nope", *root]).exit_code == 2
    assert runner.invoke(app, ["lineage", "query", *root]).exit_code != 0
    out = tmp_path / "audit.json"
    result = runner.invoke(app, ["lineage", "export", "--out", str(out), *root])
    assert result.exit_code == 0 and out.exists()
    assert (
        runner.invoke(app, ["lineage", "query", "--cycle", "1", "--workspace", str(tmp_path)]).exit_code == 2
    )


#: The facets of the OpenLineage spec that our events carry, as published (`https://openlineage.io/spec/
#: facets/…`: BaseFacet of spec 2-0-2, SchemaDatasetFacet 1-2-0, DatasourceDatasetFacet 1-0-1,
#: OutputStatisticsOutputDatasetFacet 1-0-2; descriptions and examples left out).
BASE_FACET = {
    "type": "object",
    "properties": {
        "_producer": {"type": "string", "format": "uri"},
        "_schemaURL": {"type": "string", "format": "uri"},
    },
    "required": ["_producer", "_schemaURL"],
}
FACET_SPECS = {
    "schema": {
        "allOf": [
            BASE_FACET,
            {
                "type": "object",
                "properties": {
                    "fields": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "type": {"type": "string"},
                                "description": {"type": "string"},
                            },
                            "required": ["name"],
                        },
                    }
                },
            },
        ]
    },
    "dataSource": {
        "allOf": [
            BASE_FACET,
            {
                "type": "object",
                "properties": {"name": {"type": "string"}, "uri": {"type": "string", "format": "uri"}},
            },
        ]
    },
    "outputStatistics": {
        "allOf": [
            BASE_FACET,
            {
                "type": "object",
                "properties": {
                    "rowCount": {"type": "integer"},
                    "size": {"type": "integer"},
                    "fileCount": {"type": "integer"},
                },
                "required": ["rowCount"],
            },
        ]
    },
    GENERATOR_FACET: BASE_FACET,  # a custom job facet: the base facet's fields, then its own
}


def test_openlineage_facets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real dataset collected and exported: the events carry schema, dataSource, outputStatistics and the
    generator config, each valid against the spec's facet definition."""
    monkeypatch.delenv("OPENLINEAGE_URL", raising=False)
    workspace = Workspace(tmp_path)
    config = GenerationConfig(homes=1, days=7, seed=5)
    with DataGenerationManager(workspace, "inline") as manager:
        generated = manager.generate(config)
    manifest = generated.manifest
    home = generated.homes[0].directory
    assert home is not None
    view = load_home_view(home, config)
    for name, stage in DEFAULT_STAGES:
        view.upstream[name] = list(stage(view, NoModels(), 1))
    records = [r for produced in view.upstream.values() for r in produced]
    source = Source(manifest.dataset_id, manifest.generator_version, manifest.config_hash)
    with LineageTracker(workspace.lineage_db) as tracker:
        with TrainingDataCollector(
            workspace.training_store, truth_of={view.key: view.truth}, lineage=tracker, source=source
        ) as collector:
            collector.emit_many(records)
        with RecordStore(workspace.training_store) as store:
            result = Exporter(workspace, store, tracker=tracker).export("gnn_synergy", 1)
        sent = tracker.emit_openlineage()
    events = [json.loads(line) for line in workspace.openlineage_file.read_text().splitlines()]
    assert len(events) == sent
    checker = jsonschema.Draft202012Validator(OPENLINEAGE_SPEC, format_checker=jsonschema.FormatChecker())
    facets_seen: dict[str, int] = {}
    for event in events:
        checker.validate(event)
        datasets = [*event.get("inputs", []), *event.get("outputs", [])]
        for where in [event["job"], *datasets]:
            for key, facet in [*where.get("facets", {}).items(), *where.get("outputFacets", {}).items()]:
                jsonschema.validate(facet, FACET_SPECS[key], format_checker=jsonschema.FormatChecker())
                facets_seen[key] = facets_seen.get(key, 0) + 1
    assert set(facets_seen) == set(FACET_SPECS)
    wrong = {"rowCount": "many", "_producer": "homesim"}  # no _schemaURL, a count that is not a number
    assert len(list(jsonschema.Draft202012Validator(FACET_SPECS["outputStatistics"]).iter_errors(wrong))) == 2
    complete = [e for e in events if e["eventType"] == "COMPLETE"]
    collect = next(e for e in complete if e["inputs"] and e["inputs"][0]["name"].startswith("dataset/"))
    generator = collect["job"]["facets"][GENERATOR_FACET]
    set_fields = {k: v for k, v in manifest.config.items() if v is not None}  # the client drops nulls
    assert generator["config"] == set_fields and generator["configHash"] == manifest.config_hash
    assert (
        collect["inputs"][0]["facets"]["dataSource"]["uri"]
        == workspace.dataset(manifest.dataset_id).path.as_uri()
    )
    accepted = {o["name"]: o["outputFacets"]["outputStatistics"]["rowCount"] for o in collect["outputs"]}
    with RecordStore(workspace.training_store) as store:
        assert accepted["training_records/gnn_synergy"] == len(store.accepted_rows("gnn_synergy", [1])) > 0
    files = {Path(o["name"]).name: o for e in complete for o in e["outputs"] if o["namespace"] == "file"}
    assert set(files) == set(result.counts)
    parquet = files["synergies.parquet"]
    stats = parquet["outputFacets"]["outputStatistics"]
    assert stats["rowCount"] == result.counts["synergies.parquet"]
    assert (
        stats["size"] == (result.directory / "synergies.parquet").stat().st_size and stats["fileCount"] == 1
    )
    columns = [f["name"] for f in parquet["facets"]["schema"]["fields"]]
    assert columns == [c.name for c in SYNERGIES.columns]
    assert all(f.get("type") and f.get("description") for f in parquet["facets"]["schema"]["fields"])


def test_rerunning_a_cycle_replaces_its_lineage(
    collected: tuple[Workspace, dict[int, list[AnyRecord]]], tmp_path: Path
) -> None:
    _, by_cycle = collected
    records = by_cycle[1]
    home_key = records[0].home_key
    lineage = tmp_path / "lineage.sqlite"

    def collect() -> tuple[list[str], int, list[str]]:
        with LineageTracker(lineage) as tracker:
            with TrainingDataCollector(tmp_path / "records.sqlite", lineage=tracker, batch_size=50) as c:
                c.emit_many(records)
            (groups,) = tracker._db.execute("SELECT count(*) FROM record_batches").fetchone()
            shown = tracker.show(records[0].record_id)["transformations"]
            return tracker.records_of_cycle(1, include_rejected=True), groups, shown

    first, groups, shown = collect()
    assert first == sorted({r.record_id for r in records}) and len(shown) == 1
    again, groups_again, shown_again = collect()  # batches of 50: a home's stage spans several of them
    assert (again, groups_again, shown_again) == (first, groups, shown)
    with LineageTracker(lineage) as tracker:
        assert tracker._db.execute("SELECT count(DISTINCT run_id) FROM record_batches").fetchone() == (1,)
        assert tracker.source(records[0].record_id)["home_key"] == home_key  # type: ignore[index]


def test_an_interrupted_run_is_closed_on_the_next_start(tmp_path: Path) -> None:
    lineage = tmp_path / "lineage.sqlite"
    with LineageTracker(lineage) as tracker:
        killed = tracker.start_run("collect")
        live = tracker.start_run("collect")  # this process: still running
        done = tracker.start_run("collect")
        tracker.end_run(done)
        # pid_max is at most 2**22 on Linux: no process has this id (a killed collector's pid is as gone).
        tracker._db.execute("UPDATE runs SET pid = ? WHERE run_id = ?", (2**22 + 1, killed))
    with LineageTracker(lineage) as tracker:
        status = dict(tracker._db.execute("SELECT run_id, status FROM runs"))
        ended = dict(tracker._db.execute("SELECT run_id, ended_at IS NOT NULL FROM runs"))
        events = {(e.run.runId, e.eventType.value) for e in tracker.openlineage_events() if e.eventType}
    assert status == {killed: "interrupted", live: "running", done: "completed"}
    assert ended == {killed: 1, live: 0, done: 1}
    assert (killed, "ABORT") in events and (done, "COMPLETE") in events


def test_a_per_record_lineage_database_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "lineage.sqlite"
    with sqlite3.connect(path) as db:  # the per-record tables lineage had before record_batches
        db.executescript(
            """
            CREATE TABLE runs (run_id TEXT PRIMARY KEY, job TEXT NOT NULL, started_at TEXT NOT NULL,
                ended_at TEXT, dataset_id TEXT, generator_version TEXT, config_hash TEXT);
            CREATE TABLE sources (record_id TEXT PRIMARY KEY, run_id TEXT NOT NULL, cycle INTEGER,
                dataset_id TEXT, home_key TEXT, stage TEXT, generator_version TEXT, config_hash TEXT,
                model_version TEXT, accepted INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE transformations (record_id TEXT NOT NULL, run_id TEXT NOT NULL, step TEXT NOT NULL,
                outcome TEXT NOT NULL, detail TEXT NOT NULL);
            CREATE TABLE record_model_types (record_id TEXT NOT NULL, model_type TEXT NOT NULL,
                PRIMARY KEY (model_type, record_id)) WITHOUT ROWID;
            INSERT INTO runs VALUES ('r1', 'collect', '2026-01-01T00:00:00', NULL, 'ds', '1.0', 'cfg');
            INSERT INTO sources VALUES ('a', 'r1', 1, 'ds', 'h1', 'pattern', '1.0', 'cfg', 'baseline', 1),
                ('b', 'r1', 1, 'ds', 'h1', 'pattern', '1.0', 'cfg', 'baseline', 0);
            INSERT INTO transformations VALUES
                ('a', 'r1', 'validate', 'accepted', '{"scores": {"schema": 1.0}, "reasons": []}'),
                ('b', 'r1', 'validate', 'rejected', '{"scores": {"schema": 0.0}, "reasons": ["schema: x"]}');
            INSERT INTO record_model_types VALUES ('a', 'pattern_detection');
            """
        )
    with LineageTracker(path) as tracker:
        assert tracker.records_of_cycle(1) == ["a"]
        assert tracker.records_of_cycle(1, include_rejected=True) == ["a", "b"]
        assert tracker.records_of_model_type("pattern_detection") == ["a"]
        assert tracker.source("b") == {
            "record_id": "b",
            "run_id": "r1",
            "cycle": 1,
            "dataset_id": "ds",
            "home_key": "h1",
            "stage": "pattern",
            "generator_version": "1.0",
            "config_hash": "cfg",
            "model_version": "baseline",
            "accepted": 0,
        }
        assert tracker.show("b")["transformations"][0]["reasons"] == ["schema: x"]
        tables = {n for (n,) in tracker._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert "sources" not in tables and "transformations" not in tables
        assert tracker._db.execute("SELECT status FROM runs").fetchone() == ("interrupted",)
