"""The like-for-like score: calibrated homes against a fold's held-out real days with as many calibrated
days as the floor has real fit days.

The floor (the real home's fit days vs its held-out days) is what a perfect copy of the home would score,
but it trains its classifier on 8–14 real days, while the fold's main test trains on 84–112 calibrated
days from several homes: with eight times the days on one side the classifier learns that side far better,
so the two AUCs are not read on one scale. Here each of `DRAWS` draws takes as many calibrated days as the
floor's fit days — without replacement, across all of the fold's homes (a home's between-home variation
stays in) — and runs the same classifier two-sample test against the same held-out days, grouped by day
as the floor is (days of one home in train and test can only help the classifier, so this is no easier on
the calibrated side). The AUC is the mean over draws (the draw's chance removed, not the real days'); its
95 % CI the percentile interval of the draws' bootstrap AUCs pooled (each draw `resamples` ÷ `DRAWS`
resamples, so the interval carries both the real days' and the draw's variation); its p-value the median
of the draws' (a summary: the draws share their real days, so their p-values cannot be combined as
independent).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from homesim.real_homes.realism.features import FEATURE_NAMES
from homesim.real_homes.realism.statistics import ALPHA, C2ST, c2st, percentile_ci

#: Draws of calibrated days per fold.
DRAWS = 20
#: Fixed: the draws are a function of the fold's days alone.
DRAW_SEED = 20_261_208


def matched_c2st(synthetic: pl.DataFrame, held: pl.DataFrame, days: int, resamples: int) -> C2ST:
    """Like-for-like test of `days` calibrated days (of `synthetic`, day features) at a time against the
    `held` real days (see the module)."""
    rng = np.random.default_rng(DRAW_SEED)
    per_draw = max(resamples // DRAWS, 2)
    n = min(days, synthetic.height)
    tests = []
    for _ in range(DRAWS):
        drawn = synthetic[np.sort(rng.choice(synthetic.height, n, replace=False)).tolist()]
        both = pl.concat([drawn, held])
        groups = both["home"].cast(pl.String) + "/" + both["day"].cast(pl.String)
        tests.append(
            c2st(
                "matched",
                both.select(FEATURE_NAMES),
                (~both["real"]).cast(pl.Int64).to_numpy(),
                groups.to_numpy(),
                positive="calibrated",
                negative="held-out real",
                grouped_by="day",
                importance=False,
                resamples=per_draw,
            )
        )
    first = tests[0]
    base: dict[str, Any] = {
        "name": f"like-for-like: {n} calibrated days vs held-out days ({DRAWS} draws)",
        "positive": first.positive,
        "negative": first.negative,
        "n_positive": first.n_positive,
        "n_negative": first.n_negative,
        "groups_positive": first.groups_positive,
        "groups_negative": first.groups_negative,
        "folds": first.folds,
        "grouped_by": first.grouped_by,
    }
    aucs = [t.auc for t in tests if t.auc is not None]
    p_values = [t.p_value for t in tests if t.p_value is not None]
    if len(aucs) < DRAWS or len(p_values) < DRAWS or first.min_p_value is None:
        return C2ST.not_computed(base, first.note or "a draw could not be scored")
    pooled = [a for t in tests for a in t.bootstrap_aucs]
    low, high = percentile_ci(pooled)
    p_value = float(np.median(p_values))
    return C2ST(
        **base,
        auc=float(np.mean(aucs)),
        ci_low=low,
        ci_high=high,
        bootstrap_resamples=len(pooled),
        bootstrap_aucs=pooled,
        p_value=p_value,
        min_p_value=first.min_p_value,
        significant=p_value < ALPHA,
        can_reach_significance=first.min_p_value < ALPHA,
        importance=[],
        note=f"mean of {DRAWS} draws of {n} calibrated days",
    )
