"""Calibrating from a real home (`homesim calibrate`): the fit reads the real home's rooms, sensors and
routine, never its held-out days; calibrated homes are deterministic per (seed, i); default generation is
untouched; bad input is one line and exit 2."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from homesim.cli import app
from homesim.datasets.home_folder import read_home, write_home
from homesim.generation.calibration import Calibration, Episodes, SensorFit, draw_home
from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.real_homes.calibration import CalibrationError, FittedHome, fit_home, moments
from homesim.real_homes.calibration.fit import EPISODE_S, episodes_of
from homesim.real_homes.calibration.moments import calibration_config
from homesim.real_homes.calibration.run import CALIBRATION_FILE, REPORT_FILE, calibrate
from homesim.real_homes.realism.features import day_features
from homesim.real_homes.realism.footing import load_home, sensor_table
from homesim.workspace import ACTIVITIES_FILE, EVENTS_FILE, Workspace


@pytest.fixture(scope="module")
def fitted(home_a: Path) -> FittedHome:
    return fit_home(home_a)


def test_fit_reads_rooms_sensors_and_a_plausible_routine(home_a: Path, fitted: FittedHome) -> None:
    cal = fitted.calibration
    real = read_home(home_a)
    assert [r.room_type for r in cal.layout] == [a.room_type for a in real.areas]
    kinds = sorted(s.kind for r in cal.layout for s in r.sensors)
    assert kinds == sorted(sensor_table(real)["kind"].to_list())
    by_room = {r.room_type: sorted(s.kind for s in r.sensors) for r in cal.layout}
    assert by_room["entrance"] == ["door"]
    assert by_room["bedroom"] == ["occupancy"]  # the bed's pressure mat
    assert cal.residents == 1
    # Ordóñez A's resident gets up late (labels: 09:30–12:00) and goes to bed after midnight.
    assert 9.0 < cal.wake_h < 12.5
    assert 24.0 < cal.bedtime_h < 27.5
    assert 0.5 < cal.activities.outings.free_day < 3.0
    assert cal.activities.routines["breakfast"].p > 0.5
    # Sensors respond to the activities where they are: the toilet flush to toileting.
    flush = next(s for s in by_room_sensors(cal, "bathroom") if s.kind == "appliance")
    assert max(flush.per_hour, key=lambda a: flush.per_hour[a]) == "toileting"
    # A sensor fires again next at its own fitted share; a door never does here (one per leave or return).
    sensors = [s for r in cal.layout for s in r.sensors]
    assert any(0 < s.repeat < 0.95 for s in sensors)
    assert all(s.repeat == 0 for s in sensors if s.kind == "door")
    assert fitted.sources["wake_h"] == "labels"
    # Episodes: A's activations come in runs with pauses under a quarter of an hour, gaps fitted inside them.
    episodes = cal.episodes
    assert episodes is not None and episodes.per_h > 0
    assert episodes.gap_s[-1] <= EPISODE_S
    assert episodes.same_gap_s[-1] <= EPISODE_S
    assert episodes.room_gap_s is not None and episodes.room_gap_s[-1] <= EPISODE_S
    assert fitted.episodes_per_day > 1
    split = fitted.split
    assert len(split.fit_days) + len(split.held_out_days) == 13  # A's kept days
    assert max(split.fit_days) < min(split.held_out_days)
    assert len(split.held_out_days) == round(13 * 0.3)


def by_room_sensors(cal: Calibration, room: str) -> list[SensorFit]:
    return [s for r in cal.layout if r.room_type == room for s in r.sensors]


def _rewrite(path: Path, keep: pa.ChunkedArray) -> None:
    table = pq.read_table(path)
    pq.write_table(table.filter(keep), path)


def _tamper(src: Path, dst: Path, cutoff: datetime, *, after: bool) -> None:
    """Copy a home and drop one sensor's events and every non-leaving label on one side of `cutoff`."""
    shutil.copytree(src, dst)
    events = pq.read_table(dst / EVENTS_FILE)
    flush = next(e for e in events["entity_id"].unique().to_pylist() if "toilet" in e)
    side = pc.greater_equal if after else pc.less
    hit = pc.and_(pc.equal(events["entity_id"].cast(pa.string()), flush), side(events["time"], cutoff))
    _rewrite(dst / EVENTS_FILE, pc.invert(hit))
    labels = pq.read_table(dst / ACTIVITIES_FILE)
    hit = pc.and_(
        pc.not_equal(labels["activity"].cast(pa.string()), "leaving"), side(labels["start"], cutoff)
    )
    _rewrite(dst / ACTIVITIES_FILE, pc.invert(hit))


