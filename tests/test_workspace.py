"""The workspace's file catalogue: every path it hands out, what it lists back, and the names it refuses."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from homesim.workspace import (
    DatasetFolder,
    HomeFolder,
    Workspace,
    export_scope_cycle,
    home_folders_in,
)

SRC = Path(__file__).resolve().parents[1] / "src" / "homesim"


def test_the_layout_is_the_documented_one(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    rel = lambda p: p.relative_to(tmp_path).as_posix()  # noqa: E731
    home = ws.home("h1")
    assert [rel(p) for p in (home.home_json, home.events, home.environment, home.behaviors)] == [
        "data/homes/h1/home.json",
        "data/homes/h1/events.parquet",
        "data/homes/h1/environment.parquet",
        "data/homes/h1/behaviors.json",
    ]
    assert [rel(p) for p in (home.ground_truth, home.activities, home.manifest)] == [
        "data/homes/h1/ground_truth.json",
        "data/homes/h1/activities.parquet",
        "data/homes/h1/manifest.json",
    ]
    dataset = ws.dataset("ds-1")
    assert [rel(p) for p in (dataset.manifest, dataset.validation_report, dataset.accuracy_report)] == [
        "data/datasets/ds-1/manifest.json",
        "data/datasets/ds-1/validation_report.json",
        "data/datasets/ds-1/ground_truth_accuracy.json",
    ]
    cycle = ws.cycle_report(3, "ds-1")
    assert (rel(cycle.json), rel(cycle.md)) == ("reports/cycle_3_ds-1.json", "reports/cycle_3_ds-1.md")
    assert rel(ws.ab_report("gnn_synergy", 2)) == "reports/ab_gnn_synergy_2.json"
    evaluation = ws.evaluation_report("pattern_detection", None)
    assert rel(evaluation.json) == "reports/evaluations/pattern_detection_candidate.json"
    assert (
        rel(ws.evaluation_report("pattern_detection", "v2").md)
        == "reports/evaluations/pattern_detection_v2.md"
    )
    assert (rel(ws.run_file("run-1")), rel(ws.latest_run_file)) == (
        "reports/runs/run-1.json",
        "reports/runs/latest.json",
    )
    assert rel(ws.jobs_dir) == "reports/jobs" and rel(ws.lineage_audit) == "reports/lineage_audit.json"
    assert rel(ws.export_dir("soft_prompt", 4)) == "training_data/cycle_4/soft_prompt"
    assert rel(ws.export_dir("soft_prompt", None)) == "training_data/aggregated/soft_prompt"
    assert rel(ws.openlineage_file) == "lineage/openlineage.jsonl"
    assert rel(ws.html_report("run_r1")) == "reports/html/run_r1.html"
    assert rel(ws.model_version_dir("gnn_synergy", 3)) == "models/gnn_synergy/v3"
    assert rel(ws.models_staging_dir) == "models/.staging"


def test_folders_find_their_workspace(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    assert ws.dataset("ds-1").workspace == ws
    assert Workspace.of_export(ws.export_dir("soft_prompt", 2)) == ws
    assert Workspace.of_export(ws.export_dir("soft_prompt", None)) == ws
    run = ws.for_run("run-1")
    assert Workspace.of_export(run.export_dir("soft_prompt", 2)) == run
    inner = Workspace(tmp_path / "runs" / "ws")  # a workspace in a folder named runs is no run
    inner.homes_dir.mkdir(parents=True)
    assert Workspace.of_export(inner.export_dir("soft_prompt", 1)) == inner


def test_a_run_keeps_its_cycles_apart_and_shares_the_rest(tmp_path: Path) -> None:
    ws, run = Workspace(tmp_path), Workspace(tmp_path).for_run("run-7")
    for own in ("training_data_dir", "training_store", "lineage_db", "openlineage_file"):
        assert getattr(run, own) == tmp_path / "runs" / "run-7" / getattr(ws, own).relative_to(tmp_path)
    assert run.cycle_report(1, "ds-1").json == tmp_path / "runs/run-7/reports/cycle_1_ds-1.json"
    for shared in ("homes_dir", "datasets_dir", "registry_db", "models_dir", "runs_dir", "html_dir"):
        assert getattr(run, shared) == getattr(ws, shared)
    assert run.ad_hoc == ws and ws.run_sessions() == []
    run.cycle_report(1, "ds-1").json.parent.mkdir(parents=True)
    run.cycle_report(1, "ds-1").json.write_text("{}")
    assert ws.run_sessions() == ["run-7"] and ws.cycle_reports() == []
    assert [r.dataset_id for r in run.cycle_reports(1)] == ["ds-1"]
    with pytest.raises(ValueError, match="invalid run id"):
        ws.for_run("../x")


@pytest.mark.parametrize("run_id", ["", "../x", "a/b", "a\\b", ".hidden"])
def test_run_ids_that_are_not_file_names_are_refused(tmp_path: Path, run_id: str) -> None:
    with pytest.raises(ValueError, match="invalid run id"):
        Workspace(tmp_path).run_file(run_id)


def test_reports_are_listed_by_what_their_names_say(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    assert ws.cycle_reports() == [] and ws.ab_reports() == []  # no reports folder yet
    ws.reports_dir.mkdir()
    for name in (
        "cycle_10_ds-a.json",
        "cycle_2_ds-b.json",
        "cycle_2_ds-a.json",
        "cycle_2_ds-a.md",
        "cycle_x_ds.json",
    ):
        (ws.reports_dir / name).write_text("{}")
    for name in ("ab_gnn_synergy_3.json", "ab_pattern_detection_1.json", "ab_Bad_1.json", "ab_x.json"):
        (ws.reports_dir / name).write_text("{}")
    assert [(f.cycle, f.dataset_id) for f in ws.cycle_reports()] == [(2, "ds-a"), (2, "ds-b"), (10, "ds-a")]
    assert [f.path.name for f in ws.cycle_reports(10)] == ["cycle_10_ds-a.json"]
    assert [(f.cycle, f.model_type) for f in ws.ab_reports()] == [
        (1, "pattern_detection"),
        (3, "gnn_synergy"),
    ]
    assert ws.cycle_reports()[0].path == ws.cycle_report(2, "ds-a").json
    assert ws.ab_reports()[1].path == ws.ab_report("gnn_synergy", 3)


def test_exports_are_listed_only_once_complete(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    assert ws.export_cycles("soft_prompt") == [] and ws.export_dirs() == []
    for cycle in (1, 3, 12, None):
        ws.export_dir("soft_prompt", cycle).mkdir(parents=True)
        (ws.export_dir("soft_prompt", cycle) / "metadata.json").write_text("{}")
    ws.export_dir("gnn_synergy", 5).mkdir(parents=True)  # no metadata: still being written
    (ws.training_data_dir / "cycle_x").mkdir()
    assert ws.export_cycles("soft_prompt") == [1, 3, 12]
    assert ws.export_cycles("gnn_synergy") == []
    assert sorted(ws.export_cycle_dirs()) == [1, 3, 5, 12]
    assert ws.export_dirs() == sorted(ws.export_dir("soft_prompt", c) for c in (1, 3, 12, None))


@pytest.mark.parametrize(("scope", "cycle"), [("aggregated", None), ("cycle_0", 0), ("cycle_42", 42)])
def test_export_scopes(scope: str, cycle: int | None) -> None:
    assert export_scope_cycle(scope) == cycle


@pytest.mark.parametrize("scope", ["", "cycle_", "cycle_-1", "cycle_1234567890", "aggregated/..", "Cycle_1"])
def test_bad_export_scopes_are_refused(scope: str) -> None:
    with pytest.raises(ValueError, match="neither 'aggregated' nor 'cycle_<n>'"):
        export_scope_cycle(scope)


def test_home_and_dataset_folders_know_what_they_hold(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    complete, partial = ws.home("h2"), ws.home("h1")
    for home in (complete, partial):
        home.path.mkdir(parents=True)
        home.home_json.write_text("{}")
    complete.events.write_bytes(b"")
    assert complete.is_home() and not partial.is_home()
    assert home_folders_in(ws.homes_dir) == [complete]
    assert home_folders_in(tmp_path / "missing") == []
    assert not ws.dataset("ds-1").is_dataset() and ws.datasets() == []
    for dataset_id in ("ds-2", "ds-1"):
        ws.dataset(dataset_id).path.mkdir(parents=True)
        ws.dataset(dataset_id).manifest.write_text("{}")
    (ws.datasets_dir / "empty").mkdir()
    assert ws.datasets() == [DatasetFolder(ws.dataset_dir("ds-1")), DatasetFolder(ws.dataset_dir("ds-2"))]
    assert HomeFolder(complete.path).key == "h2"


# A file name of the workspace spelled anywhere else in the package is a second place that knows it.
_NAMES = re.compile(
    r"^(home\.json|events\.parquet|environment\.parquet|behaviors\.json|ground_truth\.json|activities\.parquet|"
    r"manifest\.json|validation_report\.json|ground_truth_accuracy\.json|latest\.json|lineage_audit\.json|"
    r"metadata\.json)$"
)


def test_no_other_module_spells_a_workspace_file_name() -> None:
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "workspace.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _NAMES.match(node.value):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno} {node.value!r}")
    assert offenders == []


def test_no_module_walks_up_a_path_by_index() -> None:
    offenders = [
        str(path.relative_to(SRC))
        for path in sorted(SRC.rglob("*.py"))
        if re.search(r"\.parents\[\d\]|\.parent\.parent", path.read_text("utf-8"))
        and path.name != "workspace.py"
    ]
    assert offenders == []
