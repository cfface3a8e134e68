"""The training-data acceptance flow on a few homes: every stage's records collected (with lineage) →
validated → exported for all five model types in all their formats; metadata counts equal the rows on
disk; every point passes ≥ 90%; every exported row is traced back to its home, cycle and stage;
suggestions feed yaml_generation; a process killed mid-export leaves no partial export."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.ground_truth.truth import write_ground_truth
from homesim.schema.records import STAGES, AnyRecord, SuggestionRecord
from homesim.simulation.cycle import DEFAULT_STAGES
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import MODEL_TYPES, NoModels
from homesim.training_data.collector import DEFAULT_POINTS, TrainingDataCollector
from homesim.training_data.exporters import Exporter, ExportResult
from homesim.training_data.formatters import suggestion_request
from homesim.training_data.lineage_tracker import LineageTracker
from homesim.training_data.loading import SUFFIX, load_training_data, read_chat, read_metadata
from homesim.training_data.schemas import FORMATS, TABLES
from homesim.training_data.store import RecordStore
from homesim.workspace import Workspace

Flow = tuple[Workspace, list[AnyRecord], dict[str, dict[str, int]], list[ExportResult]]


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Flow:
    """Two homes × 14 days, cycle 1: simulated, collected with lineage and exported in every format."""
    workspace = Workspace(tmp_path_factory.mktemp("ws"))
    config = GenerationConfig(homes=2, days=14, seed=5)
    stages = list(DEFAULT_STAGES)
    records: list[AnyRecord] = []
    truths = {}
    for index in range(config.homes):
        view = HomeView.from_generated(generate_home(config, index))
        write_ground_truth(view.truth, workspace.home_dir(view.key))
        truths[view.key] = view.truth
        for name, stage in stages:
            view.upstream[name] = list(stage(view, NoModels(), 1))
            records += view.upstream[name]
    with LineageTracker(workspace.lineage_db) as tracker:
        with TrainingDataCollector(workspace.training_store, truth_of=truths, lineage=tracker) as collector:
            collector.emit_many(records)
        with RecordStore(workspace.training_store) as store:
            results = Exporter(workspace, store, tracker=tracker).export_cycle(1)
    return workspace, records, collector.stats()["by_point"], results


def rows_on_disk(path: Path) -> int:
    if path.name.endswith(".chat.jsonl"):
        return len(read_chat(path))
    if path.suffix == ".parquet":
        return pl.read_parquet(path).height
    if path.suffix == ".csv":
        return pl.read_csv(path).height
    if path.suffix == ".sqlite":
        with sqlite3.connect(path) as db:
            (n,) = db.execute(f'SELECT count(*) FROM "{path.stem}"').fetchone()
        return int(n)
    return len(json.loads(path.read_text())["rows"])


def test_every_point_passes_and_feeds_a_model_type(flow: Flow) -> None:
    _, records, by_point, _ = flow
    assert set(by_point) == set(STAGES)
    assert sum(c["accepted"] + c["rejected"] for c in by_point.values()) == len(records)
    for point, counts in by_point.items():
        assert counts["accepted"] / (counts["accepted"] + counts["rejected"]) >= 0.9, (point, counts)
    assert all(p.model_types for p in DEFAULT_POINTS)


def test_all_model_types_in_all_formats_with_exact_counts(flow: Flow) -> None:
    _, _, _, results = flow
    assert [r.model_type for r in results] == list(MODEL_TYPES)
    for result in results:
        formats = FORMATS[result.model_type]
        expected = {f"{s.name}{SUFFIX[f]}" for s in TABLES[result.model_type] for f in formats if f != "chat"}
        if "chat" in formats:
            expected.add(f"yaml_pairs{SUFFIX['chat']}")
        metadata = read_metadata(result.directory)
        assert set(metadata["counts"]) == expected
        assert metadata["counts"] == {name: rows_on_disk(result.directory / name) for name in expected}
        assert metadata["records"] == result.records > 0


def test_exported_rows_trace_back_to_home_cycle_and_stage(flow: Flow) -> None:
    workspace, records, _, _ = flow
    stage_of = {r.record_id: r.stage for r in records}
    with LineageTracker(workspace.lineage_db) as tracker:
        for model_type in MODEL_TYPES:
            data = load_training_data(model_type, workspace, 1)
            first = data.tables[TABLES[model_type][0].name]
            for row in first.head(20).iter_rows(named=True):
                source = tracker.source(row["record_id"])
                assert source is not None
                assert (source["cycle"], source["home_key"], source["stage"]) == (
                    row["cycle"],
                    row["home_key"],
                    stage_of[row["record_id"]],
                )
                files = {e["path"] for e in tracker.show(row["record_id"])["exports"]}
                assert str(data.directory / f"{TABLES[model_type][0].name}.json") in files


def test_suggestions_are_the_requests_of_yaml_pairs(flow: Flow) -> None:
    workspace, records, by_point, _ = flow
    suggestions = {r.record_id: r for r in records if isinstance(r, SuggestionRecord)}
    pairs = load_training_data("yaml_generation", workspace, 1).tables["yaml_pairs"]
    from_suggestions = pairs.filter(pl.col("source") == "suggestion")
    assert from_suggestions.height > 0
    for source_id, request in from_suggestions.select("source_record_id", "request").iter_rows():
        assert request == suggestion_request(suggestions[source_id])
    metadata = read_metadata(workspace.training_data_dir / "cycle_1" / "yaml_generation")
    assert metadata["records"] == by_point["automation"]["accepted"] + by_point["suggestion"]["accepted"]


KILLED_EXPORTER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from homesim.training_data.exporters import Exporter
    from homesim.training_data.store import RecordStore
    from homesim.workspace import Workspace

    workspace = Workspace(Path(sys.argv[1]))
    with RecordStore(workspace.training_store) as store:
        exporter = Exporter(workspace, store)
        for n in range(10**9):
            exporter.export_cycle(1)
            print(n, flush=True)
    """
)


def test_kill_mid_export_leaves_no_partial_export(flow: Flow, tmp_path: Path) -> None:
    workspace, _, _, _ = flow
    (tmp_path / "exporter.py").write_text(KILLED_EXPORTER)
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "exporter.py"), str(workspace.root)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # one full round of exports done, the next under way
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    cycle_dir = workspace.training_data_dir / "cycle_1"
    assert sorted(p.name for p in cycle_dir.iterdir() if not p.name.startswith(".")) == sorted(MODEL_TYPES)
    for model_type in MODEL_TYPES:  # each visible export is whole: every file listed, hashes match
        directory = cycle_dir / model_type
        metadata = read_metadata(directory)
        on_disk = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
        assert set(metadata["files"]) == on_disk - {"metadata.json"}  # split files included
        for name, info in metadata["files"].items():
            assert hashlib.sha256((directory / name).read_bytes()).hexdigest() == info["sha256"]
        assert load_training_data(model_type, workspace, 1).metadata["records"] == metadata["records"]
