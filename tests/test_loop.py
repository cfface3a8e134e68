"""The full loop: two tiny cycles end to end (real generation, simulation, collection and export; a fake
pattern_detection trainer), the run file's shape, resuming, rollback used by the next cycle, and the CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from homesim.cli import app
from homesim.cli import run as run_cli
from homesim.datasets.executors import Executor, make_executor
from homesim.retraining import loop as loop_module
from homesim.retraining import models, registry
from homesim.retraining.data_sufficiency import Requirements
from homesim.retraining.deployment import deploy, rollback
from homesim.retraining.loop import LoopConfig, RetrainingLoop, learning_curves
from homesim.retraining.models.base import ProgressFn, Trainer
from homesim.retraining.registry import ModelRegistry
from homesim.retraining.retraining_manager import RetrainingConfig, RetrainingHistory
from homesim.simulation.cycle import find_dataset
from homesim.simulation.model_provider import Model, ModelType
from homesim.simulation.pattern_detection import pattern_stage
from homesim.splits import is_validation_home
from homesim.workspace import Workspace
from test_model_evaluator import FakeTrainer, ThresholdModel

MT: ModelType = "pattern_detection"
#: The run's seed (any seed's 3 homes per cycle split 2 held out / 1 training at share 0.5: `homesim.splits`).
SEED = 1
RETRAINING = {
    "models": [MT],
    "seed": SEED,  # `homesim run --seed SEED` trains with the run's seed
    "resamples": 50,
    "validation_share": 0.5,
    "new_data_threshold": 1,
    "sufficiency": {MT: {"min_records": 10, "min_homes": 2, "min_per_class": 1}},
    # 1–3 held-out homes cannot reach significance (the gate would refuse every candidate as underpowered,
    # and the summary says so); these tests are about the loop's plumbing, so the gate asks only for an
    # improvement.
    "gate": {"require_significant": False},
}
MODEL_KEYS = {
    "decision",
    "reason",
    "candidate",
    "champion",
    "primary_metric",
    "candidate_value",
    "champion_value",
    "baseline_value",
    "ci_low",
    "ci_high",
    "ci_homes",
    "mde",
    "train_s",
    "eval_s",
}


def config(cycles: int) -> LoopConfig:
    return LoopConfig(
        cycles=cycles,
        homes=3,
        days=7,
        seed=SEED,
        workers=1,
        executor="inline",
        models=(MT,),
        exports=(),
        retraining=RetrainingConfig.model_validate(RETRAINING),
    )


class FitRecordingTrainer(FakeTrainer):
    """FakeTrainer that remembers the homes of every example it was fitted on."""

    fitted: ClassVar[set[str]] = set()

    def fit(self, examples: pl.DataFrame, seed: int, progress: ProgressFn | None = None) -> Model:
        FitRecordingTrainer.fitted.update(examples.get_column("home_key").to_list())
        return super().fit(examples, seed, progress)


@pytest.fixture(scope="module")
def fake_trainer() -> Iterator[None]:
    trainer = FitRecordingTrainer(column="confidence")

    def get_trainer(model_type: ModelType) -> Trainer:
        assert model_type == MT
        return trainer

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(models, "get_trainer", get_trainer)
        mp.setattr(registry, "get_trainer", get_trainer)
        yield


@pytest.fixture(scope="module")
def ran(
    fake_trainer: None, tmp_path_factory: pytest.TempPathFactory
) -> tuple[RetrainingLoop, dict[str, Any], list[Executor]]:
    """The two-cycle loop, its run file and every executor it made."""
    made: list[Executor] = []

    def counting(spec: str, workers: int) -> Executor:
        made.append(make_executor(spec, workers))
        return made[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop_module, "make_executor", counting)
        workspace = Workspace(tmp_path_factory.mktemp("loop"))
        loop = RetrainingLoop(workspace, config(2), stages=[("pattern", pattern_stage)])
        return loop, loop.run(), made


@pytest.fixture(scope="module")
def looped(ran: tuple[RetrainingLoop, dict[str, Any], list[Executor]]) -> tuple[Workspace, dict[str, Any]]:
    loop, run, _ = ran
    return Workspace(loop.workspace.root), run


def test_one_executor_serves_every_cycle_and_the_summary_is_the_gates_predictions(
    ran: tuple[RetrainingLoop, dict[str, Any], list[Executor]],
) -> None:
    """Generation and simulation of both cycles share one executor; the final comparison scores homes
    the last cycle's gate already predicted with the same versions, so recomputing it predicts nothing."""
    loop, run, made = ran
    assert len(made) == 1
    predicted = loop.memo.predicted_homes
    assert predicted > 0
    assert loop.summary(run) == run["summary"]
    assert loop.memo.predicted_homes == predicted


