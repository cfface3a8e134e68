"""PatternQualityTrainer beyond the shared contract (`test_trainer_contract.py`): its model and threshold,
the stage scale, the exact scores the stage records, and the baseline recomputed from the export."""

from __future__ import annotations

import numpy as np
import pytest

from homesim.retraining.models.pattern_detection import STAGE_THRESHOLD, PatternQualityModel, to_stage_scale
from homesim.simulation.pattern_detection import FEATURES, PatternDetector, mine_candidates
from trainer_cases import OneModel, TrainerCase


def test_fits_a_probability_per_candidate(pattern_case: TrainerCase) -> None:
    case = pattern_case
    assert case.examples.get_column("label").sum() > 20
    scores = case.model.predict(case.examples.select(FEATURES))
    assert scores.shape == (case.examples.height,) and scores.std() > 0
    assert isinstance(case.model, PatternQualityModel) and 0 < case.model.threshold < 1
    assert "max_iter" in case.trainer.params()


def test_stage_scale_puts_the_model_threshold_on_the_stage_threshold() -> None:
    proba = np.array([0.0, 0.2, 0.3, 0.5, 1.0])
    scaled = to_stage_scale(proba, 0.3, STAGE_THRESHOLD)
    assert scaled[2] == pytest.approx(STAGE_THRESHOLD) and scaled[0] == 0 and scaled[-1] == 1
    assert np.all(np.diff(scaled) > 0)


def test_the_stage_scores_with_the_model_on_its_own_frame(pattern_case: TrainerCase) -> None:
    case, view = pattern_case, pattern_case.views[0]
    records = PatternDetector().detect(view, OneModel("pattern_detection", case.model), 2)
    expected = case.model.predict(mine_candidates(view).select(FEATURES))
    np.testing.assert_allclose([r.outputs.score for r in records], expected)
    assert [r.outputs.predicted for r in records] == list(expected >= STAGE_THRESHOLD)


def test_baseline_recomputes_the_stage_rule(pattern_case: TrainerCase) -> None:
    """Cycle-1 records were scored by the baseline: recomputing it from the features gives its scores."""
    case = pattern_case
    predictions = case.trainer.predict_examples(None, case.examples)
    recorded = case.data.tables["patterns"]
    assert predictions.columns == ["home_key", "label", "score", "predicted"]
    np.testing.assert_allclose(predictions.get_column("score"), recorded.get_column("score"))
    assert predictions.get_column("predicted").equals(recorded.get_column("predicted"))
    metrics = case.trainer.score(predictions)
    assert set(metrics) == {"precision", "recall", "f1", "pr_auc"} and 0 < metrics["f1"] < 1
