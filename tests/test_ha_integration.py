"""Generated homes through Home Assistant's formats: config dir, recorder database, and back."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from homesim.cli import app
from homesim.datasets.home_folder import write_home
from homesim.generation.home import GeneratedHome
from homesim.ground_truth.truth import read_ground_truth
from homesim.ha.automation import load_yaml
from homesim.ha.automation_validation import validate_yaml
from homesim.ha.config_dir import export_config_dir
from homesim.ha.recorder import read_state_history
from homesim.ha.storage import import_home


def test_generated_home_round_trips_through_storage(tmp_path: Path, month_homes: list[GeneratedHome]) -> None:
    for generated in month_homes[:2]:
        out = tmp_path / generated.key
        export_config_dir(generated.home, out)
        imported, _warnings = import_home(out, home_key=generated.key)
        home = generated.home
        assert imported.floors == home.floors
        assert [a.area_id for a in imported.areas] == [a.area_id for a in home.areas]
        assert {lb.label_id for lb in imported.labels} == {lb.label_id for lb in home.labels}
        assert [(d.id, d.name, d.area_id, d.device_type) for d in imported.devices] == [
            (d.id, d.name, d.area_id, d.device_type) for d in home.devices
        ]
        assert {e.entity_id: e.unique_id for e in imported.entities} == {
            e.entity_id: e.unique_id for e in home.entities
        }


def test_recorder_history_reconstructs_generated_events(
    tmp_path: Path, month_homes: list[GeneratedHome]
) -> None:
    generated = month_homes[0]
    out = tmp_path / "config"
    paths = export_config_dir(generated.home, out, events=generated.events, recorder=True)
    db = out / "home-assistant_v2.db"
    assert db in paths
    history = read_state_history(db)
    events = pl.from_arrow(generated.events)
    assert isinstance(events, pl.DataFrame)
    events = events.with_columns(pl.col("entity_id").cast(pl.String))
    exact = 0
    for entity_id in events["entity_id"].unique().sort().to_list()[:25]:
        mine = events.filter(pl.col("entity_id") == entity_id)
        rows = history[entity_id]
        if mine.filter(pl.col("state") == pl.col("state").shift(1)).height == 0:
            # Without repeats every event is one states row: same states, same times, in order.
            assert [r[0] for r in rows] == mine["state"].to_list()
            times = mine["time"].dt.epoch("us").to_numpy() / 1e6
            assert all(abs(r[1] - t) < 1e-6 for r, t in zip(rows, times, strict=True))
            exact += 1
        assert rows[0][3] is None  # the first state of an entity has no old state
        assert all(r[3] is not None for r in rows[1:])
    assert exact >= 20


def test_export_writes_the_ground_truth_automations(tmp_path: Path, month_homes: list[GeneratedHome]) -> None:
    generated = month_homes[1]
    home_dir = tmp_path / generated.key
    write_home(generated, home_dir)
    out = tmp_path / "config"
    result = CliRunner().invoke(app, ["ha", "export", str(home_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = (out / "automations.yaml").read_text("utf-8")
    automations = load_yaml(text)
    truth = read_ground_truth(home_dir)
    assert [a.id for a in automations] == [p.automation.id for p in truth.patterns]
    assert validate_yaml(text, generated.home) == []
    assert "!include automations.yaml" in (out / "configuration.yaml").read_text("utf-8")
