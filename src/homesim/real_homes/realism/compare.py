"""`compare(real_dirs, synthetic_dirs)`: the realism report of synthetic homes against real ones.

Loads both sides onto the footing, computes the behaviour features per kept home-day, runs the classifier
two-sample test synthetic vs real (folds grouped by home), compares each feature, and measures the floor —
the same test between real samples (each real home's first vs second half of its days; real homes among
themselves) — to read the figures against.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from homesim.io import write_atomic, write_text_atomic
from homesim.real_homes.realism.features import FEATURE_NAMES, FEATURES, day_features
from homesim.real_homes.realism.footing import Footing, HomeActivity, harmonise
from homesim.real_homes.realism.statistics import BOOTSTRAP_RESAMPLES, C2ST, c2st, feature_comparison
from homesim.schema.activities import ROOMS
from homesim.workspace import RealismFiles

#: A feature "fails" when more than this share of synthetic homes has its median outside the real range.
OUTSIDE_LIMIT = 0.2
#: A real home needs this many kept days for its first-vs-second-half floor.
MIN_HALF_DAYS = 4


class RealismError(ValueError):
    """Inputs a comparison cannot use (no homes on a side, no kept day)."""


class HomeSummary(BaseModel):
    """One home on the footing: its sensors and days (kept, and dropped by reason)."""

    model_config = ConfigDict(frozen=True)

    home: str
    real: bool
    residents: int | None
    citation: str | None = None
    sensors: dict[str, int]
    days: int
    kept_days: int
    dropped: dict[str, int]


class FeatureRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    feature: str
    description: str
    n_real: int
    n_synthetic: int
    median_real: float | None = None
    median_synthetic: float | None = None
    real_p05: float | None = None
    real_p95: float | None = None
    ks: float | None = None
    ks_p: float | None = None
    synthetic_homes: int | None = None
    outside_share: float | None = None


class RealismSummary(BaseModel):
    """What `homesim realism --json` prints: the JSON-able part of a `RealismReport`."""

    model_config = ConfigDict(frozen=True)

    kinds: list[str]
    #: Room classes compared (reports saved before room classes were harmonised: every class).
    rooms: list[str] = Field(default_factory=lambda: list(ROOMS))
    residents: int | None
    homes: list[HomeSummary]
    c2st: C2ST
    floor: list[C2ST]
    features: list[FeatureRow]
    #: Features with more than `OUTSIDE_LIMIT` of synthetic homes outside the real range, of those compared.
    features_outside: int
    features_compared: int


@dataclass(frozen=True)
class RealismReport:
    """The summary plus the frames the report plots: per-day features and per-home hour profiles."""

    summary: RealismSummary
    days: pl.DataFrame
    hour_profile: pl.DataFrame


def _home_summary(home: HomeActivity) -> HomeSummary:
    dropped = home.days.drop_nulls("reason").group_by("reason").len().sort("reason")
    kinds = home.sensors.group_by("kind").len().sort("kind")
    return HomeSummary(
        home=home.home,
        real=home.real,
        residents=home.residents,
        citation=home.citation,
        sensors=dict(zip(kinds["kind"], kinds["len"], strict=True)),
        days=home.days.height,
        kept_days=home.kept_days.height,
        dropped=dict(zip(dropped["reason"], dropped["len"], strict=True)),
    )


def _hour_profile(home: HomeActivity) -> pl.DataFrame:
    kept = home.kept_days["day"].implode()
    counts = (
        home.activations.filter(pl.col("start").dt.date().is_in(kept))
        .group_by(hour=pl.col("start").dt.hour())
        .agg(n=pl.len())
    )
    return (
        pl.DataFrame({"hour": range(24)}, schema={"hour": pl.Int8})
        .join(counts.cast({"hour": pl.Int8}), on="hour", how="left")
        .select(
            home=pl.lit(home.home),
            real=pl.lit(home.real),
            hour="hour",
            share=pl.col("n").fill_null(0) / pl.col("n").sum(),
        )
    )


def _test(
    name: str,
    days: pl.DataFrame,
    positive: pl.Expr,
    labels: tuple[str, str],
    by: str,
    resamples: int,
    importance: bool = False,
) -> C2ST:
    y = days.select(positive.cast(pl.Int64)).to_series().to_numpy()
    groups = days["home"].to_numpy() if by == "home" else np.arange(days.height)
    x = days.select(FEATURE_NAMES)
    return c2st(
        name,
        x,
        y,
        groups,
        positive=labels[0],
        negative=labels[1],
        grouped_by=by,
        importance=importance,
        resamples=resamples,
    )


def floor_tests(real_days: pl.DataFrame, resamples: int = BOOTSTRAP_RESAMPLES) -> list[C2ST]:
    """Real vs real: each real home's first vs second half (days), and real homes among themselves."""
    tests = []
    for (home,), part in real_days.sort("day").group_by("home", maintain_order=True):
        if part.height < MIN_HALF_DAYS:
            continue
        half = part.with_row_index("i").with_columns(second=pl.col("i") >= part.height // 2)
        tests.append(
            _test(
                f"{home}: first vs second half", half, pl.col("second"), ("second", "first"), "day", resamples
            )
        )
    homes = real_days["home"].unique(maintain_order=True).to_list()
    if len(homes) >= 4:  # two groups of real homes: grouped by home like the main test
        odd = homes[1::2]
        tests.append(
            _test(
                "real homes: one half vs the other",
                real_days,
                pl.col("home").is_in(odd),
                ("odd homes", "even homes"),
                "home",
                resamples,
            )
        )
    else:  # too few homes to group by home: home against home, grouped by day
        for a, b in combinations(homes, 2):
            pair = real_days.filter(pl.col("home").is_in([a, b]))
            tests.append(_test(f"{b} vs {a}", pair, pl.col("home") == b, (b, a), "day", resamples))
    return tests


def compare_footing(
    footing: Footing, residents: int | None = None, resamples: int = BOOTSTRAP_RESAMPLES
) -> RealismReport:
    """The report of homes already on the footing; `resamples` bootstrap resamples per test's CI."""
    if not footing.real or not footing.synthetic:
        raise RealismError(
            f"need homes on both sides: {len(footing.real)} real, {len(footing.synthetic)} synthetic"
        )
    homes = [*footing.real, *footing.synthetic]
    days = pl.concat([day_features(h) for h in homes])
    real_days = days.filter(pl.col("real"))
    if real_days.is_empty() or real_days.height == days.height:
        raise RealismError(
            "no kept day on one side (all days dropped: partial, nobody home or no activation)"
        )
    main = _test(
        "synthetic vs real", days, ~pl.col("real"), ("synthetic", "real"), "home", resamples, importance=True
    )
    table = feature_comparison(days, list(FEATURE_NAMES))
    rows = [FeatureRow(description=FEATURES[r["feature"]], **r) for r in table.iter_rows(named=True)]
    compared = [r for r in rows if r.outside_share is not None]
    summary = RealismSummary(
        kinds=list(footing.kinds),
        rooms=list(footing.rooms),
        residents=residents,
        homes=[_home_summary(h) for h in homes],
        c2st=main,
        floor=floor_tests(real_days, resamples),
        features=rows,
        features_outside=sum(1 for r in compared if (r.outside_share or 0.0) > OUTSIDE_LIMIT),
        features_compared=len(compared),
    )
    profile = pl.concat([_hour_profile(h) for h in homes])
    return RealismReport(summary=summary, days=days, hour_profile=profile)


def compare(
    real_dirs: Sequence[Path],
    synthetic_dirs: Sequence[Path],
    *,
    residents: int | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> RealismReport:
    """Realism of the synthetic homes in `synthetic_dirs` against the real homes in `real_dirs` (home
    folders); `residents` keeps only synthetic homes with that many occupants; `resamples` bootstrap
    resamples give each AUC's CI (each reruns the cross-validation)."""
    footing = harmonise(real_dirs, synthetic_dirs, residents=residents)
    return compare_footing(footing, residents, resamples)


def write_realism(report: RealismReport, files: RealismFiles) -> list[Path]:
    """Save a report (summary JSON and the two frames the plots need), each file atomically."""
    files.path.mkdir(parents=True, exist_ok=True)
    write_text_atomic(files.summary, report.summary.model_dump_json(indent=2) + "\n")
    write_atomic(files.days, report.days.write_parquet)
    write_atomic(files.hour_profile, report.hour_profile.write_parquet)
    return [files.summary, files.days, files.hour_profile]


def read_realism(files: RealismFiles) -> RealismReport | None:
    """A report saved by `write_realism`, or None when there is none."""
    if not all(p.is_file() for p in (files.summary, files.days, files.hour_profile)):
        return None
    return RealismReport(
        summary=RealismSummary.model_validate_json(files.summary.read_text("utf-8")),
        days=pl.read_parquet(files.days),
        hour_profile=pl.read_parquet(files.hour_profile),
    )
