"""HTML reports: every section of a cycle and of a run, their plots, and "no data" for missing inputs."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from demo_workspace import DemoWorkspace, build_demo_workspace
from homesim.cli import app
from homesim.reports import live, plots
from homesim.reports.dashboard import dashboard_html
from homesim.reports.data import ab_metric_table, ab_p_values
from homesim.reports.inputs import ReportInputError, ab_results
from homesim.reports.markup import NO_DATA
from homesim.reports.report import CYCLE_SECTIONS, RUN_SECTIONS, write_report
from homesim.workspace import Workspace

#: Figures of one cycle/dataset section with every input present: mix, events per day, temperature,
#: correlations, ground truth, stage metrics.
FIGURES_PER_CYCLE = 6


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoWorkspace:
    return build_demo_workspace(tmp_path_factory.mktemp("reports"), homes=3, days=7, cycles=2)


@pytest.fixture
def stub_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip rasterizing figures in tests about structure (drawing is most of a report's time)."""
    monkeypatch.setattr(plots, "_encode", lambda fig: "data:image/png;base64,AAAA")


def _images(page: str) -> int:
    return len(re.findall(r'<figure class="plot"><img src="data:image/png;base64,[A-Za-z0-9+/=]+"', page))


def _no_data(page: str) -> list[str]:
    return re.findall(rf"{NO_DATA}: ([^<]*)<", page)


@pytest.mark.usefixtures("stub_plots")  # the run report below draws every kind of figure for real
def test_cycle_report_has_every_section_and_plot(demo: DemoWorkspace) -> None:
    path = write_report(demo.workspace, cycle=1)
    assert path == demo.workspace.html_dir / "cycle_1.html"
    page = path.read_text("utf-8")
    for title in (*CYCLE_SECTIONS, "A/B tests", f"Cycle 1 — dataset {demo.report.dataset_id}"):
        assert f">{title}</h" in page, title
    assert _images(page) == FIGURES_PER_CYCLE
    # only the A/B section lacks input: the demo's A/B result belongs to the last cycle of the run
    assert _no_data(page) == ["no A/B result (reports/ab_&lt;model_type&gt;_&lt;cycle&gt;.json)"]
    assert "http://" not in page and "https://" not in page  # self-contained: nothing to fetch
    for stage in demo.report.stages:  # long names may wrap after an underscore
        assert f'<td class="text">{stage.stage}</td>' in page.replace("_<wbr>", "_")


def test_run_report_has_learning_curves_decisions_and_ab(demo: DemoWorkspace) -> None:
    path = write_report(demo.workspace)  # with no argument: the latest run
    page = path.read_text("utf-8")
    assert path.name == f"run_{demo.run_id}.html"
    for title in (*RUN_SECTIONS, *CYCLE_SECTIONS, "gnn_synergy", "pattern_detection"):
        assert f">{title}</h" in page, title
    for cycle in range(1, demo.cycles + 1):
        assert f">Cycle {cycle} — dataset {demo.report.dataset_id}</h2>" in page
    # stage F1 across cycles + one learning curve per model (3) + one A/B figure + every cycle's figures
    assert _images(page) == 1 + 3 + 1 + FIGURES_PER_CYCLE * demo.cycles
    assert _no_data(page) == []
    pngs = [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]
    assert all(p.startswith(b"\x89PNG\r\n") and len(p) > 5_000 for p in pngs)  # drawn, not blank stubs
    assert 'class="badge deployed"' in page and "winner" in page
    # cycle 2 has no cycle report in the workspace: its stage metrics come from the run summary
    assert "from the run summary (the cycle report is not in this workspace)" in page


@pytest.mark.usefixtures("stub_plots")
def test_run_report_restricted_to_one_cycle(demo: DemoWorkspace) -> None:
    path = write_report(demo.workspace, run_id=demo.run_id, cycle=2)
    assert path.name == f"run_{demo.run_id}_cycle_2.html"
    page = path.read_text("utf-8")
    assert ">Cycle 2 — dataset" in page and ">Cycle 1 — dataset" not in page
    assert _images(page) == 1 + 3 + 1 + FIGURES_PER_CYCLE
    with pytest.raises(ReportInputError, match=f"run {demo.run_id} has no cycle 7"):
        write_report(demo.workspace, run_id=demo.run_id, cycle=7)


