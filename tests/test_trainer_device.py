"""DeviceFaultTrainer beyond the shared contract (`test_trainer_contract.py`): class probabilities, the
artifact's format check, skops refusing untrusted types, the stage's kinds, the rules baseline recomputed
from the export, the design matrix, and that stacking on the rules keeps a model trained on few homes close
to them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier

from homesim.retraining.models.device_intelligence import (
    COLUMNS,
    DeviceFaultModel,
    DeviceFaultTrainer,
    design_matrix,
)
from homesim.retraining.models.sklearn_io import load_estimator
from homesim.simulation.device_health import FEATURES, DeviceHealthAssessor, health_windows, rule_assess
from homesim.simulation.model_provider import HEALTH_KINDS
from trainer_cases import OneModel, TrainerCase


def test_predicts_class_probabilities(device_case: TrainerCase) -> None:
    case = device_case
    labels = set(case.examples.get_column("label"))
    assert len(labels) >= 4
    proba = case.model.predict(case.examples.select(COLUMNS))
    assert proba.shape == (case.examples.height, len(HEALTH_KINDS))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.all(proba >= 0)
    absent = [i for i, k in enumerate(HEALTH_KINDS) if k not in labels]
    assert np.all(proba[:, absent] == 0)
    assert isinstance(case.model, DeviceFaultModel) and case.model.healthy_scale > 0
    assert "class_weight_power" in case.trainer.params()


def test_the_artifact_names_its_columns_and_format(device_case: TrainerCase, tmp_path: Path) -> None:
    device_case.trainer.save(device_case.model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["columns"] == [*FEATURES, "rule_kind"]
    (tmp_path / "config.json").write_text(json.dumps({**config, "format": 1}))
    with pytest.raises(ValueError, match=r"artifact format 1, expected 2.*retrain"):
        device_case.trainer.load(tmp_path, "di-v1")


class Payload:
    """A type skops does not trust."""


def test_load_refuses_untrusted_types_and_other_kinds(tmp_path: Path) -> None:
    sio.dump(Payload(), tmp_path / "untrusted.skops")
    with pytest.raises(ValueError, match=r"untrusted types.*Payload"):
        load_estimator(tmp_path / "untrusted.skops", HistGradientBoostingClassifier)
    sio.dump({"not": "an estimator"}, tmp_path / "dict.skops")
    with pytest.raises(ValueError, match="holds a dict, expected HistGradientBoostingClassifier"):
        load_estimator(tmp_path / "dict.skops", HistGradientBoostingClassifier)


def test_the_stage_takes_the_models_most_likely_kind(device_case: TrainerCase) -> None:
    case, view = device_case, device_case.views[0]
    records = DeviceHealthAssessor().assess(view, OneModel("device_intelligence", case.model), 2)
    windows = health_windows(view)
    rules, _ = rule_assess(windows)
    expected = case.model.predict(windows.select(FEATURES).with_columns(pl.Series("rule_kind", rules)))
    assert records
    assert [r.outputs.predicted for r in records] == [HEALTH_KINDS[i] for i in expected.argmax(axis=1)]


def test_baseline_recomputes_the_stage_rules(device_case: TrainerCase) -> None:
    """Cycle-1 records were assessed by the rules: recomputing them from the export gives the same kinds."""
    case = device_case
    predictions = case.trainer.predict_examples(None, case.examples)
    assert predictions.columns == ["home_key", "label", "predicted"]
    assert (
        predictions.get_column("predicted").to_list()
        == case.data.tables["devices"].get_column("predicted").to_list()
        == case.examples.get_column("rule_kind").to_list()
    )
    metrics = case.trainer.score(predictions)
    assert 0 < metrics["macro_f1"] < 1 and 0 < metrics["detection_recall"] <= 1


def test_design_matrix_needs_a_known_rule_kind(device_case: TrainerCase) -> None:
    examples = device_case.examples
    with pytest.raises(ValueError, match=r"needs columns \['rule_kind'\]"):
        design_matrix(examples.select(FEATURES))
    with pytest.raises(ValueError, match=r"unknown rule_kind values \['broken'\]"):
        design_matrix(examples.select(COLUMNS).with_columns(pl.lit("broken").alias("rule_kind")))
    x = design_matrix(examples.select(COLUMNS))
    assert x.shape == (examples.height, len(FEATURES) + 1 + len(HEALTH_KINDS))
    np.testing.assert_array_equal(x[:, -len(HEALTH_KINDS) :].sum(axis=1), 1.0)


def test_a_model_trained_on_few_homes_stays_close_to_the_rules(device_case: TrainerCase) -> None:
    """Three training homes hold a few dozen faults: too few to relearn the rules, but stacked on them the
    model must not fall below them on the held-out home (on average over leave-one-home-out folds)."""
    trainer, examples = device_case.trainer, device_case.examples
    model, rules = [], []
    for home in examples.get_column("home_key").unique().sort():
        held = pl.col("home_key") == home
        train, test = examples.filter(~held), examples.filter(held)
        model.append(trainer.score(trainer.predict_examples(trainer.fit(train, seed=0), test)))
        rules.append(trainer.score(trainer.predict_examples(None, test)))
    # Detection (fault or not) may lose more than the kinds: with generator 1.3.0's homes three training
    # homes give 0.62 vs the rules' 0.71 over these folds — the loop's gate keeps such a model out. With
    # 1.4.0's homes (same faults, other activity events) the kinds' macro-F1 is 0.41 vs the rules' 0.49:
    # four homes × 10 days hold a few dozen faults, so a fold's score moves with the events around them.
    for metric, slack in (("macro_f1", 0.10), ("detection_f1", 0.12)):
        assert np.mean([m[metric] for m in model]) >= np.mean([r[metric] for r in rules]) - slack, metric


def test_score_compares_kinds_exactly_even_unknown_ones() -> None:
    """Kinds are scored as numbers (fast in the bootstrap), equal exactly where the strings are."""
    trainer = DeviceFaultTrainer()
    predictions = pl.DataFrame(
        {
            "home_key": ["a"] * 5,
            "label": ["healthy", "stuck", "odd", "odder", "stuck"],
            "predicted": ["healthy", "stuck", "odder", "odder", "healthy"],
        }
    )
    metrics = trainer.score(predictions)
    assert metrics["accuracy"] == 3 / 5  # "odder" == "odder", "odd" != "odder"
    assert metrics["macro_f1"] == trainer.primary(predictions) == pytest.approx(2 / 3)
    assert metrics["detection_recall"] == 3 / 4
