"""Evidence of use for potential synergies: how often the household itself did what an automation would.

A complementary pair in one area that no behaviour links (a rule's device kinds: an illuminance sensor and
a light, a humidity sensor and an exhaust fan) is an opportunity a suggestion engine should surface only
when the home's events show it is wanted: the action device set to the rule's state by hand or by a
routine (cause `noise` or `routine`, never an automation's or a fault's event) while the trigger is in its
trigger state, or within `WINDOW_S` of entering it, at least `MIN_USES` times in the period. A numeric
trigger's state is a level of its own readings (`Level`: darker than its lower quartile, more humid than
its upper one), read at its last report before the action. Pairs of those kinds without that evidence are
no synergy (`none`): negatives of the same shape as the potentials.

One pass per pair over that pair's sorted times (`np.searchsorted`), no Python per event; only the rows of
the candidates' entities are taken from the table (picked on the dictionary codes), never a frame of every
sensor report.
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
F64 = npt.NDArray[np.float64]

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

    def holds(self, values: F64, readings: F64) -> BoolArr:
        """Which `values` are in this state, measured against all of the sensor's `readings`."""
        threshold = float(np.quantile(readings, self.quantile))
        return np.asarray(values <= threshold if self.side == "below" else values >= threshold)

    def holds_expr(self, value: pl.Expr, entity: str) -> pl.Expr:
        """`holds` as a polars expression over a frame of readings: each `value` against the quantile of
        its own `entity`'s (the same linear interpolation as numpy's)."""
        threshold = value.quantile(self.quantile, interpolation="linear").over(entity)
        return value <= threshold if self.side == "below" else value >= threshold


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


@dataclass(frozen=True)
class _Events:
    """The picked rows of one entity, in time order: times (us), states (codes into the picked rows'
    `States`; -1: none), values (NaN: none), and whether each is the household's own (`USE_CAUSES`)."""

    times: I64
    states: npt.NDArray[np.int32]
    values: F64
    own: BoolArr


def uses(table: pa.Table, candidates: Sequence[Candidate]) -> list[int]:
    """Per candidate, the action's changes to its state by the household (`USE_CAUSES`) while the trigger
    is in its trigger state or within `WINDOW_S` of entering it (a one-chunk table)."""
    if not candidates:
        return []
    events, states = _entity_events(table, {c.trigger for c in candidates} | {c.action for c in candidates})
    none = _Events(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0), np.zeros(0, bool))
    return [_count(events.get(c.trigger, none), events.get(c.action, none), c, states) for c in candidates]


#: A state's code among the picked rows' states (a dictionary, so no Python string per event).
States = dict[str, int]
#: The code no row has: a state absent from the picked rows.
_ABSENT = -2


def _entity_events(table: pa.Table, entities: set[str]) -> tuple[dict[str, _Events], States]:
    """The events of `entities`, picked and grouped on the dictionary codes (no frame of every report),
    and the codes of their states."""
    (entity,) = table.column("entity_id").chunks or [pa.array([], pa.dictionary(pa.int32(), pa.string()))]
    words = entity.dictionary.to_pylist()
    codes = entity.indices.to_numpy(zero_copy_only=False)
    wanted = np.array([w in entities for w in words], dtype=bool)
    rows = np.flatnonzero(wanted[codes]) if len(words) else np.zeros(0, np.int64)
    if len(rows) == 0:
        return {}, {}
    times = table.column("time").combine_chunks().take(pa.array(rows)).cast(pa.int64()).to_numpy()
    order = np.lexsort((times, codes[rows]))  # by entity, then time
    rows, times, picked = rows[order], times[order], codes[rows][order]
    take = pa.array(rows, pa.int64())
    encoded = table.column("state").combine_chunks().take(take).dictionary_encode()
    codes_of: States = {w: i for i, w in enumerate(encoded.dictionary.to_pylist())}
    states = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
    values = table.column("value").combine_chunks().take(take).to_numpy(zero_copy_only=False)
    (cause,) = table.column("cause").chunks
    own_codes = np.array([w in USE_CAUSES for w in cause.dictionary.to_pylist()], dtype=bool)
    own = own_codes[cause.indices.to_numpy(zero_copy_only=False)[rows]]
    starts = np.flatnonzero(np.r_[True, picked[1:] != picked[:-1]])
    ends = np.r_[starts[1:], len(picked)]
    return {
        words[picked[s]]: _Events(times[s:e], states[s:e], np.asarray(values[s:e], np.float64), own[s:e])
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True)
    }, codes_of


def _count(trigger: _Events, action: _Events, c: Candidate, states: States) -> int:
    at = action.times[action.own & (action.states == states.get(c.action_state, _ABSENT))]
    if len(at) == 0:
        return 0
    if c.level is not None:
        read = ~np.isnan(trigger.values)
        times, values = trigger.times[read], trigger.values[read]
        if len(times) == 0:
            return 0
        last = np.searchsorted(times, at, side="right") - 1  # the trigger's last report before the use
        return int(np.sum((last >= 0) & c.level.holds(values[np.maximum(last, 0)], values)))
    times, trigger_states = trigger.times, trigger.states
    if len(times) == 0:
        return 0
    last = np.searchsorted(times, at, side="right") - 1
    state = _ABSENT if c.trigger_state is None else states.get(c.trigger_state, _ABSENT)
    now = (last >= 0) & (trigger_states[np.maximum(last, 0)] == state)
    entered = times[trigger_states == state]
    recent = np.zeros(len(at), dtype=bool)
    if len(entered):
        since = np.searchsorted(entered, at, side="right") - 1
        recent = (since >= 0) & (at - entered[np.maximum(since, 0)] <= int(WINDOW_S * US_PER_S))
    return int(np.sum(now | recent))
