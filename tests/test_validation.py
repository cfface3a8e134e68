"""Validation rules: a generated home passes; each kind of damage fails the rule that names it."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from homesim.datasets.validation import HomeValidation, RuleFailure, ValidationReport, validate_home
from homesim.generation.config import GenerationConfig
from homesim.generation.home import GeneratedHome, generate_home


@pytest.fixture(scope="module")
def generated() -> GeneratedHome:
    return generate_home(GenerationConfig(homes=1, days=7), 0)


def _rules(result: HomeValidation) -> set[str]:
    return {f.rule for f in result.failures}


def _with_column(events: pa.Table, name: str, values: pa.Array) -> pa.Table:
    index = events.schema.get_field_index(name)
    return events.set_column(index, events.schema.field(name), values)


def test_generated_home_passes(generated: GeneratedHome) -> None:
    result = validate_home(generated.home, generated.events)
    assert result.ok
    assert result.failures == ()
    assert result.home_key == generated.key


def test_invalid_state_for_domain(generated: GeneratedHome) -> None:
    light = next(e.entity_id for e in generated.home.entities if e.domain == "light")
    states = generated.events["state"].to_pylist()
    entities = generated.events["entity_id"].to_pylist()
    broken = [("dim" if entity == light else state) for entity, state in zip(entities, states, strict=True)]
    result = validate_home(generated.home, _with_column(generated.events, "state", pa.array(broken)))
    assert not result.ok
    failure = next(f for f in result.failures if f.rule == "state.domain")
    assert f"{light}=dim" in failure.message
    assert failure.count == entities.count(light)


def test_non_numeric_sensor_state_and_bad_timestamp(generated: GeneratedHome) -> None:
    sensor = next(e.entity_id for e in generated.home.entities if e.domain == "sensor")
    rows = generated.events.num_rows
    extra = pa.table(
        {name: generated.events[name].slice(0, 2) for name in generated.events.column_names},
        schema=generated.events.schema,
    )
    home = generated.home
    button = next((e for e in home.entities if e.domain in {"button", "scene", "event"}), None)
    states = ["warm", "not-a-time"]
    ids = [sensor, button.entity_id if button else sensor]
    extra = _with_column(extra, "state", pa.array(states))
    extra = _with_column(extra, "value", pa.array([1.0, float("nan")]))
    extra = _with_column(
        extra,
        "entity_id",
        pa.array(ids).dictionary_encode().cast(generated.events.schema.field("entity_id").type),
    )
    events = pa.concat_tables([generated.events, extra]).sort_by("time")
    assert events.num_rows == rows + 2
    failure = next(f for f in validate_home(home, events).failures if f.rule == "state.domain")
    assert f"{sensor}=warm" in failure.message
    if button is not None:
        assert f"{button.entity_id}=not-a-time" in failure.message


def test_unknown_entity_in_events(generated: GeneratedHome) -> None:
    ids = pc.cast(generated.events["entity_id"], pa.string()).to_pylist()
    ids[5] = "light.ghost"
    column = pa.array(ids).dictionary_encode().cast(generated.events.schema.field("entity_id").type)
    result = validate_home(generated.home, _with_column(generated.events, "entity_id", column))
    assert "reference.events" in _rules(result)
    assert not result.ok


def test_time_order_and_range(generated: GeneratedHome) -> None:
    reversed_events = generated.events.take(pa.array(range(generated.events.num_rows - 1, -1, -1)))
    assert "time.order" in _rules(validate_home(generated.home, reversed_events))
    shifted = pc.add(generated.events["time"], pa.scalar(30 * 86_400_000_000, pa.duration("us")))
    result = validate_home(generated.home, _with_column(generated.events, "time", shifted))
    assert _rules(result) >= {"time.range"}
    assert "time.order" not in _rules(result)


def test_wrong_events_schema(generated: GeneratedHome) -> None:
    result = validate_home(generated.home, generated.events.drop_columns(["cause_id"]))
    assert _rules(result) == {"schema.events"}


def test_home_schema_and_naming(generated: GeneratedHome) -> None:
    home = generated.home
    index, entity = next((i, e) for i, e in enumerate(home.entities) if e.device_id and e.domain == "light")
    renamed = entity.model_copy(update={"entity_id": "light.zz_unrelated"})
    orphan = entity.model_copy(update={"device_id": "f" * 32})
    entities = list(home.entities)
    entities[index] = renamed
    events_ids = pc.cast(generated.events["entity_id"], pa.string())
    events = _with_column(
        generated.events,
        "entity_id",
        pc.if_else(pc.equal(events_ids, entity.entity_id), "light.zz_unrelated", events_ids)
        .dictionary_encode()
        .cast(generated.events.schema.field("entity_id").type),
    )
    naming = validate_home(home.model_copy(update={"entities": tuple(entities)}), events)
    assert _rules(naming) == {"naming.entity_id"}
    entities[index] = orphan
    broken = validate_home(home.model_copy(update={"entities": tuple(entities)}), generated.events)
    assert "schema.home" in _rules(broken)
    bad_id = entity.model_construct(**{**entity.model_dump(), "entity_id": "Light.Bad"})
    entities[index] = bad_id
    invalid = validate_home(home.model_copy(update={"entities": tuple(entities)}), generated.events)
    assert "naming.entity_id" in _rules(invalid)


def test_rate_outside_band_is_a_warning(generated: GeneratedHome) -> None:
    ids = pc.cast(generated.events["entity_id"], pa.string())
    no_sun = generated.events.filter(pc.invert(pc.starts_with(ids, "sun.")))
    result = validate_home(generated.home, no_sun)
    assert result.ok
    warning = next(f for f in result.failures if f.rule == "stats.events_per_day")
    assert warning.severity == "warning"
    assert warning.message.startswith("sun: 0.00 events/day")


def test_empty_events_only_warn(generated: GeneratedHome) -> None:
    result = validate_home(generated.home, generated.events.slice(0, 0))
    assert result.ok
    assert _rules(result) == {"stats.events_per_day"}


def test_report_aggregates_per_rule_and_home() -> None:
    error = RuleFailure(rule="time.order", severity="error", message="x")
    warning = RuleFailure(rule="stats.events_per_day", severity="warning", message="y")
    report = ValidationReport.from_homes(
        [
            HomeValidation(home_key="a"),
            HomeValidation(home_key="b", failures=(error, warning)),
            HomeValidation(home_key="c", failures=(warning,)),
        ]
    )
    assert (report.homes, report.passed, report.failed, report.warned) == (3, 2, 1, 1)
    assert report.by_rule == {"stats.events_per_day": 2, "time.order": 1}
    assert set(report.homes_with_failures) == {"b", "c"}
    assert report.summary()["failed"] == 1


def test_chunks_with_their_own_entity_dictionaries(generated: GeneratedHome) -> None:
    """A table read in pieces (one entity dictionary per chunk) is checked like the one-chunk table."""
    events = generated.events
    half = events.num_rows // 2
    first, second = events.slice(0, half), events.slice(half)
    entity = second.schema.get_field_index("entity_id")
    recoded = pc.dictionary_encode(second["entity_id"].cast(pa.string()))  # a dictionary in its own order
    second = second.set_column(entity, events.schema.field("entity_id"), recoded)
    assert validate_home(generated.home, pa.concat_tables([first, second])) == validate_home(
        generated.home, events
    )
    stranger = pc.dictionary_encode(pa.array(["light.nowhere"] * second.num_rows))
    second = second.set_column(entity, events.schema.field("entity_id"), stranger)
    failures = validate_home(generated.home, pa.concat_tables([first, second])).failures
    assert next(f for f in failures if f.rule == "reference.events").message.endswith("'light.nowhere'")
