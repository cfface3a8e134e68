"""RetrainingManager: triggers, sufficiency → train → evaluate → deploy/reject, and the run history.

A fake trainer (`FakeTrainer` from the evaluator tests) stands in for pattern_detection and a fake loader
for the exports, so every run takes milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from homesim.cli import app
from homesim.cli import retrain as retrain_cli
from homesim.generation.config import ConfigError, GenerationConfig
from homesim.generation.home import generate_home
from homesim.retraining import models, registry
from homesim.retraining.models.base import Trainer
from homesim.retraining.registry import ModelRegistry
from homesim.retraining.retraining_manager import (
    RetrainingConfig,
    RetrainingHistory,
    RetrainingManager,
)
from homesim.schema.records import AnyRecord
from homesim.simulation.cycle import DEFAULT_STAGES
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import ModelType, NoModels
from homesim.splits import is_validation_home
from homesim.training_data.exporters import Exporter, MemorySource
from homesim.training_data.lineage_tracker import LineageTracker
from homesim.training_data.loading import TrainingData
from homesim.workspace import Workspace
from test_model_evaluator import FakeTrainer, make_examples

MT: ModelType = "pattern_detection"


class FakeExports:
    """Per-cycle pattern tables; the aggregated export is their concatenation."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cycles: dict[int, pl.DataFrame] = {}

    def add(self, cycle: int, frame: pl.DataFrame) -> None:
        self.cycles[cycle] = frame.with_columns(pl.lit(cycle).alias("cycle"))
        folder = self.root / "training_data" / f"cycle_{cycle}" / MT
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "metadata.json").write_text("{}")

    def __call__(self, model_type: ModelType, workspace: Workspace, cycle: int | None) -> TrainingData:
        if not self.cycles:
            raise FileNotFoundError("no export yet")
        frame = pl.concat(list(self.cycles.values())) if cycle is None else self.cycles[cycle]
        directory = self.root / "training_data" / ("aggregated" if cycle is None else f"cycle_{cycle}") / MT
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "patterns.parquet").touch()
        return TrainingData(
            model_type, directory, {"lineage": {"record_ids_sha256": "abc"}}, {"patterns": frame}
        )


@pytest.fixture
def trainer(monkeypatch: pytest.MonkeyPatch) -> dict[str, Trainer]:
    """The trainer `get_trainer` hands out (replace `["trainer"]` to change it between runs)."""
    box: dict[str, Trainer] = {"trainer": FakeTrainer()}

    def get_trainer(model_type: ModelType) -> Trainer:
        assert model_type == MT
        return box["trainer"]

    monkeypatch.setattr(models, "get_trainer", get_trainer)
    monkeypatch.setattr(registry, "get_trainer", get_trainer)
    return box


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path / "ws")


def manager(workspace: Workspace, exports: FakeExports, **config: object) -> RetrainingManager:
    return RetrainingManager(
        workspace,
        # 40 % held out: 20 homes give ≥ 6 held-out homes, enough for the gate to reach significance.
        RetrainingConfig.model_validate(
            {"models": [MT], "resamples": 100, "validation_share": 0.4, **config}
        ),
        loader=exports,
    )


def test_insufficient_data_is_skipped_with_the_reason_in_history(
    trainer: dict[str, Trainer], workspace: Workspace
) -> None:
    exports = FakeExports(workspace.root)
    exports.add(1, make_examples(homes=2, per_home=100, seed=1))
    with manager(workspace, exports) as m:
        run = m.run(MT)
        assert run.trigger == "new_data" and run.decision == "skipped"
        assert run.reason.startswith("insufficient data: ") and "2 distinct homes < 4 required" in run.reason
        assert run.sufficiency is not None and not run.sufficiency.ok
        assert m.registry.versions(MT) == []
    with RetrainingHistory(workspace) as history:
        (stored,) = history.runs(MT)
    assert stored.run_id == run.run_id and stored.decision == "skipped" and stored.reason == run.reason
    assert stored.sufficiency == run.sufficiency


