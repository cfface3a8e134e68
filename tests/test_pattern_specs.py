"""One model of a behaviour's vocabulary (`schema.patterns`): pattern types, trigger specs, decoys, and the
model types of the loop, each defined once and shared by the generator, the truth and the stages."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from homesim.generation.behaviors import Behavior, BehaviorPlan
from homesim.generation.home import GeneratedHome
from homesim.ground_truth.accuracy import PATTERN_TYPES
from homesim.ground_truth.truth import build_patterns, event_frame
from homesim.schema.ground_truth import Decoy, GroundTruth, Pattern, render_json_schema
from homesim.schema.patterns import (
    CheapestHourTriggerSpec,
    DecoySpec,
    PatternType,
    StateTriggerSpec,
    TimeTriggerSpec,
)
from homesim.simulation import model_provider
from homesim.training_data import schemas


def test_trigger_defaults() -> None:
    """A time trigger built without jitter fires at its stated time; a cheapest-hour trigger must say how
    sharply it prefers the cheapest hour (the stored file states both)."""
    trigger = TimeTriggerSpec(anchor="clock", hour=7.0)
    assert (trigger.jitter_min, trigger.offset_min, trigger.weekdays) == (0.0, 0.0, (0, 1, 2, 3, 4, 5, 6))
    with pytest.raises(ValidationError, match="preference"):
        CheapestHourTriggerSpec.model_validate({"variable": "price", "window": (1.0, 5.0)})
    with pytest.raises(ValidationError):
        StateTriggerSpec(entity_id="Light.Kitchen", to="on")  # not an HA entity id
    with pytest.raises(ValidationError):
        TimeTriggerSpec(anchor="clock", hour=7.0, weekdays=(7,))
    with pytest.raises(ValidationError):
        TimeTriggerSpec.model_validate({"anchor": "clock", "jitter": 5.0})  # unknown keys are refused
    schema = render_json_schema()
    assert '"jitter_min"' in schema and '"preference"' in schema


def test_planner_states_every_jitter(month_homes: list[GeneratedHome]) -> None:
    """The jitter default never reaches generated data: every planned time trigger states its own."""
    time_triggers = [
        b.trigger for g in month_homes for b in g.plan.behaviors if isinstance(b.trigger, TimeTriggerSpec)
    ]
    assert time_triggers
    assert all("jitter_min" in t.model_fields_set and t.jitter_min > 0 for t in time_triggers)


def test_truth_stores_the_behaviours_trigger(month_homes: list[GeneratedHome]) -> None:
    """A pattern's trigger is its behaviour's trigger, the same model and the same values."""
    generated = month_homes[0]
    patterns = build_patterns(generated.home, generated.plan, event_frame(generated.events))
    behaviors = {b.id: b for b in generated.plan.behaviors}
    assert len(patterns) == len(behaviors)
    for pattern in patterns:
        assert pattern.trigger == behaviors[pattern.id].trigger
        assert type(pattern.trigger) is type(behaviors[pattern.id].trigger)
    # And it round-trips through the stored JSON unchanged.
    again = Pattern.model_validate_json(patterns[0].model_dump_json())
    assert again.trigger == patterns[0].trigger


def test_pattern_types_and_decoys_are_one_vocabulary() -> None:
    assert (
        PATTERN_TYPES
        == get_args(PatternType)
        == (
            "time_of_day",
            "synergy",
            "environment",
            "presence",
            "scene",
        )
    )
    assert Behavior.model_fields["type"].annotation == Pattern.model_fields["type"].annotation
    assert BehaviorPlan.model_fields["decoys"].annotation == tuple[DecoySpec, ...]
    assert issubclass(Decoy, DecoySpec)
    assert GroundTruth.model_fields["decoys"].annotation == tuple[Decoy, ...]
    spec = DecoySpec(entity_a="light.a", entity_b="light.b", behaviors=("b1", "b2"), shared_cause="wake:p")
    truth = Decoy(**spec.model_dump(), co_occurrences=3)
    assert DecoySpec.model_validate(truth.model_dump(exclude={"co_occurrences"})) == spec


def test_model_types_are_one_list() -> None:
    assert schemas.TABLES.keys() == set(model_provider.MODEL_TYPES)
    assert model_provider.MODEL_TYPES == (
        "gnn_synergy",
        "pattern_detection",
        "soft_prompt",
        "yaml_generation",
        "device_intelligence",
        "activity_recognition",
    )
