"""The HA recorder export: schema 48 tables, exact state history, attributes, automation events, statistics.

Events are built by hand; `expected_history` models HA's recorder row by row to compare against.
"""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner
from ulid import ULID

from homesim.cli.ha_export import register_commands
from homesim.ha.config_dir import RECORDER_DB_NAME, export_config_dir
from homesim.ha.recorder import (
    SCHEMA_VERSION,
    export_recorder,
    fnv1a_32,
    read_state_history,
    table_counts,
)
from homesim.ha.recorder.events import _service_call
from homesim.schema.events import CAUSES, EVENTS_SCHEMA
from homesim.schema.home import Area, Device, Entity, Floor, Home, HomeMetadata

LIGHT = "light.living_room_ceiling_light"
TEMP = "sensor.kitchen_climate_sensor_temperature"
ENERGY = "sensor.kitchen_smart_plug_energy"
MOTION = "binary_sensor.kitchen_motion_sensor_motion"
PLUG = "switch.kitchen_smart_plug"
THERMOSTAT = "climate.kitchen_thermostat"
PUMP = "switch.garden_pump"
VALVE = "valve.garden_valve"


def ulid(n: int) -> str:
    """A valid 26-character ULID whose 128-bit value is `n` (timestamp part included)."""
    return str(ULID.from_int(n))


def ulid_bytes(text: str) -> bytes:
    return ULID.from_str(text).bytes


def ts(hh: int, mm: int, ss: float = 0.0) -> float:
    return datetime(2025, 1, 6, hh, mm, tzinfo=UTC).timestamp() + ss


def make_home() -> Home:
    light, plug, climate, motion, thermo = ("%032x" % (i + 1) for i in range(5))
    return Home(
        metadata=HomeMetadata(
            home_key="rec_home",
            home_type="apartment",
            size_m2=70,
            climate_region="temperate_eu",
            grid_region="eu_west",
            latitude=52.37,
            longitude=4.9,
            timezone="Europe/Amsterdam",
            occupants=(),
            seed=1,
            home_index=0,
            generator_version="test",
            start=date(2025, 1, 6),
            days=1,
        ),
        floors=(Floor(floor_id="ground", name="Ground"),),
        areas=(
            Area(area_id="living_room", name="Living Room", floor_id="ground", room_type="living_room"),
            Area(area_id="kitchen", name="Kitchen", floor_id="ground", room_type="kitchen"),
        ),
        devices=(
            Device(
                id=light,
                name="Living Room Ceiling Light",
                manufacturer="Signify",
                model="Hue White Ambiance",
                area_id="living_room",
                device_type="ceiling_light",
            ),
            Device(
                id=plug,
                name="Kitchen Smart Plug",
                manufacturer="TP-Link",
                model="Kasa KP115",
                area_id="kitchen",
                device_type="smart_plug",
            ),
            Device(
                id=climate,
                name="Kitchen Climate Sensor",
                manufacturer="Aqara",
                model="Temperature and Humidity Sensor",
                area_id="kitchen",
                device_type="climate_sensor",
            ),
            Device(
                id=motion,
                name="Kitchen Motion Sensor",
                manufacturer="Aqara",
                model="Motion Sensor P1",
                area_id="kitchen",
                device_type="motion_sensor",
            ),
            Device(
                id=thermo,
                name="Kitchen Thermostat",
                manufacturer="Google",
                model="Nest Learning Thermostat",
                area_id="kitchen",
                device_type="thermostat",
            ),
        ),
        entities=(
            Entity(entity_id=LIGHT, unique_id="light_1", device_id=light),
            Entity(entity_id=PLUG, unique_id="plug_1", device_id=plug),
            Entity(
                entity_id=ENERGY,
                unique_id="plug_1_energy",
                device_id=plug,
                device_class="energy",
                unit_of_measurement="kWh",
                state_class="total_increasing",
                original_name="Energy",
                precision=3,
                role="energy",
            ),
            Entity(
                entity_id=TEMP,
                unique_id="climate_1_temperature",
                device_id=climate,
                device_class="temperature",
                unit_of_measurement="°C",
                state_class="measurement",
                original_name="Temperature",
                precision=1,
                role="temperature",
            ),
            Entity(
                entity_id=MOTION,
                unique_id="motion_1",
                device_id=motion,
                device_class="motion",
                original_name="Motion",
            ),
            Entity(entity_id=THERMOSTAT, unique_id="thermo_1", device_id=thermo),
            Entity(entity_id=PUMP, unique_id="pump", has_entity_name=False, original_name="Garden Pump"),
            Entity(entity_id=VALVE, unique_id="valve", has_entity_name=False),
        ),
    )


