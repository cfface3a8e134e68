"""The ground-truth file of a home (`ground_truth.json`): pydantic models, its versioned JSON Schema, and
its flattening into Arrow tables for bulk use.

Ground truth says what really drives a home's events: its patterns (one per behaviour, with parameters,
occurrences counted from the events and an HA automation that reproduces it), its synergies (active, and
potential: unfired behaviours and used but unautomated pairs, see `Synergy.status`), decoys (co-occurring
pairs that are not causal), faults, and baselines a detector should reach.
`ground_truth.schema.json` beside this module is generated from these models and checked in; bump
`SCHEMA_VERSION` whenever the models change, and regenerate it with
`python -c "from homesim.schema.ground_truth import render_json_schema as r; print(r(), end='')" > <file>`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

import jsonschema
import pyarrow as pa
from pydantic import Field, JsonValue, ValidationInfo, field_validator

from homesim.schema.patterns import (
    DecoySpec,
    EntityId,
    PatternType,
    StrictModel,
    TriggerSpec,
    Variable,
    Weekday,
)

SCHEMA_VERSION = "1.1.0"
SCHEMA_ID = f"urn:homesim:schema:ground_truth:{SCHEMA_VERSION}"
SCHEMA_FILE = "ground_truth.schema.json"

Probability = Annotated[float, Field(ge=0, le=1)]
Count = Annotated[int, Field(ge=0)]
#: Local clock hour in [0, 24).
Hour = Annotated[float, Field(ge=0, lt=24)]


# ------------------------------------------------------------------------------------------- parameters


class PatternAction(StrictModel):
    entity_id: EntityId
    state: str
    attributes: dict[str, JsonValue] | None = None
    stagger_s: float = Field(default=0.0, ge=0)


class Quantiles(StrictModel):
    """5th percentile, median and 95th percentile of an observed quantity."""

    p05: float
    median: float
    p95: float


class TimeWindow(StrictModel):
    """Local clock hours of observed events: 5th–95th percentile and median, circular (a window whose
    start is after its end spans midnight)."""

    start_h: Hour
    end_h: Hour
    median_h: Hour


class DelaySpec(StrictModel):
    """Configured lognormal delay between trigger and action, and the delays observed in the events."""

    median_s: float = Field(gt=0)
    sigma: float = Field(ge=0)
    observed_s: Quantiles | None


class RevertSpec(StrictModel):
    """The action's entity returns to `state` after a lognormal hold; observed from action to revert."""

    state: str
    median_min: float = Field(gt=0)
    sigma: float = Field(ge=0)
    after_trigger_clears: bool
    observed_min: Quantiles | None


class Threshold(StrictModel):
    variable: Variable
    above: float | None
    below: float | None


class PatternParameters(StrictModel):
    #: When the action events happened (local time), and when the revert events did.
    time_window: TimeWindow | None
    revert_time_window: TimeWindow | None
    weekdays: tuple[Weekday, ...]
    delay: DelaySpec | None
    revert: RevertSpec | None
    threshold: Threshold | None
    #: Local hours the trigger may fire in (numeric and cheapest-hour triggers).
    active_hours: tuple[float, float] | None


# ----------------------------------------------------------------------------------------- automations


def _items_with(key: str) -> dict[str, Any]:
    """JSON Schema of a list of HA mappings that each carry `key` (the HA validator checks the rest)."""
    return {"items": {"type": "object", "required": [key], "additionalProperties": True}}


