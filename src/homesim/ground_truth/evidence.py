"""Evidence of use for potential synergies: how often the household itself did what an automation would.

A complementary pair in one area that no behaviour links (a rule's device kinds: an illuminance sensor and
a light, a humidity sensor and an exhaust fan) is an opportunity a suggestion engine should surface only
when the home's events show it is wanted: the action device set to the rule's state by hand or by a
routine (cause `noise` or `routine`, never an automation's or a fault's event) while the trigger is in its
trigger state, or within `WINDOW_S` of entering it, at least `MIN_USES` times in the period. A numeric
trigger's state is a level of its own readings (`Level`: darker than its lower quartile, more humid than
its upper one), read at its last report before the action. Pairs of those kinds without that evidence are
no synergy (`none`): negatives of the same shape as the potentials.

One pass per pair over that pair's sorted times (`np.searchsorted`), no Python per event; the frame is
built from the rows of the candidates' entities only (dictionary codes), not from every sensor report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from homesim.generation.calendar import US_PER_S

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]

#: Seconds after the trigger enters its state within which a use still counts (a motion detection clears
#: in seconds; the light switched a few minutes after walking in is still the pair's use). The synergy
#: stage's `co_5m` counts the same horizon.
WINDOW_S = 300.0
#: Uses in the period that make an opportunity: fewer are a coincidence, not a habit worth automating.
MIN_USES = 3
#: Causes of the household's own operation of a device: its hand (manual toggles, co-use habits) and its
#: routines. An automation's events (`synergy`, `automation`) are already automated; a fault's are none.
USE_CAUSES = ("noise", "routine")


@dataclass(frozen=True)
class Level:
    """A numeric trigger's trigger state: its readings `below` or `above` their own `quantile`."""

    side: Literal["below", "above"]
    quantile: float

    def holds(self, values: npt.NDArray[np.float64], readings: npt.NDArray[np.float64]) -> BoolArr:
        """Which `values` are in this state, measured against all of the sensor's `readings`."""
        threshold = float(np.quantile(readings, self.quantile))
        return np.asarray(values <= threshold if self.side == "below" else values >= threshold)


#: The trigger state of the numeric sensors rules use, by device class (= entity role): dark for the
#: room (its illuminance's lower quartile), humid for the room (its humidity's upper quartile). The
#: synergy stage counts readings at these levels as the sensor's activations (`synergy_detection`).
LEVELS: dict[str, Level] = {"illuminance": Level("below", 0.25), "humidity": Level("above", 0.75)}


@dataclass(frozen=True)
class Candidate:
    """One pair to measure: the trigger in `trigger_state` (or at `level`, numeric), the action to
    `action_state`."""

    trigger: str
    trigger_state: str | None
    level: Level | None
    action: str
    action_state: str


def uses(table: pa.Table, candidates: Sequence[Candidate]) -> list[int]:
    """Per candidate, the action's changes to its state by the household (`USE_CAUSES`) while the trigger
    is in its trigger state or within `WINDOW_S` of entering it (a one-chunk table)."""
    if not candidates:
        return []
    frames = _entity_frames(table, {c.trigger for c in candidates} | {c.action for c in candidates})
    empty = pl.DataFrame(
        schema={"time_us": pl.Int64, "state": pl.Utf8, "value": pl.Float64, "cause": pl.Utf8}
    )
    return [_count(frames.get(c.trigger, empty), frames.get(c.action, empty), c) for c in candidates]


def _entity_frames(table: pa.Table, entities: set[str]) -> dict[str, pl.DataFrame]:
    """The events of `entities`, one time-sorted frame each (rows picked on the dictionary codes)."""
    (column,) = table.column("entity_id").chunks or [pa.array([], pa.dictionary(pa.int32(), pa.string()))]
    wanted = np.array([e in entities for e in column.dictionary.to_pylist()], dtype=bool)
    codes = column.indices.to_numpy(zero_copy_only=False)
    keep = wanted[codes] if len(wanted) else np.zeros(len(codes), dtype=bool)
    picked = pl.from_arrow(
        table.select(["entity_id", "time", "state", "value", "cause"]).filter(pa.array(keep))
    )
    assert isinstance(picked, pl.DataFrame)
    frame = picked.select(
        pl.col("entity_id").cast(pl.Utf8),
        pl.col("time").dt.epoch("us").alias("time_us"),
        pl.col("state").cast(pl.Utf8),
        pl.col("value").cast(pl.Float64),
        pl.col("cause").cast(pl.Utf8),
    ).sort("entity_id", "time_us", maintain_order=True)
    return {
        str(key[0]): part.drop("entity_id")
        for key, part in frame.partition_by("entity_id", as_dict=True).items()
    }


def _count(trigger: pl.DataFrame, action: pl.DataFrame, c: Candidate) -> int:
    used = action.filter((pl.col("state") == c.action_state) & pl.col("cause").is_in(USE_CAUSES))
    at: I64 = used.get_column("time_us").to_numpy()
    if len(at) == 0:
        return 0
    if c.level is not None:
        readings = trigger.filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan())
        times: I64 = readings.get_column("time_us").to_numpy()
        values = readings.get_column("value").to_numpy()
        last = np.searchsorted(times, at, side="right") - 1  # the trigger's last report before the use
        if len(times) == 0:
            return 0
        held = (last >= 0) & c.level.holds(values[np.maximum(last, 0)], values)
        return int(held.sum())
    times = trigger.get_column("time_us").to_numpy()
    states = trigger.get_column("state").to_numpy()
    if len(times) == 0:
        return 0
    last = np.searchsorted(times, at, side="right") - 1
    now = (last >= 0) & (states[np.maximum(last, 0)] == c.trigger_state)
    entered = times[states == c.trigger_state]
    recent = np.zeros(len(at), dtype=bool)
    if len(entered):
        since = np.searchsorted(entered, at, side="right") - 1
        recent = (since >= 0) & (at - entered[np.maximum(since, 0)] <= int(WINDOW_S * US_PER_S))
    return int((now | recent).sum())
