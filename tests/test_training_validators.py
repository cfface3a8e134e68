"""Training-data validators: each injected defect is rejected with the right reason; clean records pass."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import pytest

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.schema.ground_truth import GroundTruth
from homesim.schema.records import (
    AnyRecord,
    AskAIRecord,
    AutomationRecord,
    DeviceHealthRecord,
    PatternRecord,
    SuggestionRecord,
    SynergyRecord,
)
from homesim.simulation.cycle import DEFAULT_STAGES
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import NoModels
from homesim.training_data.collector import TrainingDataCollector
from homesim.training_data.store import RecordStore, serialise
from homesim.training_data.validators import (
    COMPLETENESS,
    CONSISTENCY,
    RANGE,
    TEXT,
    Batch,
    Context,
    Item,
    check_batch,
    text_problems,
)

T = TypeVar("T")


@pytest.fixture(scope="module")
def home() -> tuple[list[AnyRecord], GroundTruth]:
    view = HomeView.from_generated(generate_home(GenerationConfig(days=14, seed=21), 0))
    stages = list(DEFAULT_STAGES)
    records: list[AnyRecord] = []
    for name, stage in stages:
        view.upstream[name] = list(stage(view, NoModels(), 1))
        records += view.upstream[name]
    return records, view.truth


def first(records: Sequence[AnyRecord], kind: type[T], **where: object) -> T:
    return next(r for r in records if isinstance(r, kind) and all(_at(r, k) == v for k, v in where.items()))


def _at(obj: object, path: str) -> object:
    for part in path.split("__"):
        obj = getattr(obj, part)
    return obj


def reasons_of(records: Sequence[AnyRecord], truth: GroundTruth, tmp_path: Path) -> dict[str, list[str]]:
    """Collect `records` (with the home's truth) and return the reject reasons by record id."""
    with RecordStore(tmp_path / "records.sqlite") as store:
        with TrainingDataCollector(store, truth_of={truth.home_key: truth}) as collector:
            collector.emit_many(records)
        rejected = store.rejected()
        outcome = collector.stats()["by_outcome"]
        assert outcome["accepted"] + outcome["rejected"] == len(records)  # nothing dropped silently
        assert len(rejected) == outcome["rejected"]
    return {rid: reasons for rid, _, reasons in rejected}


def has(reasons: list[str], prefix: str, text: str = "") -> bool:
    return any(r.startswith(prefix + ":") and text in r for r in reasons)


def test_clean_records_pass_every_validator(
    home: tuple[list[AnyRecord], GroundTruth], tmp_path: Path
) -> None:
    records, truth = home
    picked: list[AnyRecord] = [
        first(records, PatternRecord),
        first(records, SynergyRecord),
        first(records, SuggestionRecord),
        first(records, AskAIRecord),
        first(records, DeviceHealthRecord),
    ]
    assert reasons_of(picked, truth, tmp_path) == {}


def test_missing_fields(home: tuple[list[AnyRecord], GroundTruth], tmp_path: Path) -> None:
    records, truth = home
    good = first(records, PatternRecord)
    fields = good.model_dump(exclude={"outputs"})
    broken = PatternRecord.model_construct(**{**fields, "record_id": "f" * 24})
    empty = first(records, SuggestionRecord)
    empty = empty.model_copy(update={"outputs": empty.outputs.model_copy(update={"automation_spec": {}})})
    found = reasons_of([broken, empty], truth, tmp_path)
    assert has(found[broken.record_id], "schema", "outputs")
    assert has(found[broken.record_id], "completeness", "outputs missing")
    assert has(found[empty.record_id], "completeness", "outputs.automation_spec empty")


def test_out_of_range_values(home: tuple[list[AnyRecord], GroundTruth], tmp_path: Path) -> None:
    records, truth = home
    pattern = first(records, PatternRecord)
    high = pattern.model_copy(update={"outputs": pattern.outputs.model_copy(update={"score": 1.7})})
    synergy = first(records, SynergyRecord)
    negative = synergy.model_copy(update={"scores": {"score": -0.25}})
    health = first(records, DeviceHealthRecord)
    late = health.model_copy(
        update={
            "inputs": health.inputs.model_copy(
                update={"window_start": "2031-01-01", "window_end": "2031-01-02"}
            )
        }
    )
    count = health.model_copy(
        update={
            "record_id": "e" * 24,
            "inputs": health.inputs.model_copy(
                update={"features": health.inputs.features.model_copy(update={"events": -3})}
            ),
        }
    )
    found = reasons_of([high, negative, late, count], truth, tmp_path)
    assert has(found[high.record_id], "range", "outputs.score=1.7 outside [0, 1]")
    assert has(found[high.record_id], "schema")
    assert has(found[negative.record_id], "range", "scores.score=-0.25")
    assert has(found[late.record_id], "range", "outside the simulated period")
    assert has(found[count.record_id], "range", "inputs.features.events=-3.0 negative count")


def test_duplicates(home: tuple[list[AnyRecord], GroundTruth], tmp_path: Path) -> None:
    records, truth = home
    original = first(records, SynergyRecord)
    copy = original.model_copy(update={"record_id": "d" * 24, "model_version": "other"})
    found = reasons_of(
        [original, copy, original], truth, tmp_path
    )  # re-emitting the same record is no duplicate
    assert found == {copy.record_id: [f"duplicate: same content as record {original.record_id}"]}


def test_label_contradicting_ground_truth(home: tuple[list[AnyRecord], GroundTruth], tmp_path: Path) -> None:
    records, truth = home
    pattern = first(records, PatternRecord, label__is_pattern=False)
    fake_pattern = pattern.model_copy(
        update={
            "label": pattern.label.model_copy(update={"is_pattern": True, "pattern_id": "no_such_pattern"})
        }
    )
    synergy = first(records, SynergyRecord, label__kind="none")
    real = truth.synergies[0]
    hidden = synergy.model_copy(update={"label": synergy.label.model_copy(update={"synergy_id": real.id})})
    health = first(records, DeviceHealthRecord, label__kind="healthy")
    stuck = health.model_copy(update={"label": health.label.model_copy(update={"kind": "stuck"})})
    found = reasons_of([fake_pattern, hidden, stuck], truth, tmp_path)
    assert has(
        found[fake_pattern.record_id], "consistency", "'no_such_pattern' is not in the home's ground truth"
    )
    assert has(found[hidden.record_id], "consistency", f"label none but {real.id!r}")
    assert has(found[stuck.record_id], "consistency", "label stuck fault None")
    # Another home's truth is never used to judge a record.
    other = truth.model_copy(update={"home_key": "someone-else"})
    verdict = CONSISTENCY(pattern, "", Context(truth_of=lambda _key: other))
    assert verdict.reasons == (f"consistency: ground truth of someone-else given for {pattern.home_key}",)


def test_invalid_yaml(home: tuple[list[AnyRecord], GroundTruth], tmp_path: Path) -> None:
    records, truth = home
    automation = first(records, AutomationRecord)
    broken = automation.model_copy(
        update={"outputs": automation.outputs.model_copy(update={"yaml": "- id: x\n  triggers: [\n"})}
    )
    ask = first(records, AskAIRecord, outputs__outcome="create")
    no_action = ask.model_copy(
        update={
            "outputs": ask.outputs.model_copy(
                update={
                    "automation_yaml": "- alias: a\n  triggers:\n  - trigger: state\n    entity_id: light.x\n"
                }
            )
        }
    )
    found = reasons_of([broken, no_action], truth, tmp_path)
    assert has(found[broken.record_id], "yaml")
    assert has(found[no_action.record_id], "yaml", "actions")


def test_empty_queries_and_text_quality(home: tuple[list[AnyRecord], GroundTruth], tmp_path: Path) -> None:
    records, truth = home
    ask = first(records, AskAIRecord)
    empty = ask.model_copy(update={"inputs": ask.inputs.model_copy(update={"request": "  "})})
    suggestion = first(records, SuggestionRecord)
    leftover = suggestion.model_copy(
        update={"outputs": suggestion.outputs.model_copy(update={"title": "Turn on the {area} light"})}
    )
    found = reasons_of([empty, leftover], truth, tmp_path)
    assert has(found[empty.record_id], "text", "inputs.request empty")
    assert has(found[empty.record_id], "completeness", "inputs.request empty")
    assert has(found[leftover.record_id], "text", "placeholder '{area}'")
    assert TEXT(first(records, PatternRecord), "", Context()).reasons == ()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty or shorter"),
        ("Dim the {{ light }} please", "placeholder '{{'"),
        ("Включи свет в спальне, пожалуйста", "does not look like English"),
        ("1234 5678", "no letters"),
        ("x" * 2001, "longer than 2000"),
    ],
)
def test_text_problems(text: str, problem: str) -> None:
    assert any(problem in p for p in text_problems(text, "q"))
    assert text_problems("Turn on the kitchen light at sunset.", "q") == []


