"""AutomationBuilder (the YAML-generation stage): automation spec → HA automation → validation → replay.

This module owns `AutomationSpec`, the structured description of an automation that suggestions and
Ask AI produce, its translation into an HA automation in 2024.10+ syntax (the same idioms as the
ground-truth automations: `sun.sun` elevation below 3° for "dark", the motion-light `choose` with
`triggered`/`cleared` trigger ids), the check against the home (`homesim.ha.automation_validation`), and
the comparison with the ground-truth automation, structurally (same triggers, entities, services, states)
and behaviourally (replay agreement). It emits one `AutomationRecord` per suggestion.

Scoring never reads provenance: the honest events carry no `cause_id`, so the reference behaviour is the
ground-truth automation's own replay, which fires on ≥ 95% of its pattern's occurrences (see the tests).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from homesim.ha.automation import Automation, AutomationError, ServiceAction, parse_automation, render_yaml
from homesim.ha.automation.conditions import ConditionBase
from homesim.ha.automation.restyle import restyle
from homesim.ha.automation.values import WEEKDAYS
from homesim.ha.automation.walk import walk
from homesim.ha.automation_validation import validate_against_home
from homesim.schema.ground_truth import Pattern
from homesim.schema.home import Home
from homesim.schema.records import (
    BASELINE_VERSION,
    AnyRecord,
    AutomationInputs,
    AutomationLabel,
    AutomationOutputs,
    AutomationRecord,
    ReplayResult,
    SuggestionRecord,
    make_record_id,
)
from homesim.schema.vocabulary import DARK_ELEVATION_DEG, service_for_state
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import ModelProvider
from homesim.simulation.replay import (
    Replay,
    agreement,
    match,
    tolerance_s,
)

#: Firings of a candidate and its reference within this many seconds are the same behaviour (for a known
#: pattern the pattern's own tolerance is used: a daily routine matches within its daily window).
AGREEMENT_TOLERANCE_S = 120.0


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpecTrigger(_Spec):
    """What starts the automation."""

    kind: Literal["state", "time", "sun", "numeric", "presence"]
    entity_id: str | None = None
    #: state: target and previous state; presence: "arrive" (first person home) or "leave" (last out).
    to: str | None = None
    from_state: str | None = None
    at: str | None = None
    event: Literal["sunrise", "sunset", "arrive", "leave"] | None = None
    offset_min: float = 0.0
    attribute: str | None = None
    above: float | None = None
    below: float | None = None
    #: state: the new state must hold this long before the automation runs.
    for_min: float | None = None


class SpecAction(_Spec):
    entity_id: str
    state: str
    data: dict[str, JsonValue] = {}


class AutomationSpec(_Spec):
    """A structured automation: trigger, conditions, actions and an optional revert."""

    alias: str = Field(min_length=1)
    description: str = ""
    trigger: SpecTrigger
    actions: tuple[SpecAction, ...] = Field(min_length=1)
    dark: bool = False
    someone_home: bool = False
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    #: Local "HH:MM:SS" window the trigger must fall in (None: any time).
    window: tuple[str, str] | None = None
    #: The actions' entities return to `revert_state` after `revert_after_min` (after the trigger clears,
    #: for a state trigger with `revert_when_clear`).
    revert_state: str | None = None
    revert_after_min: float | None = None
    revert_when_clear: bool = False


# ------------------------------------------------------------------------------------------- building


def _clock(minutes: float) -> str:
    seconds = round(minutes * 60)
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    return f"{sign}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _call(action: SpecAction | tuple[str, str]) -> dict[str, Any]:
    entity_id, state, extra = (
        (action.entity_id, action.state, dict(action.data))
        if isinstance(action, SpecAction)
        else (*action, {})
    )
    found = service_for_state(entity_id, state)
    if found is None:
        raise ValueError(f"no service puts {entity_id} into {state!r}")
    service, data = found
    call: dict[str, Any] = {"action": service, "target": {"entity_id": entity_id}}
    if data or extra:
        call["data"] = {**data, **extra}
    return call


def _someone_home(home: Home) -> dict[str, Any]:
    people = [p.entity_id for p in home.people]
    return {
        "condition": "or",
        "conditions": [{"condition": "state", "entity_id": p, "state": "home"} for p in people],
    }


def _trigger(spec: AutomationSpec, home: Home) -> dict[str, Any]:
    t = spec.trigger
    if t.kind == "state":
        found: dict[str, Any] = {"trigger": "state", "entity_id": t.entity_id}
        if t.from_state is not None:
            found["from"] = t.from_state
        if t.to is not None:
            found["to"] = t.to
        if t.for_min is not None:
            found["for"] = _clock(t.for_min).lstrip("+")
        return found
    if t.kind == "time":
        return {"trigger": "time", "at": t.at}
    if t.kind == "sun":
        sun: dict[str, Any] = {"trigger": "sun", "event": t.event}
        if t.offset_min:
            sun["offset"] = _clock(t.offset_min)
        return sun
    if t.kind == "numeric" and t.entity_id is None:
        # No outdoor entity in the home: read HA's default weather entity, as the ground truth does.
        tests = [
            f"state_attr('weather.forecast_home', 'temperature') | float(0) {op} {bound}"
            for op, bound in ((">", t.above), ("<", t.below))
            if bound is not None
        ]
        return {"trigger": "template", "value_template": f"{{{{ {' and '.join(tests)} }}}}"}
    if t.kind == "numeric":
        numeric: dict[str, Any] = {"trigger": "numeric_state", "entity_id": t.entity_id}
        if t.attribute is not None:
            numeric["attribute"] = t.attribute
        numeric |= {k: v for k, v in (("above", t.above), ("below", t.below)) if v is not None}
        return numeric
    people = [p.entity_id for p in home.people]
    return {"trigger": "state", "entity_id": people, "to" if t.event == "arrive" else "from": "home"}


def _conditions(spec: AutomationSpec, home: Home) -> list[dict[str, Any]]:
    conditions: list[dict[str, Any]] = []
    if spec.trigger.kind == "presence":
        count = "states.person | selectattr('state', 'eq', 'home') | list | count"
        wanted = 1 if spec.trigger.event == "arrive" else 0
        conditions.append({"condition": "template", "value_template": f"{{{{ {count} == {wanted} }}}}"})
    if spec.window is not None:
        conditions.append({"condition": "time", "after": spec.window[0], "before": spec.window[1]})
    if len(set(spec.weekdays)) < 7:
        conditions.append({"condition": "time", "weekday": [WEEKDAYS[d] for d in sorted(set(spec.weekdays))]})
    if spec.dark:
        conditions.append(
            {
                "condition": "numeric_state",
                "entity_id": "sun.sun",
                "attribute": "elevation",
                "below": DARK_ELEVATION_DEG,
            }
        )
    if spec.someone_home and home.people:
        conditions.append(_someone_home(home))
    return conditions


def build_automation(spec: AutomationSpec, home: Home, automation_id: str) -> Automation:
    """The HA automation (2024.10+) for a spec; `AutomationError`/`ValueError` if it cannot be written."""
    trigger = _trigger(spec, home)
    conditions = _conditions(spec, home)
    calls = [_call(action) for action in spec.actions]
    revert = spec.revert_state
    # A revert no service performs (a camera's recording ends by itself) is left to the device.
    reverts = [
        _call((a.entity_id, revert))
        for a in spec.actions
        if revert is not None and service_for_state(a.entity_id, revert) is not None
    ]
    hold = _clock(spec.revert_after_min or 0.0).lstrip("+")
    triggers = [trigger]
    actions: list[dict[str, Any]] = calls
    if reverts and spec.revert_when_clear and spec.trigger.kind == "state":
        # HA's motion-light idiom: one trigger turns on; the trigger clearing for a while turns off.
        triggers = [
            {**trigger, "id": "triggered"},
            {
                "trigger": "state",
                "entity_id": trigger["entity_id"],
                "from": trigger.get("to"),
                "for": hold,
                "id": "cleared",
            },
        ]
        actions = [
            {
                "choose": [
                    {
                        "conditions": [{"condition": "trigger", "id": "triggered"}, *conditions],
                        "sequence": calls,
                    },
                    {"conditions": [{"condition": "trigger", "id": "cleared"}], "sequence": reverts},
                ]
            }
        ]
        conditions = []
    elif reverts:
        actions = [*calls, {"delay": hold}, *reverts]
    return parse_automation(
        {
            "id": automation_id,
            "alias": spec.alias,
            "description": spec.description,
            "mode": "restart" if reverts else "single",
            "triggers": triggers,
            "conditions": conditions,
            "actions": actions,
        }
    )


# ------------------------------------------------------------------------------------------ comparing


def signature(automation: Automation) -> dict[str, frozenset[str]]:
    """What an automation is made of, for structural comparison: trigger kinds and entities, the
    (entity, state) pairs it waits for, condition kinds, and the (service, entity) calls it makes."""
    found: dict[str, set[str]] = {"triggers": set(), "states": set(), "conditions": set(), "calls": set()}
    for trigger in automation.triggers:
        data = trigger.model_dump(mode="json")
        entities = data.get("entity_id", data.get("event", data.get("at", "")))
        for entity in entities if isinstance(entities, list) else [entities]:
            found["triggers"].add(f"{trigger.trigger}:{entity}")
            if "to" in data and "for" not in data:
                found["states"].add(f"{entity}={data['to']}")
    for _, node in walk(automation):
        if isinstance(node, ConditionBase) and node.condition not in ("and", "or", "not", "trigger"):
            found["conditions"].add(f"{node.condition}:{getattr(node, 'entity_id', '')}")
        elif isinstance(node, ServiceAction):
            for entity in node.entity_ids:
                found["calls"].add(f"{node.service_name}:{entity}")
    return {key: frozenset(values) for key, values in found.items()}


def structural_similarity(a: Automation, b: Automation) -> float:
    """Mean Jaccard similarity of the two automations' signatures (1.0: same structure)."""
    left, right = signature(a), signature(b)
    scores = [len(left[k] & right[k]) / len(left[k] | right[k]) for k in left if left[k] | right[k]]
    return sum(scores) / len(scores) if scores else 1.0