class HaAutomation(StrictModel):
    """An HA automation in 2024.10+ syntax (`triggers`/`trigger`, `conditions`, `actions`/`action`)."""

    id: str = Field(min_length=1)
    alias: str = Field(min_length=1)
    description: str
    mode: Literal["single", "restart", "queued", "parallel"]
    triggers: tuple[dict[str, JsonValue], ...] = Field(min_length=1, json_schema_extra=_items_with("trigger"))
    conditions: tuple[dict[str, JsonValue], ...] = Field(json_schema_extra=_items_with("condition"))
    actions: tuple[dict[str, JsonValue], ...] = Field(
        min_length=1, json_schema_extra={"items": {"type": "object", "minProperties": 1}}
    )

    @field_validator("triggers", "conditions", "actions")
    @classmethod
    def _kinds(
        cls, items: tuple[dict[str, JsonValue], ...], info: ValidationInfo
    ) -> tuple[dict[str, JsonValue], ...]:
        # The same rule as the JSON Schema: each trigger names its `trigger`, each condition its `condition`.
        key = {"triggers": "trigger", "conditions": "condition"}.get(info.field_name or "")
        for index, item in enumerate(items):
            if (key is not None and key not in item) or not item:
                raise ValueError(f"item {index} needs a {key!r} key" if key else f"item {index} is empty")
        return items


# -------------------------------------------------------------------------------------------- patterns


class Pattern(StrictModel):
    id: str = Field(min_length=1)
    type: PatternType
    description: str
    trigger: TriggerSpec
    #: Entities whose state changes start the pattern (the trigger entity, `sun.sun`, the people…).
    trigger_entities: tuple[EntityId, ...]
    actions: tuple[PatternAction, ...] = Field(min_length=1)
    conditions: tuple[Literal["dark", "someone_home", "nobody_home"], ...]
    parameters: PatternParameters
    #: Configured probability that the pattern acts when triggered.
    probability: Probability
    #: Firings seen in the events (a firing's staggered actions count once; reverts do not count).
    occurrences: Count
    #: Every event carrying the pattern's id: actions and reverts.
    events: Count
    #: Chances the pattern had to fire (eligible days, trigger events, arrivals/departures).
    opportunities: Count
    #: Observed rate: firings (or firing days) per opportunity.
    confidence: Probability
    first_seen: datetime | None
    last_seen: datetime | None
    automation: HaAutomation


class Synergy(StrictModel):
    id: str = Field(min_length=1)
    #: `active`: a behaviour with a device trigger that fired in the events (`synergy-<behaviour id>`).
    #: `potential`: an opportunity a suggestion engine should surface — a device-triggered behaviour that
    #: never fired in the period (`synergy-<behaviour id>`), or a rule's complementary pair in one area
    #: (`potential-NNN`) that no behaviour links, that no decoy names, and that the household uses: the
    #: action set to `action_state` by hand or by a routine while the trigger is in `trigger_state` (a
    #: numeric trigger: at a low or high level of its own readings) or within 5 minutes of entering it, at
    #: least 3 times in the period (`ground_truth.evidence`). A rule's pair without that evidence is no
    #: synergy (a detector's `none`), and a pair a decoy names is a decoy even when its events look like
    #: use (a walk-in: the light switched by hand after the motion, a habit of the person, not the sensor).
    status: Literal["active", "potential"]
    trigger_entity: EntityId
    trigger_state: str | None
    action_entity: EntityId
    action_state: str
    relation: str = Field(min_length=1)
    area_id: str | None
    #: The behaviour that realises an active synergy; None for potential ones.
    behavior_id: str | None
    #: Events of the behaviour's action (0 for one that never fired); for a `potential-NNN` pair, its uses
    #: (the evidence above).
    occurrences: Count
    #: Prior value of automating this pair (0–1), by relation.
    benefit: Probability


class Decoy(DecoySpec):
    """Two entities that co-occur through a shared cause but never cause each other: hard negatives."""

    #: Action events of `entity_a` with an action event of `entity_b` within 30 minutes.
    co_occurrences: Count


class FaultTruth(StrictModel):
    id: str = Field(min_length=1)
    entity_id: EntityId
    kind: Literal["unavailable", "stuck", "battery_drain", "drift", "dropped", "duplicated"]
    #: Spans the planned fault and every event it produced.
    start: datetime
    end: datetime
    magnitude: float
    anomalous_events: Count


