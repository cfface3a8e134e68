"""Data sufficiency: minimum records, homes, held-out homes, classes, coverage and new data, with reasons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from homesim.retraining.data_sufficiency import (
    DEFAULT_REQUIREMENTS,
    Requirements,
    check_sufficiency,
    class_counts,
)
from homesim.simulation.ask_ai import INTENT_FAMILIES
from homesim.simulation.model_provider import HEALTH_KINDS, ModelType
from homesim.training_data.loading import TrainingData


def data(model_type: ModelType, table: str, frame: pl.DataFrame) -> TrainingData:
    return TrainingData(
        model_type=model_type, directory=Path("/nonexistent"), metadata={}, tables={table: frame}
    )


def binary(homes: int, per_home: int, positives: float, cycles: tuple[int, ...] = (1,)) -> pl.DataFrame:
    n = homes * per_home
    rng = np.random.default_rng(0)
    return pl.DataFrame(
        {
            "home_key": np.repeat([f"h{i:06d}" for i in range(homes)], per_home),
            "cycle": rng.choice(cycles, n),
            "label": np.arange(n) % int(1 / positives) == 0 if positives else np.zeros(n, bool),
        }
    )


def every_other_home_held_out(home_key: str) -> bool:
    return int(home_key[1:]) % 2 == 0


def test_enough_binary_data_is_ok_with_counts() -> None:
    report = check_sufficiency(
        "pattern_detection",
        data("pattern_detection", "patterns", binary(8, 60, 0.2)),
        is_validation=every_other_home_held_out,
    )
    assert report.ok, report.reasons
    assert report.reasons == []
    assert (report.records, report.homes, report.validation_homes) == (480, 8, 4)
    assert report.class_counts == {"negative": 384, "positive": 96}
    assert report.new_records == 480 and report.cycles == [1]


def test_every_unmet_requirement_is_a_reason() -> None:
    report = check_sufficiency(
        "gnn_synergy",
        data("gnn_synergy", "synergies", binary(2, 50, 0.0)),
        is_validation=lambda key: False,
    )
    assert not report.ok
    joined = " | ".join(report.reasons)
    assert "100 records < 300 required" in joined
    assert "2 distinct homes < 4 required" in joined
    assert "0 held-out (validation) homes < 1 required" in joined
    assert "class 'positive': missing (< 10 examples required)" in joined


def test_no_new_data_since_the_last_training() -> None:
    frame = binary(8, 60, 0.2, cycles=(1, 2))
    tables = data("pattern_detection", "patterns", frame)
    stale = check_sufficiency(
        "pattern_detection", tables, trained_cycles=[1, 2], is_validation=every_other_home_held_out
    )
    assert not stale.ok and stale.new_records == 0
    assert stale.reasons == ["0 new records since cycle 2 < 1 required"]
    fresh = check_sufficiency(
        "pattern_detection", tables, trained_cycles=[1], is_validation=every_other_home_held_out
    )
    assert fresh.ok and fresh.new_records == frame.filter(pl.col("cycle") == 2).height


def devices(kinds: list[str]) -> TrainingData:
    frame = pl.DataFrame(
        {"home_key": [f"h{i % 6:06d}" for i in range(len(kinds))], "cycle": 1, "label": kinds}
    )
    return data("device_intelligence", "devices", frame)


def test_fault_kind_coverage_is_reported_and_enough_kinds_are_required() -> None:
    faults = [k for k in HEALTH_KINDS if k not in ("healthy", "duplicated")]
    report = check_sufficiency(
        "device_intelligence",
        devices(["healthy"] * 400 + faults * 3),
        is_validation=every_other_home_held_out,
    )
    assert report.ok, report.reasons
    assert report.warnings == ["class 'duplicated' not covered yet"]
    assert report.class_counts["healthy"] == 400
    few = check_sufficiency(
        "device_intelligence",
        devices(["healthy"] * 400 + ["stuck"] * 3 + ["drift"] * 2),
        is_validation=every_other_home_held_out,
    )
    assert few.reasons == ["2 classes with enough examples < 4 required"]
    no_healthy = check_sufficiency(
        "device_intelligence", devices(faults * 80), is_validation=every_other_home_held_out
    )
    assert no_healthy.reasons == ["class 'healthy': missing (< 50 examples required)"]


def test_every_intent_family_must_be_covered_and_requirements_override() -> None:
    families = [f for f in INTENT_FAMILIES if f != "sun"] * 12
    frame = pl.DataFrame(
        {"home_key": [f"h{i % 5:06d}" for i in range(len(families))], "cycle": 1, "intent_family": families}
    )
    tables = data("soft_prompt", "queries", frame)
    report = check_sufficiency("soft_prompt", tables, is_validation=every_other_home_held_out)
    assert report.reasons == ["class 'sun': missing (< 3 examples required)"]
    assert class_counts("soft_prompt", frame)["presence"] == 12
    relaxed = DEFAULT_REQUIREMENTS["soft_prompt"].model_copy(update={"required_classes": ()})
    assert check_sufficiency(
        "soft_prompt", tables, requirements=relaxed, is_validation=every_other_home_held_out
    ).ok


def test_untrained_type_and_bad_requirements_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="not a trained model type"):
        check_sufficiency("yaml_generation", data("yaml_generation", "yaml_pairs", pl.DataFrame()))
    with pytest.raises(ValueError, match="min_records"):
        Requirements(min_records=-1)
