"""`homesim simulate` over imported real homes: every stage runs, scores that need ground truth are n/a
(never 0), records are marked as a real home's, and the collector keeps their placeholder labels out."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from homesim.cli import app
from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.ha.config_dir import export_config_dir
from homesim.simulation.metrics import home_counts, stage_metrics, sum_counts
from homesim.workspace import Workspace

ORDONEZ = Path(__file__).parent / "data" / "real_homes" / "uci_adl_ordonez"
runner = CliRunner()


@pytest.fixture(scope="module")
def real_workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A workspace with one dataset of real homes: an HA recorder database of a week (a generated home's,
    exported, so every stage finds lights, automations and synergies to work on) and an Ordóñez home."""
    root = tmp_path_factory.mktemp("ws")
    generated = generate_home(GenerationConfig(homes=1, days=7, seed=11), 0)
    export_config_dir(generated.home, root / "beta_home", events=generated.events, recorder=True)
    for fmt, path in (("recorder", root / "beta_home"), ("ordonez", ORDONEZ / "OrdonezA_Sensors.txt")):
        result = runner.invoke(
            app, ["import-history", fmt, str(path), "--workspace", str(root), "--dataset", "real-beta"]
        )
        assert result.exit_code == 0, result.output
    return Workspace(root)


def test_import_into_workspace_makes_a_real_dataset(real_workspace: Workspace) -> None:
    manifest = json.loads((real_workspace.dataset_dir("real-beta") / "manifest.json").read_text())
    assert manifest["source"] == "real" and manifest["config"] == {}
    assert manifest["home_keys"] == ["real-beta-home", "real-ordoneza"]
    assert manifest["validation"]["failed"] == 0  # the generated homes' per-home rules pass
    # Real homes live apart from the cache, which may delete and regenerate its homes.
    assert (real_workspace.real_homes_dir / "real-ordoneza" / "home.json").is_file()
    assert not real_workspace.homes_dir.exists()


def test_simulate_runs_every_stage_and_shows_na(real_workspace: Workspace) -> None:
    args = ["simulate", "--dataset", "real-beta", "--cycle", "0", "--executor", "inline"]
    result = runner.invoke(app, [*args, "--workspace", str(real_workspace.root)])
    assert result.exit_code == 0, result.output
    assert "n/a" in result.output
    report = json.loads((real_workspace.reports_dir / "cycle_0_real-beta.json").read_text())
    assert report["errors"] == []
    stages = {s["stage"]: s for s in report["stages"]}
    for name in ("pattern", "synergy", "suggestion", "device_health"):
        assert stages[name]["records"] > 0, name
        # Needs ground truth: n/a, never 0.
        assert (stages[name]["precision"], stages[name]["recall"], stages[name]["f1"]) == (None, None, None)
        assert stages[name]["counts"] == {"unscored": stages[name]["records"]}
    # Needs none: an automation's validity, and Ask-AI turns labelled by their generated requests.
    assert stages["automation"]["precision"] is not None and stages["automation"]["recall"] is None
    assert stages["ask_ai"]["precision"] is not None
    markdown = (real_workspace.reports_dir / "cycle_0_real-beta.md").read_text()
    assert "| device_health | baseline | 2 | 0 |" in markdown and "n/a | n/a | n/a" in markdown

    con = sqlite3.connect(real_workspace.training_store)
    try:
        stored = [json.loads(p) for (p,) in con.execute("SELECT payload FROM records")]
        rejected = con.execute("SELECT stage, reasons, payload FROM rejects").fetchall()
    finally:
        con.close()
    assert stored and all(r["home_source"] == "real" and r["stage"] == "ask_ai" for r in stored)
    assert {stage for stage, _, _ in rejected} >= {"pattern", "synergy", "device_health"}
    for _, reasons, payload in rejected:
        assert json.loads(payload)["home_source"] == "real"
        assert "consistency: a real home has no ground truth to label this record with" in json.loads(reasons)

    # The rest of the pipeline takes the real homes too: the HTML report, training-data export, HA export.
    ws = ["--workspace", str(real_workspace.root)]
    assert runner.invoke(app, ["report", "--cycle", "0", *ws]).exit_code == 0
    assert (real_workspace.reports_dir / "html" / "cycle_0.html").is_file()
    exported = runner.invoke(app, ["export", "--cycle", "0", *ws])
    assert exported.exit_code == 0, exported.output
    home = real_workspace.home_dir("real-ordoneza")
    ha = runner.invoke(
        app, ["ha", "export", str(home), "--out", str(real_workspace.root / "ha"), "--recorder"]
    )
    assert ha.exit_code == 0, ha.output
    assert (real_workspace.root / "ha" / "home-assistant_v2.db").is_file()


def test_metrics_of_a_mixed_dataset_score_only_the_synthetic_homes() -> None:
    synthetic = {"predicted": 10, "predicted_true": 8, "truth": 5, "truth_found": 4}
    real = home_counts("pattern", [], None)
    assert real == {"unscored": 0}
    mixed = stage_metrics(
        "pattern", sum_counts([synthetic, real, {"unscored": 40}]), homes=3, errors=0, records=50
    )
    alone = stage_metrics("pattern", sum_counts([synthetic]), homes=1, errors=0, records=10)
    assert (mixed.precision, mixed.recall) == (alone.precision, alone.recall) == (0.8, 0.8)
    only_real = stage_metrics("pattern", {"unscored": 40}, homes=1, errors=0, records=40)
    assert (only_real.precision, only_real.recall, only_real.f1) == (None, None, None)
