"""The like-for-like score: calibrated days are scored against the held-out real days with as many of them
at a time as the floor has fit days, so the score reads on the floor's scale."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from homesim.real_homes.calibration.matched import matched_c2st
from homesim.real_homes.realism.features import FEATURE_NAMES, day_features
from homesim.real_homes.realism.footing import load_home


def test_matched_score_reads_the_floor_scale(home_a: Path) -> None:
    days = day_features(load_home(home_a, real=True))
    held = days.head(5)
    same = days.tail(-5).with_columns(real=pl.lit(False), home=pl.lit("copy"))
    alike = matched_c2st(same, held, 6, resamples=40)
    assert alike.n_positive == 6 and alike.n_negative == 5
    assert alike.auc is not None and alike.auc < 0.8
    busier = same.with_columns(pl.col(FEATURE_NAMES).cast(pl.Float64) * 3 + 5)  # every feature far off
    apart = matched_c2st(busier, held, 6, resamples=40)
    assert apart.auc is not None and apart.auc > 0.9
    assert apart.ci_low is not None and apart.ci_high is not None
    assert apart.ci_low <= apart.auc <= apart.ci_high
    assert matched_c2st(busier, held, 6, resamples=40) == apart  # a function of its days alone
