"""The trainer contract every model type implements, and what the rest of `retraining` relies on.

A `Trainer` turns a model type's exported training data (`load_training_data`) into *examples* — a polars
frame with one row per example and a `home_key` column (homes are the unit of the train/validation split
and of the evaluator's bootstrap) — fits a model on the training homes' examples, predicts examples
(with a fitted model, or with the stage's own baseline when the model is `None`), scores predictions,
and saves/loads artifacts without pickle (safetensors for torch weights, skops for scikit-learn).

A fitted model satisfies the simulation's `Model` protocol (`version`, `predict(features)`): the
registry-backed `ModelProvider` hands it to the stage, which calls `predict` with the columns documented in
`homesim.simulation.model_provider`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from homesim.simulation.model_provider import Model, ModelType
from homesim.training_data.loading import TrainingData

#: The file beside a trainer's weights with its hyper-parameters, label orders and format version.
CONFIG_FILE: Final = "config.json"
#: Receives one human-readable progress line (epoch, loss…); trainers call it a few times per fit.
ProgressFn = Callable[[str], None]


class Trainer(ABC):
    """One model type's trainer. Stateless: everything a run needs is in the arguments."""

    model_type: ClassVar[ModelType]
    #: The metric the gate and the learning curves use (higher is better), a key of `score()`.
    primary_metric: ClassVar[str]

    @abstractmethod
    def examples(self, data: TrainingData) -> pl.DataFrame:
        """One row per example, with a `home_key` column and whatever `fit`/`predict_examples` need."""

    @abstractmethod
    def fit(self, examples: pl.DataFrame, seed: int, progress: ProgressFn | None = None) -> Model:
        """Train on `examples` (training homes only — the caller splits). Deterministic for a seed.
        The returned model's `version` is a placeholder; the registry sets the real one on load."""

    @abstractmethod
    def predict_examples(self, model: Model | None, examples: pl.DataFrame) -> pl.DataFrame:
        """Predictions for `examples`: `home_key` plus the columns `score` needs. `model=None` gives the
        stage's baseline (the rule it runs when no model is deployed)."""

    @abstractmethod
    def score(self, predictions: pl.DataFrame) -> dict[str, float]:
        """Metrics over predictions (any subset of homes — the evaluator bootstraps by home); includes
        `primary_metric`. Must not fail on a subset with a single class: return 0.0 where undefined."""

    def primary(self, predictions: pl.DataFrame) -> float:
        """`score(predictions)[primary_metric]` alone: the evaluator's bootstrap asks for it thousands of
        times, so a trainer whose other metrics cost more overrides it (with the same value)."""
        return self.score(predictions)[self.primary_metric]

    def primary_counts(self, predictions: pl.DataFrame) -> npt.NDArray[np.float64] | None:
        """Per prediction row, counts (one column each) whose sums over any rows give the primary metric
        through `primary_of_counts`, or None where the metric is no function of summed counts (PR-AUC).
        With them the bootstrap scores a thousand resamples in one matrix product instead of a thousand
        `primary` calls (the same values: the counts are integers, summed exactly)."""
        return None

    def primary_ranking(
        self, predictions: pl.DataFrame
    ) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.float64]] | None:
        """(labels, scores) per prediction row when the primary metric is `scores.pr_auc` of them (the
        bootstrap then sorts the rows once, not once per resample), else None."""
        return None

    def primary_of_counts(self, counts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """`primary` of rows whose `primary_counts` sum to `counts` (last axis), for every leading index."""
        raise NotImplementedError(f"{self.model_type} has no primary_counts")

    @abstractmethod
    def save(self, model: Model, directory: Path) -> list[Path]:
        """Write the artifact files (no pickle) into `directory`; return them."""

    @abstractmethod
    def load(self, directory: Path, version: str) -> Model:
        """Read back what `save` wrote; the model's `version` is `version`."""

    def params(self) -> dict[str, Any]:
        """Hyper-parameters for the registry and the model card."""
        return {}
