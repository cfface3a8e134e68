"""Tests of the ground-truth accuracy report: matching rules, aggregation, `verify_dataset` and the
`homesim ground-truth` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from homesim.cli import app
from homesim.cli import ground_truth as cli
from homesim.datasets.home_folder import write_home
from homesim.datasets.manager import DataGenerationManager
from homesim.datasets.verification import home_folders, verify_dataset
from homesim.generation.config import GenerationConfig
from homesim.generation.home import GeneratedHome
from homesim.ground_truth.accuracy import (
    AccuracyReport,
    accuracy_of,
    aggregate,
    describe,
    match_home,
    matches_pattern,
    predicted_type,
)
from homesim.ground_truth.truth import (
    build_ground_truth,
    build_patterns,
    event_frame,
    write_ground_truth,
)
from homesim.ground_truth.verifier import (
    Delays,
    ExtractedPatterns,
    Frame,
    SequencePattern,
    TimeOfDayPattern,
    VerifierConfig,
)
from homesim.schema.ground_truth import GroundTruth, Pattern
from homesim.schema.patterns import TimeTriggerSpec
from homesim.workspace import ACCURACY_FILE, BEHAVIORS_FILE, GROUND_TRUTH_FILE, Workspace


@pytest.fixture(scope="module")
def truth(month_homes: list[GeneratedHome]) -> GroundTruth:
    return build_ground_truth(month_homes[0])


def _pattern(truth: GroundTruth, test: object) -> Pattern:
    return next(p for p in truth.patterns if test(p))  # type: ignore[operator]


def _tod(
    entity: str, state: str, center: float, frame: Frame = "clock", confidence: float = 0.9
) -> TimeOfDayPattern:
    return TimeOfDayPattern(
        entity_id=entity,
        state=state,
        frame=frame,
        center_h=center,
        half_width_min=20,
        days="all",
        support=20,
        confidence=confidence,
        lift=10.0,
    )


def _seq(trigger: str, action: str, state: str, delay_s: float, trigger_state: str = "on") -> SequencePattern:
    return SequencePattern(
        trigger_entity=trigger,
        trigger_state=trigger_state,
        action_entity=action,
        action_state=state,
        delay=Delays(p05_s=delay_s / 2, median_s=delay_s, p95_s=delay_s * 2),
        support=30,
        confidence=0.8,
        coverage=0.9,
        lift=100.0,
    )


def test_time_of_day_matches_the_observed_window(truth: GroundTruth) -> None:
    routine = _pattern(
        truth, lambda p: p.trigger.kind == "time" and p.parameters.time_window and p.parameters.revert
    )
    window, revert = routine.parameters.time_window, routine.parameters.revert
    assert window is not None and revert is not None
    action = routine.actions[0]
    assert matches_pattern(_tod(action.entity_id, action.state, window.median_h), routine)
    assert not matches_pattern(_tod(action.entity_id, action.state, (window.median_h + 6) % 24), routine)
    assert not matches_pattern(_tod(action.entity_id, "unknown", window.median_h), routine)
    assert not matches_pattern(_tod("light.elsewhere", action.state, window.median_h), routine)
    revert_window = routine.parameters.revert_time_window
    assert revert_window is not None
    assert matches_pattern(_tod(action.entity_id, revert.state, revert_window.median_h), routine)
    synergy = _pattern(truth, lambda p: p.trigger.kind == "state")
    target = synergy.actions[0]
    assert synergy.parameters.time_window is not None
    # A state-triggered pattern is not a time-of-day pattern, whatever its actions' times.
    assert not matches_pattern(
        _tod(target.entity_id, target.state, synergy.parameters.time_window.median_h), synergy
    )


def test_sun_relative_windows_match_sun_anchored_patterns(truth: GroundTruth) -> None:
    sunset = _pattern(
        truth, lambda p: isinstance(p.trigger, TimeTriggerSpec) and p.trigger.anchor == "sunset"
    )
    assert isinstance(sunset.trigger, TimeTriggerSpec)
    action = sunset.actions[-1]
    offset = (sunset.trigger.offset_min + action.stagger_s / 60) / 60
    assert matches_pattern(_tod(action.entity_id, action.state, offset, frame="sunset"), sunset)
    assert not matches_pattern(_tod(action.entity_id, action.state, offset + 2, frame="sunset"), sunset)
    assert not matches_pattern(_tod(action.entity_id, action.state, offset, frame="sunrise"), sunset)
    if sunset.parameters.revert is not None:
        hold = sunset.parameters.revert.median_min / 60
        assert matches_pattern(
            _tod(action.entity_id, sunset.parameters.revert.state, offset + hold, "sunset"), sunset
        )
    clock = _pattern(truth, lambda p: isinstance(p.trigger, TimeTriggerSpec) and p.trigger.anchor != "sunset")
    assert not matches_pattern(_tod(clock.actions[0].entity_id, clock.actions[0].state, 0.0, "sunset"), clock)


def test_sequences_match_trigger_entities_and_delays(truth: GroundTruth) -> None:
    synergy = _pattern(truth, lambda p: p.trigger.kind == "state" and p.parameters.delay.observed_s)
    observed = synergy.parameters.delay.observed_s  # type: ignore[union-attr]
    assert observed is not None
    trigger, action = synergy.trigger_entities[0], synergy.actions[0]
    assert matches_pattern(_seq(trigger, action.entity_id, action.state, observed.median), synergy)
    assert not matches_pattern(_seq(trigger, action.entity_id, action.state, observed.p95 * 10), synergy)
    assert not matches_pattern(
        _seq("binary_sensor.other", action.entity_id, action.state, observed.median), synergy
    )
    revert = synergy.parameters.revert
    assert revert is not None
    assert matches_pattern(_seq(trigger, action.entity_id, revert.state, 200.0, trigger_state="off"), synergy)
    scene = _pattern(truth, lambda p: len(p.actions) > 2)
    first, second = scene.actions[0], scene.actions[1]
    coaction = _seq(first.entity_id, second.entity_id, second.state, 1.0, trigger_state=first.state)
    assert matches_pattern(coaction, scene)
    assert not matches_pattern(_seq(first.entity_id, second.entity_id, second.state, 1.0, "on"), scene)


def test_predicted_types_and_descriptions() -> None:
    assert predicted_type(_tod("light.a", "on", 7.0)) == "time_of_day"
    assert predicted_type(_tod("light.a", "on", 0.1, frame="sunset")) == "environment"
    assert predicted_type(_seq("zone.home", "alarm_control_panel.a", "disarmed", 20)) == "presence"
    assert predicted_type(_seq("person.ann", "lock.a", "unlocked", 8)) == "presence"
    assert predicted_type(_seq("sun.sun", "light.a", "on", 30)) == "environment"
    assert predicted_type(_seq("binary_sensor.m", "light.a", "on", 1)) == "synergy"
    assert describe(_tod("light.a", "on", 7.25)) == "light.a → on at 07.25 h (all, ±20 min)"
    assert "from sunset" in describe(_tod("light.a", "on", -0.5, frame="sunset"))
    assert describe(_seq("binary_sensor.m", "light.a", "on", 1.5)).endswith("after 1.5 s")


def test_match_home_and_aggregate(truth: GroundTruth) -> None:
    routine = _pattern(truth, lambda p: p.trigger.kind == "time" and p.occurrences >= 10)
    window = routine.parameters.time_window
    assert window is not None
    action = routine.actions[0]
    found = ExtractedPatterns(
        time_of_day=(
            _tod(action.entity_id, action.state, window.median_h),
            _tod("switch.unrelated", "on", 3.0),
            _tod("switch.faint", "on", 3.0, confidence=0.2),
        ),
        sequences=(),
    )
    home = match_home(truth.home_key, truth.patterns, found, min_occurrences=10, high_confidence=0.5)
    scores = home.scores()
    assert (scores.recall, scores.precision) == (1 / sum(p.occurrences >= 10 for p in truth.patterns), 0.5)
    kind = scores.by_kind[0]
    assert (kind.name, kind.extracted, kind.matched, kind.high_confidence, kind.matched_high_confidence) == (
        "time_of_day",
        3,
        1,
        2,
        1,
    )
    assert home.extracted[0].matched_pattern == routine.id
    assert scores.unmatched == ("switch.unrelated → on at 03.00 h (all, ±20 min)",)
    report = aggregate([home, home])
    assert report.homes == 2 and report.recall == pytest.approx(scores.recall)
    assert report.precision == 0.5 and report.total.precision_all == pytest.approx(1 / 3)
    assert report.total.extracted == 6 and report.total.eligible == 2 * len(scores.missed) + 2
    row = next(r for r in report.by_type if r.name == "time_of_day")
    assert (row.high_confidence, row.matched_high_confidence) == (4, 2)
    assert report.unmatched == (f"{truth.home_key}: switch.unrelated → on at 03.00 h (all, ±20 min)",) * 2
    assert len(report.missed) == 2 * len(scores.missed)
    empty = aggregate([])
    assert empty.recall is None and empty.precision is None and empty.homes == 0


@pytest.fixture(scope="module")
def dataset(
    month_homes: list[GeneratedHome], truth: GroundTruth, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Two homes: one with ground_truth.json, one with only behaviors.json; and a stray file."""
    root = tmp_path_factory.mktemp("dataset")
    for generated in month_homes[:2]:
        write_home(generated, root / generated.key)
    write_ground_truth(truth, root / month_homes[0].key)
    (root / month_homes[1].key / GROUND_TRUTH_FILE).unlink()  # a home written before ground truth existed
    (root / "README.txt").write_text("not a home\n")
    return root


