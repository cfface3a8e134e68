"""The statistics of the comparison, all from scikit-learn and scipy: classifier two-sample tests and
per-feature distances.

`c2st` is a classifier two-sample test: a regularised logistic regression learns to tell the two
samples' days apart; folds are grouped (a group — a home, or a single day — never sits on both sides of
a split), ROC AUC is measured on the out-of-fold predictions (0.5: indistinguishable, 1.0: always told
apart), its 95 % CI comes from a bootstrap over groups that reruns the cross-validation (each class's
groups resampled apart), so it carries the model's variance too; permutation importance (on each
held-out fold) says which features give a sample away, and an exact Mann–Whitney U test on the
per-group mean scores says whether the AUC is significant — and whether it could be at all with so few
groups. Everything has a fixed random_state.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

RANDOM_STATE = 0
MAX_FOLDS = 5
BOOTSTRAP_RESAMPLES = 200
PERMUTATION_REPEATS = 5
ALPHA = 0.05
#: The real-days range a synthetic home's median should fall in (quantiles).
RANGE = (0.05, 0.95)

F64 = NDArray[np.float64]


class C2ST(BaseModel):
    """Result of one classifier two-sample test (label 1 = the `positive` sample)."""

    model_config = ConfigDict(frozen=True)

    name: str
    positive: str
    negative: str
    auc: float | None
    ci_low: float | None
    ci_high: float | None
    #: Days (rows) and groups per sample; folds; what a group is ("home" or "day").
    n_positive: int
    n_negative: int
    groups_positive: int
    groups_negative: int
    folds: int
    grouped_by: str
    #: Bootstrap resamples behind the CI (those with at least 2 groups per class).
    bootstrap_resamples: int = 0
    #: One-sided exact Mann–Whitney U p-value of per-group mean scores, and the smallest p it can reach.
    p_value: float | None
    min_p_value: float | None
    significant: bool
    can_reach_significance: bool
    #: Features by mean permutation importance (drop in AUC when shuffled), largest first.
    importance: list[tuple[str, float]]
    note: str = ""
    #: The bootstrap resamples' AUCs behind the CI (not saved): what a score averaged over several tests
    #: (the calibration's cross-fitted folds) draws its own CI from.
    bootstrap_aucs: list[float] = Field(default_factory=list, exclude=True)

    @classmethod
    def not_computed(cls, base: dict[str, Any], why: str) -> C2ST:
        """A test that could not run: the samples' counts in `base`, `why` in its note."""
        return cls(
            **base,
            auc=None,
            ci_low=None,
            ci_high=None,
            p_value=None,
            min_p_value=None,
            significant=False,
            can_reach_significance=False,
            importance=[],
            note=f"not computed: {why}",
        )


def _classifier() -> Pipeline:
    # A linear model on standardised features: with two or three real homes, a fold trains on one real home
    # and tests on another, and only a direction shared by real homes carries across (tree ensembles
    # latch onto the one training home's quirks and score near chance on the next). A feature can be
    # missing (a day without a wake-up, a home without motion sensors), in a whole fold too: impute the
    # median and keep a missing-indicator column.
    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000),
    )


def _out_of_fold(
    matrix: F64, y: NDArray[np.int_], groups: NDArray[Any], folds: int, with_importance: bool
) -> tuple[F64, F64]:
    """Out-of-fold scores of a grouped k-fold split, and the mean permutation importance over its held-out
    folds when asked."""
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=RANDOM_STATE)
    fitted = cross_validate(
        _classifier(),
        matrix,
        y,
        groups=groups,
        cv=cv,
        return_estimator=True,
        return_indices=True,
        error_score="raise",
    )
    scores = np.zeros(len(y), dtype=np.float64)
    importance = np.zeros(matrix.shape[1], dtype=np.float64)
    for model, test in zip(fitted["estimator"], fitted["indices"]["test"], strict=True):
        scores[test] = model.predict_proba(matrix[test])[:, 1]
        if with_importance and len(np.unique(y[test])) == 2:
            result = permutation_importance(
                model,
                matrix[test],
                y[test],
                scoring="roc_auc",
                n_repeats=PERMUTATION_REPEATS,
                random_state=RANDOM_STATE,
            )
            importance += result.importances_mean / folds
    return scores, importance


def _group_means(scores: F64, groups: NDArray[Any], y: NDArray[np.int_]) -> tuple[F64, F64]:
    frame = pl.DataFrame({"g": groups, "y": y, "s": scores}).group_by("g", "y").agg(pl.col("s").mean())
    return (
        frame.filter(pl.col("y") == 1)["s"].to_numpy(),
        frame.filter(pl.col("y") == 0)["s"].to_numpy(),
    )


def _bootstrap_aucs(matrix: F64, y: NDArray[np.int_], groups: NDArray[Any], resamples: int) -> list[float]:
    """Bootstrap of the cross-validated AUC over groups that refits (its CI: `percentile_ci`): each resample
    draws each class's groups with replacement (copies of a group share its id, so they sit in one fold)
    and reruns the whole grouped cross-validation. Resamples with under 2 distinct groups in a class
    cannot be cross-validated and are skipped; returns the AUCs of the resamples used."""
    codes = np.unique(groups, return_inverse=True)[1]
    members = [np.flatnonzero(codes == g) for g in range(codes.max() + 1)]
    by_class = [np.array([g for g, m in enumerate(members) if y[m[0]] == c]) for c in (1, 0)]
    rng = np.random.default_rng(RANDOM_STATE)
    aucs = []
    for _ in range(resamples):
        drawn = [rng.choice(ids, size=len(ids), replace=True) for ids in by_class]
        distinct = min(len(np.unique(d)) for d in drawn)
        if distinct < 2:
            continue
        rows = np.concatenate([members[g] for d in drawn for g in d])
        scores, _ = _out_of_fold(matrix[rows], y[rows], codes[rows], min(MAX_FOLDS, distinct), False)
        aucs.append(float(roc_auc_score(y[rows], scores)))
    return aucs


