"""pattern_detection: a gradient-boosting pattern-quality classifier over mined candidates.

The model reads only what the stage passes `predict`, the candidate's `PatternFeatures`, and adds two
ratios trees cannot form themselves: firings per day and the share of the action entity's changes the
candidate explains. (Its kind and trigger entity were tried too and added about one F1 point on
held-out homes: not worth widening the stage's contract.) A `HistGradientBoostingClassifier` (fixed
`random_state`, no early stopping, one thread: the data are small) learns P(real).

The decision threshold is the one that maximises F1 on an internal validation split of the training homes
(a model fitted on the rest); the final model is refit on all training homes. `predict` maps P(real)
monotonically so that this threshold lands on the stage's own threshold (`PatternDetectorConfig`), so
the stage's `score >= threshold` decision is the model's best-F1 decision; ranking metrics are unchanged.

Artifacts: `model.skops` (the estimator, loaded with an explicit trusted-types list) and `config.json`
(columns, threshold, hyper-parameters); nothing is pickled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl
import structlog
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from homesim.io import write_atomic, write_json_atomic
from homesim.retraining.models.base import CONFIG_FILE, ProgressFn, Trainer
from homesim.retraining.models.boosting import boosting_params, fit_boosting
from homesim.retraining.models.metrics import to_stage_scale
from homesim.retraining.models.sklearn_io import dump_estimator, load_estimator
from homesim.scores import best_f1_threshold, binary_scores, f1_from_counts, pr_auc
from homesim.simulation.model_provider import Model, ModelType
from homesim.simulation.pattern_detection import FEATURES, PatternDetectorConfig, baseline_score
from homesim.training_data.loading import TrainingData

log = structlog.get_logger("homesim.retraining.pattern_detection")

F64 = npt.NDArray[np.float64]
MODEL_FILE = "model.skops"
#: Version of `config.json`'s layout; `load` refuses others.
ARTIFACT_FORMAT = 1
#: The stage's decision threshold on `score` (the baseline's and the model's).
STAGE_THRESHOLD = PatternDetectorConfig().threshold
#: Share of the training homes held out to choose the threshold.
VALIDATION_SHARE = 0.25


def design_matrix(frame: pl.DataFrame) -> tuple[F64, list[str]]:
    """The model's inputs from a frame with the `FEATURES` columns: matrix and column names."""
    missing = [c for c in FEATURES if c not in frame.columns]
    if missing:
        raise ValueError(f"pattern_detection model needs columns {missing} (has {frame.columns})")
    derived = frame.select(
        *(pl.col(c).cast(pl.Float64) for c in FEATURES),
        (pl.col("support") / pl.col("days")).alias("support_per_day"),
        (pl.col("support") / pl.col("action_events").clip(lower_bound=1)).alias("action_share"),
    )
    return derived.to_numpy().astype(np.float64), derived.columns


def positive_proba(estimator: HistGradientBoostingClassifier, x: F64) -> F64:
    with threadpool_limits(1):
        return np.asarray(estimator.predict_proba(x)[:, 1], dtype=np.float64)


class PatternQualityModel:
    """A fitted pattern-quality classifier; `predict` gives the stage-scale probability that a candidate
    is real."""

    def __init__(
        self, estimator: HistGradientBoostingClassifier, columns: list[str], threshold: float, version: str
    ) -> None:
        self.estimator = estimator
        self.columns = columns
        self.threshold = threshold
        self.version = version

    def proba(self, features: pl.DataFrame) -> F64:
        """P(real) of each candidate, before the threshold mapping."""
        if features.height == 0:
            return np.zeros(0)
        x, columns = design_matrix(features)
        if columns != self.columns:
            raise ValueError(f"model was fitted on columns {self.columns}, got {columns}")
        return positive_proba(self.estimator, x)

    def predict(self, features: pl.DataFrame) -> F64:
        return to_stage_scale(self.proba(features), self.threshold, STAGE_THRESHOLD)