def test_held_out_days_never_reach_the_fit(home_a: Path, fitted: FittedHome, tmp_path: Path) -> None:
    tz = ZoneInfo(read_home(home_a).metadata.timezone)
    cutoff = fitted.split.cutoff.replace(tzinfo=tz)
    _tamper(home_a, tmp_path / "after", cutoff, after=True)
    assert fit_home(tmp_path / "after") == fitted
    # The same change to the fit days does change the fit: the test can fail.
    _tamper(home_a, tmp_path / "before", cutoff, after=False)
    assert fit_home(tmp_path / "before").calibration != fitted.calibration


def _bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def test_calibrated_homes_are_deterministic_and_reproducible_alone(fitted: FittedHome) -> None:
    config = calibration_config(fitted, homes=3, days=3, seed=7)
    assert draw_home(fitted.calibration, 7, 1) == draw_home(fitted.calibration, 7, 1)
    assert draw_home(fitted.calibration, 7, 1) != draw_home(fitted.calibration, 7, 2)
    alone = generate_home(config.model_copy(update={"homes": 1}), 2)
    again = generate_home(config, 2)
    assert _bytes(alone.events) == _bytes(again.events)  # NaN values: compare bytes, not Table.equals
    assert alone.home == again.home
    areas = [a.room_type for a in again.home.areas]
    assert areas == [r.room_type for r in fitted.calibration.layout]
    assert sorted(sensor_table(again.home)["kind"].to_list()) == sorted(
        s.kind for r in fitted.calibration.layout for s in r.sensors
    )
    assert len(again.home.metadata.occupants) == 1
    assert len(again.activities) > 0


def test_episodes_of_counts_runs_split_by_long_pauses() -> None:
    assert episodes_of(np.array([])) == 1  # one activation
    assert episodes_of(np.array([10.0, EPISODE_S, EPISODE_S + 1, 5.0])) == 2


def test_quantiles_must_not_decrease() -> None:
    with pytest.raises(ValidationError, match="non-decreasing"):
        Episodes(per_h=1.0, gap_s=(10.0, 5.0), same_gap_s=(1.0, 2.0))


def _day_medians(fitted: FittedHome, calibration: Calibration, tmp: Path) -> dict[str, float]:
    """Median day features of one calibrated home (7 days) on the realism footing."""
    config = calibration_config(fitted, homes=1, days=7, seed=5).model_copy(
        update={"calibration": calibration}
    )
    write_home(generate_home(config, 0), tmp)
    days = day_features(load_home(tmp, real=False))
    return {c: float(days[c].median()) for c in ("burst_share", "self_transition_share", "day_quiet_share")}  # type: ignore[arg-type]


def test_episodes_gather_activations_into_bursts(fitted: FittedHome, tmp_path: Path) -> None:
    cal = fitted.calibration
    assert cal.episodes is not None
    spread = _day_medians(fitted, cal.model_copy(update={"episodes": None}), tmp_path / "spread")
    gathered = _day_medians(fitted, cal, tmp_path / "gathered")
    assert gathered["burst_share"] > spread["burst_share"]
    assert gathered["day_quiet_share"] > spread["day_quiet_share"]

    # A sensor's further activations in an episode stay at its chance: none, then all of them.
    def again(chance: float) -> Calibration:
        layout = tuple(
            r.model_copy(update={"sensors": tuple(s.model_copy(update={"again": chance}) for s in r.sensors)})
            for r in cal.layout
        )
        return cal.model_copy(update={"layout": layout})

    # Two sensors of one room follow each other at the room's gaps: seconds, then minutes apart.
    def room_gaps(seconds: float) -> Calibration:
        return cal.model_copy(update={"episodes": episodes.model_copy(update={"room_gap_s": (seconds,) * 2})})

    episodes = cal.episodes
    quick = _day_medians(fitted, room_gaps(5.0), tmp_path / "quick")
    slow = _day_medians(fitted, room_gaps(600.0), tmp_path / "slow")
    assert quick["burst_share"] > slow["burst_share"]

    once = _day_medians(fitted, again(0.0), tmp_path / "once")
    every = _day_medians(fitted, again(1.0), tmp_path / "every")
    assert once["self_transition_share"] < every["self_transition_share"]


