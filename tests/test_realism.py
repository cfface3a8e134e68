"""Realism: the footing (activations, HA motion clear time, days kept), each behaviour feature on a
hand-made day with known answers, the classifier two-sample test on known distributions, the CLI's bad
input, the HTML report, and train-real-test-real activity recognition on the Ordóñez homes."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import stats
from typer.testing import CliRunner

from homesim.cli import app
from homesim.datasets.home_folder import write_home
from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.real_homes.importing import import_history
from homesim.real_homes.realism import compare
from homesim.real_homes.realism.features import FEATURE_NAMES, day_features
from homesim.real_homes.realism.footing import (
    ACTIVATION_SCHEMA,
    KINDS,
    MOTION_CLEAR_S,
    NOT_BY_HAND,
    HomeActivity,
    harmonise,
    load_home,
    merge_overlaps,
    restrict_kinds,
)
from homesim.real_homes.realism.statistics import c2st, feature_comparison
from homesim.real_homes.realism.transfer import activity_transfer, feature_columns, windows
from homesim.reports.realism import REALISM_SECTIONS, write_realism_report
from homesim.reports.report import write_report
from homesim.schema.activities import ACTIVITIES_FILE
from homesim.workspace import Workspace

ORDONEZ = Path(__file__).parent / "data" / "real_homes" / "uci_adl_ordonez"


@pytest.fixture(scope="module")
def real_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("real")
    for name in ("A", "B"):
        import_history("ordonez", ORDONEZ / f"Ordonez{name}_Sensors.txt", root / name)
    return [root / "A", root / "B"]


@pytest.fixture(scope="module")
def synthetic_dirs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("synthetic")
    config = GenerationConfig(homes=2, days=4, seed=11)
    dirs = [root / f"h{i}" for i in range(config.homes)]
    for i, directory in enumerate(dirs):
        write_home(generate_home(config, i), directory)
    return dirs


# -- footing ------------------------------------------------------------------------------------------


def test_raw_pir_intervals_get_the_clear_time_and_merge() -> None:
    t = datetime(2025, 1, 1, 10)
    raw = pl.DataFrame(
        {
            "sensor": ["pir", "pir", "pir", "other"],
            "start": [t, t.replace(second=30), t.replace(minute=10), t],
            "end": [t.replace(second=5), t.replace(second=40), t.replace(minute=10, second=2), t],
        }
    )
    merged = merge_overlaps(raw, "sensor", MOTION_CLEAR_S).sort("sensor", "start")
    pir = merged.filter(pl.col("sensor") == "pir")
    # 10:00:00–10:00:05 and 10:00:30–10:00:40 overlap once each is extended by 90 s: one activation.
    assert pir["start"].to_list() == [t, t.replace(minute=10)]
    assert pir["end"].to_list() == [t.replace(minute=2, second=10), t.replace(minute=11, second=32)]
    assert merged.filter(pl.col("sensor") == "other").height == 1


def test_real_home_on_the_footing(real_dirs: list[Path]) -> None:
    home = load_home(real_dirs[0], real=True)
    kinds = dict(home.sensors.group_by("kind").len().iter_rows())
    assert kinds == {"motion": 3, "occupancy": 2, "door": 1, "opening": 3, "appliance": 3}
    assert home.sensors.filter(pl.col("outside_door"))["sensor"].to_list() == [
        "binary_sensor.entrance_maindoor_door"
    ]
    motion = home.activations.filter(pl.col("kind") == "motion")
    # Raw PIR intervals got the HA clear time.
    assert (motion["end"] - motion["start"]).dt.total_seconds().min() >= MOTION_CLEAR_S
    # The history starts and ends mid-day: those two days are dropped, the 13 between kept.
    assert home.days.filter(~pl.col("kept"))["reason"].to_list() == ["partial day", "partial day"]
    assert home.kept_days.height == 13
    # Away: the `leaving` activities.
    assert home.away.height > 10
    assert home.citation is not None and "Ordóñez" in home.citation


def test_synthetic_home_on_the_footing(synthetic_dirs: list[Path]) -> None:
    home = load_home(synthetic_dirs[0], real=False)
    assert home.residents is not None and home.residents >= 1
    assert home.days.height == 4  # whole local days: none partial
    assert "partial day" not in home.days["reason"].to_list()
    motion = home.activations.filter(pl.col("kind") == "motion")
    assert motion.height > 0
    # Synthetic motion already has HA's form: on for the clear time after the last detection, not extended.
    assert (motion["end"] - motion["start"]).dt.total_seconds().min() == pytest.approx(MOTION_CLEAR_S)


def test_an_appliance_the_home_starts_on_its_own_is_no_activation(synthetic_dirs: list[Path]) -> None:
    started = 0
    for directory in synthetic_dirs:
        home = load_home(directory, real=False)
        switches = home.sensors.filter(pl.col("sensor").str.starts_with("switch."))["sensor"].to_list()
        ons = (
            pl.read_parquet(directory / "events.parquet")
            .with_columns(pl.col("entity_id", "cause").cast(pl.String))
            .filter(pl.col("entity_id").is_in(switches) & (pl.col("state") == "on"))
        )
        started += ons.filter(pl.col("cause").is_in(list(NOT_BY_HAND))).height
        by_hand = ons.filter(~pl.col("cause").is_in(list(NOT_BY_HAND))).height
        counted = home.activations.filter(pl.col("sensor").is_in(switches)).height
        assert counted == by_hand  # (the switches here turn off again before the end: every `on` pairs)
    assert started > 0  # the test homes' dishwasher does start in the cheapest hour


# -- features on a hand-made day ----------------------------------------------------------------------


def _hand_made_home() -> HomeActivity:
    day = date(2025, 1, 2)

    def at(h: int, m: int = 0, s: int = 0) -> datetime:
        return datetime(2025, 1, 2, h, m, s)

    rows = [  # sensor, kind, room, outside door, start, on seconds
        ("bath", "motion", "bathroom", False, at(2), 90),
        ("kitchen", "motion", "kitchen", False, at(2, 0, 30), 90),
        ("bath", "motion", "bathroom", False, at(7), 90),
        ("bath", "motion", "bathroom", False, at(7, 0, 40), 90),
        ("door", "door", "entrance", True, at(8, 30), 5),
        ("door", "door", "entrance", True, at(12), 5),
        ("kitchen", "motion", "kitchen", False, at(12, 0, 30), 90),
        ("bed", "occupancy", "bedroom", False, at(20), 36000),
        ("bath", "motion", "bathroom", False, at(23, 30), 90),
    ]
    activations = pl.DataFrame(
        {
            "sensor": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "room": [r[2] for r in rows],
            "outside_door": [r[3] for r in rows],
            "start": [r[4] for r in rows],
        }
    ).with_columns(
        end=pl.col("start") + pl.Series([r[5] for r in rows]).cast(pl.Int64) * pl.duration(seconds=1)
    )
    sensors = activations.select("sensor", "kind", "room", "outside_door").unique(
        "sensor", maintain_order=True
    )
    away = pl.DataFrame({"start": [at(8, 31)], "end": [at(12)]})
    days = pl.DataFrame(
        {"day": [day], "home_h": [24 - (3 + 29 / 60)], "activations": [9], "kept": [True], "reason": [None]},
        schema={
            "day": pl.Date,
            "home_h": pl.Float64,
            "activations": pl.Int64,
            "kept": pl.Boolean,
            "reason": pl.String,
        },
    )
    return HomeActivity(
        home="hand",
        real=True,
        timezone="UTC",
        citation=None,
        residents=1,
        sensors=sensors,
        activations=activations.select(list(ACTIVATION_SCHEMA)),
        away=away,
        days=days,
    )


def test_every_feature_on_a_hand_made_day() -> None:
    row = day_features(_hand_made_home()).row(0, named=True)
    home_h = 24 - (3 + 29 / 60)
    per_hour = np.zeros(24)
    for hour in (2, 2, 7, 7, 8, 12, 12, 20, 23):
        per_hour[hour] += 1
    long_quiet = 7 + 59.5 / 60  # 12:00:30 → 20:00
    expected = {
        "activations": 9,
        "activations_per_sensor": 9 / 4,
        "activations_per_home_hour": 9 / home_h,
        "motion_per_sensor_hour": 6 / (2 * home_h),
        "share_00_03": 2 / 9,
        "share_03_06": 0.0,
        "share_06_09": 3 / 9,
        "share_09_12": 0.0,
        "share_12_15": 2 / 9,
        "share_15_18": 0.0,
        "share_18_21": 1 / 9,
        "share_21_24": 1 / 9,
        "night_share": 2 / 9,
        "evening_share": 1 / 9,
        "peak_hour_share": 2 / 9,
        "hour_entropy": stats.entropy(per_hour) / np.log(24),
        "hourly_cv": per_hour.std(ddof=1) / per_hour.mean(),
        "night_activations": 2,
        "night_episodes": 1,
        "longest_quiet_h": long_quiet,
        "day_gaps_over_1h": 2,  # 12:00:30 → 20:00 and 20:00 → 22:00
        "day_longest_gap_h": long_quiet,
        "day_quiet_share": (long_quiet + 2) / (14 - (3 + 29 / 60)),
        "median_interarrival_s": (5360 + 12600) / 2,
        "burst_share": 3 / 9,
        "room_transitions_per_hour": 6 / home_h,
        "self_transition_share": 2 / 8,
        "rooms_visited": 4,
        "bathroom_share": 4 / 9,
        "kitchen_share": 2 / 9,
        "bedroom_share": 1 / 9,
        "living_share": 0.0,
        "entrance_share": 2 / 9,
        "on_median_s": 90,
        "on_p90_s": 90 + 0.2 * (36000 - 90),
        "motion_on_median_s": 90,
        "long_on_share": 1 / 9,
        "wake_h": 7.0,
        "wake_dev_h": 0.0,
        "bedtime_h": 23.5,
        "bedtime_dev_h": 0.0,
        "active_span_h": 16.5,
        "outside_door_per_day": 2,
        "absences": 1,
        "home_h": home_h,
    }
    assert set(expected) == set(FEATURE_NAMES)
    for name, value in expected.items():
        assert row[name] == pytest.approx(value, rel=1e-9, abs=1e-9), name


# -- statistics ---------------------------------------------------------------------------------------


def _samples(shift: float) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    groups = np.repeat(np.arange(16), 15)  # 16 homes of 15 days; homes 8–15 are the positive sample
    y = (groups >= 8).astype(np.int64)
    x = rng.normal(size=(len(y), 4))
    x[:, :2] += shift * y[:, None]
    return pl.DataFrame(x, schema=["a", "b", "c", "d"]), y, groups


def test_c2st_of_identical_distributions_is_chance() -> None:
    x, y, groups = _samples(0.0)
    result = c2st("same", x, y, groups, positive="p", negative="n", grouped_by="home", resamples=50)
    assert result.auc is not None and result.ci_low is not None and result.ci_high is not None
    assert result.ci_low <= 0.5 <= result.ci_high
    assert abs(result.auc - 0.5) < 0.15
    assert not result.significant and result.can_reach_significance
    assert (result.n_positive, result.groups_positive, result.folds) == (120, 8, 5)


def test_c2st_of_different_distributions_is_near_one_and_names_the_features() -> None:
    x, y, groups = _samples(3.0)
    result = c2st("different", x, y, groups, positive="p", negative="n", grouped_by="home", resamples=10)
    assert result.auc is not None and result.auc > 0.9
    assert result.significant
    assert {name for name, _ in result.importance[:2]} == {"a", "b"}


def test_c2st_says_when_significance_is_out_of_reach() -> None:
    x, y, groups = _samples(3.0)
    two = np.isin(groups, [0, 1, 8, 9])
    result = c2st(
        "few", x.filter(pl.Series(two)), y[two], groups[two], positive="p", negative="n", grouped_by="home"
    )
    assert result.min_p_value is not None and result.min_p_value > 0.05
    assert not result.can_reach_significance and "cannot reach" in result.note


def test_feature_comparison_counts_synthetic_homes_outside_the_real_range() -> None:
    real = [("r1", True, float(v)) for v in range(100)]
    synthetic = [("s1", False, 50.0), ("s1", False, 52.0), ("s2", False, 99.0), ("s2", False, 99.5)]
    days = pl.DataFrame(real + synthetic, schema=["home", "real", "f"], orient="row")
    row = feature_comparison(days, ["f"]).row(0, named=True)
    assert row["n_real"] == 100 and row["n_synthetic"] == 4 and row["synthetic_homes"] == 2
    assert row["real_p05"] == pytest.approx(4.95) and row["real_p95"] == pytest.approx(94.05)
    assert row["outside_share"] == 0.5  # s2's median 99.25 is above the range
    assert 0 < row["ks"] < 1


# -- compare, report, CLI -----------------------------------------------------------------------------


def test_compare_and_report(real_dirs: list[Path], synthetic_dirs: list[Path], tmp_path: Path) -> None:
    report = compare(real_dirs, synthetic_dirs, resamples=10)
    s = report.summary
    assert s.kinds == ["motion", "occupancy", "door", "opening", "appliance"]
    assert s.c2st.groups_negative == 2 and s.c2st.groups_positive == 2 and s.c2st.folds == 2
    assert s.c2st.auc is not None and not s.c2st.can_reach_significance  # 2 vs 2 homes
    assert [t.name for t in s.floor][:2] == [
        "real-ordoneza: first vs second half",
        "real-ordonezb: first vs second half",
    ]
    assert len(s.features) == len(FEATURE_NAMES)
    assert report.hour_profile.group_by("home").agg(pl.col("share").sum())[
        "share"
    ].to_list() == pytest.approx([1.0] * 4)
    path = write_realism_report(report, tmp_path / "realism.html")
    text = path.read_text("utf-8")
    for title in REALISM_SECTIONS:
        assert f"<h2>{title}</h2>" in text
    assert text.count("data:image/png;base64,") == 3
    assert "Ordóñez" in text  # the real data's citation


def test_cli_json(real_dirs: list[Path], synthetic_dirs: list[Path], tmp_path: Path) -> None:
    args = [
        "realism",
        "--real",
        str(real_dirs[0].parent),
        "--homes",
        str(synthetic_dirs[0].parent),
        "--json",
        "--resamples",
        "5",
    ]
    result = CliRunner().invoke(app, [*args, "--workspace", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["c2st"]["grouped_by"] == "home"
    # The workspace keeps it, and `homesim report` adds the realism sections.
    page = write_report(Workspace(tmp_path)).read_text("utf-8")
    for title in REALISM_SECTIONS:
        assert f"<h2>{title}</h2>" in page
    assert "not run (homesim realism --transfer)" in page


def test_compare_is_deterministic(real_dirs: list[Path], synthetic_dirs: list[Path]) -> None:
    first = compare(real_dirs, synthetic_dirs, resamples=5)
    second = compare(real_dirs, synthetic_dirs, resamples=5)
    assert first.summary.model_dump_json() == second.summary.model_dump_json()
    assert first.days.equals(second.days)


@pytest.mark.parametrize(
    "args",
    [
        ["--real", "/nonexistent/real", "--homes", "."],
        ["--real", "."],  # no synthetic homes given
        ["--real", ".", "--homes", ".", "--dataset", "ds-x"],  # both given
        ["--real", "REAL", "--homes", "SYNTHETIC", "--residents", "9"],  # no synthetic home left
        ["--real", "REAL", "--homes", "SYNTHETIC", "--resamples", "2", "--out", "/"],  # cannot write there
    ],
)
def test_cli_bad_input_exits_2_with_one_line(
    args: list[str], real_dirs: list[Path], synthetic_dirs: list[Path], tmp_path: Path
) -> None:
    paths = {"REAL": str(real_dirs[0].parent), "SYNTHETIC": str(synthetic_dirs[0].parent)}
    args = [paths.get(a, a) for a in args]
    result = CliRunner().invoke(app, ["realism", *args, "--workspace", str(tmp_path)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_activity_transfer_synthetic_and_real_to_real(
    real_dirs: list[Path], synthetic_dirs: list[Path]
) -> None:
    """Synthetic homes carry activity ground truth: each real home is scored by a model trained on the
    synthetic homes and by one trained on the other real home."""
    result = activity_transfer(synthetic_dirs, real_dirs)
    assert sorted(s.train for s in result.scores) == ["real", "real", "synthetic", "synthetic"]
    assert result.real_to_real is not None and 0.2 < result.real_to_real <= 1.0
    assert result.synthetic_to_real is not None and 0.0 < result.synthetic_to_real <= 1.0
    assert "no synthetic home has activity" not in result.note


def test_activity_transfer_without_synthetic_labels_is_real_to_real_only(
    real_dirs: list[Path], synthetic_dirs: list[Path], tmp_path: Path
) -> None:
    unlabelled = []
    for folder in synthetic_dirs:
        copy = tmp_path / folder.name
        shutil.copytree(folder, copy)
        (copy / ACTIVITIES_FILE).unlink()
        unlabelled.append(copy)
    result = activity_transfer(unlabelled, real_dirs)
    assert [s.train for s in result.scores] == ["real", "real"]
    assert result.synthetic_to_real is None and "no synthetic home has activity" in result.note
    assert "sleeping" in result.labels and "toileting" in result.labels


def test_windows_count_rooms_and_kinds_and_take_the_activity_under_way() -> None:
    home = _hand_made_home()
    labels = pl.DataFrame(
        {
            "activity": ["sleeping", "leaving"],
            "start": [datetime(2025, 1, 2, 0), datetime(2025, 1, 2, 8, 29)],
            "end": [datetime(2025, 1, 2, 6, 59), datetime(2025, 1, 2, 12, 0, 10)],
        }
    )
    frame = windows(home, labels)
    # Labelled: the two night activations (sleeping) and the two door activations (leaving).
    assert frame["activity"].to_list() == ["sleeping", "sleeping", "leaving", "leaving"]
    last = frame.row(3, named=True)  # the door at 12:00, 6th activation: window = all six so far
    assert last["n_room_bathroom"] == 3 and last["n_room_entrance"] == 2 and last["n_room_kitchen"] == 1
    assert last["n_kind_motion"] == 4 and last["n_kind_door"] == 2
    assert last["kind_door"] == 1 and last["room_entrance"] == 1 and last["on_s"] == 5
    assert last["since_prev_s"] == 3.5 * 3600
    assert last["hour_cos"] == pytest.approx(-1.0)  # noon
    assert frame.columns == [*feature_columns(), "activity"]


def test_only_the_kinds_compared_count() -> None:
    home = _hand_made_home()
    motion = restrict_kinds(home, ["motion"])
    assert set(motion.activations["kind"]) == {"motion"} and motion.sensors.height == 2
    assert motion.kept_days["activations"].to_list() == [6]
    nothing = restrict_kinds(home, ["appliance"])  # the day has no appliance activation: dropped
    assert nothing.days["reason"].to_list() == ["no activation"] and nothing.kept_days.is_empty()


def test_only_the_room_classes_compared_count() -> None:
    home = _hand_made_home()
    indoor = restrict_kinds(home, KINDS, ["bathroom", "kitchen", "bedroom", "living"])
    assert set(indoor.activations["room"]) == {"bathroom", "kitchen", "bedroom"}
    assert "door" not in set(indoor.sensors["sensor"])  # the entrance's sensor is left out with its room
    assert indoor.kept_days["activations"].to_list() == [7]


def test_harmonise_compares_the_room_classes_the_real_homes_instrument(
    real_dirs: list[Path], synthetic_dirs: list[Path]
) -> None:
    footing = harmonise(real_dirs, synthetic_dirs)
    # The Ordóñez homes have sensors in the five room classes, none in `other` (a garden, a basement).
    assert footing.rooms == ("bathroom", "kitchen", "bedroom", "living", "entrance")
    loaded = [load_home(d, real=False) for d in synthetic_dirs]
    assert any("other" in set(h.sensors["room"]) for h in loaded)  # the test homes do have such sensors
    for home in footing.synthetic:
        assert set(home.sensors["room"]) <= set(footing.rooms)
        assert set(home.activations["room"]) <= set(footing.rooms)
