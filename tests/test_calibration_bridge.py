"""Interrupted stays and the like-for-like score: a sensor whose further activations are dropped (a seat's
sittings always have something else between them) brings them back with another sensor between, fitted to
its count; and calibrated homes are scored with as many days as the floor's fit days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from homesim.datasets.home_folder import write_home
from homesim.generation.calibration import Calibration, SensorFit
from homesim.generation.home import generate_home
from homesim.real_homes.calibration import FittedHome, fit_home
from homesim.real_homes.calibration.fit import next_rooms
from homesim.real_homes.calibration.matched import matched_c2st
from homesim.real_homes.calibration.moments import BRIDGE_START, MAX_SCALE, bridge_chance, calibration_config
from homesim.real_homes.realism.features import FEATURE_NAMES, day_features
from homesim.real_homes.realism.footing import load_home


@pytest.fixture(scope="module")
def fitted(home_a: Path) -> FittedHome:
    return fit_home(home_a, fold=(0, 3))


def test_next_rooms_count_each_run_of_a_sensor_towards_the_next_other_sensor() -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    sensors = ["a", "a", "b", "c", "a", "d"]
    starts = [t0 + timedelta(minutes=i) for i in range(len(sensors))]
    acts = pl.DataFrame({"sensor": sensors, "start": starts})
    fits = {s: SensorFit(kind="door" if s == "d" else "motion") for s in "abcd"}
    shares = next_rooms(acts, [["a"], ["b", "c"], ["d"]], fits)
    # a, a → b (room 1); b → c (room 1); c → a (room 0); the last a is followed only by a door: left out.
    assert shares == {"a": (0.0, 1.0, 0.0), "b": (0.0, 1.0, 0.0), "c": (1.0, 0.0, 0.0)}


def test_fitted_next_rooms_are_shares_over_the_layout(fitted: FittedHome) -> None:
    layout = fitted.calibration.layout
    sensors = [s for r in layout for s in r.sensors]
    assert all(not s.next_room for s in sensors if s.kind == "door")
    with_next = [s for s in sensors if s.next_room]
    assert with_next
    assert all(len(s.next_room) == len(layout) and abs(sum(s.next_room) - 1) < 1e-9 for s in with_next)


def test_bridge_opens_only_at_the_rate_bound_and_short_of_the_count() -> None:
    assert bridge_chance(0.0, MAX_SCALE, 5.0, 4.0) == pytest.approx(BRIDGE_START * 5 / 4)
    assert bridge_chance(0.3, MAX_SCALE, 5.0, 2.0) == 0.75
    assert bridge_chance(0.9, MAX_SCALE, 5.0, 1.0) == 1.0
    assert bridge_chance(0.0, MAX_SCALE / 2, 5.0, 4.0) == 0.0  # the rates can still rise
    assert bridge_chance(0.2, MAX_SCALE, 5.0, 6.0) == 0.2  # not short


def _activations(fitted: FittedHome, calibration: Calibration, tmp: Path) -> pl.DataFrame:
    config = calibration_config(fitted, homes=1, days=7, seed=5).model_copy(
        update={"calibration": calibration}
    )
    write_home(generate_home(config, 0), tmp)
    return load_home(tmp, real=False).activations.sort("start", "sensor")


def test_bridged_repeats_come_back_with_another_sensor_between(fitted: FittedHome, tmp_path: Path) -> None:
    cal = fitted.calibration

    def with_bridge(chance: float) -> Calibration:
        layout = tuple(
            r.model_copy(
                update={
                    "sensors": tuple(
                        s.model_copy(update={"again": 0.0, "bridge": chance if s.next_room else 0.0})
                        for s in r.sensors
                    )
                }
            )
            for r in cal.layout
        )
        return cal.model_copy(update={"layout": layout})

    dropped = _activations(fitted, with_bridge(0.0), tmp_path / "dropped")
    bridged = _activations(fitted, with_bridge(1.0), tmp_path / "bridged")
    assert bridged.height > 1.2 * dropped.height

    def self_repeats(acts: pl.DataFrame) -> int:
        return int((acts["sensor"].head(-1) == acts["sensor"].tail(-1)).sum())

    # The repeats come back with something else between, not back to back (a few merge on the footing).
    assert self_repeats(bridged) - self_repeats(dropped) < 0.25 * (bridged.height - dropped.height)
    # Without any bridge the calibration draws as before (no extra draw).
    assert _activations(fitted, with_bridge(0.0), tmp_path / "again").equals(dropped)


def test_matched_score_reads_the_floor_scale(home_a: Path) -> None:
    days = day_features(load_home(home_a, real=True))
    held = days.head(5)
    same = days.tail(-5).with_columns(real=pl.lit(False), home=pl.lit("copy"))
    alike = matched_c2st(same, held, 6, resamples=40)
    assert alike.n_positive == 6 and alike.n_negative == 5
    assert alike.auc is not None and alike.auc < 0.8
    busier = same.with_columns(pl.col(FEATURE_NAMES).cast(pl.Float64) * 3 + 5)  # every feature far off
    apart = matched_c2st(busier, held, 6, resamples=40)
    assert apart.auc is not None and apart.auc > 0.9
    assert apart.ci_low is not None and apart.ci_high is not None
    assert apart.ci_low <= apart.auc <= apart.ci_high
    assert matched_c2st(busier, held, 6, resamples=40) == apart  # a function of its days alone
