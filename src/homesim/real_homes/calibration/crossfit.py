"""The cross-fitted score: the folds' classifier two-sample tests (each fold's calibrated homes against the
block of real days its fit held out) averaged into one.

Each real day is held out of exactly one fold's fit, so the average reads every real day once and only
against homes fitted without it. The AUC is the mean of the folds' AUCs weighted by their held-out days;
its 95 % CI the percentile interval of the same weighted mean taken resample by resample over the folds'
own bootstraps (independent, so pairing the i-th resamples draws from the mean's distribution); the
p-value the folds' combined by Fisher's method (scipy).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from homesim.real_homes.realism.statistics import ALPHA, C2ST, percentile_ci


def _weighted(values: Sequence[float], weights: np.ndarray) -> float:
    return float(np.average(np.asarray(values, dtype=np.float64), weights=weights))


def mean_c2st(name: str, tests: Sequence[C2ST], held_out: Sequence[int]) -> C2ST:
    """One C2ST from the folds' `tests`, each weighted by its `held_out` real days (see the module)."""
    first = tests[0]
    base: dict[str, Any] = {
        "name": name,
        "positive": first.positive,
        "negative": first.negative,
        "n_positive": sum(t.n_positive for t in tests),
        "n_negative": sum(t.n_negative for t in tests),
        "groups_positive": sum(t.groups_positive for t in tests),
        "groups_negative": sum(t.groups_negative for t in tests),
        "folds": len(tests),
        "grouped_by": first.grouped_by,
    }
    aucs = [t.auc for t in tests]
    p_values = [t.p_value for t in tests]
    min_ps = [t.min_p_value for t in tests]
    if any(a is None for a in aucs) or any(p is None for p in p_values) or any(p is None for p in min_ps):
        notes = "; ".join(t.note for t in tests if t.auc is None) or "a fold has no p-value"
        return C2ST.not_computed(base, notes)
    weights = np.asarray(held_out, dtype=np.float64)
    n = min(len(t.bootstrap_aucs) for t in tests)
    drawn = [_weighted([t.bootstrap_aucs[i] for t in tests], weights) for i in range(n)]
    low, high = percentile_ci(drawn)
    p_value = float(stats.combine_pvalues([p for p in p_values if p is not None]).pvalue)
    min_p = float(stats.combine_pvalues([p for p in min_ps if p is not None]).pvalue)
    features = [k for k, _ in first.importance]
    by_fold = [dict(t.importance) for t in tests]
    importance = sorted(
        ((k, round(_weighted([f.get(k, 0.0) for f in by_fold], weights), 4)) for k in features),
        key=lambda kv: -kv[1],
    )
    return C2ST(
        **base,
        auc=_weighted([a for a in aucs if a is not None], weights),
        ci_low=low,
        ci_high=high,
        bootstrap_resamples=n,
        bootstrap_aucs=drawn,
        p_value=p_value,
        min_p_value=min_p,
        significant=p_value < ALPHA,
        can_reach_significance=min_p < ALPHA,
        importance=importance,
        note=f"mean of {len(tests)} cross-fitted folds",
    )
