"""Classification scores, each defined once with one zero rule: the stages' metric table, the A/B test,
the trainers' scores and their threshold search all count the same way.

The zero rule is scikit-learn's with `zero_division=0.0`: F1 is 2·TP / (2·TP + FP + FN), so a side that is
undefined (nothing predicted, or nothing to find) counts as 0 as soon as the other side has something;
only when there is neither is F1 undefined, and then it is `zero_division` (0.0, or NaN where a report
shows "no data"). Precision and recall themselves are 0.0 when undefined in the label-array scores (the
`Trainer.score` contract: a bootstrap resample of a few homes must never fail).

Every score is defined by scikit-learn (`precision_recall_fscore_support`, `f1_score`,
`average_precision_score`, `accuracy_score`) and computed here from confusion counts with numpy: the paired
bootstrap scores thousands of resamples per comparison, and scikit-learn's input validation costs
milliseconds a call, which doubled the loop's evaluation time. `tests/test_scores.py` checks each function
against scikit-learn on generated inputs, so the definition stays scikit-learn's.

A stage's precision and recall have different numerators (records predicted right; ground-truth items
found), so its F1 (`f1_from_counts`) is the harmonic mean of the two ratios — for one confusion matrix
(numerators equal) it is exactly 2·TP / (2·TP + FP + FN). Vectorised for permutation tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

#: The value of a score with nothing to divide by.
ZERO_DIVISION: Final = 0.0

F64 = npt.NDArray[np.float64]


def f1_from_counts(
    predicted_true: npt.ArrayLike,
    predicted: npt.ArrayLike,
    truth_found: npt.ArrayLike,
    truth: npt.ArrayLike,
    *,
    zero_division: float = ZERO_DIVISION,
) -> F64:
    """F1 of precision = predicted_true / predicted and recall = truth_found / truth, element-wise.

    Computed as 2·a·c / (a·d + c·b), one rounding on exact integer products, so for a confusion matrix
    (a = c = TP) it is bit-for-bit 2·TP / (2·TP + FP + FN). 0 where nothing was hit (an undefined side
    counts as 0); `zero_division` where nothing was predicted and there was nothing to find.
    """
    a, b, c, d = (np.asarray(x, dtype=np.float64) for x in (predicted_true, predicted, truth_found, truth))
    numerator = 2.0 * a * c
    denominator = a * d + c * b
    hit = numerator > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(hit, numerator / np.where(hit, denominator, 1.0), 0.0)
    return np.asarray(np.where((b == 0) & (d == 0), zero_division, f1), dtype=np.float64)


def binary_scores(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> dict[str, float]:
    """precision, recall and f1 of boolean predictions against boolean labels (0.0 where undefined)."""
    t, p = np.asarray(y_true, dtype=bool), np.asarray(y_pred, dtype=bool)
    tp, predicted, truth = int(np.count_nonzero(t & p)), int(np.count_nonzero(p)), int(np.count_nonzero(t))
    return {
        "precision": tp / predicted if predicted else ZERO_DIVISION,
        "recall": tp / truth if truth else ZERO_DIVISION,
        "f1": float(f1_from_counts(tp, predicted, tp, truth)),
    }


def macro_f1(y_true: npt.ArrayLike, y_pred: npt.ArrayLike, labels: Sequence[str] | npt.ArrayLike) -> float:
    """Mean F1 over those of `labels` that occur in the truth or the predictions (0.0 when none does)."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    keys = np.asarray(labels)
    in_truth, in_pred = t[None, :] == keys[:, None], p[None, :] == keys[:, None]
    truth, predicted = in_truth.sum(axis=1), in_pred.sum(axis=1)
    return float(macro_f1_from_counts((in_truth & in_pred).sum(axis=1), predicted, truth))


def macro_f1_from_counts(tp: npt.ArrayLike, predicted: npt.ArrayLike, truth: npt.ArrayLike) -> F64:
    """`macro_f1` of per-label confusion counts (last axis: the labels), for every leading index: the mean
    F1 over the labels present in the truth or the predictions (0.0 when none is). An absent label adds
    an exact 0.0 to the sum, so with fewer than 8 labels (numpy sums those one by one) the value is
    bit-for-bit the mean over the present labels alone."""
    tp, predicted, truth = (np.asarray(x, dtype=np.float64) for x in (tp, predicted, truth))
    present = (truth + predicted) > 0
    f1 = np.where(present, f1_from_counts(tp, predicted, tp, truth), 0.0)
    n = present.sum(axis=-1)
    return np.asarray(np.where(n > 0, f1.sum(axis=-1) / np.maximum(n, 1), ZERO_DIVISION), dtype=np.float64)


def pr_auc(y_true: npt.ArrayLike, score: npt.ArrayLike) -> float:
    """Area under the precision-recall curve as average precision, Σ (Rₙ − Rₙ₋₁)·Pₙ over the distinct
    score thresholds (0.0 without positives)."""
    t = np.asarray(y_true, dtype=bool)
    if not t.any():
        return ZERO_DIVISION
    s = np.asarray(score, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    y, s = t[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last index of each run of tied scores
    return _average_precision(np.cumsum(y)[last].astype(np.float64), (last + 1).astype(np.float64))


def pr_auc_of_draws(y_true: npt.ArrayLike, score: npt.ArrayLike, times: npt.ArrayLike) -> F64:
    """`pr_auc` of the rows repeated `times[d]` times (0: left out), for each draw d of `times` (draws ×
    rows), sorting the rows once: a run of tied scores keeps its place whatever is drawn, and its true
    positives and rows are integers, so each value is bit-for-bit `pr_auc` of the repeated rows."""
    t = np.asarray(y_true, dtype=bool)
    weights = np.asarray(times, dtype=np.float64)
    out = np.zeros(weights.shape[0])
    if not t.size:
        return out
    s = np.asarray(score, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    y, s = t[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    weights = weights[:, order]
    rows = np.cumsum(weights, axis=1)[:, last]
    tp = np.cumsum(weights * y, axis=1)[:, last]
    for d in range(len(out)):
        drawn = np.diff(np.r_[0.0, rows[d]]) > 0  # the runs with a drawn row
        out[d] = _average_precision(tp[d, drawn], rows[d, drawn])
    return out


def _average_precision(tp: F64, rows: F64) -> float:
    """Σ (Rₙ − Rₙ₋₁)·Pₙ from the true positives and rows up to the end of each run of tied scores."""
    if not len(tp) or tp[-1] == 0:
        return ZERO_DIVISION
    precision = tp / rows
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def accuracy(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """Share of predictions equal to the label (0.0 without rows)."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean(t == p)) if len(t) else ZERO_DIVISION


def best_f1_threshold(labels: npt.NDArray[np.bool_], proba: npt.NDArray[np.float64]) -> float:
    """The probability threshold with the best F1 (the highest one among ties), midway between the last
    admitted score and the next lower one, kept within [0.01, 0.99]; 0.5 without positives."""
    if not labels.any():
        return 0.5
    order = np.argsort(-proba, kind="stable")
    y, s = labels[order], proba[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # the last index of each run of tied scores
    tp = np.cumsum(y)[last]
    best = last[int(np.argmax(f1_from_counts(tp, last + 1, tp, labels.sum())))]
    below = s[best + 1] if best + 1 < len(s) else 0.0
    return float(np.clip((s[best] + below) / 2, 0.01, 0.99))
