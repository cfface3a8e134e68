"""`calibrate(real_dir, homes=N)`: fit one real home, generate N homes like it, score them on days held
out of the fit.

By default the score is cross-fitted (`folds` = k): the real home's kept days are cut into k contiguous
blocks; fold j fits on the other blocks, generates its share of the N homes and is scored against block
j, and the folds' scores are averaged (`crossfit.mean_c2st`), so every real day is scored once, always
against homes fitted without it. With `folds` = 1 the last `holdout_share` of the days is held out instead.
The homes go through the normal generation path (`DataGenerationManager`, so the cache, manifest, ground
truth and `activities.parquet` all work) with the fitted `Calibration` in `GenerationConfig.calibration`,
one dataset per fold. Each fold's score is the realism module's classifier two-sample test
(`realism.statistics.c2st`) of its calibrated homes' days against its held-out days — synthetic days
grouped by home, real days by day (there is one real home) — with its floor: the real home's own fit
days against the same held-out days; and the like-for-like score (`matched.matched_c2st`): as many
calibrated days at a time as the floor has fit days, so the calibrated homes are read on the floor's scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict

from homesim.datasets.home_folder import read_home
from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.io import write_text_atomic
from homesim.real_homes.calibration.crossfit import mean_c2st
from homesim.real_homes.calibration.fit import (
    HOLDOUT_SHARE,
    CalibrationError,
    FittedHome,
    fit_home,
    restrict_days,
)
from homesim.real_homes.calibration.matched import matched_c2st
from homesim.real_homes.calibration.moments import calibration_config, match_rates
from homesim.real_homes.realism.features import FEATURE_NAMES, day_features
from homesim.real_homes.realism.footing import harmonise, resolve_homes
from homesim.real_homes.realism.statistics import BOOTSTRAP_RESAMPLES, C2ST, c2st
from homesim.workspace import Workspace

#: Acceptance target of issue 14: calibrated homes vs the held-out days of their real home.
TARGET_AUC = 0.70
#: Cross-fitted folds by default (each holds out a third of the real home's days).
FOLDS = 3
CALIBRATION_FILE = "calibration.json"
REPORT_FILE = "calibration_report.json"


class FoldScore(BaseModel):
    """One fold: which real days it held out, the dataset of its homes, and its two tests."""

    model_config = ConfigDict(frozen=True)

    fold: int
    fit_days: int
    held_out: tuple[date, date]
    held_out_days: int
    homes: int
    dataset_id: str
    c2st: C2ST
    floor: C2ST
    #: As many calibrated days at a time as `floor` has fit days, against the same held-out days.
    matched: C2ST


def calibration_file(fold: int, folds: int) -> str:
    """The saved fit of fold `fold` (0-based) of `folds`: `calibration.json`, or `calibration-<j>.json`
    (1-based) for each cross-fitted fold."""
    return CALIBRATION_FILE if folds == 1 else f"calibration-{fold + 1}.json"


class CalibrationReport(BaseModel):
    """What `homesim calibrate` prints and saves as `calibration_report.json`."""

    model_config = ConfigDict(frozen=True)

    real_home: str
    homes: int
    days: int
    seed: int
    #: Cross-fitted folds (1: the last `holdout_share` of the days held out).
    folds: int
    holdout_share: float
    #: Real days scored (each held out of one fold's fit), and the fewest days a fold's fit read.
    fit_days: int
    held_out_days: int
    #: Calibrated homes' days vs the real home's held-out days (0.5 = indistinguishable); over folds, the
    #: weighted mean of theirs.
    c2st: C2ST
    #: The real home's fit days vs its held-out days: what a perfect copy of the home would score.
    floor: C2ST
    by_fold: list[FoldScore]
    target_auc: float = TARGET_AUC
    #: Whether the AUC is at or under the target (None when the AUC could not be computed).
    met: bool | None
    #: The like-for-like score (`matched.matched_c2st`) over folds, and whether it is under the target.
    matched: C2ST
    matched_met: bool | None


def _days(homes: Sequence[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(homes) if homes else pl.DataFrame()


def score(
    real_dir: Path, synthetic_dirs: Sequence[Path], fitted: FittedHome, resamples: int
) -> tuple[C2ST, C2ST, C2ST]:
    """(calibrated vs held-out, fit vs held-out, like-for-like calibrated vs held-out) on the realism
    footing."""
    footing = harmonise([real_dir], synthetic_dirs)
    real = footing.real[0]
    held = day_features(restrict_days(real, fitted.split.held_out_days, "fit day"))
    fit = day_features(restrict_days(real, fitted.split.fit_days, "held out"))
    synthetic = _days([day_features(h) for h in footing.synthetic])
    if held.is_empty() or synthetic.is_empty():
        raise CalibrationError("no kept day to score on one side (held-out days or calibrated homes)")
    both = pl.concat([synthetic, held])
    groups = np.where(
        both["real"].to_numpy(), both["day"].cast(pl.String).to_numpy(), both["home"].to_numpy()
    )
    main = c2st(
        "calibrated vs held-out days",
        both.select(FEATURE_NAMES),
        (~both["real"]).cast(pl.Int64).to_numpy(),
        groups,
        positive="calibrated",
        negative="held-out real",
        grouped_by="home/day",
        resamples=resamples,
    )
    halves = pl.concat([fit, held])
    floor = c2st(
        "real: fit days vs held-out days",
        halves.select(FEATURE_NAMES),
        halves["day"].is_in(fitted.split.held_out_days).cast(pl.Int64).to_numpy(),
        halves["day"].cast(pl.String).to_numpy(),
        positive="held-out",
        negative="fit",
        grouped_by="day",
        importance=False,
        resamples=resamples,
    )
    matched = matched_c2st(synthetic, held, fit.height, resamples)
    return main, floor, matched


def _fold(
    real_dir: Path,
    fitted: FittedHome,
    manager: DataGenerationManager,
    config: GenerationConfig,
    resamples: int,
) -> FoldScore:
    """Generate one fold's homes and score them against its held-out days."""
    result = manager.generate(config)
    if result.failures:
        raise CalibrationError(f"{len(result.failures)} calibrated homes failed: {result.failures[0].error}")
    dataset_dir = result.manifest_path.parent
    main, floor, matched = score(real_dir, resolve_homes(dataset_dir), fitted, resamples)
    if fitted.split.fold is not None:
        j, k = fitted.split.fold
        main, floor, matched = (
            t.model_copy(update={"name": f"fold {j + 1}/{k}: {t.name}"}) for t in (main, floor, matched)
        )
    held = fitted.split.held_out_days
    return FoldScore(
        fold=0 if fitted.split.fold is None else fitted.split.fold[0],
        fit_days=len(fitted.split.fit_days),
        held_out=(held[0], held[-1]),
        held_out_days=len(held),
        homes=config.homes,
        dataset_id=dataset_dir.name,
        c2st=main,
        floor=floor,
        matched=matched,
    )


