"""Scoring replays: matching an automation's firings to a ground-truth pattern's occurrences, and the
behavioural agreement of two replays. Only these functions look at the events' `cause_id`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

from homesim.generation.calendar import US_PER_S
from homesim.schema.ground_truth import Pattern
from homesim.simulation.replay.interpreter import I64, Replay, _epoch_us, _frame


@dataclass(frozen=True)
class Match:
    """Firings of an automation against a pattern's occurrences, matched within a tolerance."""

    occurrences: int
    firings: int
    #: Occurrences with a firing within the tolerance, and firings with an occurrence within it.
    hit_occurrences: int
    matched_firings: int
    tolerance_s: float
    missed_us: tuple[int, ...] = field(default=(), repr=False)

    @property
    def recall(self) -> float | None:
        """Share of the pattern's occurrences the automation would have fired for."""
        return self.hit_occurrences / self.occurrences if self.occurrences else None

    @property
    def precision(self) -> float | None:
        """Share of the automation's firings that coincide with an occurrence."""
        return self.matched_firings / self.firings if self.firings else None

    @property
    def false_firings(self) -> int:
        """Firings when the pattern did not fire."""
        return self.firings - self.matched_firings


def _nearest(sorted_times: I64, at: I64) -> I64:
    """Distance from each moment to the nearest of `sorted_times` (int64 max if there are none)."""
    if len(sorted_times) == 0:
        return np.full(len(at), np.iinfo(np.int64).max, dtype=np.int64)
    index = np.searchsorted(sorted_times, at)
    lower = sorted_times[np.clip(index - 1, 0, len(sorted_times) - 1)]
    upper = sorted_times[np.clip(index, 0, len(sorted_times) - 1)]
    distance: I64 = np.minimum(np.abs(at - lower), np.abs(upper - at))
    return distance


def match(fired_us: I64, occurrences_us: I64, tolerance_s: float) -> Match:
    """Match firing times to occurrence times: each side counts when the other has a time within
    `tolerance_s`."""
    fired, occurrences = np.sort(fired_us), np.sort(occurrences_us)
    reach = int(tolerance_s * US_PER_S)
    hit = _nearest(fired, occurrences) <= reach
    return Match(
        occurrences=len(occurrences),
        firings=len(fired),
        hit_occurrences=int(hit.sum()),
        matched_firings=int((_nearest(occurrences, fired) <= reach).sum()),
        tolerance_s=tolerance_s,
        missed_us=tuple(int(t) for t in occurrences[~hit]),
    )


def pattern_occurrences(events: pa.Table | pl.DataFrame, pattern: Pattern) -> I64:
    """Start times of the pattern's firings: its action events (found by `cause_id`, for scoring only),
    staggered actions of one firing counted once, as the ground truth counts them."""
    frame = _frame(events)
    actions = pl.DataFrame(
        {"entity_id": [a.entity_id for a in pattern.actions], "state": [a.state for a in pattern.actions]}
    )
    times = (
        frame.filter(pl.col("cause_id").cast(pl.Utf8) == pattern.id)
        .select(_epoch_us(frame), pl.col("entity_id").cast(pl.Utf8), "state")
        .join(actions, on=["entity_id", "state"], how="semi")
        .get_column("time_us")
        .sort()
        .to_numpy()
        .astype(np.int64)
    )
    gap = int((max(a.stagger_s for a in pattern.actions) + 60) * US_PER_S)
    new = np.concatenate([[True], np.diff(times) > gap]) if len(times) else np.zeros(0, bool)
    starts: I64 = times[new]
    return starts


def tolerance_s(pattern: Pattern) -> float:
    """How far apart a firing and an occurrence may be and still be the same event.

    Device- and presence-triggered patterns act within seconds of their trigger, so the tolerance covers
    their observed delay. Clock-anchored patterns happen once a day at a time that varies (routine jitter, a
    person's actual wake or sleep time, the day's cheapest hour) while an automation runs at one fixed time,
    so for them matching means "fired for that day's occurrence": the tolerance spans twice the observed
    daily window (or 6σ of the jitter), capped at 11 h so it never reaches the next day's occurrence. The
    window is the days' 5–95 % range, so a tenth of the days lie outside it, and with weekend lie-ins
    (a later bedtime on some days) those lie up to about one window's width beyond it.
    """
    params = pattern.parameters
    delay = params.delay
    delay_s = 0.0
    if delay is not None:
        observed = delay.observed_s
        delay_s = observed.p95 if observed is not None else delay.median_s * float(np.exp(2 * delay.sigma))
    base = 120.0 + delay_s
    if pattern.trigger.kind in ("state", "presence"):
        return base
    window = params.time_window
    width_s = ((window.end_h - window.start_h) % 24) * 3600 if window is not None else 0.0
    jitter_s = getattr(pattern.trigger, "jitter_min", 0.0) * 60 * 6
    return min(base + max(2 * width_s, jitter_s), 11 * 3600.0)


def score_pattern(result: Replay, events: pa.Table | pl.DataFrame, pattern: Pattern) -> Match:
    """How the replayed calls that perform the pattern's first action line up with its occurrences."""
    first = pattern.actions[0]
    fired = result.call_times([first.entity_id], first.state)
    return match(fired, pattern_occurrences(events, pattern), tolerance_s(pattern))


def agreement(a: Replay, b: Replay, tolerance_s: float = 60.0) -> float:
    """Behavioural agreement of two replays: F1 of their (entity, state, time) calls matched within
    `tolerance_s` (1.0 when neither would ever act)."""
    matched = total = 0
    for entity, state in {**a.targets, **b.targets}:  # one step per distinct target, not per event
        result = match(a.call_times([entity], state), b.call_times([entity], state), tolerance_s)
        matched += result.matched_firings + result.hit_occurrences
        total += result.firings + result.occurrences
    return matched / total if total else 1.0
