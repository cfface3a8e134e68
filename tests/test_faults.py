from __future__ import annotations

import numpy as np
import pyarrow.compute as pc

from homesim.generation.event_table import EventBuffer
from homesim.generation.faults import Fault, apply_faults
from homesim.generation.home import GeneratedHome
from homesim.schema.events import Cause
from homesim.schema.home import Home

H = 3_600_000_000


def test_unavailable_without_earlier_state_recovers_to_the_next_one(month_homes: list[GeneratedHome]) -> None:
    home = month_homes[0].home
    light = next(e for e in home.entities if e.domain == "light")
    buffer = EventBuffer(home)
    buffer.add(light.entity_id, np.array([10 * H, 12 * H], dtype=np.int64), Cause.NOISE, state="on")
    fault = Fault(
        id="f000-unavailable", entity_id=light.entity_id, kind="unavailable", start_us=H, end_us=5 * H
    )
    apply_faults(buffer, [fault], np.random.default_rng(0))
    table = buffer.finalize(0, 24 * H, np.random.default_rng(1))
    states = table.column("state").to_pylist()
    times = table.column("time").cast("int64").to_pylist()
    assert states[:2] == ["unavailable", "on"]
    assert times[:2] == [H, 5 * H]


def test_every_fault_kind_marks_its_window(month_homes: list[GeneratedHome]) -> None:
    home = month_homes[0].home
    sensor = next(e for e in home.entities if e.domain == "sensor" and e.role == "temperature")
    battery = next(e for e in home.entities if e.role == "battery")
    rng = np.random.default_rng(2)
    buffer = EventBuffer(home)
    times = np.arange(0, 24 * H, H // 4, dtype=np.int64)
    buffer.add(sensor.entity_id, times, Cause.SENSOR, values=20 + rng.normal(0, 1, len(times)))
    buffer.add(battery.entity_id, times, Cause.SENSOR, values=np.linspace(90, 80, len(times)))
    sid, bid = sensor.entity_id, battery.entity_id
    faults = [
        Fault(id="f000-stuck", entity_id=sid, kind="stuck", start_us=1 * H, end_us=3 * H),
        Fault(id="f001-drift", entity_id=sid, kind="drift", start_us=4 * H, end_us=8 * H, magnitude=5),
        Fault(id="f002-dropped", entity_id=sid, kind="dropped", start_us=9 * H, end_us=12 * H, magnitude=1.0),
        Fault(
            id="f003-duplicated",
            entity_id=sid,
            kind="duplicated",
            start_us=13 * H,
            end_us=16 * H,
            magnitude=1,
        ),
        Fault(id="f004-battery_drain", entity_id=bid, kind="battery_drain", start_us=2 * H, end_us=20 * H),
    ]
    apply_faults(buffer, faults, rng)
    table = buffer.finalize(0, 24 * H, np.random.default_rng(3))
    cause_id = table.column("cause_id").cast("string").to_pylist()
    entity = table.column("entity_id").cast("string").to_pylist()
    t = table.column("time").cast("int64").to_pylist()
    sensor_times = [ti for ti, e in zip(t, entity, strict=True) if e == sensor.entity_id]
    assert not [ti for ti in sensor_times if 1 * H < ti < 3 * H and ti not in times[:1]]  # stuck: no changes
    assert not [ti for ti in sensor_times if 9 * H <= ti < 12 * H]  # all dropped
    assert cause_id.count("f003-duplicated") == 12  # every report in the window duplicated
    assert cause_id.count("f001-drift") == 16
    drained = [
        s
        for s, c in zip(table.column("state").to_pylist(), cause_id, strict=True)
        if c == "f004-battery_drain"
    ]
    values = [float(v) for v in drained[:-1]]
    assert drained[-1] == "unavailable"
    assert values == sorted(values, reverse=True) and values[-1] < 10


def _synergy_buffer(home: Home) -> tuple[EventBuffer, str, str]:
    """A motion sensor firing at 2 h and 10 h, a synergy turning a light on 5 s after each, and its revert
    10 min later (actions name their trigger as parent, reverts their action)."""
    motion = next(e for e in home.entities if e.device_class == "motion").entity_id
    light = next(e for e in home.entities if e.domain == "light").entity_id
    buffer = EventBuffer(home)
    fired = buffer.add(motion, np.array([2 * H, 10 * H], dtype=np.int64), Cause.PRESENCE, state="on")
    on = np.array([2 * H, 10 * H], dtype=np.int64) + 5_000_000
    actions = buffer.add(light, on, Cause.SYNERGY, "b000-synergy", state="on", parents=fired)
    buffer.add(light, on + H // 6, Cause.SYNERGY, "b000-synergy", state="off", parents=actions)
    return buffer, motion, light


def _light_states(buffer: EventBuffer, light: str) -> list[tuple[int, str]]:
    table = buffer.finalize(0, 24 * H, np.random.default_rng(1))
    rows = zip(
        table.column("entity_id").cast("string").to_pylist(),
        table.column("time").cast("int64").to_pylist(),
        table.column("state").to_pylist(),
        strict=True,
    )
    return [(t // H, s) for e, t, s in rows if e == light]


def test_a_synergy_does_not_fire_while_its_trigger_is_unavailable(month_homes: list[GeneratedHome]) -> None:
    buffer, motion, light = _synergy_buffer(month_homes[0].home)
    fault = Fault(id="f000-unavailable", entity_id=motion, kind="unavailable", start_us=H, end_us=5 * H)
    apply_faults(buffer, [fault], np.random.default_rng(0))
    assert _light_states(buffer, light) == [(10, "on"), (10, "off")]  # the 2 h action and its revert: gone


def test_an_action_whose_report_is_lost_keeps_its_revert(month_homes: list[GeneratedHome]) -> None:
    buffer, _, light = _synergy_buffer(month_homes[0].home)
    end = 2 * H + H // 12  # the 2 h action's report is lost in the window, its revert comes after it
    fault = Fault(id="f000-dropped", entity_id=light, kind="dropped", start_us=H, end_us=end, magnitude=1.0)
    apply_faults(buffer, [fault], np.random.default_rng(0))
    table = buffer.finalize(0, 24 * H, np.random.default_rng(1))
    t = table.column("time").cast("int64")
    revert = table.filter(pc.and_(pc.greater(t, end), pc.less(t, 3 * H)))
    assert revert.column("state").to_pylist() == ["off"]
    assert revert.column("cause").cast("string").to_pylist() == ["synergy"]


def test_positions_of_locates_an_entitys_events_in_the_merged_columns(
    month_homes: list[GeneratedHome],
) -> None:
    home = month_homes[0].home
    a, b = (e.entity_id for e in home.entities[:2])
    buffer = EventBuffer(home)
    buffer.add(a, np.array([5, 1], dtype=np.int64), Cause.NOISE, state="on")
    buffer.add(b, np.array([3], dtype=np.int64), Cause.NOISE, state="off")
    buffer.columns()  # one merged part, then parts of single entities after it
    buffer.add(b, np.array([2, 7], dtype=np.int64), Cause.NOISE, state="on")
    buffer.add(a, np.array([4], dtype=np.int64), Cause.NOISE, state="off")
    for entity_id in (a, b):
        positions, own = buffer.positions_of(entity_id)
        merged = buffer.columns()
        assert positions.tolist() == np.flatnonzero(merged.entity == buffer.entity_index[entity_id]).tolist()
        assert (
            merged.time[positions].tolist() == own.time.tolist() == buffer.columns_of(entity_id).time.tolist()
        )


def test_two_faults_of_one_entity_compose(month_homes: list[GeneratedHome]) -> None:
    home = month_homes[0].home
    sensor = next(e for e in home.entities if e.domain == "sensor" and e.device_class == "temperature")
    buffer = EventBuffer(home)
    hours = np.arange(1, 11, dtype=np.int64)
    buffer.add(sensor.entity_id, hours * H, Cause.SENSOR, values=19.0 + hours)
    faults = [  # drift of one degree an hour over [2 h, 6 h), then the value stuck over [4 h, 8 h)
        Fault(
            id="f000-drift",
            entity_id=sensor.entity_id,
            kind="drift",
            start_us=2 * H,
            end_us=6 * H,
            magnitude=24,
        ),
        Fault(id="f001-stuck", entity_id=sensor.entity_id, kind="stuck", start_us=4 * H, end_us=8 * H),
    ]
    apply_faults(buffer, faults, np.random.default_rng(0))
    table = buffer.finalize(0, 24 * H, np.random.default_rng(1))
    assert (table.column("time").cast("int64").to_numpy() // H).tolist() == [1, 2, 3, 4, 8, 9, 10]
    assert table.column("value").to_pylist() == [20.0, 21.0, 23.0, 25.0, 27.0, 28.0, 29.0]
    assert table.column("cause").cast("string").to_pylist()[:5] == [
        "sensor",
        "fault",
        "fault",
        "fault",
        "sensor",
    ]
    assert table.column("cause_id").cast("string").to_pylist()[1:4] == [
        "f000-drift",
        "f000-drift",
        "f001-stuck",
    ]