def calibrate(
    real: Path,
    workspace: Workspace,
    *,
    homes: int,
    days: int,
    seed: int = 0,
    folds: int = FOLDS,
    holdout_share: float = HOLDOUT_SHARE,
    executor: str = "inline",
    workers: int = 1,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> tuple[list[FittedHome], CalibrationReport, Path]:
    """Fit the real home at `real` (once per fold), generate `homes` homes like it into `workspace` (shared
    out among the folds), score them; saves each fold's `FittedHome` (`calibration_file`) and
    `calibration_report.json` and returns them with the folder they are in."""
    dirs = resolve_homes(real)
    if len(dirs) != 1:
        raise CalibrationError(f"{real}: calibrate from one real home folder, found {len(dirs)}")
    real_dir = dirs[0]
    if read_home(real_dir).metadata.real_source is None:
        raise CalibrationError(f"{real_dir}: not a real home (import one with `homesim import-history`)")
    if homes < folds:
        raise CalibrationError(
            f"{homes} homes cannot be shared out among {folds} folds: give at least {folds}"
        )
    fits = (
        [fit_home(real_dir, holdout_share)]
        if folds == 1
        else [fit_home(real_dir, fold=(j, folds)) for j in range(folds)]
    )
    # Fold j's homes: seed·k + j, so no two (seed, fold) pairs share a stream (k = 1: the seed itself).
    shares = [len(part) for part in np.array_split(np.arange(homes), folds)]
    scores = []
    with DataGenerationManager(workspace, executor, workers=workers) as manager:
        for j, fitted in enumerate(fits):
            fits[j] = match_rates(fitted)
            config = calibration_config(fits[j], shares[j], days, seed * folds + j)
            scores.append(_fold(real_dir, fits[j], manager, config, resamples))
    held_out = [s.held_out_days for s in scores]

    def over_folds(name: str, tests: list[C2ST]) -> C2ST:
        # One split's test as it is; folds' tests weighted by their held-out days (`crossfit`).
        return tests[0] if folds == 1 else mean_c2st(name, tests, held_out)

    main = over_folds("calibrated vs held-out days", [s.c2st for s in scores])
    floor = over_folds("real: fit days vs held-out days", [s.floor for s in scores])
    like = over_folds("like-for-like: calibrated vs held-out days", [s.matched for s in scores])
    report = CalibrationReport(
        real_home=fits[0].home,
        homes=homes,
        days=days,
        seed=seed,
        folds=folds,
        holdout_share=holdout_share if folds == 1 else 1 / folds,
        fit_days=min(s.fit_days for s in scores),
        held_out_days=sum(held_out),
        c2st=main,
        floor=floor,
        by_fold=scores,
        met=None if main.auc is None else main.auc <= TARGET_AUC,
        matched=like,
        matched_met=None if like.auc is None else like.auc <= TARGET_AUC,
    )
    out = workspace.reports_dir / "calibration" / fits[0].home
    out.mkdir(parents=True, exist_ok=True)
    for j, fitted in enumerate(fits):
        write_text_atomic(out / calibration_file(j, folds), fitted.model_dump_json(indent=2) + "\n")
    write_text_atomic(out / REPORT_FILE, report.model_dump_json(indent=2) + "\n")
    return fits, report, out