# (time, entity, state, value, attributes, cause, cause_id, context, parent)
Row = tuple[float, str, str, float | None, str | None, str, str | None, str, str | None]

ROWS: list[Row] = [
    (ts(10, 0), LIGHT, "on", None, '{"brightness":128}', "routine", "r1", ulid(1), None),
    (ts(10, 0), TEMP, "20.0", 20.0, None, "sensor", None, ulid(2), None),
    (ts(10, 5), MOTION, "on", None, None, "presence", None, ulid(3), None),
    # One automation run (context 4, triggered by the motion event's context 3): two actions.
    (ts(10, 5, 0.5), LIGHT, "on", None, '{"brightness":200}', "automation", "motion_light", ulid(4), ulid(3)),
    (ts(10, 5, 0.5), PLUG, "on", None, None, "automation", "motion_light", ulid(4), ulid(3)),
    (ts(10, 10), ENERGY, "1.0", 1.0, None, "sensor", None, ulid(5), None),
    (ts(10, 10), ENERGY, "1.0", 1.0, None, "sensor", None, ulid(17), None),  # re-reported at the same instant
    (ts(10, 20), TEMP, "20.0", 20.0, None, "sensor", None, ulid(6), None),  # re-reported
    (ts(10, 25), TEMP, "20.0", 20.0, None, "sensor", None, ulid(7), None),  # re-reported
    (ts(10, 30), TEMP, "22.0", 22.0, None, "sensor", None, ulid(8), None),
    (ts(10, 40), MOTION, "off", None, None, "presence", None, ulid(9), None),
    (ts(10, 40), MOTION, "off", None, '{"zone":"kitchen"}', "presence", None, ulid(18), None),  # same instant
    (ts(10, 50), ENERGY, "1.5", 1.5, None, "sensor", None, ulid(10), None),
    (ts(11, 0), LIGHT, "off", None, None, "routine", "r1", ulid(11), None),
    # A second run without a trigger context, setting the thermostat's mode.
    (ts(11, 10), THERMOSTAT, "heat", None, None, "automation", None, ulid(12), None),
    (ts(11, 20), ENERGY, "0.2", 0.2, None, "sensor", None, ulid(13), None),  # meter reset
    (ts(11, 30), LIGHT, "off", None, None, "noise", None, ulid(14), None),  # re-reported
    (ts(11, 40), TEMP, "unavailable", math.nan, None, "fault", "f1", ulid(15), None),
    (ts(11, 45), TEMP, "21.0", 21.0, None, "sensor", None, ulid(16), None),
]


def events_table(rows: list[Row]) -> pa.Table:
    columns: list[tuple[Any, ...]] = list(zip(*rows, strict=True)) if rows else [() for _ in range(9)]
    entity_ids = sorted({r[1] for r in rows})
    cause_ids = sorted({r[6] for r in rows if r[6] is not None})
    return pa.table(
        {
            "time": pa.array([round(t * 1e6) for t in columns[0]], pa.timestamp("us", tz="UTC")),
            "entity_id": pa.DictionaryArray.from_arrays(
                pa.array([entity_ids.index(e) for e in columns[1]], pa.int32()),
                pa.array(entity_ids, pa.string()),
            ),
            "state": pa.array(columns[2], pa.string()),
            "value": pa.array(columns[3], pa.float64()),
            "attributes": pa.array(columns[4], pa.string()),
            "cause": pa.DictionaryArray.from_arrays(
                pa.array([CAUSES.index(c) for c in columns[5]], pa.int8()), pa.array(CAUSES, pa.string())
            ),
            "cause_id": pa.DictionaryArray.from_arrays(
                pa.array([None if c is None else cause_ids.index(c) for c in columns[6]], pa.int32()),
                pa.array(cause_ids, pa.string()),
            ),
            "context_id": pa.array(columns[7], pa.string()),
            "parent_context_id": pa.array(columns[8], pa.string()),
        },
        schema=EVENTS_SCHEMA,
    )


