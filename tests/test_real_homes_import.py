"""Importing real homes: the UCI ADL (Ordóñez) files as published, every line accounted for, HA entities
with the right device classes, observed events, activity labels, deterministic bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from homesim.cli import app
from homesim.datasets.home_folder import read_home
from homesim.real_homes.activities import activity_of
from homesim.real_homes.importing import HistoryImportError, import_history, read_history
from homesim.real_homes.importing.writer import intervals_to_changes
from homesim.schema.activities import ACTIVITIES_SCHEMA
from homesim.schema.events import EVENTS_SCHEMA
from homesim.workspace import ACTIVITIES_FILE, EVENTS_FILE, HOME_FILE, IMPORT_REPORT_FILE

ORDONEZ = Path(__file__).parent / "data" / "real_homes" / "uci_adl_ordonez"
HEADER = "Start time          \tEnd time            \tLocation\tType\t\tPlace\r\n"
DASHES = "--------------------\t--------------------\t--------\t--------\t-----\r\n"


def _line_count(path: Path) -> int:
    """Lines as a text editor counts them: line ends, plus a last line without one."""
    data = path.read_bytes()
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


@pytest.mark.parametrize("home", ["A", "B"])
def test_ordonez_every_line_accounted_for(home: str, tmp_path: Path) -> None:
    report = import_history("ordonez", ORDONEZ / f"Ordonez{home}_Sensors.txt", tmp_path / home)
    by_file = {f.file: f for f in report.files}
    for name in (f"Ordonez{home}_Sensors.txt", f"Ordonez{home}_ADLs.txt"):
        tally = by_file[name]
        assert tally.lines == _line_count(ORDONEZ / name)
        assert tally.imported + tally.skipped_lines == tally.lines
        assert tally.skipped["header"].count == 2
    sensors = by_file[f"Ordonez{home}_Sensors.txt"]
    # Each activation is an on and an off, less the pairs merged where one sensor's intervals overlap.
    merged = report.notes.get("overlapping intervals merged", 0)
    assert report.events == 2 * (sensors.imported - merged)
    assert pq.read_metadata(tmp_path / home / EVENTS_FILE).num_rows == report.events


def test_ordonez_reports_the_bad_rows_of_the_published_files(tmp_path: Path) -> None:
    a = import_history("ordonez", ORDONEZ / "OrdonezA_Sensors.txt", tmp_path / "a")
    adls = {f.file: f for f in a.files}["OrdonezA_ADLs.txt"]
    # Three published activity rows end before they start (a day typed wrong): skipped, with their lines.
    assert adls.skipped["end before start"].count == 3
    assert adls.skipped["end before start"].first_lines == (72, 81, 83)
    b = import_history("ordonez", ORDONEZ / "OrdonezB_Sensors.txt", tmp_path / "b")
    b_adls = {f.file: f for f in b.files}["OrdonezB_ADLs.txt"]
    # Line 42 of OrdonezB_ADLs.txt separates its fields with spaces instead of tabs; it still imports.
    assert set(b_adls.skipped) == {"header"}
    assert b.notes == {"overlapping intervals merged": 4}


def test_ordonez_home_is_real_with_ha_entities(tmp_path: Path) -> None:
    import_history("ordonez", ORDONEZ / "OrdonezA_Sensors.txt", tmp_path / "a")
    home = read_home(tmp_path / "a")
    meta = home.metadata
    assert meta.source == "real" and meta.real_source is not None
    assert meta.real_source.license == "CC BY 4.0" and "Sensors 13(5)" in (meta.real_source.citation or "")
    assert [f.name for f in meta.real_source.files] == ["OrdonezA_Sensors.txt", "OrdonezA_ADLs.txt"]
    assert meta.occupants == () and meta.size_m2 is None and meta.timezone == "Europe/Madrid"
    assert (meta.start.isoformat(), meta.days) == ("2011-11-28", 15)
    classes = {e.entity_id: (e.domain, e.device_class) for e in home.entities}
    assert classes["binary_sensor.bathroom_basin_motion"] == ("binary_sensor", "motion")  # PIR
    assert classes["binary_sensor.entrance_maindoor_door"] == ("binary_sensor", "door")  # Magnetic, door
    assert classes["binary_sensor.kitchen_fridge_opening"] == ("binary_sensor", "opening")  # Magnetic
    assert classes["binary_sensor.bedroom_bed_occupancy"] == ("binary_sensor", "occupancy")  # Pressure
    assert classes["binary_sensor.bathroom_toilet_running"] == ("binary_sensor", "running")  # Flush
    assert classes["binary_sensor.kitchen_toaster_power"] == ("binary_sensor", "power")  # Electric
    assert len(classes) == 12
    devices = {d.id: d for d in home.devices}
    motion = home.entity("binary_sensor.bathroom_basin_motion")
    assert devices[motion.device_id or ""].device_type == "motion_sensor"
    assert home.entity_area(motion) == "bathroom"
    assert {a.area_id: a.room_type for a in home.areas}["living_room"] == "living_room"
    assert not (tmp_path / "a" / "ground_truth.json").exists()


def test_ordonez_events_are_observed_state_changes_in_utc(tmp_path: Path) -> None:
    import_history("ordonez", ORDONEZ / "OrdonezA_Sensors.txt", tmp_path / "a")
    table = pq.read_table(tmp_path / "a" / EVENTS_FILE)
    assert table.schema.equals(EVENTS_SCHEMA, check_metadata=True)
    assert set(table.column("cause").to_pylist()) == {"observed"}
    assert table.column("cause_id").null_count == table.num_rows
    times = table.column("time").to_numpy()
    assert (np.diff(times.astype(np.int64)) >= 0).all()
    first = table.slice(0, 1).to_pylist()[0]
    # 2011-11-28 02:27:59 in Madrid (CET, UTC+1): the bed's pressure sensor.
    assert first["time"] == datetime(2011, 11, 28, 1, 27, 59, tzinfo=UTC)
    assert (first["entity_id"], first["state"]) == ("binary_sensor.bedroom_bed_occupancy", "on")
    for entity in set(table.column("entity_id").to_pylist()):
        states = [r["state"] for r in table.to_pylist() if r["entity_id"] == entity]
        assert states[::2] == ["on"] * len(states[::2]) and states[1::2] == ["off"] * len(states[1::2])


def test_ordonez_activities_map_dataset_labels(tmp_path: Path) -> None:
    report = import_history("ordonez", ORDONEZ / "OrdonezA_Sensors.txt", tmp_path / "a")
    table = pq.read_table(tmp_path / "a" / "activities.parquet")
    assert table.schema.equals(ACTIVITIES_SCHEMA, check_metadata=True)
    rows = table.to_pylist()
    assert len(rows) == report.activities == 245
    assert report.activity_labels == {
        "Breakfast": "breakfast",
        "Grooming": "grooming",
        "Leaving": "leaving",
        "Lunch": "lunch",
        "Showering": "showering",
        "Sleeping": "sleeping",
        "Snack": "snack",
        "Spare_Time/TV": "relaxing",
        "Toileting": "toileting",
    }
    assert {r["activity"] for r in rows} == set(report.activity_labels.values())
    assert {r["person"] for r in rows} == {"resident"} and {r["area_id"] for r in rows} == {None}
    assert activity_of("Bed_to_Toilet") == "toileting" and activity_of("Juggling") == "other"
    assert all(r["end"] >= r["start"] for r in rows)
    sleeping = [r for r in rows if r["activity"] == "sleeping"]
    assert len(sleeping) == 14  # one night each of the 14 labelled days


@pytest.mark.parametrize(
    ("fmt", "path"),
    [
        (
            "ordonez",
            Path(__file__).parent / "data" / "real_homes" / "uci_adl_ordonez" / "OrdonezB_Sensors.txt",
        ),
        ("casas", Path(__file__).parent / "data" / "real_homes" / "casas" / "aruba_sample.txt"),
    ],
)
def test_import_is_deterministic(fmt: str, path: Path, tmp_path: Path) -> None:
    for out in ("one", "two"):
        import_history(fmt, path, tmp_path / out)
    for name in (HOME_FILE, EVENTS_FILE, ACTIVITIES_FILE, IMPORT_REPORT_FILE):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def _write(path: Path, rows: list[str]) -> Path:
    path.write_bytes((HEADER + DASHES + "".join(f"{r}\r\n" for r in rows)).encode())
    return path


def test_bad_rows_are_counted_by_reason_with_line_numbers(tmp_path: Path) -> None:
    sensors = _write(
        tmp_path / "Test_Sensors.txt",
        [
            "2011-11-28 02:27:59\t\t2011-11-28 10:18:11\t\tBed\t\t\tPressure\tBedroom",  # 3: good
            "",  # 4: blank
            "2011-11-28 10:21:24\t\t2011-11-28 10:21:31\t\tCabinet",  # 5: too few fields
            "2011-11-28 25:21:24\t\t2011-11-28 10:21:31\t\tCabinet\t\tMagnetic\tBathroom",  # 6: hour 25
            "2011-11-28 10:30:00\t\t2011-11-28 10:21:31\t\tCabinet\t\tMagnetic\tBathroom",  # 7: reversed
            "2011-11-28 10:21:24\t\t2011-11-28 10:21:31\t\tLamp\t\tLaser\tBathroom",  # 8: unknown type
            "2011-11-28 10:40:00\t\t2011-11-28 10:41:00\t\tBasin\t\tPIR\t\t\tBathroom",  # 9: good
            "2011-11-28 10:40:30\t\t2011-11-28 10:42:00\t\tBasin\t\tPIR\t\t\tBathroom",  # 10: overlaps 9
        ],
    )
    imported = read_history("ordonez", sensors)
    (tally,) = imported.report.files  # no ADLs file beside it: no activities
    assert imported.activities is None and imported.report.activities == 0
    assert tally.lines == 10 and tally.imported == 3
    assert {k: (v.count, v.first_lines) for k, v in tally.skipped.items()} == {
        "header": (2, (1, 2)),
        "blank line": (1, (4,)),
        "malformed line": (1, (5,)),
        "bad timestamp": (1, (6,)),
        "end before start": (1, (7,)),
        "unknown sensor type": (1, (8,)),
    }
    assert imported.report.notes == {"overlapping intervals merged": 1}
    events = imported.events.to_pylist()
    basin = [r for r in events if r["entity_id"] == "binary_sensor.bathroom_basin_motion"]
    assert [(r["state"], r["time"].strftime("%H:%M:%S")) for r in basin] == [
        ("on", "09:40:00"),
        ("off", "09:42:00"),
    ]


def test_unreadable_inputs_fail_with_one_line(tmp_path: Path) -> None:
    with pytest.raises(HistoryImportError, match="not an Ordóñez file"):
        read_history("ordonez", _write_raw(tmp_path / "X_Sensors.txt", "hello\nworld\n"))
    with pytest.raises(HistoryImportError, match="exactly one"):
        read_history("ordonez", ORDONEZ)  # two homes in one folder
    with pytest.raises(HistoryImportError, match="unknown format"):
        read_history("tsv", ORDONEZ)
    with pytest.raises(HistoryImportError, match="no such"):
        read_history("ordonez", tmp_path / "missing_Sensors.txt")
    with pytest.raises(HistoryImportError, match="starts with 'real-'"):
        read_history("ordonez", ORDONEZ / "OrdonezA_Sensors.txt", home_key="h000001-abc")
    with pytest.raises(HistoryImportError, match="unknown time zone"):
        read_history("ordonez", ORDONEZ / "OrdonezA_Sensors.txt", timezone="Mars/Olympus")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "ground_truth.json").write_text("{}")
    with pytest.raises(HistoryImportError, match="another kind of home"):
        import_history("ordonez", ORDONEZ / "OrdonezA_Sensors.txt", tmp_path / "taken")


def _write_raw(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


_ROW = st.one_of(
    st.builds(
        lambda s, d, loc: (
            f"2011-11-28 {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}\t\t"
            f"2011-11-28 {(s + d) // 3600 % 24:02d}:{(s + d) // 60 % 60:02d}:{(s + d) % 60:02d}\t\t{loc}"
        ),
        st.integers(0, 86399),
        st.integers(-60, 600),
        st.sampled_from(["Basin\t\tPIR\t\tBathroom", "Fridge\tMagnetic\tKitchen", "Bed\tPressure\tBedroom"]),
    ),
    st.text(alphabet=" \t:-0123456789abcXYZ", max_size=40),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_ROW, min_size=1, max_size=30))
def test_any_sensor_file_accounts_for_every_line(rows: list[str], tmp_path: Path) -> None:
    path = _write(tmp_path / "H_Sensors.txt", rows)
    try:
        imported = read_history("ordonez", path)
    except HistoryImportError as exc:
        assert "no readable events" in str(exc)  # every row bad: nothing to import, said in one line
        return
    (tally,) = imported.report.files
    assert tally.lines == len(rows) + 2
    assert tally.imported + tally.skipped_lines == tally.lines
    merged = imported.report.notes.get("overlapping intervals merged", 0)
    assert imported.events.num_rows == 2 * (tally.imported - merged)


def test_intervals_merge_per_sensor() -> None:
    start = np.array([0, 5, 20, 20, 30], dtype=np.int64)
    end = np.array([10, 8, 25, 20, 30], dtype=np.int64)
    sensor = np.array([0, 0, 0, 1, 0], dtype=np.int64)
    time, who, is_on, index, merged = intervals_to_changes(start, end, sensor)
    assert merged == 1  # [5, 8] lies inside [0, 10]
    changes = list(zip(who.tolist(), time.tolist(), is_on.tolist(), index.tolist(), strict=True))
    assert changes == [
        (0, 0, True, 0),
        (0, 10, False, 0),
        (0, 20, True, 2),
        (0, 25, False, 2),
        (0, 30, True, 4),  # a zero-length activation is an on and an off at the same instant
        (0, 30, False, 4),
        (1, 20, True, 3),
        (1, 20, False, 3),
    ]


def test_cli_imports_and_prints_the_line_counts(tmp_path: Path) -> None:
    out = tmp_path / "home"
    result = CliRunner().invoke(
        app, ["import-history", "ordonez", str(ORDONEZ / "OrdonezA_Sensors.txt"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "654 of 661 lines imported, 7 skipped" in result.output
    assert "end before start ×3" in result.output
    assert read_home(out).metadata.source == "real"
    inspected = CliRunner().invoke(app, ["inspect", str(out)])
    assert inspected.exit_code == 0 and "real home (UCI ADL" in inspected.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ordonez", str(ORDONEZ)], "exactly one"),
        (["csv", str(ORDONEZ)], "unknown format"),
        (["ordonez", str(ORDONEZ / "OrdonezA_Description.md")], "is named <home>_Sensors.txt"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["import-history", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


CASAS = Path(__file__).parent / "data" / "real_homes" / "casas" / "aruba_sample.txt"


def test_casas_every_line_accounted_for_with_reasons(tmp_path: Path) -> None:
    report = import_history("casas", CASAS, tmp_path / "aruba")
    (tally,) = report.files
    assert tally.lines == _line_count(CASAS) == 51
    assert {k: v.first_lines for k, v in tally.skipped.items()} == {
        "blank line": (19,),
        "malformed line": (39,),
        "bad timestamp": (26,),  # hour 25
        "unknown sensor type": (24,),  # X999
        "bad value": (12,),  # ONc
        "repeated state (HA records changes only)": (11,),  # M003 OFF twice
    }
    assert tally.imported + tally.skipped_lines == tally.lines
    assert report.events == tally.imported  # one line, one state change
    assert report.notes == {"activity begins never ended": 1}  # the last line's Relax
    assert report.home_key == "real-aruba-sample"


def test_casas_entities_states_and_activities(tmp_path: Path) -> None:
    import_history("casas", CASAS, tmp_path / "aruba")
    home = read_home(tmp_path / "aruba")
    kinds = {e.entity_id: (e.device_class, e.unit_of_measurement) for e in home.entities}
    assert kinds["binary_sensor.m003_motion"] == ("motion", None)
    assert kinds["binary_sensor.d001_door"] == ("door", None)
    assert kinds["sensor.t002_temperature"] == ("temperature", "°C")
    assert home.metadata.timezone == "America/Los_Angeles" and home.metadata.real_source is not None
    events = pq.read_table(tmp_path / "aruba" / EVENTS_FILE).to_pylist()
    door = [
        (r["state"], r["time"].strftime("%H:%M:%S"))
        for r in events
        if r["entity_id"] == "binary_sensor.d001_door"
    ]
    # OPEN/CLOSE become HA's on/off; 08:01:14 local (PDT, UTC-7) is 15:01:14 UTC.
    assert door == [("on", "15:01:14"), ("off", "15:01:21"), ("on", "18:47:40"), ("off", "18:47:46")]
    temps = [(r["state"], r["value"]) for r in events if r["entity_id"] == "sensor.t002_temperature"]
    assert temps == [("21.5", 21.5), ("21", 21.0), ("20.5", 20.5), ("19", 19.0)]
    activities = pq.read_table(tmp_path / "aruba" / "activities.parquet").to_pylist()
    assert [a["activity"] for a in activities] == [
        "sleeping",
        "toileting",
        "cooking",
        "relaxing",
        "leaving",
        "other",  # Enter_Home: homesim's vocabulary has no arriving
    ]
    sleep = activities[0]
    assert (sleep["end"] - sleep["start"]).total_seconds() == pytest.approx(6 * 3600 + 34 * 60 + 53.672414)


def test_casas_residents_and_dst_gap(tmp_path: Path) -> None:
    path = tmp_path / "tulum.txt"
    path.write_text(
        "2011-03-13 01:59:58.000000 M001 ON R1_Sleep begin\n"
        "2011-03-13 02:30:00.000000 M001 OFF\n"  # the hour the clocks skip in spring
        "2011-03-13 03:00:01.000000 M002 ON R2_Sleep begin\n"
        "2011-03-13 07:00:00.000000 M002 OFF R2_Sleep end\n"
        "2011-03-13 07:10:00.000000 M001 OFF R1_Sleep end\n"
        "2011-03-13 07:11:00.000000 M001 ON Meal_Preparation end\n"
    )
    imported = read_history("casas", path)
    (tally,) = imported.report.files
    assert tally.skipped["nonexistent local time (DST gap)"].first_lines == (2,)
    assert imported.report.notes == {"activity ends never begun": 1}
    assert imported.activities is not None
    rows = imported.activities.to_pylist()
    assert [(r["person"], r["activity"]) for r in rows] == [("r1", "sleeping"), ("r2", "sleeping")]


def test_casas_rejects_other_files(tmp_path: Path) -> None:
    with pytest.raises(HistoryImportError, match="not a CASAS events file"):
        read_history("casas", ORDONEZ / "OrdonezA_Description.md")
    with pytest.raises(HistoryImportError, match="holds no CASAS events file"):
        read_history("casas", tmp_path)


_CASAS_LINE = st.one_of(
    st.builds(
        lambda s, sensor, value, note: (
            f"2010-11-04 {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{s % 997:06d}{sensor}{value}{note}"
        ),
        st.integers(0, 86399),
        st.sampled_from([" M003 ", "\tM004\t", " D001 ", " T002 ", " X9 "]),
        st.sampled_from(["ON", "OFF", "OPEN", "CLOSE", "21.5", "ONc", "-3"]),
        st.sampled_from(["", " Relax begin", " Relax end", " R1_Sleep begin", " Sleeping"]),
    ),
    st.text(alphabet=" \t:-.0123456789MDTONF", max_size=40),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_CASAS_LINE, min_size=1, max_size=40))
def test_any_casas_file_accounts_for_every_line(rows: list[str], tmp_path: Path) -> None:
    path = tmp_path / "testbed.txt"
    path.write_text("\n".join(rows) + "\n")
    try:
        imported = read_history("casas", path)
    except HistoryImportError as exc:
        assert "not a CASAS events file" in str(exc) or "no readable events" in str(exc)
        return
    (tally,) = imported.report.files
    assert tally.lines == len(rows)
    assert tally.imported + tally.skipped_lines == tally.lines
    assert imported.events.num_rows == tally.imported  # one imported line, one state change
