"""The read commands' `--json`, `latest` instead of ids, `--version`, `generate --help` defaults, `lineage
query` by cycle, home and stage, and piped `simulate` logging JSON lines — on one tiny workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from homesim import __version__
from homesim.cli import app
from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.workspace import Workspace


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    ws = Workspace(tmp_path_factory.mktemp("read"))
    with DataGenerationManager(ws, "inline", workers=1) as manager:
        manager.generate(GenerationConfig.build({"homes": 1, "days": 2, "seed": 3}))
    return ws


def _invoke(ws: Workspace, *args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--workspace", str(ws.root)])
    assert result.exit_code == 0, result.output
    return result.output


def test_version_and_generate_defaults() -> None:
    assert CliRunner().invoke(app, ["--version"]).output.strip() == f"homesim {__version__}"
    shown = CliRunner().invoke(app, ["generate", "--help"], env={"COLUMNS": "200"}).output
    assert "[default: (10)]" in shown and "[default: (90)]" in shown and "(2025-01-01)" in shown


def test_latest_and_json_on_read_commands(workspace: Workspace) -> None:
    (listed,) = json.loads(_invoke(workspace, "datasets", "list", "--json"))
    assert listed["latest"] and listed["homes"] == 1 and listed["days"] == 2
    home = json.loads(_invoke(workspace, "inspect", "latest", "--json"))
    key = home["home"]["home_key"]
    assert (
        home["events"] == sum(home["events_per_day_by_cause"].values()) * 2 == pytest.approx(home["events"])
    )
    assert json.loads(_invoke(workspace, "inspect", key, "--json"))["home"]["home_key"] == key
    report = json.loads(_invoke(workspace, "ground-truth", "verify", "latest", "--json"))
    assert report["homes"] == 1 and "by_type" in report
    assert json.loads(_invoke(workspace, "models", "list", "--json")) == []
    assert json.loads(_invoke(workspace, "models", "history", "--json")) == []
    assert json.loads(_invoke(workspace, "cache", "stats", "--json"))["homes"] == 1
    assert json.loads(_invoke(workspace, "cache", "verify", "--json")) == {"ok": 1, "broken": {}}


def test_piped_simulate_logs_json_lines_and_lineage_says_where_records_came_from(
    workspace: Workspace,
) -> None:
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--dataset",
            "latest",
            "--cycle",
            "1",
            "--executor",
            "inline",
            "--workspace",
            str(workspace.root),
        ],
    )
    assert result.exit_code == 0, result.output
    logged = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [e["done"] for e in logged if e["event"] == "homes_progress"] == [1]
    ids = _invoke(workspace, "lineage", "query", "--cycle", "1", "--ids").split()
    summary = json.loads(_invoke(workspace, "lineage", "query", "--cycle", "1", "--json"))
    assert summary["records"] == len(ids) == sum(g["records"] for g in summary["by_source"])
    assert {g["cycle"] for g in summary["by_source"]} == {1}
    assert {g["stage"] for g in summary["by_source"]} >= {"pattern", "synergy"}
    table = _invoke(workspace, "lineage", "query", "--cycle", "1")
    assert f"{len(ids):,} accepted records of cycle 1" in table and ids[0] not in table


def test_simulating_a_second_dataset_into_a_cycle_says_so(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    with DataGenerationManager(ws, "inline", workers=1) as manager:
        first = manager.generate(GenerationConfig.build({"homes": 1, "days": 1, "seed": 5})).manifest
        manager.generate(GenerationConfig.build({"homes": 1, "days": 1, "seed": 6}))
    args = ["simulate", "--cycle", "1", "--executor", "inline", "--workspace", str(ws.root)]
    once = CliRunner().invoke(app, [*args, "--dataset", first.dataset_id])
    assert once.exit_code == 0 and "note:" not in once.output
    twice = CliRunner().invoke(app, [*args, "--dataset", "latest"])
    assert twice.exit_code == 0, twice.output
    assert f"note: ad-hoc cycle 1 already holds records of {first.dataset_id}" in twice.output


def test_ha_stats_json(tmp_path: Path) -> None:
    file = tmp_path / "automations.yaml"
    file.write_text(
        "- id: a\n  triggers: [{trigger: state, entity_id: light.x}]\n"
        "  actions: [{action: light.turn_on, target: {entity_id: light.x}}]\n"
    )
    result = CliRunner().invoke(app, ["ha", "stats", str(file), "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert (shown["automations"], shown["refused"], shown["files"]) == (1, 0, 1) and shown["share"]
