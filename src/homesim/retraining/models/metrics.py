"""How a trainer's probabilities meet its stage's threshold (the scores themselves: `homesim.scores`)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def to_stage_scale(
    proba: npt.NDArray[np.float64], threshold: float, stage_threshold: float
) -> npt.NDArray[np.float64]:
    """Monotone piecewise-linear map of a probability sending `threshold` to the stage's threshold, so
    the stage's `score >= stage_threshold` decision is the model's best-F1 decision."""
    low = proba * (stage_threshold / threshold)
    high = stage_threshold + (proba - threshold) * ((1 - stage_threshold) / (1 - threshold))
    return np.asarray(np.clip(np.where(proba < threshold, low, high), 0.0, 1.0), dtype=np.float64)