def test_column_wise_screening_gives_the_per_record_verdicts(
    home: tuple[list[AnyRecord], GroundTruth],
) -> None:
    records, truth = home
    ctx = Context(truth_of={truth.home_key: truth}.get)
    patterns = [r for r in records if isinstance(r, PatternRecord)][:50]
    bad = patterns[0]
    patterns += [
        bad.model_copy(update={"outputs": bad.outputs.model_copy(update={"score": 1.5})}),
        bad.model_copy(
            update={
                "inputs": bad.inputs.model_copy(
                    update={
                        "action_state": " ",
                        "features": bad.inputs.features.model_copy(update={"lift": float("inf"), "days": -1}),
                    }
                )
            }
        ),
    ]
    healths = [r for r in records if isinstance(r, DeviceHealthRecord)][:30]
    for group in (patterns, healths, [r for r in records if isinstance(r, AskAIRecord)]):
        batch = Batch([Item(r, serialise(r)) for r in group])
        assert batch.frame() is not None
        for validator in (RANGE, COMPLETENESS):
            expected = [validator(r, "", ctx) for r in group]
            assert check_batch(validator, batch, ctx, [True] * len(group)) == expected
    screened = check_batch(
        RANGE, Batch([Item(r, serialise(r)) for r in patterns]), ctx, [True] * len(patterns)
    )
    assert [v.reasons for v in screened[-2:]] == [
        ("range: outputs.score=1.5 outside [0, 1]",),
        ("range: inputs.features.lift=inf not finite", "range: inputs.features.days=-1.0 negative count"),
    ]


