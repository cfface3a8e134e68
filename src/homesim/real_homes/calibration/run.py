"""`calibrate(real_dir, homes=N)`: fit one real home, generate N homes like it, score them on its held-out
days.

The homes go through the normal generation path (`DataGenerationManager`, so the cache, manifest, ground
truth and `activities.parquet` all work) with the fitted `Calibration` in `GenerationConfig.calibration`.
The score is the realism module's classifier two-sample test (`realism.statistics.c2st`) of the
calibrated homes' days against the real home's held-out days — synthetic days grouped by home, real days
by day (there is one real home) — with its floor: the real home's own fit days against its held-out days.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict

from homesim.datasets.home_folder import read_home
from homesim.datasets.manager import DataGenerationManager
from homesim.io import write_text_atomic
from homesim.real_homes.calibration.fit import (
    HOLDOUT_SHARE,
    CalibrationError,
    FittedHome,
    fit_home,
    restrict_days,
)
from homesim.real_homes.calibration.moments import calibration_config, match_rates
from homesim.real_homes.realism.features import FEATURE_NAMES, day_features
from homesim.real_homes.realism.footing import harmonise, resolve_homes
from homesim.real_homes.realism.statistics import BOOTSTRAP_RESAMPLES, C2ST, c2st
from homesim.workspace import Workspace

#: Acceptance target of issue 14: calibrated homes vs the held-out days of their real home.
TARGET_AUC = 0.70
CALIBRATION_FILE = "calibration.json"
REPORT_FILE = "calibration_report.json"


class CalibrationReport(BaseModel):
    """What `homesim calibrate` prints and saves as `calibration_report.json`."""

    model_config = ConfigDict(frozen=True)

    real_home: str
    homes: int
    days: int
    seed: int
    holdout_share: float
    dataset_id: str
    fit_days: int
    held_out_days: int
    #: Calibrated homes' days vs the real home's held-out days (0.5 = indistinguishable).
    c2st: C2ST
    #: The real home's fit days vs its held-out days: what a perfect copy of the home would score.
    floor: C2ST
    target_auc: float = TARGET_AUC
    #: Whether the AUC is at or under the target (None when the AUC could not be computed).
    met: bool | None


def _days(homes: Sequence[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(homes) if homes else pl.DataFrame()


def score(
    real_dir: Path, synthetic_dirs: Sequence[Path], fitted: FittedHome, resamples: int
) -> tuple[C2ST, C2ST]:
    """(calibrated vs held-out, fit vs held-out) on the realism footing."""
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
    return main, floor


def calibrate(
    real: Path,
    workspace: Workspace,
    *,
    homes: int,
    days: int,
    seed: int = 0,
    holdout_share: float = HOLDOUT_SHARE,
    executor: str = "inline",
    workers: int = 1,
    resamples: int = BOOTSTRAP_RESAMPLES,
) -> tuple[FittedHome, CalibrationReport, Path]:
    """Fit the real home at `real`, generate `homes` homes like it into `workspace`, score them; saves
    `calibration.json` and `calibration_report.json` and returns them with the folder they are in."""
    dirs = resolve_homes(real)
    if len(dirs) != 1:
        raise CalibrationError(f"{real}: calibrate from one real home folder, found {len(dirs)}")
    real_dir = dirs[0]
    if read_home(real_dir).metadata.real_source is None:
        raise CalibrationError(f"{real_dir}: not a real home (import one with `homesim import-history`)")
    fitted = match_rates(fit_home(real_dir, holdout_share))
    config = calibration_config(fitted, homes, days, seed)
    with DataGenerationManager(workspace, executor, workers=workers) as manager:
        result = manager.generate(config)
    if result.failures:
        raise CalibrationError(f"{len(result.failures)} calibrated homes failed: {result.failures[0].error}")
    dataset_dir = result.manifest_path.parent
    main, floor = score(real_dir, resolve_homes(dataset_dir), fitted, resamples)
    report = CalibrationReport(
        real_home=fitted.home,
        homes=homes,
        days=days,
        seed=seed,
        holdout_share=holdout_share,
        dataset_id=dataset_dir.name,
        fit_days=len(fitted.split.fit_days),
        held_out_days=len(fitted.split.held_out_days),
        c2st=main,
        floor=floor,
        met=None if main.auc is None else main.auc <= TARGET_AUC,
    )
    out = workspace.reports_dir / "calibration" / fitted.home
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / CALIBRATION_FILE, fitted.model_dump_json(indent=2) + "\n")
    write_text_atomic(out / REPORT_FILE, report.model_dump_json(indent=2) + "\n")
    return fitted, report, out