def test_empty_workspace_shows_no_data_everywhere(tmp_path: Path) -> None:
    path = write_report(Workspace(tmp_path))
    page = path.read_text("utf-8")
    assert path.name == "report.html" and _images(page) == 0
    for title in (*CYCLE_SECTIONS, "A/B tests"):
        assert f">{title}</h" in page
    assert len(_no_data(page)) == len(CYCLE_SECTIONS) + 1


@pytest.mark.usefixtures("stub_plots")
def test_missing_cycle_and_missing_dataset_show_no_data(demo: DemoWorkspace, tmp_path: Path) -> None:
    with pytest.raises(ReportInputError, match="no cycle 9"):  # asked for by name: refused, not drawn empty
        write_report(Workspace(tmp_path), cycle=9)
    assert not (tmp_path / "reports").exists()
    # a workspace holding only the cycle report: the data sections say why, the metrics still draw
    lonely = Workspace(tmp_path / "lonely")
    name = f"cycle_1_{demo.report.dataset_id}.json"
    lonely.reports_dir.mkdir(parents=True)
    shutil.copy(demo.workspace.reports_dir / name, lonely.reports_dir / name)
    page = write_report(lonely, cycle=1).read_text("utf-8")
    missing = f"dataset {demo.report.dataset_id} is not in this workspace"
    assert _no_data(page).count(missing) == len(CYCLE_SECTIONS) - 1
    assert _images(page) == 1  # the stage metrics


