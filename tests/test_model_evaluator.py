"""ModelEvaluator: the held-out split, the paired bootstrap by home, the gate, regressions and the report.

`FakeTrainer` (a one-threshold classifier over a column `x`) is shared with the manager and loop tests: it
is fast, deterministic, and can be made deliberately worse by training on shuffled labels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homesim.retraining.loop import LoopConfig
from homesim.retraining.model_evaluator import (
    GateConfig,
    MetricGate,
    ModelEvaluator,
    split_by_home,
    write_evaluation,
)
from homesim.retraining.models.base import ProgressFn, Trainer
from homesim.simulation.model_provider import Model, ModelType
from homesim.splits import home_unit, is_validation_home, radical_inverse
from homesim.training_data.loading import TrainingData
from homesim.workspace import Workspace


class ThresholdModel:
    """Predicts `x > threshold`; as a stage model, the probability is that decision."""

    def __init__(self, threshold: float, version: str = "fake", column: str = "x") -> None:
        self.threshold = threshold
        self.version = version
        self.column = column

    def predict(self, features: pl.DataFrame) -> npt.NDArray[np.float64]:
        return (features.get_column(self.column).to_numpy() > self.threshold).astype(np.float64)


class FakeTrainer(Trainer):
    """Learns the accuracy-maximising threshold on `x`; the baseline is a fixed, worse threshold."""

    model_type: ClassVar[ModelType] = "pattern_detection"
    primary_metric: ClassVar[str] = "accuracy"
    baseline_threshold = 0.8

    def __init__(self, *, shuffle: bool = False, column: str = "x") -> None:
        self.shuffle = shuffle
        self.column = column

    def examples(self, data: TrainingData) -> pl.DataFrame:
        return data.tables["patterns"].select("home_key", "cycle", pl.col(self.column).alias("x"), "label")

    def fit(self, examples: pl.DataFrame, seed: int, progress: ProgressFn | None = None) -> Model:
        x = examples.get_column("x").to_numpy()
        y = examples.get_column("label").to_numpy().astype(bool)
        if self.shuffle:
            y = np.random.default_rng(seed).permutation(y)
        grid = np.quantile(x, np.linspace(0.02, 0.98, 49))
        accuracy = [float(np.mean((x > t) == y)) for t in grid]
        if progress is not None:
            progress(f"best accuracy {max(accuracy):.3f}")
        return ThresholdModel(float(grid[int(np.argmax(accuracy))]), column=self.column)

    def predict_examples(self, model: Model | None, examples: pl.DataFrame) -> pl.DataFrame:
        threshold = self.baseline_threshold if model is None else model.threshold  # type: ignore[attr-defined]
        return examples.select("home_key", "label", (pl.col("x") > threshold).alias("predicted"))

    def score(self, predictions: pl.DataFrame) -> dict[str, float]:
        if predictions.is_empty():
            return {"accuracy": 0.0, "recall": 0.0}
        y = predictions.get_column("label").to_numpy().astype(bool)
        p = predictions.get_column("predicted").to_numpy().astype(bool)
        return {"accuracy": float(np.mean(y == p)), "recall": float(np.sum(y & p) / max(1, np.sum(y)))}

    def save(self, model: Model, directory: Path) -> list[Path]:
        path = directory / "threshold.json"
        path.write_text(json.dumps({"threshold": model.threshold}))  # type: ignore[attr-defined]
        return [path]

    def load(self, directory: Path, version: str) -> Model:
        threshold = json.loads((directory / "threshold.json").read_text())["threshold"]
        return ThresholdModel(float(threshold), version, self.column)

    def params(self) -> dict[str, Any]:
        return {"shuffle": self.shuffle}


def make_examples(homes: int, per_home: int, seed: int, *, cycle: int = 1, flip: float = 0.1) -> pl.DataFrame:
    """`x` uniform in [0, 1]; label `x > 0.5`, a share `flip` of them flipped."""
    rng = np.random.default_rng(seed)
    x = rng.random(homes * per_home)
    label = (x > 0.5) ^ (rng.random(x.size) < flip)
    keys = np.repeat([f"h{cycle}{i:05d}-{seed:04d}" for i in range(homes)], per_home)
    return pl.DataFrame({"home_key": keys, "cycle": cycle, "x": x, "label": label})


@pytest.fixture(scope="module")
def held_out() -> pl.DataFrame:
    return make_examples(homes=20, per_home=40, seed=3)


@pytest.fixture(scope="module")
def evaluator() -> ModelEvaluator:
    return ModelEvaluator(resamples=300, seed=1, latency_calls=3)


def test_validation_split_is_deterministic_by_home_and_near_its_share() -> None:
    keys = [f"h{i:06d}-abc" for i in range(2000)]
    held = [k for k in keys if is_validation_home(k)]
    assert held == [k for k in keys if is_validation_home(k)]
    assert 0.17 < len(held) / len(keys) < 0.23
    frame = pl.DataFrame({"home_key": np.repeat(keys[:50], 3), "v": np.arange(150)})
    train, val = split_by_home(frame)
    assert set(train["home_key"]).isdisjoint(set(val["home_key"]))
    assert train.height + val.height == 150
    assert set(val["home_key"]) == {k for k in keys[:50] if is_validation_home(k)}
    with pytest.raises(ValueError, match="share"):
        is_validation_home("h1", 1.5)


def test_every_cycle_of_generated_homes_holds_out_its_share_whatever_the_seed() -> None:
    """A generated home's place is its index's radical inverse: each cycle's n homes hold share × n ± 2.5
    held-out homes (the hash split held out 3 of 24 at 0.35 for seed 42 under generator 1.5.0)."""
    for seed in (0, 7, 42, 1234):
        config = LoopConfig(cycles=3, homes=24, days=5, seed=seed)
        for cycle in (1, 2, 3):
            keys = [config.generation(cycle).home_key(i) for i in range(24)]
            assert [home_unit(k) for k in keys] == [radical_inverse(i) for i in range(24)]
            assert sum(is_validation_home(k, 0.35) for k in keys) == 9
    for share in (0.1, 0.2, 0.35, 0.5, 0.8):
        held = np.cumsum([radical_inverse(i) < share for i in range(100)])
        assert np.abs(held - share * np.arange(1, 101)).max() <= 2.5
    assert [radical_inverse(i) for i in range(6)] == [0.0, 0.5, 0.25, 0.75, 0.125, 0.625]
    # The hash part of the key (generator version, config, seed) does not move a generated home.
    assert home_unit("h000006-0123456789ab") == home_unit("h000006-ba9876543210") == 0.375


hex12 = st.text("0123456789abcdef", min_size=12, max_size=12)
generated_keys = st.builds("h{:06d}-{}".format, st.integers(0, 999_999), hex12)


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=30) | generated_keys, st.floats(0, 1), st.floats(0, 1))
def test_validation_split_is_monotone_in_share(key: str, a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert not is_validation_home(key, 0.0) and is_validation_home(key, 1.0)
    assert is_validation_home(key, low) <= is_validation_home(key, high)


def test_clearly_better_candidate_has_a_ci_above_zero_and_passes(
    held_out: pl.DataFrame, evaluator: ModelEvaluator
) -> None:
    result = evaluator.evaluate(
        FakeTrainer(), ThresholdModel(0.5), ThresholdModel(0.8), held_out, champion_version="v1"
    )
    assert result.reference == "champion"
    c = result.vs_reference
    assert c.diff > 0.1 and 0 < c.ci_low <= c.diff <= c.ci_high
    assert result.passed and result.reasons[0].startswith("accuracy")
    assert set(result.metrics) == {"candidate", "champion", "baseline"}
    assert result.benchmarks.predict_calls == 3  # the evaluator's latency budget, one home per call
    assert result.benchmarks.model_bytes is not None and result.benchmarks.model_bytes > 0
    assert 0 <= result.benchmarks.latency_p50_ms <= result.benchmarks.latency_p95_ms


def test_equally_good_candidate_has_a_ci_around_zero(
    held_out: pl.DataFrame, evaluator: ModelEvaluator
) -> None:
    result = evaluator.evaluate(FakeTrainer(), ThresholdModel(0.47), ThresholdModel(0.53), held_out)
    c = result.vs_reference
    assert abs(c.diff) < 0.03
    assert c.ci_low < 0 < c.ci_high
    assert 0.05 < c.p_not_better < 0.95


def test_every_comparison_carries_its_n_permutation_p_and_detectable_effect(
    held_out: pl.DataFrame, evaluator: ModelEvaluator
) -> None:
    result = evaluator.evaluate(FakeTrainer(), ThresholdModel(0.5), ThresholdModel(0.8), held_out)
    c = result.vs_reference
    assert c.homes == 20 and c.min_p == pytest.approx(2.0**-20) and c.can_be_significant
    assert c.p_permutation is not None and c.p_permutation < 0.01  # better on (nearly) every home
    assert 0 < c.mde < c.diff  # the difference is well above what 20 homes can detect
    assert "(n=20 homes)" in result.reasons[0]
    assert "| 20 |" in result.markdown() and "n homes" in result.markdown()


def test_too_few_held_out_homes_are_refused_as_unable_to_reach_significance(
    evaluator: ModelEvaluator,
) -> None:
    few = make_examples(homes=4, per_home=200, seed=5)
    result = evaluator.evaluate(FakeTrainer(), ThresholdModel(0.5), ThresholdModel(0.9), few)
    c = result.vs_reference
    assert c.diff > 0.2  # clearly better on these homes, and yet 4 homes cannot show it
    assert c.min_p == pytest.approx(1 / 16) and not c.can_be_significant
    assert not result.passed
    assert [k.kind for k in result.checks if not k.passed] == ["power"]
    assert "cannot be significant with 4 held-out homes (smallest attainable p 0.0625" in result.reasons[0]
    assert "**Underpowered**" in result.markdown()


def test_bootstrap_is_reproducible_for_a_seed(held_out: pl.DataFrame) -> None:
    def run(seed: int) -> tuple[float, float]:
        ev = ModelEvaluator(resamples=100, seed=seed, latency_calls=0)
        c = ev.evaluate(FakeTrainer(), ThresholdModel(0.5), ThresholdModel(0.6), held_out).vs_reference
        return c.ci_low, c.ci_high

    assert run(5) == run(5)
    assert run(5) != run(6)


def test_candidate_trained_on_shuffled_labels_is_rejected(
    held_out: pl.DataFrame, evaluator: ModelEvaluator
) -> None:
    train = make_examples(homes=30, per_home=40, seed=11)
    champion = FakeTrainer().fit(train, seed=0)
    worse = FakeTrainer(shuffle=True).fit(train, seed=0)
    result = evaluator.evaluate(FakeTrainer(), worse, champion, held_out, champion_version="v1")
    assert result.vs_reference.diff < 0
    assert not result.passed
    assert any("did not improve" in r for r in result.reasons)
    # With no champion the first model must beat the baseline, which a shuffled one does not either.
    first = evaluator.evaluate(FakeTrainer(), worse, None, held_out)
    assert first.reference == "baseline" and not first.passed


def test_first_model_is_gated_on_value_and_on_beating_the_baseline(
    held_out: pl.DataFrame, evaluator: ModelEvaluator
) -> None:
    good = evaluator.evaluate(FakeTrainer(), ThresholdModel(0.5), None, held_out)
    assert good.reference == "baseline" and good.passed
    assert good.vs_reference == good.vs_baseline
    strict = ModelEvaluator(GateConfig(metrics={"accuracy": MetricGate(min_value=0.95)}), resamples=50)
    failed = strict.evaluate(FakeTrainer(), ThresholdModel(0.5), None, held_out)
    assert not failed.passed
    assert [c.kind for c in failed.checks if not c.passed] == ["value"]
    assert "below the value threshold 0.9500" in failed.reasons[0]


def test_change_threshold_blocks_and_regressions_are_reported(held_out: pl.DataFrame) -> None:
    # A lower threshold raises recall and lowers accuracy; a higher one the opposite.
    report_only = ModelEvaluator(GateConfig(tolerance=0.05), resamples=50, latency_calls=0)
    r = report_only.evaluate(FakeTrainer(), ThresholdModel(0.5), ThresholdModel(0.2), held_out)
    assert r.passed
    assert [g.metric for g in r.regressions] == ["recall"]
    assert any(reason.startswith("regressions: recall") for reason in r.reasons)
    blocking = ModelEvaluator(
        GateConfig(metrics={"recall": MetricGate(max_drop=0.02)}), resamples=50, latency_calls=0
    )
    b = blocking.evaluate(FakeTrainer(), ThresholdModel(0.5), ThresholdModel(0.2), held_out)
    assert not b.passed
    assert [c.kind for c in b.checks if not c.passed] == ["change"]
    significant = ModelEvaluator(GateConfig(require_significant=True), resamples=100, latency_calls=0)
    s = significant.evaluate(FakeTrainer(), ThresholdModel(0.47), ThresholdModel(0.53), held_out)
    assert "significance" in [c.kind for c in s.checks]
    assert not s.passed


def test_report_is_written_as_json_and_markdown(
    held_out: pl.DataFrame, evaluator: ModelEvaluator, tmp_path: Path
) -> None:
    result = evaluator.evaluate(FakeTrainer(), ThresholdModel(0.5), ThresholdModel(0.8), held_out)
    result = result.model_copy(update={"candidate_version": "v2", "champion_version": "v1"})
    json_path, md_path = write_evaluation(Workspace(tmp_path), result)
    assert json_path == tmp_path / "reports" / "evaluations" / "pattern_detection_v2.json"
    assert json.loads(json_path.read_text())["vs_reference"]["ci_low"] == result.vs_reference.ci_low
    text = md_path.read_text()
    assert "PASSED" in text and "candidate − champion" in text and "p95" in text


def test_empty_held_out_set_is_a_clear_error(evaluator: ModelEvaluator) -> None:
    empty = make_examples(1, 1, seed=0).clear()
    with pytest.raises(ValueError, match="no held-out examples"):
        evaluator.evaluate(FakeTrainer(), ThresholdModel(0.5), None, empty)


def _arm(rng: np.random.Generator, homes: int, rows: int, kinds: tuple[str, ...]) -> dict[str, Any]:
    """Random predictions of every real trainer's primary columns, homes of uneven sizes (one empty)."""
    sizes = rng.integers(0, rows, homes)
    keys = np.repeat([f"h{i:03d}" for i in range(homes)], sizes)
    n = len(keys)
    label = rng.choice(kinds, n)
    predicted = np.where(rng.random(n) < 0.6, label, rng.choice(kinds, n))
    return {
        "home_key": keys,
        "label": label,
        "predicted": predicted,
        "flag": rng.random(n) < 0.3,
        "guess": rng.random(n) < 0.4,
        "correct": rng.random(n) < 0.7,
        "score": rng.integers(0, 12, n) / 12,  # ties across homes
    }


