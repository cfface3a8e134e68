"""Tests of the versioned JSON Schema of `ground_truth.json` (`homesim.schema.ground_truth`): the checked-in
file is the one the models generate, valid files pass, and malformed files are rejected."""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.ground_truth.truth import build_ground_truth
from homesim.schema.ground_truth import (
    SCHEMA_FILE,
    SCHEMA_ID,
    SCHEMA_VERSION,
    GroundTruth,
    render_json_schema,
    schema_errors,
)

Document = dict[str, Any]


@cache
def _document() -> str:
    """A small home's ground truth with every kind of item (patterns, synergies, decoys, faults)."""
    config = GenerationConfig(homes=1, days=14, seed=11, fault_rate=0.3)
    for index in range(10):
        truth = build_ground_truth(generate_home(config, index))
        if truth.decoys and truth.faults and truth.synergies:
            # A few of each keep validation fast; the file stays a valid ground truth.
            short = {name: getattr(truth, name)[:3] for name in ("patterns", "synergies", "decoys", "faults")}
            return truth.model_copy(update=short).model_dump_json()
    raise AssertionError("no sample home has decoys, faults and synergies")


def document() -> Document:
    data: Document = json.loads(_document())
    return data


def test_checked_in_schema_is_the_generated_one() -> None:
    checked_in = resources.files("homesim.schema").joinpath(SCHEMA_FILE).read_text("utf-8")
    assert checked_in == render_json_schema(), "regenerate it: see homesim.schema.ground_truth's docstring"
    schema = json.loads(checked_in)
    assert schema["$id"] == SCHEMA_ID and SCHEMA_VERSION in SCHEMA_ID
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert GroundTruth.model_fields["schema_version"].default == SCHEMA_VERSION


def test_a_generated_file_is_valid() -> None:
    data = document()
    assert schema_errors(data) == []
    assert GroundTruth.model_validate(data).model_dump(mode="json") == data


def _objects(data: Document) -> list[tuple[str, dict[str, Any]]]:
    """Every object of the document whose keys the schema fixes (free-form mappings left out)."""
    found: list[tuple[str, dict[str, Any]]] = [("root", data), ("baselines", data["baselines"])]
    found.append(("detector", data["baselines"]["detector"]))
    for name in ("synergies", "decoys", "faults"):
        found += [(name, item) for item in data[name]]
    for pattern in data["patterns"]:
        found += [
            ("pattern", pattern),
            ("trigger", pattern["trigger"]),
            ("parameters", pattern["parameters"]),
        ]
        found += [("automation", pattern["automation"]), *(("action", a) for a in pattern["actions"])]
    return found


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_a_missing_key_is_rejected(data: st.DataObject) -> None:
    doc = document()
    _, target = data.draw(st.sampled_from(_objects(doc)))
    key = data.draw(st.sampled_from(sorted(target)))
    del target[key]
    assert schema_errors(doc)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), key=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12))
def test_an_unknown_key_is_rejected(data: st.DataObject, key: str) -> None:
    doc = document()
    _, target = data.draw(st.sampled_from(_objects(doc)))
    if key in target:
        key += "_extra"
    target[key] = 1
    assert schema_errors(doc)


def _set(path: tuple[str | int, ...], value: Any) -> Any:
    def mutate(doc: Document) -> Document:
        target: Any = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
        return doc

    return mutate


_TYPES = {"time_of_day", "synergy", "environment", "presence", "scene"}
_BAD_VALUES = st.one_of(
    st.tuples(st.just(("schema_version",)), st.sampled_from(["0.9.0", "2.0.0", 1])),
    st.tuples(
        st.just(("patterns", 0, "probability")), st.one_of(st.floats(1.001, 1e6), st.floats(-1e6, -0.001))
    ),
    st.tuples(
        st.just(("patterns", 0, "occurrences")),
        st.one_of(st.integers(max_value=-1), st.just(2.5), st.just("3")),
    ),
    st.tuples(st.just(("patterns", 0, "confidence")), st.floats(1.001, 10)),
    st.tuples(st.just(("patterns", 0, "type")), st.text(max_size=12).filter(lambda t: t not in _TYPES)),
    st.tuples(st.just(("patterns", 0, "trigger", "kind")), st.sampled_from(["sometimes", "", "State"])),
    st.tuples(st.just(("patterns", 0, "actions")), st.just([])),
    st.tuples(
        st.just(("patterns", 0, "actions", 0, "entity_id")), st.sampled_from(["Light.X", "light", "a b.c"])
    ),
    st.tuples(st.just(("patterns", 0, "automation", "mode")), st.sampled_from(["once", "Single"])),
    st.tuples(
        st.just(("patterns", 0, "automation", "triggers")), st.sampled_from([[], [{"platform": "time"}]])
    ),
    st.tuples(
        st.just(("patterns", 0, "automation", "actions")), st.sampled_from([[], [{}], ["light.turn_on"]])
    ),
    st.tuples(st.just(("synergies", 0, "status")), st.sampled_from(["maybe", "ACTIVE"])),
    st.tuples(st.just(("synergies", 0, "benefit")), st.floats(1.01, 5)),
    st.tuples(st.just(("decoys", 0, "behaviors")), st.sampled_from([["b1"], ["b1", "b2", "b3"], "b1"])),
    st.tuples(st.just(("faults", 0, "kind")), st.sampled_from(["melted", "stuck_on"])),
    st.tuples(st.just(("faults", 0, "anomalous_events")), st.integers(max_value=-1)),
    st.tuples(st.just(("baselines", "days")), st.integers(max_value=0)),
    st.tuples(st.just(("baselines", "cause_share", "noise")), st.floats(1.01, 2)),
    st.tuples(st.just(("patterns",)), st.sampled_from([None, {}, "none"])),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad=_BAD_VALUES)
def test_a_wrong_value_is_rejected(bad: tuple[tuple[str | int, ...], Any]) -> None:
    path, value = bad
    doc = _set(path, value)(document())
    assert schema_errors(doc)


def test_errors_name_the_place() -> None:
    doc = document()
    broken = copy.deepcopy(doc)
    broken["patterns"][0]["probability"] = 2
    errors = schema_errors(broken)
    assert len(errors) == 1 and errors[0].startswith("patterns/0/probability:")
    assert schema_errors([]) == ["<root>: [] is not of type 'object'"]


def test_the_models_apply_the_automation_rules_too() -> None:
    doc = document()
    automation = doc["patterns"][0]["automation"]
    automation["triggers"] = [{"platform": "time", "at": "07:00:00"}]
    with pytest.raises(ValidationError, match="needs a 'trigger' key"):
        GroundTruth.model_validate(doc)
    automation["triggers"] = [{"trigger": "time", "at": "07:00:00"}]
    automation["actions"] = [{}]
    with pytest.raises(ValidationError, match="item 0 is empty"):
        GroundTruth.model_validate(doc)
