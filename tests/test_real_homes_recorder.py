"""Importing an HA recorder database: the schema HA 2024–2025 writes (with the config dir's registries),
and a homesim home exported with `homesim ha export --recorder` and imported back unchanged."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from homesim.cli import app
from homesim.datasets.home_folder import read_home, write_home
from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.ha.config_dir import RECORDER_DB_NAME
from homesim.real_homes.importing import HistoryImportError, import_history, read_history
from homesim.schema.home import Home
from homesim.workspace import EVENTS_FILE

STORAGE = Path(__file__).parent / "data" / "real_homes" / "ha_config" / ".storage"

# The three history tables as HA's SQLAlchemy models create them on SQLite (HA 2024.x, schema 43+).
HA_2024_TABLES = """
CREATE TABLE state_attributes (attributes_id INTEGER NOT NULL, hash BIGINT, shared_attrs TEXT,
    PRIMARY KEY (attributes_id));
CREATE TABLE states_meta (metadata_id INTEGER NOT NULL, entity_id VARCHAR(255), PRIMARY KEY (metadata_id));
CREATE TABLE states (state_id INTEGER NOT NULL, entity_id CHAR(0), state VARCHAR(255), attributes CHAR(0),
    event_id SMALLINT, last_changed CHAR(0), last_changed_ts FLOAT, last_reported_ts FLOAT,
    last_updated CHAR(0), last_updated_ts FLOAT, old_state_id INTEGER, attributes_id INTEGER,
    context_id CHAR(0), context_user_id CHAR(0), context_parent_id CHAR(0), origin_idx SMALLINT,
    context_id_bin BLOB, context_user_id_bin BLOB, context_parent_id_bin BLOB, metadata_id INTEGER,
    PRIMARY KEY (state_id));
