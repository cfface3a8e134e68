"""DeviceFaultTrainer: fit/predict contract, skops round trip, determinism, use by the stage, the rules
baseline recomputed from the export, degenerate scoring, that labels matter, and that stacking on the
rules keeps a model trained on few homes close to them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.retraining.models import get_trainer
from homesim.retraining.models.device_intelligence import (
    COLUMNS,
    DeviceFaultModel,
    DeviceFaultTrainer,
    design_matrix,
)
from homesim.retraining.models.sklearn_io import load_estimator
from homesim.simulation.device_health import FEATURES, DeviceHealthAssessor, health_windows, rule_assess
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import HEALTH_KINDS, Model, ModelType, NoModels
from homesim.training_data.exporters import Exporter, MemorySource
from homesim.training_data.loading import TrainingData, load_training_data
from homesim.workspace import Workspace

#: Small and quick: the tests check the contract, not the accuracy (see the report for that).
TRAINER = DeviceFaultTrainer(max_iter=30, learning_rate=0.2, healthy_share=0.2)


class OneModel:
    def __init__(self, model: Model) -> None:
        self.model = model

    def get(self, model_type: ModelType) -> Model | None:
        return self.model if model_type == "device_intelligence" else None


@pytest.fixture(scope="module")
def views() -> list[HomeView]:
    # Many faults, so that a held-out home has some of several kinds.
    config = GenerationConfig(homes=4, days=10, seed=17, fault_rate=0.3)
    return [HomeView.from_generated(generate_home(config, i)) for i in range(config.homes)]


@pytest.fixture(scope="module")
def data(views: list[HomeView], tmp_path_factory: pytest.TempPathFactory) -> TrainingData:
    """The cycle-1 export of the rules baseline over the homes."""
    workspace = Workspace(tmp_path_factory.mktemp("ws"))
    records = [r for view in views for r in DeviceHealthAssessor().assess(view, NoModels(), 1)]
    Exporter(workspace, MemorySource(records)).export("device_intelligence", 1, formats=("csv",))
    return load_training_data("device_intelligence", workspace, 1)


@pytest.fixture(scope="module")
def examples(data: TrainingData) -> pl.DataFrame:
    return TRAINER.examples(data)


@pytest.fixture(scope="module")
def model(examples: pl.DataFrame) -> Model:
    return TRAINER.fit(examples, seed=0)


def test_registered_and_predicts_class_probabilities(examples: pl.DataFrame, model: Model) -> None:
    assert isinstance(get_trainer("device_intelligence"), DeviceFaultTrainer)
    labels = set(examples.get_column("label"))
    assert len(labels) >= 4 and examples.get_column("home_key").n_unique() == 4
    proba = model.predict(examples.select(COLUMNS))
    assert proba.shape == (examples.height, len(HEALTH_KINDS)) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all(proba >= 0)
    absent = [i for i, k in enumerate(HEALTH_KINDS) if k not in labels]
    assert np.all(proba[:, absent] == 0)
    assert isinstance(model, DeviceFaultModel) and model.healthy_scale > 0
    assert "class_weight_power" in TRAINER.params()


def test_save_load_round_trip(examples: pl.DataFrame, model: Model, tmp_path: Path) -> None:
    files = TRAINER.save(model, tmp_path)
    assert {f.name for f in files} == {"model.skops", "config.json"}
    loaded = TRAINER.load(tmp_path, "di-v2")
    assert loaded.version == "di-v2"
    features = examples.select(COLUMNS)
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["columns"] == [*FEATURES, "rule_kind"]
    (tmp_path / "config.json").write_text(json.dumps({**config, "format": 1}))
    with pytest.raises(ValueError, match=r"artifact format 1, expected 2.*retrain"):
        TRAINER.load(tmp_path, "di-v1")


class Payload:
    """A type skops does not trust."""


def test_load_refuses_untrusted_types_and_other_kinds(tmp_path: Path) -> None:
    sio.dump(Payload(), tmp_path / "untrusted.skops")
    with pytest.raises(ValueError, match=r"untrusted types.*Payload"):
        load_estimator(tmp_path / "untrusted.skops", HistGradientBoostingClassifier)
    sio.dump({"not": "an estimator"}, tmp_path / "dict.skops")
    with pytest.raises(ValueError, match="holds a dict, expected HistGradientBoostingClassifier"):
        load_estimator(tmp_path / "dict.skops", HistGradientBoostingClassifier)


def test_fit_is_deterministic_for_a_seed(examples: pl.DataFrame, model: Model) -> None:
    again = TRAINER.fit(examples, seed=0)
    features = examples.select(COLUMNS)
    np.testing.assert_array_equal(again.predict(features), model.predict(features))


def test_the_stage_runs_the_model_on_its_own_frame(views: list[HomeView], model: Model) -> None:
    model.version = "di-v7"
    records = DeviceHealthAssessor().assess(views[0], OneModel(model), 2)
    windows = health_windows(views[0])
    rules, _ = rule_assess(windows)
    expected = model.predict(windows.select(FEATURES).with_columns(pl.Series("rule_kind", rules)))
    assert records and all(r.model_version == "di-v7" for r in records)
    assert [r.outputs.predicted for r in records] == [HEALTH_KINDS[i] for i in expected.argmax(axis=1)]


def test_baseline_recomputes_the_stage_rules(data: TrainingData, examples: pl.DataFrame) -> None:
    """Cycle-1 records were assessed by the rules: recomputing them from the export gives the same kinds."""
    predictions = TRAINER.predict_examples(None, examples)
    assert predictions.columns == ["home_key", "label", "predicted"]
    assert (
        predictions.get_column("predicted").to_list()
        == data.tables["devices"].get_column("predicted").to_list()
        == examples.get_column("rule_kind").to_list()
    )
    metrics = TRAINER.score(predictions)
    assert 0 < metrics["macro_f1"] < 1 and 0 < metrics["detection_recall"] <= 1


def test_score_is_finite_on_a_single_class(examples: pl.DataFrame, model: Model) -> None:
    for subset in (
        examples.filter(pl.col("label") == "healthy"),
        examples.filter(pl.col("label") != "healthy"),
    ):
        for m in (None, model):
            metrics = TRAINER.score(TRAINER.predict_examples(m, subset))
            assert all(np.isfinite(v) for v in metrics.values())
            assert TRAINER.primary_metric in metrics
    empty = TRAINER.score(TRAINER.predict_examples(model, examples.head(0)))
    assert all(v == 0.0 for v in empty.values())


def test_real_labels_beat_shuffled_labels_on_held_out_homes(examples: pl.DataFrame) -> None:
    homes = examples.get_column("home_key").unique().sort()
    held = pl.col("home_key").is_in(homes[:2].to_list())
    train, test = examples.filter(~held), examples.filter(held)
    shuffled = train.with_columns(pl.col("label").shuffle(seed=5))
    real = TRAINER.score(TRAINER.predict_examples(TRAINER.fit(train, seed=0), test))
    noise = TRAINER.score(TRAINER.predict_examples(TRAINER.fit(shuffled, seed=0), test))
    assert real["macro_f1"] > noise["macro_f1"] + 0.1
    assert real["detection_f1"] > noise["detection_f1"]


def test_fit_refuses_a_single_kind(examples: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="at least two health kinds"):
        TRAINER.fit(examples.filter(pl.col("label") == "healthy"), seed=0)


def test_design_matrix_needs_a_known_rule_kind(examples: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"needs columns \['rule_kind'\]"):
        design_matrix(examples.select(FEATURES))
    with pytest.raises(ValueError, match=r"unknown rule_kind values \['broken'\]"):
        design_matrix(examples.select(COLUMNS).with_columns(pl.lit("broken").alias("rule_kind")))
    x = design_matrix(examples.select(COLUMNS))
    assert x.shape == (examples.height, len(FEATURES) + 1 + len(HEALTH_KINDS))
    np.testing.assert_array_equal(x[:, -len(HEALTH_KINDS) :].sum(axis=1), 1.0)


def test_a_model_trained_on_few_homes_stays_close_to_the_rules(examples: pl.DataFrame) -> None:
    """Three training homes hold a few dozen faults: too few to relearn the rules, but stacked on them the
    model must not fall below them on the held-out home (on average over leave-one-home-out folds)."""
    model, rules = [], []
    for home in examples.get_column("home_key").unique().sort():
        held = pl.col("home_key") == home
        train, test = examples.filter(~held), examples.filter(held)
        model.append(TRAINER.score(TRAINER.predict_examples(TRAINER.fit(train, seed=0), test)))
        rules.append(TRAINER.score(TRAINER.predict_examples(None, test)))
    for metric in ("macro_f1", "detection_f1"):
        assert np.mean([m[metric] for m in model]) >= np.mean([r[metric] for r in rules]) - 0.05, metric