class PatternQualityTrainer(Trainer):
    model_type: ClassVar[ModelType] = "pattern_detection"
    primary_metric: ClassVar[str] = "f1"

    def __init__(
        self,
        max_iter: int = 200,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 20,
        l2_regularization: float = 1.0,
    ) -> None:
        self.hyper = boosting_params(
            max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        )

    def params(self) -> dict[str, Any]:
        return {
            **self.hyper,
            "estimator": "HistGradientBoostingClassifier",
            "validation_share": VALIDATION_SHARE,
        }

    def examples(self, data: TrainingData) -> pl.DataFrame:
        patterns = data.tables["patterns"]
        # kind and trigger_entity are for the baseline rule (its scene veto), not the model.
        return patterns.select("record_id", "cycle", "home_key", "kind", "trigger_entity", *FEATURES, "label")

    def _fit_estimator(self, x: F64, y: npt.NDArray[np.bool_], seed: int) -> HistGradientBoostingClassifier:
        return fit_boosting(self.hyper, x, y, seed)

    def fit(self, examples: pl.DataFrame, seed: int, progress: ProgressFn | None = None) -> Model:
        x, columns = design_matrix(examples)
        y = examples.get_column("label").to_numpy().astype(bool)
        if y.all() or not y.any():
            raise ValueError("pattern_detection: needs real and false candidates to fit")
        homes = np.asarray(examples.get_column("home_key").to_numpy())
        threshold = self._validation_threshold(x, y, homes, seed, progress)
        estimator = self._fit_estimator(x, y, seed)
        log.info("fitted", examples=len(y), positives=int(y.sum()), threshold=round(threshold, 4))
        if progress:
            progress(f"fitted on {len(y)} candidates ({int(y.sum())} real), threshold {threshold:.3f}")
        return PatternQualityModel(estimator, columns, threshold, version="unregistered")

    def _validation_threshold(
        self,
        x: F64,
        y: npt.NDArray[np.bool_],
        homes: npt.NDArray[Any],
        seed: int,
        progress: ProgressFn | None,
    ) -> float:
        """Best-F1 threshold of a model fitted on most training homes, on the held-out rest."""
        unique = np.unique(homes)
        rng = np.random.default_rng(seed)
        n_val = round(len(unique) * VALIDATION_SHARE)
        if n_val == 0 or n_val == len(unique):
            return 0.5
        held = np.isin(homes, rng.permutation(unique)[:n_val])
        if len(np.unique(y[~held])) < 2:
            return 0.5
        proba = positive_proba(self._fit_estimator(x[~held], y[~held], seed), x[held])
        threshold = best_f1_threshold(y[held], proba)
        if progress:
            progress(f"threshold {threshold:.3f} from {n_val} validation homes")
        return threshold

    def predict_examples(self, model: Model | None, examples: pl.DataFrame) -> pl.DataFrame:
        if model is None:
            score = baseline_score(examples)
        else:
            score = np.asarray(model.predict(examples.select(FEATURES)), dtype=np.float64)
        return examples.select("home_key", "label").with_columns(
            pl.Series("score", score, dtype=pl.Float64),
            pl.Series("predicted", score >= STAGE_THRESHOLD, dtype=pl.Boolean),
        )

    def primary(self, predictions: pl.DataFrame) -> float:
        """F1 alone (the PR-AUC's sort is most of `score`'s time in the evaluator's bootstrap)."""
        labels = predictions.get_column("label").to_numpy().astype(bool)
        return binary_scores(labels, predictions.get_column("predicted").to_numpy().astype(bool))["f1"]

    def primary_counts(self, predictions: pl.DataFrame) -> F64:
        """(true positive, predicted, labelled) per prediction."""
        labels = predictions.get_column("label").to_numpy().astype(bool)
        predicted = predictions.get_column("predicted").to_numpy().astype(bool)
        return np.column_stack([labels & predicted, predicted, labels]).astype(np.float64)

    def primary_of_counts(self, counts: F64) -> F64:
        tp, predicted, truth = counts[..., 0], counts[..., 1], counts[..., 2]
        return f1_from_counts(tp, predicted, tp, truth)

    def score(self, predictions: pl.DataFrame) -> dict[str, float]:
        labels = predictions.get_column("label").to_numpy().astype(bool)
        metrics = binary_scores(labels, predictions.get_column("predicted").to_numpy().astype(bool))
        return {**metrics, "pr_auc": pr_auc(labels, predictions.get_column("score").to_numpy())}

    def save(self, model: Model, directory: Path) -> list[Path]:
        if not isinstance(model, PatternQualityModel):
            raise TypeError(f"pattern_detection cannot save a {type(model).__name__}")
        directory.mkdir(parents=True, exist_ok=True)
        weights, config = directory / MODEL_FILE, directory / CONFIG_FILE
        write_atomic(weights, lambda tmp: dump_estimator(model.estimator, tmp))
        write_json_atomic(
            config,
            {
                "format": ARTIFACT_FORMAT,
                "columns": model.columns,
                "threshold": model.threshold,
                "stage_threshold": STAGE_THRESHOLD,
                "params": self.params(),
            },
        )
        return [weights, config]

    def load(self, directory: Path, version: str) -> Model:
        config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        if config.get("format") != ARTIFACT_FORMAT:
            raise ValueError(
                f"{directory}: artifact format {config.get('format')!r}, expected {ARTIFACT_FORMAT}"
            )
        estimator = load_estimator(directory / MODEL_FILE, HistGradientBoostingClassifier)
        return PatternQualityModel(estimator, list(config["columns"]), float(config["threshold"]), version)
