"""SimulationCycle: stages over a dataset's homes, honest inputs, per-home failures, report, CLI."""

from __future__ import annotations

import hashlib
import json
import pickle
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from homesim.cli import simulate as simulate_cli
from homesim.datasets.manager import DataGenerationManager, GenerationResult
from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.ground_truth.truth import build_ground_truth, write_ground_truth
from homesim.schema.events import PROVENANCE_COLUMNS
from homesim.schema.record_frames import RecordFrame
from homesim.schema.records import AnyRecord, StageName
from homesim.simulation.cycle import (
    DEFAULT_STAGES,
    HomeTask,
    SimulationCycle,
    Stage,
    run_home,
)
from homesim.simulation.device_health import device_health_stage
from homesim.simulation.home_view import HIDDEN_COLUMNS, HomeView, load_home_view
from homesim.simulation.model_provider import ModelProvider, NoModels
from homesim.simulation.pattern_detection import pattern_stage
from homesim.simulation.sink import InMemorySink
from homesim.simulation.synergy_detection import synergy_stage
from homesim.training_data.exporters import Exporter
from homesim.training_data.lineage_tracker import LineageTracker
from homesim.training_data.run_and_collect import run_and_collect
from homesim.training_data.store import RecordStore
from homesim.workspace import GROUND_TRUTH_FILE, HOME_FILE, Workspace

CONFIG = GenerationConfig(homes=3, days=14, seed=11)
CORE: list[tuple[StageName, Stage]] = [
    ("pattern", pattern_stage),
    ("synergy", synergy_stage),
    ("device_health", device_health_stage),
]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, GenerationResult]:
    workspace = Workspace(tmp_path_factory.mktemp("ws"))
    with DataGenerationManager(workspace, "inline") as manager:
        result = manager.generate(CONFIG)
    # The first two homes get their ground truth written; the third's is rebuilt from the config.
    for i, key in enumerate(result.manifest.home_keys[:2]):
        write_ground_truth(build_ground_truth(generate_home(CONFIG, i)), workspace.home_dir(key))
    return workspace, result


def _run(
    workspace: Workspace, dataset_id: str, stages: Sequence[tuple[StageName, Stage]], cycle: int = 0
) -> tuple[InMemorySink, object]:
    sink = InMemorySink()
    with SimulationCycle(workspace, sink, executor="inline", stages=stages) as sim:
        report = sim.run(dataset_id, cycle)
    return sink, report


def test_cycle_runs_every_stage_and_writes_the_report(dataset: tuple[Workspace, GenerationResult]) -> None:
    workspace, result = dataset
    sink = InMemorySink()
    with SimulationCycle(workspace, sink, executor="inline", stages=DEFAULT_STAGES) as sim:
        report = sim.run(result.manifest.dataset_id, 4)
    assert report.homes == 3 and report.errors == [] and report.records == len(sink.records) > 0
    assert {r.cycle for r in sink.records} == {4}
    assert len({r.record_id for r in sink.records}) == len(sink.records)
    by_stage = {m.stage: m for m in report.stages}
    for stage in ("pattern", "synergy", "device_health"):
        m = by_stage[stage]
        assert m.homes == 3 and m.records > 0
        assert m.precision is not None and m.recall is not None and m.f1 is not None
        assert report.model_versions[stage] == "baseline"
    base = workspace.reports_dir / f"cycle_4_{result.manifest.dataset_id}"
    saved = json.loads(base.with_suffix(".json").read_text())
    assert saved["records"] == report.records and len(saved["stages"]) == len(report.stages)
    markdown = base.with_suffix(".md").read_text()
    assert "| pattern | baseline | 3 | 0 |" in markdown


def test_stages_receive_events_without_provenance(dataset: tuple[Workspace, GenerationResult]) -> None:
    workspace, result = dataset
    seen: list[list[str]] = []

    def spy(view: HomeView, models: ModelProvider, cycle: int) -> list[AnyRecord]:
        seen.append(view.events.columns)
        return []

    _run(workspace, result.manifest.dataset_id, [("pattern", spy)])
    assert len(seen) == 3
    for columns in seen:
        assert not set(PROVENANCE_COLUMNS) & set(columns)
        assert not set(HIDDEN_COLUMNS) & set(columns)
        assert columns == ["time", "entity_id", "state", "value", "attributes"]


