"""DeviceHealth: per-entity daily windows, features, rules baseline, labels from injected faults."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.simulation.device_health import (
    FEATURES,
    DeviceHealthAssessor,
    DeviceHealthConfig,
    health_windows,
    label_windows,
    rule_assess,
)
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import HEALTH_KINDS, Model, ModelType, NoModels


@pytest.fixture(scope="module")
def faulty() -> HomeView:
    # A high fault rate so that one small home carries several kinds of fault (the seed: one whose home has
    # a window with fewer duplicate reports than the default threshold, which the stacking test needs).
    return HomeView.from_generated(
        generate_home(GenerationConfig(homes=1, days=14, seed=6, fault_rate=0.3), 0)
    )


def test_one_window_per_device_entity_and_day(faulty: HomeView) -> None:
    windows = health_windows(faulty)
    entities = windows.get_column("entity_id").n_unique()
    assert windows.height == entities * faulty.home.metadata.days
    assert windows.select("entity_id", "day").is_unique().all()
    assert windows.select(FEATURES).null_count().sum_horizontal().item() == 0
    # Report-rate ratios are relative to each entity's own median day.
    reporting = windows.filter(pl.col("median_events") >= 1)
    medians = reporting.group_by("entity_id").agg(pl.col("report_rate_ratio").median())
    assert medians.height > 10
    assert medians.get_column("report_rate_ratio").is_between(0.9, 1.1).all()


def test_rules_detect_injected_faults(faulty: HomeView) -> None:
    records = DeviceHealthAssessor().assess(faulty, NoModels(), 2)
    faults = [r for r in records if r.label.kind != "healthy"]
    detected = [r for r in records if r.outputs.predicted != "healthy"]
    assert {f.kind for f in faulty.truth.faults} >= {"unavailable"}
    assert sum(r.outputs.predicted != "healthy" for r in faults) / len(faults) >= 0.4
    assert sum(r.label.kind != "healthy" for r in detected) / len(detected) >= 0.3
    unavailable = [r for r in faults if r.label.kind == "unavailable"]
    assert all(r.inputs.features.unavailable_s > 0 for r in unavailable)
    assert all(r.label.fault_id is not None for r in faults)
    assert len({r.record_id for r in records}) == len(records)


def _windows(**columns: Sequence[object]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    base: dict[str, Sequence[object]] = {
        "entity_id": [f"sensor.s{i}" for i in range(n)],
        "domain": ["sensor"] * n,
        "state_class": ["measurement"] * n,
        "median_events": [24.0] * n,
        "events": [24] * n,
        "unavailable_count": [0] * n,
        "unavailable_s": [0.0] * n,
        "longest_flat_run": [1] * n,
        "slope_vs_neighbours": [0.0] * n,
        "battery_slope": [0.0] * n,
        "report_rate_ratio": [1.0] * n,
        "duplicate_reports": [0] * n,
        "neighbour_deviation": [0.0] * n,
    }
    return pl.DataFrame({**base, **columns})


def test_each_rule_names_its_fault_kind() -> None:
    # Row 0 drains a battery that is steady on rows 1-2; rows 5 and 6 are the silent and the sparse day of
    # sensors that report steadily on their four other days (rows 9-16).
    steady = ["sensor.s2"] * 4 + ["sensor.s3"] * 4
    windows = _windows(
        entity_id=["sensor.battery"] * 3 + [f"sensor.s{i}" for i in range(6)] + steady,
        battery_slope=[-20.0] + [0.0] * 16,
        unavailable_s=[0.0] * 3 + [60.0] + [0.0] * 13,
        duplicate_reports=[0] * 4 + [3] + [0] * 12,
        events=[24] * 5 + [0, 5] + [24] * 10,
        report_rate_ratio=[1.0] * 5 + [0.0, 0.2] + [1.0] * 10,
        neighbour_deviation=[0.0] * 7 + [9.0] + [0.0] * 9,
    )
    kinds, scores = rule_assess(windows)
    expected = [
        "battery_drain",
        "healthy",
        "healthy",
        "unavailable",
        "duplicated",
        "stuck",
        "dropped",
        "drift",
    ]
    assert kinds == [*expected] + ["healthy"] * 9
    assert scores[-1] < scores[0]


def test_cycling_batteries_are_not_draining() -> None:
    windows = _windows(entity_id=["sensor.phone"] * 4, battery_slope=[-20.0, 25.0, -30.0, 18.0])
    assert rule_assess(windows)[0] == ["healthy"] * 4


def test_labels_cover_every_day_a_fault_overlaps(faulty: HomeView) -> None:
    windows = health_windows(faulty)
    labels = label_windows(windows, faulty)
    fault = faulty.truth.faults[0]
    tz = ZoneInfo(faulty.timezone)
    first, last = fault.start.astimezone(tz).date(), fault.end.astimezone(tz).date()
    labelled = windows.with_columns(labels.get_column("fault_id")).filter(pl.col("fault_id") == fault.id)
    days: list[date] = labelled.get_column("day").to_list()
    assert days[0] == first and days[-1] <= last and len(days) >= (last - first).days


class Classifier:
    version = "di-v1"

    def __init__(self) -> None:
        self.seen: list[pl.DataFrame] = []

    def predict(self, features: pl.DataFrame) -> npt.NDArray[np.float64]:
        self.seen.append(features)
        probs = np.zeros((features.height, len(HEALTH_KINDS)))
        probs[:, HEALTH_KINDS.index("drift")] = 1.0
        return probs


class Provider:
    def __init__(self) -> None:
        self.classifier = Classifier()

    def get(self, model_type: ModelType) -> Model | None:
        return self.classifier if model_type == "device_intelligence" else None


def test_deployed_model_classifies_windows(faulty: HomeView) -> None:
    records = DeviceHealthAssessor().assess(faulty, Provider(), 0)
    assert {(r.outputs.predicted, r.model_version) for r in records} == {("drift", "di-v1")}
    assert all(r.outputs.score == 1.0 for r in records)


def test_deployed_model_gets_the_rules_kind_beside_the_features(faulty: HomeView) -> None:
    """The model is stacked on the rules: it sees their kind (with the stage's own thresholds)."""
    config = DeviceHealthConfig(min_duplicates=1)
    provider = Provider()
    DeviceHealthAssessor(config).assess(faulty, provider, 0)
    (frame,) = provider.classifier.seen
    assert frame.columns == [*FEATURES, "rule_kind"] and frame.schema["rule_kind"] == pl.Utf8
    expected, _ = rule_assess(health_windows(faulty, config), config)
    assert frame.get_column("rule_kind").to_list() == expected
    assert expected != rule_assess(health_windows(faulty))[0]
    assert {"healthy", "unavailable"} <= set(expected)