def test_a_malformed_record_does_not_stop_its_batch(
    home: tuple[list[AnyRecord], GroundTruth], tmp_path: Path
) -> None:
    records, truth = home
    patterns = [r for r in records if isinstance(r, PatternRecord)][:20]
    fields = patterns[0].model_dump(exclude={"cycle", "record_id"})
    no_cycle = PatternRecord.model_construct(**fields, record_id="a" * 24)  # no cycle at all
    found = reasons_of([*patterns, no_cycle], truth, tmp_path)
    assert list(found) == [no_cycle.record_id]
    assert has(found[no_cycle.record_id], "schema", "cycle")


def test_device_health_windows_screened_column_wise_as_checked_per_record(
    home: tuple[list[AnyRecord], GroundTruth],
) -> None:
    records, truth = home
    health = first(records, DeviceHealthRecord)
    day = health.inputs.window_start
    year = int(day[:4])
    windows = [
        (day, health.inputs.window_end),
        (f"{year + 5}-01-01", f"{year + 5}-01-02"),  # after the period
        (f"{year - 5}-01-01", f"{year - 5}-01-02"),  # before it
        (health.inputs.window_end, day),  # ends before it starts
        (day, f"{year + 5}-01-01"),  # ends far after the period
        (day.replace("-", ""), health.inputs.window_end),  # basic ISO: fromisoformat reads it
        (f"{year}-1-1", f"{year}-1-2"),  # not ISO
        (f"{year}-02-30", f"{year}-03-01"),  # no such day
        ("", ""),
    ]
    batch = [
        health.model_copy(
            update={
                "record_id": f"{i:024x}",
                "home_key": key,
                "inputs": health.inputs.model_copy(update={"window_start": start, "window_end": end}),
            }
        )
        for i, (start, end) in enumerate(windows)
        for key in (health.home_key, "unknown-home")  # the period is checked only where the truth is known
    ]
    ctx = Context(truth_of={health.home_key: truth}.get)
    items = [Item(r, serialise(r)) for r in batch]
    screened = RANGE.check_batch(Batch(items), ctx, [True] * len(items))
    assert screened == [RANGE(r, serialise(r).payload, ctx) for r in batch]
    assert screened[0].score == 1.0 and sum(v.score < 1 for v in screened) >= 10