def test_first_training_deploys_then_nothing_is_due(
    trainer: dict[str, Trainer], workspace: Workspace
) -> None:
    exports = FakeExports(workspace.root)
    exports.add(1, make_examples(homes=20, per_home=40, seed=1))
    with manager(workspace, exports) as m:
        run = m.run(MT, loop_run_id="run-x", cycle=1)
        assert (run.trigger, run.decision, run.candidate, run.champion) == (
            "new_data",
            "deployed",
            "v1",
            "v1",
        )
        assert run.previous_champion is None
        assert run.metrics["candidate"]["accuracy"] > run.metrics["baseline"]["accuracy"]
        assert run.data["train_homes"] + run.data["validation_homes"] == 20
        evaluation = run.evaluation
        assert evaluation is not None
        # Training saw training homes only; the evaluation saw held-out homes only.
        held = evaluation.validation_homes
        assert held and all(is_validation_home(h, 0.4) for h in held)
        champion = m.registry.alias(MT, "champion")
        assert champion is not None and champion.version == "v1" and champion.training_cycles == [1]
        assert champion.metrics["accuracy"] == run.metrics["candidate"]["accuracy"]
        assert (workspace.root / str(run.evaluation_report)).is_file()
        again = m.run(MT)
        assert (again.trigger, again.decision, again.champion) == ("none", "skipped", "v1")
        assert again.reason.startswith("not due: only 0 new records since cycle 1")
    with LineageTracker(workspace.lineage_db) as lineage:
        assert lineage.validation_homes(MT, "v1") == evaluation.validation_homes
    with RetrainingHistory(workspace) as history:
        runs = history.runs()
    assert [(r.decision, r.loop_run_id, r.cycle) for r in runs] == [
        ("deployed", "run-x", 1),
        ("skipped", None, None),
    ]
    assert runs[0].metrics == run.metrics


def test_shuffled_label_candidate_is_rejected_and_the_champion_kept(
    trainer: dict[str, Trainer], workspace: Workspace
) -> None:
    exports = FakeExports(workspace.root)
    exports.add(1, make_examples(homes=20, per_home=40, seed=1))
    with manager(workspace, exports) as m:
        assert m.run(MT).decision == "deployed"
        trainer["trainer"] = FakeTrainer(shuffle=True)
        run = m.run(MT, force=True)
        assert (run.trigger, run.decision, run.candidate, run.champion) == ("manual", "rejected", "v2", "v1")
        assert "did not improve on the reference" in run.reason
        assert m.registry.get(MT, "v2").status == "rejected"
        assert [e.action for e in m.registry.events(MT)] == ["deploy", "reject"]


def test_degradation_trigger_fires_on_the_newest_cycle(
    trainer: dict[str, Trainer], workspace: Workspace
) -> None:
    exports = FakeExports(workspace.root)
    exports.add(1, make_examples(homes=20, per_home=40, seed=1))
    with manager(workspace, exports, new_data_threshold=10**6) as m:
        assert m.run(MT, force=True).decision == "deployed"
        exports.add(2, make_examples(homes=10, per_home=40, seed=2, cycle=2))  # same behaviour: holds
        assert m.degradation(MT) is None
        assert m.due(MT).trigger == "none"
        drifted = make_examples(homes=10, per_home=40, seed=3, cycle=3, flip=0.0)
        exports.add(3, drifted.with_columns((pl.col("x") > 0.85).alias("label")))  # the world changed
        why = m.degradation(MT)
        assert why is not None and "below its validation score" in why and "cycle 3" in why
        run = m.run(MT)
        assert run.trigger == "degradation" and run.decision in ("deployed", "rejected")
        assert run.candidate == "v2"


def test_config_file_triggers_and_errors(tmp_path: Path) -> None:
    yaml_file = tmp_path / "retrain.yaml"
    yaml_file.write_text(
        "force: [pattern_detection]\nnew_data_threshold: 5\ngate:\n  min_improvement: 0.01\n"
        "sufficiency:\n  soft_prompt:\n    min_records: 10\n"
    )
    config = RetrainingConfig.from_file(yaml_file, {"seed": 3})
    assert config.force == ("pattern_detection",) and config.seed == 3
    assert config.gate_for("gnn_synergy").min_improvement == 0.01
    assert config.requirements_for("soft_prompt").min_records == 10
    assert config.requirements_for("gnn_synergy").min_records == 300
    toml_file = tmp_path / "retrain.toml"
    toml_file.write_text('models = ["gnn_synergy"]\n[gates.gnn_synergy]\nrequire_significant = false\n')
    assert not RetrainingConfig.from_file(toml_file).gate_for("gnn_synergy").require_significant
    bad = tmp_path / "bad.yaml"
    bad.write_text("new_data_threshold: -1\nbogus: 1\n")
    with pytest.raises(ConfigError) as info:
        RetrainingConfig.from_file(bad)
    assert any(p.startswith("new_data_threshold") for p in info.value.problems)
    assert any(p.startswith("bogus") for p in info.value.problems)
    json_file = tmp_path / "retrain.json"
    json_file.write_text("{}")
    with pytest.raises(ConfigError, match=r"expected a \.yaml"):
        RetrainingConfig.from_file(json_file)
    with pytest.raises(ConfigError, match="No such file"):
        RetrainingConfig.from_file(tmp_path / "missing.toml")