"""
LIGHT = "light.living_room_ceiling_light"
MOTION = "binary_sensor.kitchen_motion_sensor_occupancy"
TEMP = "sensor.bedroom_climate_sensor_temperature"
FAN = "switch.bedroom_fan"
OUTDOOR = "sensor.outdoor_temperature"  # a template sensor: history, but no registry entry


def _t(hh: int, mm: int) -> float:
    return datetime(2025, 1, 6, hh, mm, tzinfo=UTC).timestamp()


ATTRS = {
    1: {"supported_color_modes": ["brightness"], "color_mode": None, "brightness": None,
        "friendly_name": "Living Room Ceiling Light", "supported_features": 0},
    2: {"supported_color_modes": ["brightness"], "color_mode": "brightness", "brightness": 180,
        "friendly_name": "Living Room Ceiling Light", "supported_features": 0},
    3: {"supported_color_modes": ["brightness"], "color_mode": "brightness", "brightness": 90,
        "friendly_name": "Living Room Ceiling Light", "supported_features": 0},
    4: {"device_class": "occupancy", "friendly_name": "Kitchen Motion Sensor Occupancy"},
    5: {"state_class": "measurement", "unit_of_measurement": "°C", "device_class": "temperature",
        "friendly_name": "Bedroom Climate Sensor Temperature"},
    6: {"unit_of_measurement": "°C", "device_class": "temperature", "friendly_name": "Outdoor temperature"},
    7: {"id": "1700000000000", "last_triggered": None, "mode": "single", "friendly_name": "Morning"},
    8: {"friendly_name": "Bedroom Fan"},
}  # fmt: skip
META = {1: LIGHT, 2: MOTION, 3: TEMP, 4: OUTDOOR, 5: "automation.morning", 6: FAN}
# (state_id, metadata_id, state, last_updated_ts, attributes_id)
ROWS = [
    (1, 1, "off", _t(6, 0), 1),
    (2, 2, "off", _t(6, 0), 4),
    (3, 3, "19.5", _t(6, 0), 5),
    (4, 4, "3.0", _t(6, 0), 6),
    (5, 5, "on", _t(6, 0), 7),  # an automation: homesim does not model that domain
    (6, 2, "on", _t(7, 1), 4),
    (7, 1, "on", _t(7, 1), 2),
    (8, 1, "on", _t(7, 30), 3),  # dimmed: same state, other attributes, a row of its own in HA
    (9, 2, "off", _t(7, 4), 4),
    (10, 3, "20.1", _t(7, 5), 5),
    (11, 4, "unavailable", _t(7, 6), 6),
    (12, 3, None, _t(7, 7), 5),  # a row without a state
    (13, 6, "on", _t(7, 8), 8),  # the fan, disabled in the registry below
    (14, 99, "on", _t(7, 9), 4),  # its states_meta row was purged
    (15, 2, "off", _t(7, 10), 4),  # repeats the last state and attributes
    (16, 1, "off", _t(22, 0), 1),
]


def _write_db(path: Path, rows: Sequence[tuple[object, ...]] = ROWS) -> Path:
    con = sqlite3.connect(path)
    con.executescript(HA_2024_TABLES)
    con.executemany(
        "INSERT INTO state_attributes VALUES (?, 0, ?)",
        [(k, json.dumps(v, separators=(",", ":"), ensure_ascii=False)) for k, v in ATTRS.items()],
    )
    con.executemany("INSERT INTO states_meta VALUES (?, ?)", META.items())
    con.executemany(
        "INSERT INTO states (state_id, metadata_id, state, last_updated_ts, attributes_id) "
        "VALUES (?, ?, ?, ?, ?)",
        rows,
    )
    # A row from before HA 2023.4 moved entity ids into states_meta: the id is still in states.entity_id.
    con.execute(
        "INSERT INTO states (state_id, entity_id, state, last_updated_ts, attributes_id) VALUES (?,?,?,?,?)",
        (17, TEMP, "20.4", _t(23, 0), 5),
    )
    con.commit()
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    return path


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A config dir: the reference registries (the fan disabled by the user) and an HA 2024 recorder DB."""
    config = tmp_path / "my_home"
    shutil.copytree(STORAGE, config / ".storage")
    registry = config / ".storage" / "core.entity_registry"
    data = json.loads(registry.read_text())
    for entity in data["data"]["entities"]:
        if entity["entity_id"] == FAN:
            entity["disabled_by"] = "user"
    registry.write_text(json.dumps(data))
    _write_db(config / RECORDER_DB_NAME)
    return config


def test_ha_2024_database_with_registries(config_dir: Path, tmp_path: Path) -> None:
    report = import_history("recorder", config_dir, tmp_path / "out")
    (tally,) = report.files
    assert (tally.lines, tally.imported) == (17, 12)
    assert {k: v.first_lines for k, v in tally.skipped.items()} == {
        "entity domain not modelled": (5,),
        "no state": (12,),
        "entity left out by the registry": (13,),
        "no entity id": (14,),
        "repeated state and attributes": (15,),
    }
    assert report.events == 12 and report.home_key == "real-my-home"
    assert any("disabled by user" in w for w in report.warnings)
    home = read_home(tmp_path / "out")
    assert home.metadata.source == "real" and home.metadata.real_source is not None
    assert home.metadata.real_source.format == "recorder"
    entities = {e.entity_id: e for e in home.entities}
    assert FAN not in entities and "automation.morning" not in entities
    # From the registry: the device, its area and the catalog device type.
    assert home.entity_area(entities[MOTION]) == "kitchen" and entities[MOTION].device_class == "occupancy"
    # From the history alone: classes and unit from its attributes, no device.
    outdoor = entities[OUTDOOR]
    assert (outdoor.device_class, outdoor.unit_of_measurement, outdoor.device_id) == (
        "temperature",
        "°C",
        None,
    )
    assert outdoor.platform == "recorder" and outdoor.original_name == "Outdoor temperature"
    events = pl.from_arrow(pq.read_table(tmp_path / "out" / EVENTS_FILE))
    assert isinstance(events, pl.DataFrame)
    assert set(events["cause"].cast(pl.String)) == {"observed"}
    light = events.filter(pl.col("entity_id").cast(pl.String) == LIGHT)
    assert light["state"].to_list() == ["off", "on", "on", "off"]
    # What describes the entity is dropped; what describes the state stays.
    assert [json.loads(a) for a in light["attributes"].to_list()] == [
        {"color_mode": None, "brightness": None},
        {"color_mode": "brightness", "brightness": 180},
        {"color_mode": "brightness", "brightness": 90},
        {"color_mode": None, "brightness": None},
    ]
    temp = events.filter(pl.col("entity_id").cast(pl.String) == TEMP)
    assert temp["value"].to_list() == [19.5, 20.1, 20.4]  # the last from the pre-2023.4 row
    assert light["value"].is_nan().all()


