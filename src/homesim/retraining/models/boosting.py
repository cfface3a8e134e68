"""The gradient-boosted trees both scikit-learn trainers fit (pattern quality, device faults): their
hyper-parameters as the registry records them, and one seeded fit."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits


def boosting_params(
    max_iter: int, learning_rate: float, max_leaf_nodes: int, min_samples_leaf: int, l2_regularization: float
) -> dict[str, Any]:
    """The estimator's hyper-parameters (as `HistGradientBoostingClassifier` takes them)."""
    return {
        "max_iter": max_iter,
        "learning_rate": learning_rate,
        "max_leaf_nodes": max_leaf_nodes,
        "min_samples_leaf": min_samples_leaf,
        "l2_regularization": l2_regularization,
    }


def fit_boosting(
    hyper: dict[str, Any],
    x: npt.NDArray[np.float64],
    y: npt.NDArray[Any],
    seed: int,
    sample_weight: npt.NDArray[np.float64] | None = None,
) -> HistGradientBoostingClassifier:
    """Fit the trees on all of `x` (no early-stopping split: the trainers hold out homes themselves)."""
    estimator = HistGradientBoostingClassifier(**hyper, early_stopping=False, random_state=seed)
    with threadpool_limits(1):  # small data: OpenMP threads only contend, and on a busy host badly
        return estimator.fit(x, y, sample_weight=sample_weight)
