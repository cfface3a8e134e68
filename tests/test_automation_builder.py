"""AutomationBuilder: spec → HA automation, validated, replayed and compared with the ground truth."""

from __future__ import annotations

import pytest

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.ha.automation import load_yaml, parse_automation
from homesim.schema.records import AutomationInputs, AutomationRecord
from homesim.simulation.automation_builder import (
    AutomationBuilder,
    AutomationSpec,
    SpecAction,
    SpecTrigger,
    automation_stage,
    build_automation,
    structural_match,
    structural_similarity,
)
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import NoModels
from homesim.simulation.suggestions import SuggestionGenerator, from_ground_truth


@pytest.fixture(scope="module")
def view() -> HomeView:
    return HomeView.from_generated(generate_home(GenerationConfig(days=14, seed=3), 0))


def _record(view: HomeView, pattern_index: int) -> AutomationRecord:
    pattern = view.truth.patterns[pattern_index]
    suggestion = SuggestionGenerator(view.home, 0).record(from_ground_truth(pattern), view.key, 0)
    spec = AutomationSpec.model_validate(suggestion.outputs.automation_spec)
    return AutomationBuilder(view, 0).build(
        spec, f"a{pattern_index}", pattern.id, AutomationInputs(source="suggestion"), ()
    )


def test_device_and_presence_patterns_rebuild_the_ground_truth_automation(view: HomeView) -> None:
    kinds = {"state", "presence", "cheapest_hour"}
    chosen = [i for i, p in enumerate(view.truth.patterns) if p.trigger.kind in kinds and p.occurrences > 0]
    assert len(chosen) >= 5
    for index in chosen:
        record = _record(view, index)
        if record.outputs.valid:  # a camera "record" service is not one HA has: reported, not compared
            assert record.label.structural_match, record.outputs.yaml
            assert record.label.behavioural_agreement == pytest.approx(1.0)
            assert record.outputs.replay is not None and record.outputs.replay.hit_rate == pytest.approx(1.0)


def test_record_yaml_round_trips_and_is_valid_for_the_home(view: HomeView) -> None:
    record = _record(view, 0)
    assert record.outputs.valid and not record.outputs.validation_errors
    (loaded,) = load_yaml(record.outputs.yaml)
    assert loaded.model_dump(mode="json") == record.outputs.automation
    assert record.label.reference_yaml is not None and "triggers:" in record.label.reference_yaml


def test_clock_patterns_match_behaviourally_but_not_structurally(view: HomeView) -> None:
    # A wake-time routine is written as two triggers (weekday/weekend) in the truth, one median time here.
    index = next(i for i, p in enumerate(view.truth.patterns) if getattr(p.trigger, "anchor", "") == "wake")
    record = _record(view, index)
    assert record.label.structural_match is False
    assert record.scores["structural_similarity"] < 1.0
    assert record.outputs.replay is not None and (record.outputs.replay.hit_rate or 0) >= 0.8


def test_invalid_specs_give_an_invalid_record_not_an_exception(view: HomeView) -> None:
    entity = view.home.entities[0].entity_id
    spec = AutomationSpec(
        alias="x",
        trigger=SpecTrigger(kind="time", at="07:00:00"),
        actions=(SpecAction(entity_id="light.nowhere", state="on"),),
    )
    record = AutomationBuilder(view, 0).build(spec, "bad", None, AutomationInputs(source="ask_ai"), ())
    assert not record.outputs.valid and "light.nowhere" in record.outputs.validation_errors[0]
    sensor = AutomationSpec(
        alias="x",
        trigger=SpecTrigger(kind="time", at="07:00:00"),
        actions=(SpecAction(entity_id="binary_sensor.x", state="playing"),),
    )
    unbuildable = AutomationBuilder(view, 0).build(
        sensor, "bad2", None, AutomationInputs(source="ask_ai"), ()
    )
    assert not unbuildable.outputs.valid and unbuildable.outputs.yaml == "" and entity


def test_structure_comparison_tells_different_automations_apart() -> None:
    a = parse_automation(
        {
            "triggers": [{"trigger": "time", "at": "07:00"}],
            "actions": [{"action": "light.turn_on", "target": {"entity_id": "light.a"}}],
        }
    )
    b = parse_automation(
        {
            "triggers": [{"trigger": "time", "at": "07:00"}],
            "actions": [{"action": "light.turn_off", "target": {"entity_id": "light.a"}}],
        }
    )
    assert structural_match(a, a) and not structural_match(a, b)
    assert structural_similarity(a, a) == 1.0 > structural_similarity(a, b)


def test_motion_light_spec_uses_the_ha_idiom(view: HomeView) -> None:
    spec = AutomationSpec(
        alias="m",
        trigger=SpecTrigger(kind="state", entity_id="binary_sensor.x", to="on"),
        actions=(SpecAction(entity_id="light.y", state="on"),),
        dark=True,
        revert_state="off",
        revert_after_min=4.0,
        revert_when_clear=True,
    )
    automation = build_automation(spec, view.home, "m").model_dump(mode="json")
    assert [t["id"] for t in automation["triggers"]] == ["triggered", "cleared"]
    assert automation["triggers"][1]["for"] == "00:04:00" and automation["mode"] == "restart"
    assert automation["actions"][0]["choose"][0]["conditions"][1]["attribute"] == "elevation"


def test_stage_builds_one_record_per_upstream_suggestion(view: HomeView) -> None:
    suggestions = [
        SuggestionGenerator(view.home, 0).record(from_ground_truth(p), view.key, 2)
        for p in view.truth.patterns[:4]
    ]
    staged = HomeView(
        home=view.home,
        events=view.events,
        environment=view.environment,
        truth=view.truth,
        upstream={"suggestion": list(suggestions)},
    )
    records = automation_stage(staged, NoModels(), 2)
    assert [r.derived_from for r in records] == [(s.record_id,) for s in suggestions]
    assert all(isinstance(r, AutomationRecord) and r.cycle == 2 for r in records)
    assert len({r.record_id for r in records}) == len(records)