def expected_history(rows: list[Row]) -> tuple[dict[str, list[Any]], dict[int, float]]:
    """Row-by-row model of HA's recorder: a new row unless state and attributes repeat."""
    history: dict[str, list[Any]] = {}
    last: dict[str, tuple[str, str | None, float, int]] = {}  # state, attrs, last_changed, state_id
    reported: dict[int, float] = {}
    next_id = 1
    for time, entity, state, _, attrs, *_ in rows:
        previous = last.get(entity)
        if previous is not None and previous[:2] == (state, attrs):
            if time != history[entity][-1][1]:  # NULL while it equals last_updated
                reported[previous[3]] = time
            continue
        changed = time if previous is None or previous[0] != state else previous[2]
        history.setdefault(entity, []).append(
            (state, time, None if changed == time else changed, None if previous is None else previous[3])
        )
        last[entity] = (state, attrs, changed, next_id)
        next_id += 1
    return history, reported


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    db = tmp_path_factory.mktemp("rec") / "home-assistant_v2.db"
    return db, export_recorder(make_home(), events_table(ROWS), db, statistics=True)


def query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def test_state_history_is_reconstructed_exactly(exported: tuple[Path, Any]) -> None:
    db, summary = exported
    expected, reported = expected_history(ROWS)
    assert read_state_history(db) == expected
    assert summary.states == sum(len(v) for v in expected.values()) == len(ROWS) - 4
    assert summary.reported == 4
    # Re-reports only move last_reported_ts of the row they repeat (NULL where it equals last_updated).
    rows = query(db, "SELECT state_id, last_reported_ts FROM states WHERE last_reported_ts IS NOT NULL")
    assert dict(rows) == reported
    # The attribute-only change keeps last_changed at the first "on".
    assert expected[LIGHT][1] == ("on", ts(10, 5, 0.5), ts(10, 0), 1)