def test_two_cycles_write_the_run_file(looped: tuple[Workspace, dict[str, Any]]) -> None:
    workspace, run = looped
    path, latest = workspace.run_file(config(2).run_id), workspace.latest_run_file
    assert json.loads(path.read_text()) == json.loads(latest.read_text()) == run
    assert run["config"] == {"cycles": 2, "homes": 3, "days": 7, "seed": SEED}
    assert [c["cycle"] for c in run["cycles"]] == [1, 2]
    first, second = run["cycles"]
    assert first["dataset_id"] != second["dataset_id"] and first["seed"] != second["seed"]  # fresh homes
    for entry in run["cycles"]:
        assert entry["homes"] == 3 and entry["records"] > 0 and entry["wall_s"] > 0
        assert set(entry["phases_s"]) == {"generate", "simulate", "export", "retrain"}
        assert sum(entry["phases_s"].values()) <= entry["wall_s"] + 0.05  # each rounded to 0.01 s
        assert set(entry["stage_metrics"]["pattern"]) == {"precision", "recall", "f1", "model_version"}
        m = entry["models"][MT]
        assert set(m) >= MODEL_KEYS and m["primary_metric"] == "accuracy"
        assert m["ci_homes"] >= 1  # every CI carries its n
        assert m["decision"] in ("deployed", "rejected", "skipped")
    assert first["stage_metrics"]["pattern"]["model_version"] == "baseline"
    m1 = first["models"][MT]
    assert m1["decision"] == "deployed" and m1["candidate"] == m1["champion"] == "v1"
    assert m1["champion_value"] is None and m1["candidate_value"] > m1["baseline_value"]
    # The second cycle's pattern stage ran with the champion the first cycle deployed.
    assert second["stage_metrics"]["pattern"]["model_version"] == "v1"
    assert second["models"][MT]["trigger"] == "new_data"
    assert learning_curves(run)[MT][0] == {
        "cycle": 1,
        "champion": "v1",
        "value": m1["candidate_value"],
        "baseline": m1["baseline_value"],
        "decision": "deployed",
    }
    summary = run["summary"][MT]
    assert summary["first"] == "v1" and set(summary["values"]) >= {"baseline", "first", "champion"}
    versus = summary["champion_vs_baseline"]
    assert versus["homes"] == summary["validation_homes"] and versus["min_p"] == 2.0 ** -versus["homes"]
    assert versus["can_be_significant"] is (versus["homes"] >= 6)
    with RetrainingHistory(workspace) as history:
        assert [(r.cycle, r.loop_run_id) for r in history.runs(MT)] == [
            (1, run["run_id"]),
            (2, run["run_id"]),
        ]


def test_every_cycle_holds_out_its_share_and_no_trained_home_is_ever_held_out(
    looped: tuple[Workspace, dict[str, Any]],
) -> None:
    workspace, run = looped
    held: set[str] = set()
    for entry in run["cycles"]:
        keys = find_dataset(workspace, entry["dataset_id"]).home_keys
        cycle_held = {k for k in keys if is_validation_home(k, 0.5)}
        assert len(cycle_held) == 2  # homes 0 and 2 of each cycle's 3, whatever the seed
        held |= cycle_held
    trained = FitRecordingTrainer.fitted
    assert trained and not trained & held
    assert run["summary"][MT]["validation_homes"] == len(held)


def test_rerun_skips_finished_cycles_and_rollback_is_used_by_the_next_cycle(
    looped: tuple[Workspace, dict[str, Any]],
) -> None:
    workspace, run = looped
    stages = [("pattern", pattern_stage)]
    again = RetrainingLoop(workspace, config(2), stages=stages).run()
    assert again["cycles"] == run["cycles"]  # nothing re-ran: same wall times, same decisions
    trainer = FakeTrainer(column="confidence")
    with ModelRegistry(workspace) as reg:
        before = reg.alias(MT, "champion")
        assert before is not None
        extra = reg.register(
            MT, trainer, ThresholdModel(0.99), params={}, metrics={}, training_cycles=[2], lineage_ids=[]
        )
        deploy(reg, MT, extra.version, "test: deploy a bad model")
        rollback(reg, MT, "test: the bad model misbehaved")
        restored = reg.alias(MT, "champion")
    assert restored is not None and restored.version == before.version
    extended = RetrainingLoop(workspace, config(3), stages=stages).run()
    assert extended["cycles"][:2] == run["cycles"]
    assert extended["cycles"][2]["stage_metrics"]["pattern"]["model_version"] == before.version


def test_cli_run_resumes_and_prints_the_tables(
    looped: tuple[Workspace, dict[str, Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workspace, _ = looped
    monkeypatch.setattr(run_cli, "console", Console(width=250))
    config_file = tmp_path / "retrain.json"
    config_file.write_text("{}")
    bad = CliRunner().invoke(app, ["run", "--config", str(config_file), "--workspace", str(workspace.root)])
    assert bad.exit_code == 2 and "expected a .yaml" in bad.output
    config_file = tmp_path / "retrain.yaml"
    config_file.write_text(json.dumps(RETRAINING))
    args = [
        "run",
        "--cycles",
        "2",
        "--homes",
        "3",
        "--days",
        "7",
        "--seed",
        str(SEED),
        "--config",
        str(config_file),
    ]
    result = CliRunner().invoke(app, [*args, "--executor", "inline", "--workspace", str(workspace.root)])
    assert result.exit_code == 0, result.output
    assert "learning curves" in result.output and "final: all held-out homes" in result.output
    # A comparison that cannot reach significance says so, and only such a one (how many held-out homes
    # the resumed run's summary holds depends on the split, so the printed run file decides).
    printed = json.loads(workspace.run_file(config(2).run_id).read_text())
    underpowered = [
        c
        for s in printed["summary"].values()
        for key in ("champion_vs_baseline", "champion_vs_first")
        if (c := s.get(key)) is not None and c.get("can_be_significant") is False
    ]
    assert ("UNDERPOWERED: smallest p" in result.output) is bool(underpowered)
    assert config(2).run_id in result.output


def test_requirements_of_the_loop_config_are_typed() -> None:
    assert config(1).retraining.requirements_for(MT) == Requirements(
        min_records=10, min_homes=2, min_per_class=1
    )
    assert config(1).run_id == config(5).run_id != LoopConfig(seed=SEED + 1).run_id
    assert config(1).cycle_seed(1) != config(1).cycle_seed(2)