def test_a_stage_failing_on_one_home_is_recorded_and_the_cycle_goes_on(
    dataset: tuple[Workspace, GenerationResult],
) -> None:
    workspace, result = dataset
    broken = result.manifest.home_keys[1]

    def fragile(view: HomeView, models: ModelProvider, cycle: int) -> list[AnyRecord]:
        if view.key == broken:
            raise RuntimeError("detector exploded")
        return list(pattern_stage(view, models, cycle))

    sink, report = _run(workspace, result.manifest.dataset_id, [("pattern", fragile), *CORE[1:]])
    assert [(e.home_key, e.stage) for e in report.errors] == [(broken, "pattern")]  # type: ignore[attr-defined]
    assert "detector exploded" in report.errors[0].error  # type: ignore[attr-defined]
    homes = {(r.stage, r.home_key) for r in sink.records}
    assert ("pattern", broken) not in homes
    assert ("synergy", broken) in homes and ("device_health", broken) in homes
    assert {("pattern", k) for k in result.manifest.home_keys if k != broken} <= homes
    pattern = next(m for m in report.stages if m.stage == "pattern")  # type: ignore[attr-defined]
    assert pattern.errors == 1 and pattern.homes == 2


def test_an_unreadable_home_is_that_homes_error(tmp_path: Path) -> None:
    folder = tmp_path / "h999999-broken"
    folder.mkdir()
    (folder / HOME_FILE).write_text("{not json")
    outcome = run_home(HomeTask(folder, None, 0, (), NoModels()))
    assert [(e.home_key, e.stage) for e in outcome.errors] == [("h999999-broken", "load")]
    assert outcome.records == []


def test_missing_ground_truth_is_rebuilt_from_the_config(
    dataset: tuple[Workspace, GenerationResult], tmp_path: Path
) -> None:
    workspace, result = dataset
    folder = tmp_path / "home"
    shutil.copytree(workspace.home_dir(result.manifest.home_keys[2]), folder)
    (folder / GROUND_TRUTH_FILE).unlink()  # a home written before ground truth existed
    view = load_home_view(folder, CONFIG)
    assert view.truth == build_ground_truth(generate_home(CONFIG, 2))
    with pytest.raises(FileNotFoundError):
        load_home_view(folder)


def test_later_stages_see_earlier_records(dataset: tuple[Workspace, GenerationResult]) -> None:
    workspace, result = dataset
    upstream: list[int] = []

    def consumer(view: HomeView, models: ModelProvider, cycle: int) -> list[AnyRecord]:
        upstream.append(len(view.records("pattern")))
        assert view.records("ask_ai") == []
        return []

    _run(workspace, result.manifest.dataset_id, [CORE[0], ("suggestion", consumer)])
    assert len(upstream) == 3 and all(n > 0 for n in upstream)


def test_cycles_are_deterministic(dataset: tuple[Workspace, GenerationResult]) -> None:
    workspace, result = dataset
    first, _ = _run(workspace, result.manifest.dataset_id, CORE[:2])
    second, _ = _run(workspace, result.manifest.dataset_id, CORE[:2])
    assert sorted(first.records, key=lambda r: r.record_id) == sorted(
        second.records, key=lambda r: r.record_id
    )


