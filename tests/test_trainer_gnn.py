"""gnn_synergy trainer: fit/predict, save/load without pickle, determinism, the model inside the synergy
stage, metrics on single-class subsets, and that real labels beat shuffled ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.ground_truth.truth import write_ground_truth
from homesim.retraining.models import get_trainer
from homesim.retraining.models.gnn_synergy import (
    CONFIG_FILE,
    STAGE_THRESHOLD,
    WEIGHTS_FILE,
    GraphSageSynergyModel,
    GraphSageTrainer,
    best_f1_threshold,
    to_stage_scale,
)
from homesim.schema.records import AnyRecord, SynergyRecord
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import Model, ModelType, NoModels
from homesim.simulation.synergy_detection import synergy_stage
from homesim.training_data.exporters import Exporter, MemorySource
from homesim.training_data.loading import load_training_data
from homesim.workspace import Workspace

#: Small and quick: the tests check behaviour, not final quality.
TRAINER = GraphSageTrainer(hidden=16, max_epochs=40, eval_every=10)


@pytest.fixture(scope="module")
def views() -> list[HomeView]:
    config = GenerationConfig(homes=4, days=10, seed=5)
    return [HomeView.from_generated(generate_home(config, i)) for i in range(config.homes)]


@pytest.fixture(scope="module")
def examples(views: list[HomeView], tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """Cycle 1 of four homes, simulated by the synergy stage and exported like `homesim export` does."""
    workspace = Workspace(tmp_path_factory.mktemp("ws"))
    records: list[AnyRecord] = []
    for view in views:
        write_ground_truth(view.truth, workspace.home_dir(view.key))
        records.extend(synergy_stage(view, NoModels(), 1))
    Exporter(workspace, MemorySource(records)).export_cycle(1, ["gnn_synergy"])
    return TRAINER.examples(load_training_data("gnn_synergy", workspace, cycle=1))


@pytest.fixture(scope="module")
def homes(examples: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(training homes' examples, one held-out home's examples)."""
    keys = sorted(examples.get_column("home_key").unique())
    return (
        examples.filter(pl.col("home_key") != keys[-1]),
        examples.filter(pl.col("home_key") == keys[-1]),
    )


@pytest.fixture(scope="module")
def model(homes: tuple[pl.DataFrame, pl.DataFrame]) -> Model:
    return TRAINER.fit(homes[0], seed=3)


def test_registered_trainer_and_examples(examples: pl.DataFrame) -> None:
    assert isinstance(get_trainer("gnn_synergy"), GraphSageTrainer)
    assert examples.get_column("home_key").n_unique() == 4
    assert examples.get_column("label").any() and not examples.get_column("label").all()
    # Both ends carry node features, the way the stage hands them to the model.
    assert examples.get_column("trigger_domain").null_count() == 0
    assert examples.get_column("action_domain").null_count() == 0


def test_fit_predicts_probabilities_per_candidate(
    model: Model, homes: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    held = homes[1]
    scores = model.predict(held.drop("home_key", "cycle", "label"))
    assert scores.shape == (held.height,) and scores.dtype == np.float64
    assert np.all((scores >= 0) & (scores <= 1)) and np.ptp(scores) > 0
    assert isinstance(model, GraphSageSynergyModel) and 0 <= model.threshold <= 1
    assert model.predict(held.head(0)).shape == (0,)


def test_save_load_round_trip_without_pickle(
    model: Model, homes: tuple[pl.DataFrame, pl.DataFrame], tmp_path: Path
) -> None:
    files = TRAINER.save(model, tmp_path)
    assert {p.name for p in files} == {WEIGHTS_FILE, CONFIG_FILE}
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert config["model_type"] == "gnn_synergy" and config["encoding"]["kinds"]
    loaded = TRAINER.load(tmp_path, "v7")
    assert loaded.version == "v7"
    held = homes[1]
    np.testing.assert_array_equal(loaded.predict(held), model.predict(held))
    (tmp_path / WEIGHTS_FILE).write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="cannot load gnn_synergy"):
        TRAINER.load(tmp_path, "v8")


