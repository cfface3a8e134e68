"""PatternQualityTrainer: fit/predict contract, skops round trip, determinism, use by the stage, baseline,
degenerate scoring, and that labels matter (real beat shuffled on a held-out home)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.ground_truth.truth import write_ground_truth
from homesim.retraining.models import get_trainer
from homesim.retraining.models.pattern_detection import (
    STAGE_THRESHOLD,
    PatternQualityModel,
    PatternQualityTrainer,
    to_stage_scale,
)
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import Model, ModelType, NoModels
from homesim.simulation.pattern_detection import FEATURES, PatternDetector, mine_candidates
from homesim.training_data.exporters import Exporter, MemorySource
from homesim.training_data.loading import TrainingData, load_training_data
from homesim.workspace import Workspace

#: Small and quick: the tests check the contract, not the accuracy (see the report for that).
TRAINER = PatternQualityTrainer(max_iter=40, learning_rate=0.15)


class OneModel:
    def __init__(self, model: Model) -> None:
        self.model = model

    def get(self, model_type: ModelType) -> Model | None:
        return self.model if model_type == "pattern_detection" else None


@pytest.fixture(scope="module")
def views() -> list[HomeView]:
    config = GenerationConfig(homes=4, days=10, seed=31)
    return [HomeView.from_generated(generate_home(config, i)) for i in range(config.homes)]


@pytest.fixture(scope="module")
def data(views: list[HomeView], tmp_path_factory: pytest.TempPathFactory) -> TrainingData:
    """The cycle-1 export of the baseline stage over the homes."""
    workspace = Workspace(tmp_path_factory.mktemp("ws"))
    records = [r for view in views for r in PatternDetector().detect(view, NoModels(), 1)]
    for view in views:
        write_ground_truth(view.truth, workspace.home_dir(view.truth.home_key))
    Exporter(workspace, MemorySource(records)).export("pattern_detection", 1, formats=("parquet",))
    return load_training_data("pattern_detection", workspace, 1)


@pytest.fixture(scope="module")
def examples(data: TrainingData) -> pl.DataFrame:
    return TRAINER.examples(data)


@pytest.fixture(scope="module")
def model(examples: pl.DataFrame) -> Model:
    return TRAINER.fit(examples, seed=0)


def test_registered_and_fits_a_probability_per_candidate(examples: pl.DataFrame, model: Model) -> None:
    assert isinstance(get_trainer("pattern_detection"), PatternQualityTrainer)
    assert examples.get_column("label").sum() > 20 and examples.get_column("home_key").n_unique() == 4
    scores = model.predict(examples.select(FEATURES))
    assert scores.shape == (examples.height,) and scores.dtype == np.float64
    assert np.all((scores >= 0) & (scores <= 1)) and scores.std() > 0
    assert isinstance(model, PatternQualityModel) and 0 < model.threshold < 1
    assert "max_iter" in TRAINER.params()


def test_stage_scale_puts_the_model_threshold_on_the_stage_threshold() -> None:
    proba = np.array([0.0, 0.2, 0.3, 0.5, 1.0])
    scaled = to_stage_scale(proba, 0.3, STAGE_THRESHOLD)
    assert scaled[2] == pytest.approx(STAGE_THRESHOLD) and scaled[0] == 0 and scaled[-1] == 1
    assert np.all(np.diff(scaled) > 0)


def test_save_load_round_trip(examples: pl.DataFrame, model: Model, tmp_path: Path) -> None:
    files = TRAINER.save(model, tmp_path)
    assert {f.name for f in files} == {"model.skops", "config.json"}
    loaded = TRAINER.load(tmp_path, "pd-v3")
    assert loaded.version == "pd-v3"
    features = examples.select(FEATURES)
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))


def test_fit_is_deterministic_for_a_seed(examples: pl.DataFrame, model: Model) -> None:
    again = TRAINER.fit(examples, seed=0)
    features = examples.select(FEATURES)
    np.testing.assert_array_equal(again.predict(features), model.predict(features))


def test_the_stage_runs_the_model_on_its_own_frame(views: list[HomeView], model: Model) -> None:
    model.version = "pd-v9"
    records = PatternDetector().detect(views[0], OneModel(model), 2)
    expected = model.predict(mine_candidates(views[0]).select(FEATURES))
    assert records and all(r.model_version == "pd-v9" for r in records)
    np.testing.assert_allclose([r.outputs.score for r in records], expected)
    assert [r.outputs.predicted for r in records] == list(expected >= STAGE_THRESHOLD)


def test_baseline_recomputes_the_stage_rule(data: TrainingData, examples: pl.DataFrame) -> None:
    """Cycle-1 records were scored by the baseline: recomputing it from the features gives its scores."""
    predictions = TRAINER.predict_examples(None, examples)
    recorded = data.tables["patterns"]
    assert predictions.columns == ["home_key", "label", "score", "predicted"]
    np.testing.assert_allclose(predictions.get_column("score"), recorded.get_column("score"))
    assert predictions.get_column("predicted").equals(recorded.get_column("predicted"))
    metrics = TRAINER.score(predictions)
    assert set(metrics) == {"precision", "recall", "f1", "pr_auc"} and 0 < metrics["f1"] < 1


def test_score_is_finite_on_a_single_class(examples: pl.DataFrame, model: Model) -> None:
    for label in (True, False):
        subset = examples.filter(pl.col("label") == label)
        for m in (None, model):
            metrics = TRAINER.score(TRAINER.predict_examples(m, subset))
            assert all(np.isfinite(v) for v in metrics.values())
            assert TRAINER.primary_metric in metrics
    empty = TRAINER.score(TRAINER.predict_examples(model, examples.head(0)))
    assert empty == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "pr_auc": 0.0}


def test_real_labels_beat_shuffled_labels_on_a_held_out_home(examples: pl.DataFrame) -> None:
    held = pl.col("home_key") == examples.get_column("home_key").unique().sort()[0]
    train, test = examples.filter(~held), examples.filter(held)
    shuffled = train.with_columns(pl.col("label").shuffle(seed=5))
    real = TRAINER.score(TRAINER.predict_examples(TRAINER.fit(train, seed=0), test))
    noise = TRAINER.score(TRAINER.predict_examples(TRAINER.fit(shuffled, seed=0), test))
    assert real["pr_auc"] > noise["pr_auc"] + 0.2
    assert real["f1"] > noise["f1"]


def test_fit_refuses_a_single_class(examples: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="needs real and false candidates"):
        TRAINER.fit(examples.filter(~pl.col("label")), seed=0)