def test_the_make_run_config_loads_and_trainer_overrides_are_checked(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    config = RetrainingConfig.from_file(root / "configs" / "make_run.yaml", {"seed": 42})
    assert config.validation_share == 0.35 and config.trainers == {"soft_prompt": {"epochs": 3}}
    bad = tmp_path / "bad.yaml"
    bad.write_text("trainers:\n  device_intelligence:\n    max_iterations: 5\n")
    with pytest.raises(ConfigError, match="max_iterations"):
        RetrainingConfig.from_file(bad)


def test_config_force_is_a_trigger(trainer: dict[str, Trainer], workspace: Workspace) -> None:
    exports = FakeExports(workspace.root)
    exports.add(1, make_examples(homes=20, per_home=40, seed=1))
    with manager(workspace, exports, force=[MT], new_data_threshold=10**6) as m:
        assert m.due(MT).trigger == "config"
        assert m.due(MT, force=True).trigger == "manual"


def test_cli_retrain_names_untrained_types_and_lists_history(
    trainer: dict[str, Trainer], workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retrain_cli, "console", Console(width=250))
    exports = FakeExports(workspace.root)
    exports.add(1, make_examples(homes=2, per_home=10, seed=1))
    with manager(workspace, exports) as m:
        m.run(MT)
    runner = CliRunner()
    bad = runner.invoke(app, ["retrain", "yaml_generation", "--workspace", str(workspace.root)])
    assert bad.exit_code == 2 and "not a trained model type" in bad.output and "LLM" in bad.output
    listed = runner.invoke(
        app, ["retrain", "--history", "--workspace", str(workspace.root)], terminal_width=200
    )
    assert listed.exit_code == 0, listed.output
    assert "skipped" in listed.output and MT in listed.output
    missing = runner.invoke(app, ["retrain", MT, "--force", "--workspace", str(workspace.root)])
    assert missing.exit_code == 1  # no export in this workspace: skipped with the reason
    with RetrainingHistory(workspace) as history:
        assert history.runs()[-1].reason.startswith("no training data")
    with ModelRegistry(workspace) as reg:
        assert reg.versions(MT) == []


def test_a_type_whose_trainer_cannot_load_is_skipped(
    monkeypatch: pytest.MonkeyPatch, workspace: Workspace
) -> None:
    def missing(model_type: ModelType) -> Trainer:
        raise ModuleNotFoundError("No module named 'homesim.retraining.models.device_intelligence'")

    monkeypatch.setattr(models, "get_trainer", missing)
    with manager(workspace, FakeExports(workspace.root)) as m:
        run = m.run(MT)
    assert (run.decision, run.trigger, run.primary_metric) == ("skipped", "none", None)
    assert run.reason.startswith("no trainer: No module named")


def test_retrain_force_refuses_an_export_that_fails_its_sha256(
    trainer: dict[str, Trainer], workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (issue 18): the aggregated patterns.parquet with its label column inverted (sha256 no
    longer the one in metadata.json) was trained on and deployed by `retrain pattern_detection --force`."""
    monkeypatch.setattr(retrain_cli, "console", Console(width=400))
    view = HomeView.from_generated(generate_home(GenerationConfig(homes=1, days=7, seed=3), 0))
    records: list[AnyRecord] = []
    for name, stage in DEFAULT_STAGES:
        view.upstream[name] = list(stage(view, NoModels(), 0))
        records.extend(view.upstream[name])
    exporter = Exporter(workspace, MemorySource(records), truths={view.key: view.truth}.get)
    exporter.export_cycle(0)
    exporter.export_aggregated()
    path = workspace.export_dir(MT, None) / "patterns.parquet"
    pl.read_parquet(path).with_columns(~pl.col("label")).write_parquet(path)
    result = CliRunner().invoke(app, ["retrain", MT, "--force", "--workspace", str(workspace.root)])
    assert result.exit_code == 1, result.output
    assert (
        "refusing to train on unusable training data" in result.output and "patterns.parquet" in result.output
    )
    with RetrainingHistory(workspace) as history:
        (run,) = history.runs(MT)
    assert run.decision == "skipped" and str(path) in run.reason and "sha256 differs" in run.reason
    with ModelRegistry(workspace) as reg:
        assert reg.versions(MT) == [] and reg.alias(MT, "champion") is None
