"""gnn_synergy trainer beyond the shared contract (`test_trainer_contract.py`): node features on both
ends, its config and refusal of corrupt weights, that another seed gives other weights, the stage's scores,
the baseline heuristic recomputed from the export, and the best-F1 threshold on the stage's scale."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import torch

from homesim.retraining.models.base import CONFIG_FILE
from homesim.retraining.models.gnn_synergy import (
    STAGE_THRESHOLD,
    WEIGHTS_FILE,
    GraphSageSynergyModel,
    to_stage_scale,
)
from homesim.schema.records import SynergyRecord
from homesim.scores import best_f1_threshold
from homesim.simulation.model_provider import NoModels
from homesim.simulation.synergy_detection import synergy_stage
from trainer_cases import OneModel, TrainerCase


def test_examples_carry_both_ends_node_features(gnn_case: TrainerCase) -> None:
    examples = gnn_case.examples
    assert examples.get_column("label").any() and not examples.get_column("label").all()
    # Both ends carry node features, the way the stage hands them to the model.
    assert examples.get_column("trigger_domain").null_count() == 0
    assert examples.get_column("action_domain").null_count() == 0


def test_model_threshold_and_an_empty_frame(gnn_case: TrainerCase) -> None:
    model = gnn_case.model
    assert isinstance(model, GraphSageSynergyModel) and 0 <= model.threshold <= 1
    assert model.predict(gnn_case.held.head(0)).shape == (0,)


def test_the_artifact_config_and_corrupt_weights(gnn_case: TrainerCase, tmp_path: Path) -> None:
    gnn_case.trainer.save(gnn_case.model, tmp_path)
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert config["model_type"] == "gnn_synergy" and config["encoding"]["kinds"]
    (tmp_path / WEIGHTS_FILE).write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="cannot load gnn_synergy"):
        gnn_case.trainer.load(tmp_path, "v8")


def test_another_seed_gives_other_weights(gnn_case: TrainerCase) -> None:
    other = gnn_case.trainer.fit(gnn_case.train, seed=4)
    assert isinstance(gnn_case.model, GraphSageSynergyModel) and isinstance(other, GraphSageSynergyModel)
    first = gnn_case.model.net.state_dict()
    assert not all(torch.equal(first[k], other.net.state_dict()[k]) for k in first)


def test_the_stage_scores_with_the_model(gnn_case: TrainerCase) -> None:
    view = gnn_case.views[-1]
    records = synergy_stage(view, OneModel("gnn_synergy", gnn_case.model), 2)
    baseline = synergy_stage(view, NoModels(), 2)
    assert len(records) == len(baseline) > 0
    assert all(isinstance(r, SynergyRecord) for r in records)
    scores = [r.outputs.score for r in records]
    assert scores != [r.outputs.score for r in baseline]
    assert all(0 <= s <= 1 for s in scores)


def test_baseline_recomputes_the_stage_heuristic(gnn_case: TrainerCase) -> None:
    predictions = gnn_case.trainer.predict_examples(None, gnn_case.examples)
    view = gnn_case.views[0]
    stage = {
        (r.inputs.trigger.entity_id, r.inputs.action.entity_id): r.outputs.score
        for r in synergy_stage(view, NoModels(), 1)
    }
    mine = predictions.filter(pl.col("home_key") == view.key)
    for trigger, action, score in mine.select("trigger_entity", "action_entity", "score").iter_rows():
        assert score == pytest.approx(stage[(trigger, action)])


def test_scores_of_single_class_predictions(gnn_case: TrainerCase) -> None:
    """The graph model scores a home's edges together: subsets of one home's predictions score too."""
    predictions = gnn_case.trainer.predict_examples(gnn_case.model, gnn_case.held)
    for subset in (predictions.filter(pl.col("label")), predictions.filter(~pl.col("label"))):
        metrics = gnn_case.trainer.score(subset)
        assert {"pr_auc", "f1", "precision", "recall", "precision_at_k"} <= set(metrics)
        assert all(np.isfinite(v) for v in metrics.values())
    assert gnn_case.trainer.score(predictions.filter(~pl.col("label")))["pr_auc"] == 0.0


def test_best_f1_threshold_lands_on_the_stage_threshold() -> None:
    labels = np.array([True, False, True, False])
    proba = np.array([0.9, 0.1, 0.8, 0.2])
    threshold = best_f1_threshold(labels, proba)
    assert threshold == pytest.approx(0.5)  # midway between 0.8 (last positive) and 0.2
    assert best_f1_threshold(np.zeros(4, dtype=bool), proba) == 0.5
    mapped = to_stage_scale(np.array([0.0, 0.2, 0.9, 0.95, 1.0]), 0.9, STAGE_THRESHOLD)
    np.testing.assert_allclose(mapped, [0.0, 0.2 * STAGE_THRESHOLD / 0.9, STAGE_THRESHOLD, 0.75, 1.0])
    assert np.all(np.diff(mapped) > 0)