def test_default_generation_is_unchanged() -> None:
    # Home keys and the dataset hash of `homesim generate --homes 3 --days 7 --seed 42`: a config without
    # `calibration` serialises exactly as it did before calibration existed (the keys include the generator
    # version; these are generator 1.8.0's, whose only change to them is that version).
    config = GenerationConfig(homes=3, days=7, seed=42)
    assert "calibration" not in config.model_dump()
    assert config.home_key(0) == "h000000-7571cd390391"
    assert config.home_key(2) == "h000002-b28d2c219bde"
    assert config.config_hash() == "edd60864852236f156a13eaa3cad84eada2af24ead88783651271bda61fbf60a"


@pytest.mark.slow
def test_calibrate_end_to_end(home_a: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moments, "PILOT_DAYS", 7)  # a shorter pilot: the test checks the plumbing
    fits, report, out = calibrate(
        home_a, Workspace(tmp_path / "ws"), homes=2, days=4, seed=1, folds=1, resamples=2
    )
    (fitted,) = fits
    assert report.c2st.auc is not None and 0.0 <= report.c2st.auc <= 1.0
    assert report.c2st.n_negative == len(fitted.split.held_out_days)
    assert report.c2st.groups_positive == 2
    assert report.met == (report.c2st.auc <= report.target_auc)
    # Like for like: as many calibrated days as the floor's fit days (all 8 when there are fewer).
    assert report.matched is not None and report.matched.auc is not None
    assert report.matched.n_positive == min(report.floor.n_negative, report.c2st.n_positive)
    assert report.matched_met == (report.matched.auc <= report.target_auc)
    saved = json.loads((out / REPORT_FILE).read_text())
    (dataset_id,) = (f["dataset_id"] for f in saved["by_fold"])
    assert saved["c2st"] == saved["by_fold"][0]["c2st"]  # one split: its own test
    assert (out / CALIBRATION_FILE).is_file()
    homes = sorted((tmp_path / "ws" / "data" / "datasets" / dataset_id).iterdir())
    assert (tmp_path / "ws" / "data" / "datasets" / dataset_id / "manifest.json").is_file()
    assert homes


def test_too_few_days_to_split(home_a: Path) -> None:
    with pytest.raises(CalibrationError, match="cannot be split"):
        fit_home(home_a, holdout_share=0.9)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--real", "/nonexistent/home", "--homes", "2"], "not a folder"),
        (["--real", "{synthetic}", "--homes", "2"], "not a real home"),
        (["--real", "{real}", "--homes", "2", "--folds", "1", "--holdout-share", "0.9"], "cannot be split"),
        (["--real", "{real}", "--homes", "2"], "cannot be shared out among 3 folds"),
        (["--real", "{real}", "--homes", "9", "--folds", "9"], "cannot be cut into 9 blocks"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(
    args: list[str], message: str, home_a: Path, tmp_path: Path
) -> None:
    synthetic = tmp_path / "syn"
    write_home(generate_home(GenerationConfig(homes=1, days=2, seed=3), 0), synthetic)
    args = [a.format(synthetic=synthetic, real=home_a) for a in args]
    result = CliRunner().invoke(app, ["calibrate", *args, "--workspace", str(tmp_path / "ws")])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_fit_without_labels_uses_activations(home_a: Path, tmp_path: Path) -> None:
    unlabelled = tmp_path / "A"
    shutil.copytree(home_a, unlabelled)
    (unlabelled / ACTIVITIES_FILE).unlink()
    fitted = fit_home(unlabelled)
    cal = fitted.calibration
    assert fitted.sources["wake_h"] == "activations"
    assert 8.0 < cal.wake_h < 13.0  # first activation 05:00–13:00; A gets up around 10:00–11:00
    assert cal.residents == 1  # no labels, no person entities: one resident
    responding = [s for r in cal.layout for s in r.sensors if s.per_hour]
    assert responding and all("sleeping" in s.per_hour or "relaxing" in s.per_hour for s in responding)