def structural_match(a: Automation, b: Automation) -> bool:
    """Same triggers, awaited states and calls (conditions may be written differently)."""
    left, right = signature(a), signature(b)
    return all(left[k] == right[k] for k in ("triggers", "states", "calls"))


def replay_result(
    candidate: Replay, reference: Replay, entity_id: str, state: str, tolerance: float = AGREEMENT_TOLERANCE_S
) -> ReplayResult:
    """The candidate's calls putting `entity_id` into `state`, matched with the reference's."""
    found = match(
        candidate.call_times([entity_id], state), reference.call_times([entity_id], state), tolerance
    )
    return ReplayResult(
        fires=found.firings,
        occurrences=found.occurrences,
        fired_on_occurrences=found.hit_occurrences,
        false_fires=found.false_firings,
        hit_rate=found.recall,
        false_fire_rate=found.false_firings / found.firings if found.firings else None,
    )


# -------------------------------------------------------------------------------------------- stage


def _issues(automation: Automation, home: Home) -> tuple[str, ...]:
    return tuple(
        f"{path or '<root>'}: {message}" for path, message in validate_against_home(automation, home)
    )


class AutomationBuilder:
    """Builds, validates, replays and scores automations for one home."""

    def __init__(self, view: HomeView, cycle: int) -> None:
        self.view = view
        self.cycle = cycle
        self.replayer = view.replayer
        self.patterns = {p.id: p for p in (view.truth.patterns if view.truth is not None else ())}

    def reference(self, pattern_id: str | None) -> tuple[Pattern, Automation] | None:
        """The ground-truth pattern and its automation, the label of an automation built for it."""
        pattern = self.patterns.get(pattern_id or "")
        if pattern is None:
            return None
        return pattern, parse_automation(pattern.automation.model_dump(mode="json"))

    def build(
        self,
        spec: AutomationSpec,
        automation_id: str,
        pattern_id: str | None,
        inputs: AutomationInputs,
        derived_from: tuple[str, ...],
    ) -> AutomationRecord:
        """One record: the automation (or why it could not be built), its validation, replay and scores."""
        record_id = make_record_id("automation", self.view.key, self.cycle, inputs.source, automation_id)
        reference = self.reference(pattern_id)
        label = AutomationLabel(pattern_id=pattern_id)
        try:
            built = build_automation(spec, self.view.home, automation_id)
        except (AutomationError, ValueError) as error:
            outputs = AutomationOutputs(yaml="", automation={}, valid=False, validation_errors=(str(error),))
            return self._record(record_id, inputs, outputs, label, {"valid": 0.0}, derived_from)
        # Written as real users write theirs (same behaviour), in the 2024.10+ syntax the yaml_generation
        # prompt asks for; structure is compared on the built shape.
        automation = restyle(built, record_id, legacy=False)
        issues = _issues(automation, self.view.home)
        replayed = self.replayer.run(automation)
        scores = {"valid": float(not issues)}
        result = None
        if reference is not None:
            pattern, expected = reference
            expected_replay = self.replayer.run(expected)
            first = pattern.actions[0]
            tolerance = tolerance_s(pattern)
            result = replay_result(replayed, expected_replay, first.entity_id, first.state, tolerance)
            behaviour = agreement(replayed, expected_replay, tolerance)
            label = AutomationLabel(
                pattern_id=pattern.id,
                reference_yaml=render_yaml([expected]),
                structural_match=structural_match(built, expected),
                behavioural_agreement=behaviour,
            )
            scores |= {
                "structural_similarity": structural_similarity(built, expected),
                "behavioural_agreement": behaviour,
                "replay_hit_rate": result.hit_rate if result.hit_rate is not None else 0.0,
            }
        outputs = AutomationOutputs(
            yaml=render_yaml([automation]),
            automation=automation.model_dump(mode="json"),
            valid=not issues,
            validation_errors=issues,
            replay=result
            or ReplayResult(
                fires=len(replayed.call_times()), occurrences=0, fired_on_occurrences=0, false_fires=0
            ),
        )
        return self._record(record_id, inputs, outputs, label, scores, derived_from)

    def _record(
        self,
        record_id: str,
        inputs: AutomationInputs,
        outputs: AutomationOutputs,
        label: AutomationLabel,
        scores: dict[str, float],
        derived_from: tuple[str, ...],
    ) -> AutomationRecord:
        return AutomationRecord(
            record_id=record_id,
            cycle=self.cycle,
            home_key=self.view.key,
            inputs=inputs,
            outputs=outputs,
            label=label,
            scores=scores,
            derived_from=derived_from,
            model_version=BASELINE_VERSION,
        )


_ID_RE = re.compile(r"[^a-z0-9_]+")


def automation_stage(view: HomeView, models: ModelProvider, cycle: int) -> list[AnyRecord]:
    """The cycle's automation stage: one `AutomationRecord` per suggestion of this home.

    The builder is rule-based; no `yaml_generation` model is consulted yet (its records train one)."""
    builder = AutomationBuilder(view, cycle)
    records: list[AnyRecord] = []
    for suggestion in view.records("suggestion"):
        assert isinstance(suggestion, SuggestionRecord)
        spec = AutomationSpec.model_validate(suggestion.outputs.automation_spec)
        automation_id = _ID_RE.sub("_", f"homesim_{suggestion.record_id}")
        inputs = AutomationInputs(
            source="suggestion",
            source_record_id=suggestion.record_id,
            spec=suggestion.outputs.automation_spec,
        )
        records.append(
            builder.build(spec, automation_id, suggestion.label.pattern_id, inputs, (suggestion.record_id,))
        )
    return records
