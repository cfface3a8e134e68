"""Classification metrics over numpy arrays that trainers' `score` methods share.

Every function is safe on degenerate input (empty arrays, a single class, no positive predictions): where
a metric is undefined it is 0.0, as the `Trainer.score` contract asks, so a bootstrap resample of a few
homes never fails.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else 0.0


def binary_metrics(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> dict[str, float]:
    """precision, recall and f1 of boolean predictions against boolean labels."""
    t, p = np.asarray(y_true, dtype=bool), np.asarray(y_pred, dtype=bool)
    tp = float(np.sum(t & p))
    precision, recall = _ratio(tp, float(p.sum())), _ratio(tp, float(t.sum()))
    return {
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * precision * recall, precision + recall),
    }


def pr_auc(y_true: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Area under the precision-recall curve as average precision (sklearn's step-wise definition):
    the mean, over the positives, of the precision at the score threshold of each; ties share a threshold."""
    t = np.asarray(y_true, dtype=bool)
    s = np.asarray(score, dtype=np.float64)
    positives = int(t.sum())
    if positives == 0:
        return 0.0
    order = np.argsort(-s, kind="stable")
    t, s = t[order], s[order]
    # The last index of each run of tied scores: a threshold admits the whole run at once.
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    tp = np.cumsum(t)[last]
    precision = tp / (last + 1)
    recall_gain = np.diff(np.r_[0, tp]) / positives
    return float(np.sum(precision * recall_gain))


def macro_f1(y_true: npt.ArrayLike, y_pred: npt.ArrayLike, labels: Sequence[str]) -> float:
    """Mean F1 over those of `labels` that occur in the truth or the predictions (0.0 when none does)."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    present = [k for k in labels if np.any(t == k) or np.any(p == k)]
    if not present:
        return 0.0
    return float(np.mean([binary_metrics(t == k, p == k)["f1"] for k in present]))


def best_f1_threshold(labels: npt.NDArray[np.bool_], proba: npt.NDArray[np.float64]) -> float:
    """The probability threshold with the best F1, midway between the last admitted score and the next
    lower one, kept within [0.01, 0.99]; 0.5 without positives."""
    if not labels.any():
        return 0.5
    order = np.argsort(-proba, kind="stable")
    y, s = labels[order], proba[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last index of each run of tied scores
    tp = np.cumsum(y)[last]
    best = last[int(np.argmax(2 * tp / ((last + 1) + labels.sum())))]
    below = s[best + 1] if best + 1 < len(s) else 0.0
    return float(np.clip((s[best] + below) / 2, 0.01, 0.99))


def to_stage_scale(
    proba: npt.NDArray[np.float64], threshold: float, stage_threshold: float
) -> npt.NDArray[np.float64]:
    """Monotone piecewise-linear map of a probability sending `threshold` to the stage's threshold, so
    the stage's `score >= stage_threshold` decision is the model's best-F1 decision."""
    low = proba * (stage_threshold / threshold)
    high = stage_threshold + (proba - threshold) * ((1 - stage_threshold) / (1 - threshold))
    return np.asarray(np.clip(np.where(proba < threshold, low, high), 0.0, 1.0), dtype=np.float64)
