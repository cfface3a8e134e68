"""Calibrating homesim from one real home: `fit` fits its layout, household clock and activity-model
parameters on the first share of its days; `run` generates homes like it through the normal generation
path and scores them (C2ST) against the days held out of the fit. `docs/realism.md` describes the method.
"""

from homesim.real_homes.calibration.fit import (
    HOLDOUT_SHARE,
    CalibrationError,
    FitSplit,
    FittedHome,
    fit_home,
)

__all__ = ["HOLDOUT_SHARE", "CalibrationError", "FitSplit", "FittedHome", "fit_home"]
