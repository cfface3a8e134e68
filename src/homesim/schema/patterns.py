"""What a behaviour is, in the words its ground truth uses: pattern types, trigger specs and decoy pairs.

The generator's behaviour planner builds these, the event generator fires them, and `ground_truth.json`
stores them as they were planned, so there is one model of each: a trigger in the truth is the
behaviour's trigger, not a copy that could drift from it.

The models are strict (unknown keys rejected), frozen, and every field is required in the serialization
JSON Schema (`ground_truth.schema.json`), so a stored file always states every value; defaults only serve
code that builds a spec. Names end in `Spec` to tell them from HA's automation triggers (`ha.automation`).
Classes are described in comments, not docstrings: a docstring would become a description in the
versioned JSON Schema.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

PatternType = Literal["time_of_day", "synergy", "environment", "presence", "scene"]
#: What a time trigger's time is measured from: the clock, an occupant's schedule, or the sun.
Anchor = Literal["clock", "wake", "sleep", "leave", "return", "sunset", "sunrise"]
#: A signal of the home's environment a numeric or cheapest-hour trigger watches.
Variable = Literal["outdoor_temperature", "carbon_intensity", "price", "humidity"]
#: An HA entity id (`domain.object_id`).
EntityId = Annotated[str, Field(pattern=r"^[a-z_]+\.[a-z0-9_]+$")]
Weekday = Annotated[int, Field(ge=0, le=6)]


class StrictModel(BaseModel):
    # Every field is required in the JSON Schema (serialization mode), so a file missing a key is invalid.
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_serialization_defaults_required=True)


class TimeTriggerSpec(StrictModel):
    kind: Literal["time"] = "time"
    anchor: Anchor
    #: Person whose schedule anchors the time (wake, sleep…); None for clock and sun anchors.
    occupant: str | None = None
    #: Local clock hour, for anchor "clock".
    hour: float | None = None
    offset_min: float = 0.0
    #: Standard deviation of the firing time, minutes. The default is no jitter, as for the offset: the
    #: planner states every routine's jitter, and a spec built without one fires at its stated time.
    jitter_min: float = Field(default=0.0, ge=0)
    weekdays: tuple[Weekday, ...] = (0, 1, 2, 3, 4, 5, 6)


class StateTriggerSpec(StrictModel):
    kind: Literal["state"] = "state"
    entity_id: EntityId
    to: str


class NumericTriggerSpec(StrictModel):
    kind: Literal["numeric"] = "numeric"
    variable: Variable
    above: float | None = None
    below: float | None = None
    #: Local hours during which the reaction may happen (the end may pass 24: past midnight).
    window: tuple[float, float] = (0.0, 24.0)


# A deferrable load: it starts in the cheapest/cleanest hour of a window (softmax over the signal).
class CheapestHourTriggerSpec(StrictModel):
    kind: Literal["cheapest_hour"] = "cheapest_hour"
    variable: Literal["carbon_intensity", "price"]
    window: tuple[float, float]
    #: Sharpness of the preference for the cheapest hour (0 = indifferent).
    preference: float = Field(ge=0)
    weekdays: tuple[Weekday, ...] = (0, 1, 2, 3, 4, 5, 6)


class PresenceTriggerSpec(StrictModel):
    kind: Literal["presence"] = "presence"
    event: Literal["first_arrival", "last_departure"]


TriggerSpec = Annotated[
    TimeTriggerSpec | StateTriggerSpec | NumericTriggerSpec | CheapestHourTriggerSpec | PresenceTriggerSpec,
    Field(discriminator="kind"),
]


# Two entities that co-occur through a shared cause (the same occupant's anchor, one scene, a manual
# co-use habit: `generation/decoys.py`) but never cause each other: hard negatives for synergy detection.
# `behaviors` are the cause ids of the two entities' events (one id twice for a scene or a co-use). The
# planner names them; the truth adds what it observed.
class DecoySpec(StrictModel):
    entity_a: EntityId
    entity_b: EntityId
    behaviors: tuple[str, str]
    shared_cause: str