def test_database_without_registries_and_bad_files(tmp_path: Path) -> None:
    db = _write_db(tmp_path / "history.db")
    imported = read_history("recorder", db, timezone="Europe/Amsterdam")
    assert imported.home.metadata.timezone == "Europe/Amsterdam"
    assert imported.home.devices == () and imported.home.areas == ()
    assert {e.entity_id for e in imported.home.entities} == {LIGHT, MOTION, TEMP, OUTDOOR, FAN}
    assert any("no .storage" in w for w in imported.report.warnings)
    (tmp_path / "junk.db").write_bytes(b"not a database at all, just bytes" * 10)
    with pytest.raises(HistoryImportError, match=r"cannot read junk\.db"):
        read_history("recorder", tmp_path / "junk.db")
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(HistoryImportError, match="no states table"):
        read_history("recorder", empty)
    with pytest.raises(HistoryImportError, match=r"holds no home-assistant_v2\.db"):
        read_history("recorder", tmp_path)


def test_round_trip_through_ha_export_recorder(tmp_path: Path) -> None:
    """A homesim home → `homesim ha export --recorder` → `homesim import-history recorder` → the same
    entities and the same state changes."""
    generated = generate_home(GenerationConfig(homes=1, days=3, seed=5, fault_rate=0.3), 0)
    write_home(generated, tmp_path / "home")
    runner = CliRunner()
    exported = runner.invoke(
        app, ["ha", "export", str(tmp_path / "home"), "--out", str(tmp_path / "ha"), "--recorder"]
    )
    assert exported.exit_code == 0, exported.output
    back = runner.invoke(
        app, ["import-history", "recorder", str(tmp_path / "ha"), "--out", str(tmp_path / "back")]
    )
    assert back.exit_code == 0, back.output

    original, imported = generated.home, read_home(tmp_path / "back")
    assert _shape(imported) == _shape(original)
    assert [d.device_type for d in imported.devices] == [d.device_type for d in original.devices]

    def changes(table: pa.Table) -> pl.DataFrame:
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        frame = frame.select(
            "time",
            pl.col("entity_id").cast(pl.String),
            "state",
            pl.col("attributes").map_elements(
                lambda a: json.dumps(json.loads(a), sort_keys=True), return_dtype=pl.String
            ),
        ).with_row_index()
        # A state change: the entity's state or attributes differ from its previous event (HA's rule;
        # homesim's fault-duplicated reports repeat both and are not changes).
        same = (pl.col("state") == pl.col("state").shift(1).over("entity_id", order_by="index")) & (
            pl.col("attributes").eq_missing(pl.col("attributes").shift(1).over("entity_id", order_by="index"))
        )
        return frame.filter(~same.fill_null(False)).drop("index")

    before, after = changes(generated.events), changes(pq.read_table(tmp_path / "back" / EVENTS_FILE))
    assert before.height > 1000 and before.height < generated.events.num_rows  # duplicates were there
    assert after.equals(before)


def _shape(home: Home) -> dict[str, tuple[object, ...]]:
    """What an entity is: domain, class, unit, state class, effective area, catalog role."""
    return {
        e.entity_id: (
            e.domain,
            e.device_class,
            e.unit_of_measurement,
            e.state_class,
            home.entity_area(e),
            e.role,
        )
        for e in home.entities
    }