class DetectorCounts(StrictModel):
    """The reference detector's counts for one slice: a pattern type, or a kind of extracted pattern."""

    name: str
    #: Ground-truth patterns of this type firing at least `min_occurrences` times, and those it recovered.
    eligible: Count
    recovered: Count
    #: Extracted patterns (claiming this type, or of this kind), and those matching a ground-truth pattern.
    extracted: Count
    matched: Count
    high_confidence: Count
    matched_high_confidence: Count


class DetectorScores(StrictModel):
    """How well the reference detector (homesim's TruthVerifier) recovers this home's patterns: recall
    over the patterns firing at least `min_occurrences` times, precision over its patterns of at least
    `high_confidence` confidence."""

    detector: str
    min_occurrences: Count
    high_confidence: Probability
    recall: Probability | None
    precision: Probability | None
    by_type: tuple[DetectorCounts, ...]
    by_kind: tuple[DetectorCounts, ...]
    #: Eligible patterns it missed, and its high-confidence patterns that match no pattern.
    missed: tuple[str, ...]
    unmatched: tuple[str, ...]


class Baselines(StrictModel):
    days: int = Field(gt=0)
    events: Count
    events_per_day_by_domain: dict[str, Annotated[float, Field(ge=0)]]
    cause_share: dict[str, Probability]
    #: The reference detector's scores, for the homes checked at generation (`ground_truth.truth.
    #: verified_home`); null for the others, which `homesim ground-truth verify` checks on demand.
    detector: DetectorScores | None


class GroundTruth(StrictModel):
    schema_version: Literal["1.1.0"] = "1.1.0"
    home_key: str = Field(min_length=1)
    generator_version: str
    timezone: str
    start: datetime
    end: datetime
    patterns: tuple[Pattern, ...]
    synergies: tuple[Synergy, ...]
    decoys: tuple[Decoy, ...]
    faults: tuple[FaultTruth, ...]
    baselines: Baselines


# ---------------------------------------------------------------------------------------- JSON Schema