def percentile_ci(aucs: list[float]) -> tuple[float | None, float | None]:
    """The 95 % percentile interval of bootstrap AUCs (None, None without any)."""
    if not aucs:
        return None, None
    low, high = np.quantile(aucs, [0.025, 0.975])
    return float(low), float(high)


def _min_p(n_pos: int, n_neg: int) -> float:
    """The smallest one-sided exact Mann–Whitney p-value with these group counts (perfect separation)."""
    return float(
        stats.mannwhitneyu(
            np.arange(n_neg, n_neg + n_pos), np.arange(n_neg), alternative="greater", method="exact"
        ).pvalue
    )


def c2st(
    name: str,
    x: pl.DataFrame,
    y: NDArray[np.int_],
    groups: NDArray[Any],
    *,
    positive: str,
    negative: str,
    grouped_by: str,
    importance: bool = True,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> C2ST:
    """Classifier two-sample test of rows `y == 1` against `y == 0`, folds grouped by `groups`;
    `importance` adds permutation importance; `resamples` bootstrap resamples give the CI."""
    # One thread: the data are small, and OpenMP threads competing for a busy machine's cores cost ~50x.
    with threadpool_limits(1):
        return _c2st(name, x, y, groups, positive, negative, grouped_by, importance, resamples)


def _c2st(
    name: str,
    x: pl.DataFrame,
    y: NDArray[np.int_],
    groups: NDArray[Any],
    positive: str,
    negative: str,
    grouped_by: str,
    with_importance: bool,
    resamples: int,
) -> C2ST:
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    g_pos, g_neg = len(np.unique(groups[y == 1])), len(np.unique(groups[y == 0]))
    folds = min(MAX_FOLDS, g_pos, g_neg)
    base: dict[str, Any] = {
        "name": name,
        "positive": positive,
        "negative": negative,
        "n_positive": n_pos,
        "n_negative": n_neg,
        "groups_positive": g_pos,
        "groups_negative": g_neg,
        "folds": folds,
        "grouped_by": grouped_by,
    }
    if folds < 2:
        return C2ST.not_computed(
            base, f"each sample needs at least 2 {grouped_by}s (has {g_pos} and {g_neg})"
        )
    matrix = x.to_numpy().astype(np.float64)
    scores, importance = _out_of_fold(matrix, y, groups, folds, with_importance)
    auc = float(roc_auc_score(y, scores))
    aucs = _bootstrap_aucs(matrix, y, groups, resamples)
    low, high = percentile_ci(aucs)
    pos_means, neg_means = _group_means(scores, groups, y)
    p_value = float(stats.mannwhitneyu(pos_means, neg_means, alternative="greater", method="exact").pvalue)
    min_p = _min_p(g_pos, g_neg)
    ranked = sorted(zip(x.columns, importance.tolist(), strict=True), key=lambda kv: -kv[1])
    note = "" if min_p < ALPHA else f"cannot reach p < {ALPHA} with {g_pos} vs {g_neg} {grouped_by}s"
    return C2ST(
        **base,
        auc=auc,
        ci_low=low,
        ci_high=high,
        bootstrap_resamples=len(aucs),
        bootstrap_aucs=aucs,
        p_value=p_value,
        min_p_value=min_p,
        significant=p_value < ALPHA,
        can_reach_significance=min_p < ALPHA,
        importance=[(k, round(v, 4)) for k, v in ranked],
        note=note,
    )


def feature_comparison(days: pl.DataFrame, features: list[str]) -> pl.DataFrame:
    """Per feature: n, medians both sides, the real days' 5–95 % range, KS distance and p-value, and
    the share of synthetic homes whose median lies outside that range."""
    real = days.filter(pl.col("real"))
    synthetic = days.filter(~pl.col("real"))
    home_medians = synthetic.group_by("home").agg(pl.col(features).median())
    rows = []
    for name in features:
        r = real[name].drop_nulls().drop_nans().to_numpy()
        s = synthetic[name].drop_nulls().drop_nans().to_numpy()
        medians = home_medians[name].drop_nulls().drop_nans().to_numpy()
        if len(r) == 0 or len(s) == 0:
            rows.append({"feature": name, "n_real": len(r), "n_synthetic": len(s)})
            continue
        low, high = np.quantile(r, RANGE)
        ks = stats.ks_2samp(r, s)
        outside = float(((medians < low) | (medians > high)).mean()) if len(medians) else None
        rows.append(
            {
                "feature": name,
                "n_real": len(r),
                "n_synthetic": len(s),
                "median_real": float(np.median(r)),
                "median_synthetic": float(np.median(s)),
                "real_p05": float(low),
                "real_p95": float(high),
                "ks": float(ks.statistic),
                "ks_p": float(ks.pvalue),
                "synthetic_homes": len(medians),
                "outside_share": outside,
            }
        )
    schema = {
        "feature": pl.String,
        "n_real": pl.Int64,
        "n_synthetic": pl.Int64,
        "median_real": pl.Float64,
        "median_synthetic": pl.Float64,
        "real_p05": pl.Float64,
        "real_p95": pl.Float64,
        "ks": pl.Float64,
        "ks_p": pl.Float64,
        "synthetic_homes": pl.Int64,
        "outside_share": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)
