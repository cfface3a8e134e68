"""The column-wise schema check (`training_data/schema_screen.py`) never passes a record whose JSON pydantic
refuses: one field of a valid record is set (without validation) to values at and past its constraints,
and every record the screen passes must re-validate."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from homesim.schema.records import (
    AskAIRecord,
    PatternFeatures,
    PatternInputs,
    PatternLabel,
    PatternOutputs,
    PatternRecord,
)
from homesim.training_data import validators as v
from homesim.training_data.schema_screen import model_screen
from homesim.training_data.store import RECORD_ADAPTER, serialise

RECORD = PatternRecord(
    record_id="0" * 24,
    cycle=1,
    home_key="h000000-abc",
    scores={"score": 0.25, "correct": 1.0},
    model_version="baseline",
    inputs=PatternInputs(
        kind="time_of_day",
        trigger_entity=None,
        trigger_state=None,
        trigger_variable=None,
        threshold=None,
        action_entity="light.kitchen",
        action_state="on",
        features=PatternFeatures(
            support=7,
            opportunities=14,
            confidence=0.5,
            regularity=0.5,
            lift=2.0,
            time_spread_h=0.3,
            median_hour=6.4,
            lag_median_s=0.0,
            lag_iqr_s=0.0,
            weekday_share=0.7,
            action_events=22,
            days=14,
        ),
    ),
    outputs=PatternOutputs(score=0.25, predicted=False, threshold=0.5),
    label=PatternLabel(is_pattern=False),
)

#: (path of a field, values to try there): in and out of range, wrong types, NaN, None.
VALUES: dict[tuple[str, ...], list[Any]] = {
    ("record_id",): ["1" * 24, "1" * 23, "", 5],
    ("cycle",): [0, -1, 1_000_001, 1.0, True, None],
    ("home_key",): ["real-x", "/etc", ".hidden", "a" * 201, ""],
    ("scores",): [{}, {"a": math.nan}, {"a": math.inf}, {"a": True}, {1: 0.5}, [], None, {"a": "x"}],
    ("model_version",): [None, "v1", 3],
    ("home_source",): ["real", "fake", None],
    ("derived_from",): [("a",), (None,), ("a", 1)],
    ("inputs", "kind"): ["sequence", "nope", None],
    ("inputs", "trigger_entity"): [None, "light.x", "Light.X", "x"],
    ("inputs", "threshold"): [None, 2.0, math.nan, "2"],
    ("inputs", "action_entity"): ["switch.a_1", "switch", None, ""],
    ("inputs", "features", "support"): [0, -1, 1.5, None],
    ("inputs", "features", "median_hour"): [0.0, 23.99, 24.0, -0.1, math.inf],
    ("inputs", "features", "regularity"): [1.0, 1.01, math.nan],
    ("inputs", "features", "days"): [1, 0],
    ("outputs", "score"): [0.0, 1.0, 1.7, -0.2, None],
    ("outputs", "predicted"): [True, 1, "yes"],
    ("label", "pattern_id"): [None, "p1", 7],
}


def _with(obj: Any, path: tuple[str, ...], value: Any) -> Any:
    """`obj` with the field at `path` set to `value`, without validation."""
    if len(path) == 1:
        return obj.model_copy(update={path[0]: value})
    return obj.model_copy(update={path[0]: _with(getattr(obj, path[0]), path[1:], value)})


def _passes_screen(records: list[Any]) -> tuple[list[bool], bool]:
    """The schema validator's batch verdicts (passed or not), and whether the screen ran (Arrow decoded
    the batch: else pydantic checked every record)."""
    items = [v.Item(r, serialise(r)) for r in records]
    batch = v.Batch(items)
    verdicts = v.SCHEMA.check_batch(batch, v.Context(), [True] * len(items))
    return [verdict is v.OK for verdict in verdicts], batch.strict


def _validates(record: Any) -> bool:
    try:
        RECORD_ADAPTER.validate_json(serialise(record).payload)
    except ValidationError:
        return False
    return True


def test_the_screen_agrees_with_pydantic_field_by_field() -> None:
    records = [RECORD] + [_with(RECORD, path, value) for path, values in VALUES.items() for value in values]
    records.append(PatternRecord.model_construct(**RECORD.model_dump(exclude={"outputs"})))  # no outputs
    records.append(_with(RECORD, ("outputs",), PatternOutputs.model_construct(score=0.5)))  # fields missing
    records.append(_with(RECORD, ("label",), {"is_pattern": False}))  # a dict where a model belongs
    screened = 0
    for record in records:  # each beside a valid one: a value Arrow refuses unscreens its whole batch
        passed, strict = _passes_screen([RECORD, record])
        assert passed == [True, _validates(record)]
        screened += strict
    valid = [_validates(r) for r in records]
    assert valid[0] and not all(valid) and sum(valid) > 10  # both kinds are there
    assert screened > 40  # most went through the screen


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(sorted(VALUES)),
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30)),
)
def test_a_record_the_screen_passes_validates(path: tuple[str, ...], value: Any) -> None:
    record = _with(RECORD, path, value)
    try:
        passed, _ = _passes_screen([RECORD, record])
    except Exception:  # a value that does not even serialise is not the screen's business
        return
    assert passed[0]
    assert passed[1] == _validates(record)


def test_models_with_free_form_fields_have_no_screen() -> None:
    assert model_screen(PatternRecord) is not None
    assert model_screen(AskAIRecord) is None  # dict[str, JsonValue] fields: pydantic checks every record
