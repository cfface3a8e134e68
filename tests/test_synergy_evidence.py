"""Evidence of use for potential synergies (`ground_truth.evidence`): what counts as the household's use
of a pair, on small hand-built event tables (generated homes: tests/test_ground_truth.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from homesim.ground_truth.evidence import USE_CAUSES, WINDOW_S, Candidate, Level, uses
from homesim.schema.events import EVENTS_SCHEMA

S = 1_000_000
#: An event: seconds, entity, state, value, cause.
Row = tuple[int, str, str, float | None, str]
MOTION = Candidate("binary_sensor.hall_motion", "on", None, "light.hall", "on")
DARK = Candidate("sensor.hall_illuminance", None, Level("below", 0.25), "light.hall", "on")


def _table(rows: Sequence[Row]) -> pa.Table:
    """Events (seconds, entity, state, value, cause), the other columns filled as a generated home's."""
    rows = sorted(rows, key=lambda r: r[0])
    n = len(rows)
    columns = {
        "time": pa.array([t * S for t, *_ in rows], pa.timestamp("us", tz="UTC")),
        "entity_id": pa.array([r[1] for r in rows]).dictionary_encode(),
        "state": pa.array([r[2] for r in rows]),
        "value": pa.array([r[3] for r in rows], pa.float64()),
        "attributes": pa.nulls(n, pa.string()),
        "cause": pa.array([r[4] for r in rows])
        .dictionary_encode()
        .cast(pa.dictionary(pa.int8(), pa.string())),
        "cause_id": pa.nulls(n, pa.dictionary(pa.int32(), pa.string())),
        "context_id": pa.array([f"c{i}" for i in range(n)]),
        "parent_context_id": pa.nulls(n, pa.string()),
    }
    return pa.table([columns[f.name] for f in EVENTS_SCHEMA], schema=EVENTS_SCHEMA)


def _motion_then_light(lag_s: float, cause: str, times: int = 4) -> list[Row]:
    rows: list[Row] = []
    for k in range(times):
        t = 10_000 * (k + 1)
        rows += [
            (t, MOTION.trigger, "on", None, "presence"),
            (t + 30, MOTION.trigger, "off", None, "presence"),
            (t + int(lag_s), MOTION.action, "on", None, cause),
            (t + 2_000, MOTION.action, "off", None, cause),
        ]
    return rows


def test_uses_by_hand_or_routine_within_the_window_count() -> None:
    assert uses(_table(_motion_then_light(60, "noise")), [MOTION]) == [4]
    assert uses(_table(_motion_then_light(60, "routine", times=2)), [MOTION]) == [2]
    # Past the window after the detection cleared: no use of the pair.
    assert uses(_table(_motion_then_light(WINDOW_S + 60, "noise")), [MOTION]) == [0]
    # An automation's or a fault's events are not the household's use.
    assert "synergy" not in USE_CAUSES and "fault" not in USE_CAUSES
    assert uses(_table(_motion_then_light(60, "synergy")), [MOTION]) == [0]
    # The action's other state, and a pair whose entities have no events, count nothing.
    assert uses(
        _table(_motion_then_light(60, "noise")), [Candidate(MOTION.trigger, "on", None, "light.hall", "off")]
    ) == [0]
    assert uses(
        _table(_motion_then_light(60, "noise")), [Candidate("binary_sensor.x", "on", None, "light.y", "on")]
    ) == [0]
    assert uses(_table(_motion_then_light(60, "noise")), []) == []


def test_a_use_while_the_trigger_stays_in_its_state_counts_after_the_window() -> None:
    rows: list[Row] = [(0, MOTION.trigger, "on", None, "presence")]
    rows += [(3_600 * k, MOTION.action, "on", None, "noise") for k in range(1, 4)]
    assert uses(_table(rows), [MOTION]) == [3]


def test_a_numeric_trigger_counts_uses_at_its_level() -> None:
    # Illuminance reported every 10 minutes: bright by day (300 lx), dark by night (0-5 lx).
    reports: list[Row] = [
        (600 * k, DARK.trigger, "x", 300.0 if (k // 72) % 2 == 0 else float(k % 5), "sensor")
        for k in range(288)
    ]
    day_uses: list[Row] = [(600 * k + 60, DARK.action, "on", None, "noise") for k in (10, 20)]
    night_uses: list[Row] = [(600 * k + 60, DARK.action, "on", None, "noise") for k in (80, 90, 100, 230)]
    assert uses(_table(reports + day_uses + night_uses), [DARK]) == [4]
    humid = Candidate(DARK.trigger, None, Level("above", 0.75), DARK.action, "on")
    assert uses(_table(reports + day_uses + night_uses), [humid, DARK]) == [2, 4]
    assert uses(_table(day_uses), [DARK]) == [0]  # no readings: no level to be at


def test_level_is_measured_against_the_sensors_own_readings() -> None:
    readings = np.arange(100, dtype=np.float64)
    assert Level("below", 0.25).holds(np.array([10.0, 30.0]), readings).tolist() == [True, False]
    assert Level("above", 0.75).holds(np.array([10.0, 80.0]), readings).tolist() == [False, True]