def test_verify_dataset_reads_truth_or_behaviours(
    dataset: Path, month_homes: list[GeneratedHome], truth: GroundTruth
) -> None:
    assert (dataset / month_homes[1].key / BEHAVIORS_FILE).is_file()
    assert not (dataset / month_homes[1].key / GROUND_TRUTH_FILE).is_file()
    report = verify_dataset(dataset)
    assert report.homes == 2
    patterns = [p for g in month_homes[:2] for p in build_patterns(g.home, g.plan, event_frame(g.events))]
    assert report.total.eligible == sum(p.occurrences >= 10 for p in patterns)
    assert 0.8 * report.total.eligible <= report.total.recovered <= report.total.eligible
    # Mining the files again finds what the ground truth's baselines recorded.
    assert accuracy_of([truth, build_ground_truth(month_homes[1])]) == report
    parallel = verify_dataset(dataset, workers=2, config=VerifierConfig(high_confidence=0.9))
    assert parallel.high_confidence == 0.9
    assert parallel.total.recovered == report.total.recovered
    assert parallel.total.high_confidence < report.total.high_confidence


def test_cli_verify_prints_and_writes_the_report(dataset: Path) -> None:
    parent = typer.Typer()
    cli.register(parent)

    @parent.callback()
    def _root() -> None:  # a group with one sub-app needs a callback to keep its name
        pass

    result = CliRunner().invoke(parent, ["ground-truth", "verify", str(dataset), "--min-occurrences", "5"])
    assert result.exit_code == 0, result.output
    assert "Ground-truth accuracy: 2 homes" in result.output and "synergy" in result.output
    report = AccuracyReport.model_validate(json.loads((dataset / ACCURACY_FILE).read_text("utf-8")))
    assert report.homes == 2 and report.min_occurrences == 5
    assert report.by_type[0].name == "time_of_day"


def test_cli_flatten_and_empty_datasets(dataset: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "flat"
    result = runner.invoke(cli.app, ["flatten", str(dataset), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        f"ground_truth_{name}.parquet" for name in ("decoys", "faults", "patterns", "synergies")
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert runner.invoke(cli.app, ["verify", str(empty)]).exit_code == 2
    assert runner.invoke(cli.app, ["flatten", str(empty)]).exit_code == 2


def test_verify_reads_a_workspace_dataset_folder(tmp_path: Path) -> None:
    config = GenerationConfig(homes=2, days=7, seed=4)
    with DataGenerationManager(Workspace(tmp_path), "inline") as manager:
        result = manager.generate(config)
    dataset = result.manifest_path.parent
    assert [f.name for f in home_folders(dataset)] == sorted(result.manifest.home_keys)
    outcome = CliRunner().invoke(app, ["ground-truth", "verify", str(dataset)])
    assert outcome.exit_code == 0, outcome.output
    assert (dataset / ACCURACY_FILE).is_file()
