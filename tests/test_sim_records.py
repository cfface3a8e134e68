"""Stage records (ids, discriminated union, validation), the in-memory sink and NoModels."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from pydantic import TypeAdapter, ValidationError

from homesim.schema.records import (
    AnyRecord,
    AskAIInputs,
    AskAILabel,
    AskAIOutputs,
    AskAIRecord,
    AutomationInputs,
    AutomationLabel,
    AutomationOutputs,
    AutomationRecord,
    ReplayResult,
    SuggestionInputs,
    SuggestionLabel,
    SuggestionOutputs,
    SuggestionRecord,
    make_record_id,
)
from homesim.simulation.model_provider import MODEL_TYPES, Model, NoModels
from homesim.simulation.sink import InMemorySink, RecordSink

ADAPTER: TypeAdapter[AnyRecord] = TypeAdapter(AnyRecord)


def _suggestion(cycle: int = 0) -> SuggestionRecord:
    return SuggestionRecord(
        record_id=make_record_id("suggestion", "h1", cycle, "light.a"),
        cycle=cycle,
        home_key="h1",
        inputs=SuggestionInputs(
            source="pattern", source_record_id="p" * 24, trigger_entity=None, action_entity="light.a",
            action_state="on", source_score=0.9,
        ),
        outputs=SuggestionOutputs(
            title="t", description="d", rationale="r", expected_benefit="b", automation_spec={"x": 1},
            template_id="tpl",
        ),
        label=SuggestionLabel(is_valid=True, pattern_id="b001", approved=True),
        derived_from=("p" * 24,),
        model_version="baseline",
    )  # fmt: skip


def _automation() -> AutomationRecord:
    return AutomationRecord(
        record_id=make_record_id("automation", "h1", 0, "x"),
        cycle=0,
        home_key="h1",
        inputs=AutomationInputs(source="suggestion", source_record_id="s" * 24),
        outputs=AutomationOutputs(
            yaml="id: x\n", automation={"id": "x"}, valid=True,
            replay=ReplayResult(fires=3, occurrences=3, fired_on_occurrences=3, false_fires=0, hit_rate=1.0),
        ),
        label=AutomationLabel(pattern_id="b001", structural_match=True, behavioural_agreement=1.0),
    )  # fmt: skip


def _ask() -> AskAIRecord:
    return AskAIRecord(
        record_id=make_record_id("ask_ai", "h1", 0, "q"),
        cycle=0,
        home_key="h1",
        inputs=AskAIInputs(
            request="turn on the light", intent_family="state_trigger", phrasing_style="terse"
        ),
        outputs=AskAIOutputs(outcome="refuse", response="no"),
        label=AskAILabel(expected_outcome="refuse", approved=False, rejection_reason="impossible"),
    )


def test_record_id_is_deterministic_and_keyed_on_every_part() -> None:
    a = make_record_id("pattern", "h1", 0, "light.a", "on")
    assert a == make_record_id("pattern", "h1", 0, "light.a", "on")
    assert len(a) == 24 and int(a, 16) >= 0
    others = {
        make_record_id("synergy", "h1", 0, "light.a", "on"),
        make_record_id("pattern", "h2", 0, "light.a", "on"),
        make_record_id("pattern", "h1", 1, "light.a", "on"),
        make_record_id("pattern", "h1", 0, "light.a", "off"),
        make_record_id("pattern", "h1", 0, "light.aon"),
    }
    assert a not in others and len(others) == 5


@pytest.mark.parametrize("record", [_suggestion(), _automation(), _ask()], ids=lambda r: r.stage)
def test_any_record_round_trips_through_json_by_stage(record: AnyRecord) -> None:
    back = ADAPTER.validate_json(ADAPTER.dump_json(record))
    assert type(back) is type(record)
    assert back == record


def test_records_reject_bad_ids_and_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        _suggestion().model_copy(update={}).model_validate(
            {**_suggestion().model_dump(), "record_id": "short"}
        )
    with pytest.raises(ValidationError):
        SuggestionRecord.model_validate({**_suggestion().model_dump(), "surprise": 1})
    with pytest.raises(ValidationError):
        ADAPTER.validate_python({**_suggestion().model_dump(), "stage": "nonsense"})


def test_in_memory_sink_keeps_arrival_order_and_filters_by_stage() -> None:
    sink = InMemorySink()
    assert isinstance(sink, RecordSink)
    sink.emit(_suggestion())
    sink.emit_many([_automation(), _ask()])

    async def stream() -> AsyncIterator[AnyRecord]:
        yield _suggestion(cycle=1)

    asyncio.run(sink.aemit(stream()))
    assert [r.stage for r in sink.records] == ["suggestion", "automation", "ask_ai", "suggestion"]
    assert [r.cycle for r in sink.by_stage("suggestion")] == [0, 1]


def test_no_models_gives_every_stage_its_baseline() -> None:
    provider = NoModels()
    assert len(MODEL_TYPES) == 6
    assert all(provider.get(t) is None for t in MODEL_TYPES)

    class Fake:
        version = "v1"

        def predict(self, features: object) -> object:
            return features

    assert isinstance(Fake(), Model)