@pytest.mark.parametrize(
    "model_type", ["pattern_detection", "device_intelligence", "soft_prompt", "gnn_synergy"]
)
def test_bootstrap_over_summed_counts_equals_scoring_each_resample(
    model_type: ModelType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trainer with `primary_counts` (or `primary_ranking`) is bootstrapped over a matrix of draws at
    once; every figure of the comparison is the one scoring each resample's rows gives (same draws)."""
    from homesim.retraining import models as trainers
    from homesim.retraining.model_evaluator import paired_bootstrap
    from homesim.simulation.model_provider import HEALTH_KINDS

    trainer = trainers.get_trainer(model_type)
    rng = np.random.default_rng(7)
    arms = []
    for _ in range(2):
        raw = _arm(rng, 14, 30, HEALTH_KINDS)
        frame = pl.DataFrame(raw)
        if model_type in ("pattern_detection", "gnn_synergy"):
            frame = frame.select("home_key", "score", label="flag", predicted="guess")
        arms.append(frame)
    assert trainer.primary_counts(arms[0]) is not None or trainer.primary_ranking(arms[0]) is not None
    fast = paired_bootstrap(trainer, arms[0], arms[1], reference_name="baseline", resamples=200, seed=3)
    monkeypatch.setattr(type(trainer), "primary_counts", lambda self, predictions: None)
    monkeypatch.setattr(type(trainer), "primary_ranking", lambda self, predictions: None)
    slow = paired_bootstrap(trainer, arms[0], arms[1], reference_name="baseline", resamples=200, seed=3)
    assert fast == slow