def test_schema_is_version_48_in_wal_mode_with_ha_columns(exported: tuple[Path, Any]) -> None:
    db, _ = exported
    assert query(db, "SELECT schema_version FROM schema_changes") == [(SCHEMA_VERSION,)]
    assert SCHEMA_VERSION == 48
    assert query(db, "PRAGMA journal_mode") == [("wal",)]
    assert [r[1] for r in query(db, "PRAGMA table_info(states)")] == [
        "state_id", "entity_id", "state", "attributes", "event_id", "last_changed", "last_changed_ts",
        "last_reported_ts", "last_updated", "last_updated_ts", "old_state_id", "attributes_id", "context_id",
        "context_user_id", "context_parent_id", "origin_idx", "context_id_bin", "context_user_id_bin",
        "context_parent_id_bin", "metadata_id",
    ]  # fmt: skip
    assert set(table_counts(db)) == {
        "event_data", "event_types", "events", "migration_changes", "recorder_runs", "schema_changes",
        "state_attributes", "states", "states_meta", "statistics", "statistics_meta", "statistics_runs",
        "statistics_short_term",
    }  # fmt: skip
    indexes = {r[0] for r in query(db, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"ix_states_metadata_id_last_updated_ts", "ix_states_context_id_bin", "ix_state_attributes_hash",
            "ix_statistics_statistic_id_start_ts", "ix_states_meta_entity_id"} <= indexes  # fmt: skip
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert sorted(p.name for p in db.parent.iterdir()) == [db.name]  # no temp, -wal or -shm files left


def test_contexts_are_16_byte_ulids_and_origin_is_local(exported: tuple[Path, Any]) -> None:
    db, _ = exported
    rows = query(db, "SELECT context_id_bin, context_parent_id_bin, origin_idx FROM states ORDER BY state_id")
    kept = [r for r in ROWS if r[7] not in (ulid(6), ulid(7), ulid(14), ulid(17))]
    assert rows == [(ulid_bytes(r[7]), None if r[8] is None else ulid_bytes(r[8]), 0) for r in kept]
    assert query(db, "SELECT metadata_id, entity_id FROM states_meta") == [
        (1, LIGHT), (2, TEMP), (3, MOTION), (4, PLUG), (5, ENERGY), (6, THERMOSTAT)
    ]  # fmt: skip


def test_state_attributes_are_deduplicated_and_hashed_like_ha(exported: tuple[Path, Any]) -> None:
    db, summary = exported
    rows = query(db, "SELECT attributes_id, hash, shared_attrs FROM state_attributes ORDER BY attributes_id")
    assert all(h == fnv1a_32(text.encode()) for _, h, text in rows)
    assert len({text for _, _, text in rows}) == len(rows) == summary.state_attributes == 9
    by_entity = dict(
        query(
            db,
            "SELECT m.entity_id, a.shared_attrs FROM states s JOIN states_meta m USING (metadata_id) "
            "JOIN state_attributes a USING (attributes_id) WHERE s.state_id IN (1, 2)",
        )
    )
    assert by_entity == {
        LIGHT: '{"brightness":128,"friendly_name":"Living Room Ceiling Light"}',
        TEMP: '{"state_class":"measurement","unit_of_measurement":"°C","device_class":"temperature",'
        '"friendly_name":"Kitchen Climate Sensor Temperature"}',
    }
    assert fnv1a_32(b"") == 0x811C9DC5 and fnv1a_32(b"a") == 0xE40C292C and fnv1a_32(b"foobar") == 0xBF9CF968


def test_automation_runs_become_triggered_and_call_service_events(exported: tuple[Path, Any]) -> None:
    db, summary = exported
    rows = query(
        db,
        "SELECT t.event_type, d.shared_data, e.time_fired_ts, e.context_id_bin, e.context_parent_id_bin, "
        "e.origin_idx, d.hash FROM events e JOIN event_types t USING (event_type_id) "
        "JOIN event_data d USING (data_id) ORDER BY e.event_id",
    )
    assert summary.events == len(rows) == 5
    run, parent = ulid_bytes(ulid(4)), ulid_bytes(ulid(3))
    assert [(r[0], json.loads(r[1]), r[2], r[3], r[4], r[5]) for r in rows] == [
        ("automation_triggered", {"name": "motion_light", "entity_id": "automation.motion_light",
         "source": f"state of {MOTION}"}, ts(10, 5, 0.5), run, parent, 0),
        ("call_service", {"domain": "light", "service": "turn_on", "service_data": {"entity_id": [LIGHT]}},
         ts(10, 5, 0.5), run, parent, 0),
        ("call_service", {"domain": "switch", "service": "turn_on", "service_data": {"entity_id": [PLUG]}},
         ts(10, 5, 0.5), run, parent, 0),
        ("automation_triggered", {"name": "homesim", "entity_id": "automation.homesim"}, ts(11, 10),
         ulid_bytes(ulid(12)), None, 0),
        ("call_service", {"domain": "climate", "service": "set_hvac_mode",
         "service_data": {"hvac_mode": "heat", "entity_id": [THERMOSTAT]}}, ts(11, 10),
         ulid_bytes(ulid(12)), None, 0),
    ]  # fmt: skip
    assert all(r[6] == fnv1a_32(r[1].encode()) for r in rows)
    assert query(db, "SELECT * FROM event_types") == [(1, "automation_triggered"), (2, "call_service")]


def test_service_calls_for_value_domains_and_sensors() -> None:
    assert _service_call(THERMOSTAT, "heat") == {
        "domain": "climate",
        "service": "set_hvac_mode",
        "service_data": {"hvac_mode": "heat", "entity_id": [THERMOSTAT]},
    }
    assert _service_call("cover.kitchen_blinds", "closed") == {
        "domain": "cover",
        "service": "close_cover",
        "service_data": {"entity_id": ["cover.kitchen_blinds"]},
    }
    assert _service_call(TEMP, "21.0") is None


def test_statistics_follow_ha_compile_rules(exported: tuple[Path, Any]) -> None:
    db, summary = exported
    meta = query(
        db,
        "SELECT id, statistic_id, source, unit_of_measurement, has_mean, has_sum, name FROM statistics_meta",
    )
    assert meta == [(1, TEMP, "recorder", "°C", 1, 0, None), (2, ENERGY, "recorder", "kWh", 0, 1, None)]
    hourly = query(
        db, "SELECT metadata_id, start_ts, created_ts, mean, min, max, state, sum FROM statistics ORDER BY id"
    )
    assert hourly[0] == (1, ts(10, 0), ts(11, 0), pytest.approx(21.0), 20.0, 22.0, None, None)
    assert hourly[1] == (2, ts(10, 0), ts(11, 0), None, None, None, 1.5, pytest.approx(0.5))
    # 11:00-12:00: 22 until 11:45 (the unavailable state is skipped), then 21 for three 5-minute periods;
    # the 0.2 reading is a meter reset, so the sum grows by 0.2.
    assert hourly[2] == (
        1,
        ts(11, 0),
        ts(12, 0),
        pytest.approx((9 * 22 + 3 * 21) / 12),
        21.0,
        22.0,
        None,
        None,
    )
    assert hourly[3] == (2, ts(11, 0), ts(12, 0), None, None, None, 0.2, pytest.approx(0.7))
    assert summary.statistics == 4
    short = query(
        db, "SELECT metadata_id, start_ts, mean, min, max, state, sum FROM statistics_short_term ORDER BY id"
    )
    assert summary.statistics_short_term == len(short) == 24 + 22  # energy starts at 10:10
    assert (1, ts(10, 25), 20.0, 20.0, 20.0, None, None) in short
    assert (1, ts(10, 30), 22.0, 22.0, 22.0, None, None) in short
    assert (2, ts(10, 10), None, None, None, 1.0, 0.0) in short
    # 10:25-10:30 holds only the state in force at its start; 10:45-10:50 has 1.0 in force, sum 0.
    assert (2, ts(10, 45), None, None, None, 1.0, 0.0) in short
    assert query(db, "SELECT COUNT(*), MIN(start), MAX(start) FROM statistics_runs") == [
        (24, "2025-01-06 10:00:00.000000", "2025-01-06 11:55:00.000000")
    ]


def test_mean_of_a_period_starts_at_the_first_state(tmp_path: Path) -> None:
    rows: list[Row] = [
        (ts(10, 2), TEMP, "20.0", 20.0, None, "sensor", None, ulid(1), None),
        (ts(10, 3, 30), TEMP, "23.0", 23.0, None, "sensor", None, ulid(2), None),
    ]
    db = tmp_path / "db"
    export_recorder(make_home(), events_table(rows), db)
    # HA averages from the first state when no state precedes the period: (90 s x 20 + 90 s x 23) / 180 s.
    assert query(db, "SELECT mean, min, max FROM statistics_short_term WHERE start_ts = ?", ts(10, 0)) == [
        (21.5, 20.0, 23.0)
    ]


def test_entities_without_device_and_homes_without_statistics(tmp_path: Path) -> None:
    rows: list[Row] = [
        (ts(10, 0), PUMP, "on", None, None, "routine", None, ulid(1), None),
        (ts(10, 0), VALVE, "open", None, None, "routine", None, ulid(2), None),
        (ts(10, 1), TEMP, "unavailable", math.nan, None, "fault", None, ulid(3), None),
    ]
    db = tmp_path / "db"
    summary = export_recorder(make_home(), events_table(rows), db)
    # No friendly_name without a name of its own: HA shows the entity_id instead.
    assert [r[0] for r in query(db, "SELECT shared_attrs FROM state_attributes ORDER BY attributes_id")][
        :2
    ] == [
        '{"friendly_name":"Garden Pump"}',
        "{}",
    ]
    # A sensor that never had a number gets no statistics, so this home has none at all.
    assert (summary.statistics, summary.statistics_short_term) == (0, 0)
    assert table_counts(db)["statistics_meta"] == 0


def test_without_statistics_and_without_events(tmp_path: Path) -> None:
    db = tmp_path / "plain.db"
    summary = export_recorder(make_home(), events_table(ROWS), db, statistics=False)
    counts = table_counts(db)
    assert counts["states"] == summary.states == len(ROWS) - 4
    assert counts["statistics"] == counts["statistics_short_term"] == counts["statistics_meta"] == 0
    empty = tmp_path / "empty.db"
    summary = export_recorder(make_home(), events_table([]), empty)
    assert (summary.states, summary.events, summary.statistics) == (0, 0, 0)
    assert query(empty, 'SELECT start, "end" FROM recorder_runs') == [
        ("2025-01-06 00:00:00.000000", "2025-01-06 00:00:00.000000")
    ]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (list(reversed(ROWS[:3])), "sorted by time"),
        (
            [(ts(10, 0), "light.garage_light", "on", None, None, "routine", None, ulid(1), None)],
            "does not have",
        ),
        ([(ts(10, 0), LIGHT, "on", None, None, "routine", None, "not-a-ulid", None)], "26 ASCII characters"),
        ([(ts(10, 0), LIGHT, "on", None, None, "routine", None, "0" * 25 + "U", None)], "not a ULID"),
        (
            [(ts(10, 0), LIGHT, "on", None, None, "routine", None, ulid(1), "8" + "0" * 25)],
            "parent_context_id",
        ),
        ([(ts(10, 0), LIGHT, "on", None, "[1, 2]", "routine", None, ulid(1), None)], "JSON object"),
    ],
)
def test_bad_events_are_rejected_and_leave_no_file(tmp_path: Path, rows: list[Row], message: str) -> None:
    db = tmp_path / "bad.db"
    with pytest.raises(ValueError, match=message):
        export_recorder(make_home(), events_table(rows), db)
    assert list(tmp_path.iterdir()) == []