def test_bad_inputs_are_named(demo: DemoWorkspace, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no run 'nope'"):
        write_report(demo.workspace, run_id="nope")
    with pytest.raises(ReportInputError, match="invalid run id"):
        write_report(demo.workspace, run_id="../x")
    broken = Workspace(tmp_path)
    (broken.reports_dir / "runs").mkdir(parents=True)
    (broken.reports_dir / "runs" / "latest.json").write_text("{not json")
    with pytest.raises(ReportInputError, match=r"latest\.json"):
        write_report(broken)


def test_report_is_deterministic(demo: DemoWorkspace, tmp_path: Path) -> None:
    # the smallest real report (stage metrics only), written twice from a copy of the cycle report
    ws = Workspace(tmp_path)
    name = f"cycle_1_{demo.report.dataset_id}.json"
    ws.reports_dir.mkdir(parents=True)
    shutil.copy(demo.workspace.reports_dir / name, ws.reports_dir / name)
    first = write_report(ws, cycle=1).read_bytes()
    assert _images(first.decode()) == 1
    assert write_report(ws, cycle=1).read_bytes() == first


def test_ab_tables_read_abresult_and_plain_dicts() -> None:
    stage = {"precision": 0.5, "recall": 0.25, "f1": 0.4}
    result = {
        "stages": [
            {"stage": "synergy", "champion": stage, "challenger": stage | {"f1": 0.6}, "p_value": 0.01}
        ]
    }
    table = ab_metric_table(result)
    assert table.columns == ["metric", "champion", "challenger"]
    assert table.filter(metric="synergy f1").row(0) == ("synergy f1", 0.4, 0.6)
    assert ab_p_values(result) == [("synergy f1", 0.01)]
    # a plain dict with the arm level anywhere in `metrics`
    plain = {
        "arms": ["a", "b"],
        "metrics": {"pattern": {"a": {"f1": 0.1}, "b": {"f1": 0.3}}},
        "p_values": {"f1": 0.2},
    }
    assert ab_metric_table(plain).rows() == [("pattern.f1", 0.1, 0.3)]
    assert ab_p_values(plain) == [("f1", 0.2)]
    assert ab_metric_table({"winner": "a"}).is_empty()


@pytest.mark.usefixtures("stub_plots")
@pytest.mark.usefixtures("stub_plots")
def test_ab_results_validate_as_abresult_or_are_shown_as_dicts(demo: DemoWorkspace, tmp_path: Path) -> None:
    assert [r.note for r in ab_results(demo.workspace)] == [None]  # the demo's file is a valid ABResult
    ws = Workspace(tmp_path)
    ws.reports_dir.mkdir(parents=True)
    plain = {
        "arms": ["a", "b"],
        "metrics": {"a": {"f1": 0.1}, "b": {"f1": 0.3}},
        "p_values": {"f1": 0.2},
        "winner": "b",
    }
    (ws.reports_dir / "ab_gnn_synergy_4.json").write_text(json.dumps(plain))
    page = write_report(ws).read_text("utf-8")
    assert ">gnn_synergy, cycle 4</h3>" in page and _images(page) == 1
    assert "ab_gnn_synergy_4.json: " in page and "read as a plain dict" in page
    assert '<th class="text">p-value f1</th><td class="text">0.200</td>' in page


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()


def test_cli_report_prints_the_path(demo: DemoWorkspace, cli: CliRunner) -> None:
    result = cli.invoke(app, ["report", "--cycle", "1", "--workspace", str(demo.workspace.root)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("cycle_1.html")
    missing = cli.invoke(app, ["report", "--run", "nope", "--workspace", str(demo.workspace.root)])
    assert missing.exit_code == 2 and "no run 'nope'" in missing.output


def test_dashboard_is_self_contained() -> None:
    page = dashboard_html()
    assert page.startswith("<!DOCTYPE html>")
    for endpoint in ("/v1/jobs", "/v1/models", "/v1/reports", "EventSource", "/events"):
        assert endpoint in page
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page)
    assert "console." not in page


def test_demo_run_summary_has_the_loop_shape(demo: DemoWorkspace) -> None:
    run = json.loads((demo.workspace.reports_dir / "runs" / f"{demo.run_id}.json").read_text())
    assert set(run) == {"run_id", "started", "config", "cycles"}
    cycle = run["cycles"][0]
    assert {"cycle", "dataset_id", "homes", "records", "wall_s", "stage_metrics", "models"} <= set(cycle)
    assert {"decision", "primary_metric", "candidate_value", "ci_low", "ci_high"} <= set(
        cycle["models"]["gnn_synergy"]
    )


def test_ab_figure_shows_every_metric() -> None:
    stages = ("pattern", "synergy", "suggestion", "automation", "ask_ai", "device_health")
    result = {
        "stages": [
            {"stage": s, "champion": {"precision": 0.5, "recall": 0.6, "f1": 0.55}, "challenger": {"f1": 0.6}}
            for s in stages
        ]
    }
    table = ab_metric_table(result)
    assert table.height == 18  # 6 stages × precision, recall, F1
    (ax,) = plots.ab_plot(table).axes
    assert [t.get_text() for t in ax.get_yticklabels()] == table["metric"].to_list()


def test_one_point_learning_curve_has_a_baseline_line() -> None:
    one = pl.DataFrame(
        {
            "cycle": [1], "primary_metric": ["f1"], "candidate_value": [0.74], "champion_value": [None],
            "baseline_value": [0.71], "ci_low": [0.01], "ci_high": [0.05], "decision": ["deployed"],
        },
        schema_overrides={"champion_value": pl.Float64},
    )  # fmt: skip
    top = plots.learning_curve_plot(one, "pattern_detection").axes[0]
    (baseline,) = [line for line in top.get_lines() if line.get_label() == "baseline"]
    xs, ys = baseline.get_xdata(), baseline.get_ydata()
    assert list(ys) == [0.71, 0.71] and xs[0] < xs[1]  # a line across the panel, not a lone point
    assert "baseline" in [t.get_text() for t in top.get_legend().get_texts()]


def test_live_plots_are_the_run_reports_and_redrawn_only_on_change(
    demo: DemoWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = live.key_plots(demo.workspace)
    assert [p.key for p in found] == [
        "stage-curves",
        "learning-gnn_synergy",
        "learning-pattern_detection",
        "learning-soft_prompt",
        f"ab-{demo.ab[0]}-{demo.ab[1]}",
    ]
    assert all(p.src.startswith("data:image/png;base64,") for p in found)
    drawn: list[int] = []
    monkeypatch.setattr(live, "key_plots", lambda ws: drawn.append(1) or found[:1])
    cache = live.PlotCache(demo.workspace)
    first, again = cache.get(), cache.get()
    assert first == again and len(drawn) == 1 and first["version"]  # unchanged inputs: not drawn again
    ab = demo.workspace.ab_report(*demo.ab)
    ab.write_text(ab.read_text())  # a job rewrote an input
    os.utime(ab, ns=(ab.stat().st_atime_ns, ab.stat().st_mtime_ns + 1_000_000))
    assert cache.get()["version"] != first["version"] and len(drawn) == 2


def test_live_plots_of_an_empty_workspace(tmp_path: Path) -> None:
    assert live.key_plots(Workspace(tmp_path)) == []
    assert live.PlotCache(Workspace(tmp_path)).get() == {"version": "", "plots": []}