def test_simulate_command_prints_the_metric_table(
    dataset: tuple[Workspace, GenerationResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace, result = dataset
    # the CLI simulates through the collector façade: only the core stages, so the test stays quick
    monkeypatch.setattr("homesim.training_data.run_and_collect.SimulationCycle", _core_cycle)
    monkeypatch.setattr(simulate_cli, "console", Console(width=200))
    app = typer.Typer()
    app.callback()(lambda: None)
    simulate_cli.register(app)
    args = ["simulate", "--dataset", result.manifest.dataset_id, "--cycle", "2", "--executor", "inline"]
    out = CliRunner().invoke(app, [*args, "--workspace", str(workspace.root)])
    assert out.exit_code == 0, out.output
    assert "cycle 2:" in out.output and "records in" in out.output, out.output
    assert all(stage in out.output for stage in ("pattern", "synergy", "device_health")), out.output
    assert "collected into" in out.output and "accepted" in out.output, out.output
    store = RecordStore(workspace.training_store)
    assert 2 in store.cycles()
    assert sum(1 for _ in store.accepted("pattern_detection", [2])) > 0
    missing = CliRunner().invoke(
        app, ["simulate", "--dataset", "ds-nope", "--cycle", "0", "--workspace", str(workspace.root)]
    )
    assert missing.exit_code == 2


def test_run_and_collect_writes_the_report_and_closes_lineage(
    dataset: tuple[Workspace, GenerationResult], tmp_path: Path
) -> None:
    source, result = dataset
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(source.root / "data", ws.root / "data")  # this test's own store and lineage
    seen: list[str] = []
    collected = run_and_collect(
        ws,
        result.manifest.dataset_id,
        4,
        executor="inline",
        workers=1,
        stages=CORE,
        progress=lambda outcome: seen.append(outcome.home_key),
    )
    assert sorted(seen) == sorted(result.manifest.home_keys)
    assert collected.report.cycle == 4 and ws.cycle_report(4, result.manifest.dataset_id).json.is_file()
    assert set(collected.pass_rates) == {"pattern", "synergy", "device_health"}
    with RecordStore(ws.training_store) as store:
        assert store.cycles() == [4]
    # the lineage tracker was closed with the cycle: its write-ahead log folded into the database
    assert ws.lineage_db.is_file() and not ws.lineage_db.with_name(ws.lineage_db.name + "-wal").exists()
    with pytest.raises(FileNotFoundError):
        run_and_collect(ws, "ds-nope", 0, executor="inline", workers=1, stages=CORE)

    def lineage_rows() -> tuple[int, list[str]]:
        with LineageTracker(ws.lineage_db) as tracker:
            (n,) = tracker._db.execute("SELECT count(*) FROM record_batches").fetchone()
            return n, tracker.records_of_cycle(4, include_rejected=True)

    before = lineage_rows()
    run_and_collect(ws, result.manifest.dataset_id, 4, executor="inline", workers=1, stages=CORE)
    assert lineage_rows() == before  # a re-run replaces the cycle's lineage: nothing doubles


def test_a_home_outcome_travels_as_one_blob(dataset: tuple[Workspace, GenerationResult]) -> None:
    workspace, result = dataset
    key = result.manifest.home_keys[0]
    outcome = run_home(HomeTask(workspace.home_dir(key), CONFIG, 1, tuple(CORE), NoModels()))
    # Device health travels as its record frame (nothing built into records in the worker).
    health = dict(outcome.outputs)["device_health"]
    assert isinstance(health, RecordFrame) and health._records is None
    assert isinstance(outcome.__getstate__()["__dict__"]["outputs"], bytes)
    back = pickle.loads(pickle.dumps(outcome))
    assert back == outcome and outcome.records and back.records == outcome.records


def _core_cycle(*args: object, **kwargs: object) -> SimulationCycle:
    return SimulationCycle(*args, **{**kwargs, "stages": CORE})  # type: ignore[arg-type]


def _as_records(stage: Stage) -> Stage:
    """`stage` handing its records over as record objects (the sink's `emit_many` path)."""

    def run(view: HomeView, models: ModelProvider, cycle: int) -> Sequence[AnyRecord]:
        return list(stage(view, models, cycle))

    return run


def test_record_frames_collect_and_export_what_their_records_would(
    dataset: tuple[Workspace, GenerationResult], tmp_path: Path
) -> None:
    """A cycle whose stages hand the sink record frames stores, rejects, reports and exports exactly what
    it does with the same records handed over as objects (the run's id, random, masked)."""
    source, result = dataset
    run_id = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    seen: dict[str, object] = {}
    for path, stages in (("frames", CORE), ("records", [(n, _as_records(s)) for n, s in CORE])):
        ws = Workspace(tmp_path / path)
        shutil.copytree(source.root / "data", ws.root / "data")
        collected = run_and_collect(
            ws, result.manifest.dataset_id, 2, executor="inline", workers=1, stages=stages
        )
        report = collected.report.model_dump(
            mode="json", exclude={"started_at", "wall_s", "records_per_s", "stage_seconds"}
        )
        with RecordStore(ws.training_store) as store:
            rows = sorted(
                (model_type, record_id, run_id.sub("RUN", payload))
                for model_type in ("pattern_detection", "gnn_synergy", "device_intelligence")
                for record_id, _, payload in store.accepted_rows(model_type)
            )
            rejected = sorted(map(list, store.rejected()))
            exports = Exporter(ws, store).export_cycle(2)
        files = {
            str(f.relative_to(ws.root)): hashlib.sha256(f.read_bytes()).hexdigest()
            for r in exports
            for f in sorted(r.directory.rglob("*"))
            if f.is_file()
        }
        with LineageTracker(ws.lineage_db) as tracker:
            lineage = sorted(tracker.records_of_cycle(2, include_rejected=True))
        seen[path] = (report, collected.pass_rates, rows, rejected, files, lineage)
        assert isinstance(
            stages[2][1](load_home_view(ws.home_dir(result.manifest.home_keys[0]), CONFIG), NoModels(), 2),
            RecordFrame,
        ) == (path == "frames")
    assert seen["frames"] == seen["records"]
