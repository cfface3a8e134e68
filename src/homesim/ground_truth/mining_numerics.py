"""Array numerics of the independent miner (`verifier`): distinct counts per key, sums over circular windows
of the day, the binomial log-likelihood ratio of a rate, and minutes of the day on a circle (distance from
an anchor, membership of a window, the median of a cluster that may span midnight)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from homesim.generation.calendar import US_PER_S

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
BoolArr = npt.NDArray[np.bool_]


def distinct_count(akey: I64, ante: I64, n_keys: int) -> F64:
    """Per key, how many distinct antecedent events appear."""
    if len(akey) == 0:
        return np.zeros(n_keys)
    unique = np.unique(akey * (int(ante.max()) + 1) + ante)
    return np.bincount(unique // (int(ante.max()) + 1), minlength=n_keys).astype(np.float64)


def circular_window_sums(counts: npt.NDArray[np.int32] | I64, halves: I64) -> I64:
    """Sums over the circular windows [c - h, c + h] of each column c (last axis), for each half width h:
    shape (len(halves), *counts.shape)."""
    pad = int(halves.max())
    padded = np.concatenate([counts[:, -pad:], counts, counts[:, :pad]], axis=1)
    cumulative = np.zeros((counts.shape[0], padded.shape[1] + 1), dtype=np.int64)
    np.cumsum(padded, axis=1, out=cumulative[:, 1:])
    n = counts.shape[1]
    sums: I64 = np.stack(
        [cumulative[:, pad + h + 1 : pad + h + 1 + n] - cumulative[:, pad - h : pad - h + n] for h in halves]
    )
    return sums


def binomial_llr(k: F64, n: F64, p0: F64) -> F64:
    """Log-likelihood ratio of k successes in n at the observed rate against rate p0 (0 where k/n <= p0)."""
    p = np.clip(k / np.maximum(n, 1), 1e-12, 1 - 1e-12)
    q = np.clip(p0, 1e-12, 1 - 1e-12)
    llr = k * np.log(p / q) + (n - k) * np.log((1 - p) / (1 - q))
    return np.where(p > q, llr, 0.0)


def minutes_from(times: I64, anchors: I64) -> F64:
    """Minutes from the nearest anchor time, shifted by 12 h into [0, 1440)."""
    anchors = np.sort(anchors)
    idx = np.clip(np.searchsorted(anchors, times), 1, len(anchors) - 1)
    before, after = anchors[idx - 1], anchors[idx]
    nearest = np.where(times - before <= after - times, before, after)
    return np.clip((times - nearest) / (60 * US_PER_S) + 720, 0, 1440 - 1e-6)


def circular_within(minutes: F64, center: float, radius: float) -> BoolArr:
    distance = np.abs((minutes - center + 720) % 1440 - 720)
    return distance <= radius


def circular_median(minutes: F64) -> float:
    """Median minute of day of values that cluster, robust to a cluster spanning midnight."""
    angle = minutes / 1440 * 2 * np.pi
    mean = np.arctan2(np.sin(angle).mean(), np.cos(angle).mean()) / (2 * np.pi) * 1440
    shifted = (minutes - mean + 720) % 1440 - 720
    return float((np.median(shifted) + mean) % 1440)
