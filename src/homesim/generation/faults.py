"""Fault injection: unavailable stretches, stuck values, battery drain, drift, dropped and duplicated reports.

Faults are chosen per entity (with `fault_rate`), applied to the event columns before they are finalized,
and recorded (entity, kind, start, end) for the ground truth. An event Home Assistant never received
(unavailable, dropped) triggers nothing: the automations it would have set off are removed with it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from homesim.generation.calendar import US_PER_H, US_PER_S, DayGrid
from homesim.generation.event_table import FAULT_CODE, EventBuffer, EventColumns
from homesim.schema.home import Home

BoolArr = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]
FaultKind = Literal["unavailable", "stuck", "battery_drain", "drift", "dropped", "duplicated"]

_NUMERIC_KINDS: tuple[FaultKind, ...] = ("unavailable", "stuck", "drift", "dropped", "duplicated")
_STATEFUL_KINDS: tuple[FaultKind, ...] = ("unavailable", "dropped")
_FAULTY_DOMAINS = frozenset({"sensor", "binary_sensor", "light", "switch", "lock", "climate", "cover"})


class Fault(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    entity_id: str
    kind: FaultKind
    start_us: int
    end_us: int
    #: Kind-specific magnitude: drift per day, share of reports dropped or duplicated.
    magnitude: float = 0.0


def plan_faults(home: Home, grid: DayGrid, rate: float, rng: np.random.Generator) -> list[Fault]:
    faults: list[Fault] = []
    span_h = (grid.end_us - grid.begin_us) / US_PER_H
    for entity in home.entities:
        if entity.domain not in _FAULTY_DOMAINS or entity.device_id is None or rng.random() >= rate:
            continue
        if entity.role == "battery":
            kind: FaultKind = "battery_drain"
        elif entity.domain == "sensor":
            kind = _NUMERIC_KINDS[int(rng.integers(len(_NUMERIC_KINDS)))]
        else:
            kind = _STATEFUL_KINDS[int(rng.integers(len(_STATEFUL_KINDS)))]
        length_h = float(
            min(span_h * 0.5, rng.uniform(2, 72) if kind != "battery_drain" else rng.uniform(24, 96))
        )
        start = grid.begin_us + int(rng.uniform(0, span_h - length_h) * US_PER_H)
        magnitude = {
            "drift": float(rng.uniform(0.8, 3.0)) * rng.choice([-1, 1]),
            "dropped": float(rng.uniform(0.5, 0.9)),
            "duplicated": float(rng.uniform(0.2, 0.5)),
        }.get(kind, 0.0)
        faults.append(
            Fault(
                id=f"f{len(faults):03d}-{kind}",
                entity_id=entity.entity_id,
                kind=kind,
                start_us=start,
                end_us=start + int(length_h * US_PER_H),
                magnitude=magnitude,
            )
        )
    return faults


def apply_faults(buffer: EventBuffer, faults: list[Fault], rng: np.random.Generator) -> None:
    """Rewrite the buffer's columns so each fault's window shows its anomaly, tagged with cause `fault`.

    Each fault reads and edits only its entity's events (a copy of them, with their positions in the
    merged columns), so every event is copied once, by the merge at the end, not once to look the faults'
    rows up and again to append the rows they add."""
    total = buffer.row_count()
    keep = np.ones(total, dtype=bool)
    added: list[EventColumns] = []
    edited: dict[int, tuple[I64, EventColumns]] = {}
    for fault in faults:
        entity = buffer.entity_index[fault.entity_id]
        if entity not in edited:
            edited[entity] = buffer.positions_of(fault.entity_id)
        pos, cols = edited[entity]
        fault_code = buffer.cause_ids.setdefault(fault.id, len(buffer.cause_ids))
        kept_here = keep[pos]
        local = np.flatnonzero((cols.time >= fault.start_us) & (cols.time < fault.end_us) & kept_here)
        idx = pos[local]
        if fault.kind == "unavailable":
            keep[idx] = False
            kept_here[local] = False
            # On reconnection HA reads the device's current state: the last one before the window ends,
            # or, for an entity with no earlier event, the first one after it.
            before = np.flatnonzero((cols.time < fault.end_us) & kept_here)
            after = np.flatnonzero(cols.time >= fault.end_us)
            if len(before):
                restore = before[np.argmax(cols.time[before])]
            else:
                restore = after[np.argmin(cols.time[after])] if len(after) else -1
            rows = _fault_rows(buffer, entity, fault_code, [fault.start_us, fault.end_us])
            rows.code[0] = buffer.state_code("unavailable")
            if restore >= 0:
                rows.code[1], rows.value[1] = cols.code[restore], cols.value[restore]
            else:
                rows = rows.take(np.array([0]))
            added.append(rows)
        elif fault.kind == "stuck":
            keep[idx[1:]] = False  # the value freezes: no further changes reach HA
            cols.cause[local[:1]] = FAULT_CODE
            cols.cause_id[local[:1]] = fault_code
        elif fault.kind == "drift":
            days = (cols.time[local] - fault.start_us) / (24 * US_PER_H)
            cols.value[local] += fault.magnitude * days
            cols.cause[local] = FAULT_CODE
            cols.cause_id[local] = fault_code
        elif fault.kind == "dropped":
            keep[idx[rng.random(len(idx)) < fault.magnitude]] = False
        elif fault.kind == "duplicated":
            dup = local[rng.random(len(local)) < fault.magnitude]
            copy = cols.take(dup)
            copy.row = buffer.reserve_rows(len(dup))
            copy.time = copy.time + (rng.uniform(0.5, 3.0, len(dup)) * US_PER_S).astype(np.int64)
            copy.cause[:] = FAULT_CODE
            copy.cause_id[:] = fault_code
            copy.parent[:] = -1
            added.append(copy)
        else:  # battery_drain: the charge falls to zero within the window, then the device drops out
            keep[idx] = False
            n = 24
            times = np.linspace(fault.start_us, fault.end_us, n).astype(np.int64)
            start_value = cols.value[local[0]] if len(local) else 60.0
            rows = _fault_rows(buffer, entity, fault_code, list(times))
            rows.value[:] = np.linspace(start_value, 0.0, n)
            rows.code[:] = -1
            rows.code[-1] = buffer.state_code("unavailable")
            rows.value[-1] = np.nan
            added.append(rows)
    merged = buffer.merged_with(added)
    for pos, cols in edited.values():  # the edits (stuck, drift) written back where the events sit
        merged.cause[pos], merged.cause_id[pos], merged.value[pos] = cols.cause, cols.cause_id, cols.value
    before_added = EventColumns(**{k: v[:total] for k, v in merged.__dict__.items()})
    kept = [
        _without_unseen_consequences(before_added, keep),
        *(np.ones(len(part), dtype=bool) for part in added),
    ]
    buffer.replace(merged, np.concatenate(kept))


def _without_unseen_consequences(cols: EventColumns, keep: BoolArr) -> BoolArr:
    """`keep` less what the removed events would have caused: another behaviour's action triggered by a
    removed event (a synergy whose motion sensor was unavailable did not fire), and, transitively, all that
    such a lost action caused (its revert). An action whose own report was lost keeps its revert: the
    automation ran, only the report of it is missing."""
    # Worked on the few events with a parent (~1 %), not on every event: their positions and their
    # parents' positions, the parents found by row id.
    child = np.flatnonzero(cols.parent >= 0)
    if len(child) == 0:
        return keep
    position = np.full(int(max(cols.row.max(), cols.parent.max())) + 1, -1, dtype=np.int64)
    position[cols.row] = np.arange(len(cols), dtype=np.int64)
    parent = position[cols.parent[child]]
    child, parent = child[parent >= 0], parent[parent >= 0]
    keep = keep.copy()
    lost = ~keep[parent] & (cols.cause_id[child] != cols.cause_id[parent]) & keep[child]
    was_lost = np.zeros(len(cols), dtype=bool)
    while lost.any():
        keep[child[lost]] = False
        was_lost[:] = False
        was_lost[child[lost]] = True
        lost = was_lost[parent] & keep[child]
    return keep


def _fault_rows(buffer: EventBuffer, entity: int, fault_code: int, times: list[int]) -> EventColumns:
    n = len(times)
    return EventColumns(
        row=buffer.reserve_rows(n),
        time=np.array(times, dtype=np.int64),
        entity=np.full(n, entity, dtype=np.int32),
        code=np.full(n, -1, dtype=np.int32),
        value=np.full(n, np.nan),
        attr=np.full(n, -1, dtype=np.int32),
        cause=np.full(n, FAULT_CODE, dtype=np.int8),
        cause_id=np.full(n, fault_code, dtype=np.int32),
        parent=np.full(n, -1, dtype=np.int64),
    )