def test_same_seed_same_weights(model: Model, homes: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    again = TRAINER.fit(homes[0], seed=3)
    assert isinstance(model, GraphSageSynergyModel) and isinstance(again, GraphSageSynergyModel)
    first, second = model.net.state_dict(), again.net.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert model.threshold == again.threshold
    other = TRAINER.fit(homes[0], seed=4)
    assert isinstance(other, GraphSageSynergyModel)
    assert not all(torch.equal(first[k], other.net.state_dict()[k]) for k in first)


class OneModel:
    def __init__(self, model: Model) -> None:
        self.model = model

    def get(self, model_type: ModelType) -> Model | None:
        return self.model if model_type == "gnn_synergy" else None


def test_model_runs_inside_the_synergy_stage(model: Model, views: list[HomeView]) -> None:
    model.version = "v3"
    try:
        records = synergy_stage(views[-1], OneModel(model), 2)
    finally:
        model.version = "unregistered"
    baseline = synergy_stage(views[-1], NoModels(), 2)
    assert len(records) == len(baseline) > 0
    assert all(isinstance(r, SynergyRecord) and r.model_version == "v3" for r in records)
    scores = [r.outputs.score for r in records]
    assert scores != [r.outputs.score for r in baseline]
    assert all(0 <= s <= 1 for s in scores)


def test_baseline_recomputes_the_stage_heuristic(examples: pl.DataFrame, views: list[HomeView]) -> None:
    predictions = TRAINER.predict_examples(None, examples)
    key = views[0].key
    stage = {
        (r.inputs.trigger.entity_id, r.inputs.action.entity_id): r.outputs.score
        for r in synergy_stage(views[0], NoModels(), 1)
    }
    mine = predictions.filter(pl.col("home_key") == key)
    for trigger, action, score in mine.select("trigger_entity", "action_entity", "score").iter_rows():
        assert score == pytest.approx(stage[(trigger, action)])


def test_scores_on_single_class_subsets_are_finite(
    model: Model, homes: tuple[pl.DataFrame, pl.DataFrame]
) -> None:
    predictions = TRAINER.predict_examples(model, homes[1])
    for subset in (predictions.filter(pl.col("label")), predictions.filter(~pl.col("label"))):
        metrics = TRAINER.score(subset)
        assert {"pr_auc", "f1", "precision", "recall", "precision_at_k"} <= set(metrics)
        assert all(np.isfinite(v) for v in metrics.values())
    assert TRAINER.score(predictions.filter(~pl.col("label")))["pr_auc"] == 0.0


def test_best_f1_threshold_lands_on_the_stage_threshold() -> None:
    labels = np.array([True, False, True, False])
    proba = np.array([0.9, 0.1, 0.8, 0.2])
    threshold = best_f1_threshold(labels, proba)
    assert threshold == pytest.approx(0.5)  # midway between 0.8 (last positive) and 0.2
    assert best_f1_threshold(np.zeros(4, dtype=bool), proba) == 0.5
    mapped = to_stage_scale(np.array([0.0, 0.2, 0.9, 0.95, 1.0]), 0.9, STAGE_THRESHOLD)
    np.testing.assert_allclose(mapped, [0.0, 0.2 * STAGE_THRESHOLD / 0.9, STAGE_THRESHOLD, 0.75, 1.0])
    assert np.all(np.diff(mapped) > 0)


def test_real_labels_beat_shuffled_labels(model: Model, homes: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    train, held = homes
    shuffled = train.with_columns(
        pl.Series("label", np.random.default_rng(0).permutation(train.get_column("label").to_numpy()))
    )
    worse = TRAINER.fit(shuffled, seed=3)
    real = TRAINER.score(TRAINER.predict_examples(model, held))["pr_auc"]
    fake = TRAINER.score(TRAINER.predict_examples(worse, held))["pr_auc"]
    assert real > fake + 0.1