def test_config_dir_with_recorder(tmp_path: Path) -> None:
    paths = export_config_dir(
        make_home(), tmp_path, events=events_table(ROWS), recorder=True, statistics=True
    )
    assert tmp_path / RECORDER_DB_NAME in paths
    assert table_counts(tmp_path / RECORDER_DB_NAME)["statistics"] == 4
    assert "recorder:\n  auto_purge: false\n" in (tmp_path / "configuration.yaml").read_text()


def test_cli_export(tmp_path: Path) -> None:
    home_dir = tmp_path / "home"
    home_dir.mkdir()
    (home_dir / "home.json").write_text(make_home().model_dump_json())
    pq.write_table(events_table(ROWS), home_dir / "events.parquet")
    automations = tmp_path / "automations.yaml"
    automations.write_text("- id: '1'\n  alias: test\n")
    app = typer.Typer()
    register_commands(app)
    runner = CliRunner()
    out = tmp_path / "config"
    args = ["export", str(home_dir), "--out", str(out), "--recorder", "--statistics"]
    result = runner.invoke(app, [*args, "--automations", str(automations)])
    assert result.exit_code == 0, result.output
    assert "core.entity_registry" in result.output and "states" in result.output
    assert table_counts(out / RECORDER_DB_NAME)["states"] == len(ROWS) - 4
    assert (out / "automations.yaml").read_text() == "- id: '1'\n  alias: test\n"

    assert runner.invoke(app, ["export", str(tmp_path), "--out", str(out)]).exit_code == 2  # no home.json
    (home_dir / "events.parquet").unlink()
    assert runner.invoke(app, ["export", str(home_dir), "--out", str(out), "--recorder"]).exit_code == 2
    assert runner.invoke(app, ["export", str(home_dir), "--out", str(out), "--statistics"]).exit_code == 2
    (home_dir / "home.json").write_text("{}")
    assert runner.invoke(app, ["export", str(home_dir), "--out", str(out)]).exit_code == 2