def json_schema() -> dict[str, Any]:
    """The JSON Schema of `ground_truth.json`, as generated from the models."""
    schema = GroundTruth.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def render_json_schema() -> str:
    """The exact text of the checked-in `ground_truth.schema.json`."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


@cache
def _validator() -> jsonschema.Draft202012Validator:
    text = resources.files("homesim.schema").joinpath(SCHEMA_FILE).read_text("utf-8")
    return jsonschema.Draft202012Validator(json.loads(text))


def schema_errors(document: object) -> list[str]:
    """Every violation of the checked-in JSON Schema by a parsed `ground_truth.json` (empty when valid)."""
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
        for error in _validator().iter_errors(document)
    ]


# ------------------------------------------------------------------------------------------ flattening

_KEY = [pa.field("home_key", pa.string(), nullable=False)]
PATTERNS_SCHEMA = pa.schema(
    [
        *_KEY,
        pa.field("pattern_id", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("trigger_kind", pa.string(), nullable=False),
        pa.field("trigger_entities", pa.list_(pa.string()), nullable=False),
        pa.field("action_entities", pa.list_(pa.string()), nullable=False),
        pa.field("action_states", pa.list_(pa.string()), nullable=False),
        pa.field("probability", pa.float64(), nullable=False),
        pa.field("occurrences", pa.int64(), nullable=False),
        pa.field("events", pa.int64(), nullable=False),
        pa.field("confidence", pa.float64(), nullable=False),
        pa.field("first_seen", pa.timestamp("us", tz="UTC")),
        pa.field("last_seen", pa.timestamp("us", tz="UTC")),
        pa.field("window_start_h", pa.float64()),
        pa.field("window_end_h", pa.float64()),
        pa.field("delay_median_s", pa.float64()),
        pa.field("revert_median_min", pa.float64()),
        pa.field("automation_json", pa.string(), nullable=False),
    ],
    metadata={b"homesim.table": b"ground_truth_patterns", b"homesim.schema_version": SCHEMA_VERSION.encode()},
)
SYNERGIES_SCHEMA = pa.schema(
    [
        *_KEY,
        *(
            pa.field(name, pa.string())
            for name in (
                "synergy_id",
                "status",
                "trigger_entity",
                "trigger_state",
                "action_entity",
                "action_state",
                "relation",
                "area_id",
                "behavior_id",
            )
        ),
        pa.field("occurrences", pa.int64(), nullable=False),
        pa.field("benefit", pa.float64(), nullable=False),
    ],
    metadata={
        b"homesim.table": b"ground_truth_synergies",
        b"homesim.schema_version": SCHEMA_VERSION.encode(),
    },
)
DECOYS_SCHEMA = pa.schema(
    [
        *_KEY,
        *(
            pa.field(name, pa.string(), nullable=False)
            for name in ("entity_a", "entity_b", "behavior_a", "behavior_b", "shared_cause")
        ),
        pa.field("co_occurrences", pa.int64(), nullable=False),
    ],
    metadata={b"homesim.table": b"ground_truth_decoys", b"homesim.schema_version": SCHEMA_VERSION.encode()},
)
FAULTS_SCHEMA = pa.schema(
    [
        *_KEY,
        *(pa.field(name, pa.string(), nullable=False) for name in ("fault_id", "entity_id", "kind")),
        pa.field("start", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("end", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("magnitude", pa.float64(), nullable=False),
        pa.field("anomalous_events", pa.int64(), nullable=False),
    ],
    metadata={b"homesim.table": b"ground_truth_faults", b"homesim.schema_version": SCHEMA_VERSION.encode()},
)


def flatten(truths: Iterable[GroundTruth]) -> dict[str, pa.Table]:
    """Ground truth of many homes as four tables (patterns, synergies, decoys, faults), one row per item."""
    rows: dict[str, list[dict[str, Any]]] = {"patterns": [], "synergies": [], "decoys": [], "faults": []}
    for truth in truths:
        key = truth.home_key
        for p in truth.patterns:
            window = p.parameters.time_window
            delay, revert = p.parameters.delay, p.parameters.revert
            rows["patterns"].append(
                {
                    "home_key": key,
                    "pattern_id": p.id,
                    "type": p.type,
                    "trigger_kind": p.trigger.kind,
                    "trigger_entities": list(p.trigger_entities),
                    "action_entities": [a.entity_id for a in p.actions],
                    "action_states": [a.state for a in p.actions],
                    "probability": p.probability,
                    "occurrences": p.occurrences,
                    "events": p.events,
                    "confidence": p.confidence,
                    "first_seen": p.first_seen,
                    "last_seen": p.last_seen,
                    "window_start_h": window.start_h if window else None,
                    "window_end_h": window.end_h if window else None,
                    "delay_median_s": delay.median_s if delay else None,
                    "revert_median_min": revert.median_min if revert else None,
                    "automation_json": p.automation.model_dump_json(),
                }
            )
        rows["synergies"] += [
            {"home_key": key, "synergy_id": s.id, **s.model_dump(exclude={"id"})} for s in truth.synergies
        ]
        rows["decoys"] += [
            {
                "home_key": key,
                **d.model_dump(exclude={"behaviors"}),
                "behavior_a": d.behaviors[0],
                "behavior_b": d.behaviors[1],
            }
            for d in truth.decoys
        ]
        rows["faults"] += [
            {"home_key": key, "fault_id": f.id, **f.model_dump(exclude={"id"})} for f in truth.faults
        ]
    schemas = {
        "patterns": PATTERNS_SCHEMA,
        "synergies": SYNERGIES_SCHEMA,
        "decoys": DECOYS_SCHEMA,
        "faults": FAULTS_SCHEMA,
    }
    return {name: pa.Table.from_pylist(rows[name], schema=schemas[name]) for name in rows}
