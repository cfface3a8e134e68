"""SuggestionGenerator: detected patterns and synergies → worded automation suggestions.

This module owns `Candidate` (the small input a suggestion is made from: a detector's `PatternRecord` or
`SynergyRecord`, or a ground-truth `Pattern`), its `AutomationSpec`, and the wording: several templates per
candidate kind, picked deterministically from a seeded rng, filled with friendly entity and area names.
An optional OpenAI-compatible chat endpoint (`HOMESIM_LLM_URL`, `/chat/completions`) may rewrite title and
description; any failure (timeout, HTTP error, malformed reply) keeps the template text.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

import httpx
import numpy as np

from homesim.schema.ground_truth import Pattern
from homesim.schema.home import Home
from homesim.schema.patterns import TimeTriggerSpec
from homesim.schema.record_frames import RecordFrame, at
from homesim.schema.records import (
    BASELINE_VERSION,
    AnyRecord,
    PatternRecord,
    StageName,
    SuggestionInputs,
    SuggestionLabel,
    SuggestionOutputs,
    SuggestionRecord,
    SynergyRecord,
    make_record_id,
)
from homesim.simulation.automation_builder import AutomationSpec, SpecAction, SpecTrigger
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import ModelProvider

Kind = Literal["time_of_day", "sequence", "sun", "temperature", "presence"]
#: Most suggestions made per home from patterns, and from synergies.
TOP_PATTERNS = 8
TOP_SYNERGIES = 4
LLM_URL_ENV = "HOMESIM_LLM_URL"
LLM_TIMEOUT_S = 5.0


#: The label of a candidate nobody has matched to ground truth.
_UNLABELLED = SuggestionLabel(is_valid=False)


@dataclass(frozen=True)
class Candidate:
    """What a suggestion is made from, whatever found it."""

    source: Literal["pattern", "synergy"]
    source_record_id: str
    kind: Kind
    action_entity: str
    action_state: str
    score: float
    trigger_entity: str | None = None
    trigger_state: str | None = None
    #: Local hour (time_of_day), sun event and offset (sun), threshold direction and value (temperature).
    hour: float | None = None
    sun_event: Literal["sunrise", "sunset"] | None = None
    offset_min: float = 0.0
    above: float | None = None
    below: float | None = None
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    dark: bool = False
    revert_state: str | None = None
    revert_after_min: float | None = None
    revert_when_clear: bool = False
    #: Ground-truth label of the source (filled by the detector's labelling, never used for wording).
    label: SuggestionLabel = _UNLABELLED


def from_pattern_record(record: PatternRecord) -> Candidate | None:
    """A candidate from a detector's pattern record (None for a kind it cannot express)."""
    i, f = record.inputs, record.inputs.features
    base = Candidate(
        source="pattern",
        source_record_id=record.record_id,
        kind="time_of_day",
        action_entity=i.action_entity,
        action_state=i.action_state,
        score=record.outputs.score,
        label=SuggestionLabel(is_valid=record.label.is_pattern, pattern_id=record.label.pattern_id),
    )
    if i.kind == "time_of_day":
        weekdays = (0, 1, 2, 3, 4) if f.weekday_share >= 0.97 else (0, 1, 2, 3, 4, 5, 6)
        return replace(base, hour=f.median_hour, weekdays=weekdays)
    if i.kind == "environment" and i.trigger_variable in ("sunset", "sunrise"):
        # The record keeps the lag's size, not its sign: after sunset and before sunrise are the usual cases.
        sunset = i.trigger_variable == "sunset"
        offset = round(f.lag_median_s / 60) * (1 if sunset else -1)
        return replace(base, kind="sun", sun_event="sunset" if sunset else "sunrise", offset_min=offset)
    if i.kind == "environment" and i.threshold is not None:
        above = i.threshold if i.trigger_variable == "temperature_above" else None
        below = i.threshold if i.trigger_variable == "temperature_below" else None
        return replace(base, kind="temperature", above=above, below=below)
    if i.kind == "presence":
        arriving = i.trigger_state in ("home", "occupied")
        return replace(base, kind="presence", trigger_state="home" if arriving else "not_home")
    if i.kind == "sequence" and i.trigger_entity is not None:
        return replace(base, kind="sequence", trigger_entity=i.trigger_entity, trigger_state=i.trigger_state)
    return None


def from_synergy_record(record: SynergyRecord, truth_patterns: dict[str, str]) -> Candidate:
    """A candidate from a synergy record; `truth_patterns` maps synergy ids to their behaviour's pattern."""
    synergy_id = record.label.synergy_id
    label = SuggestionLabel(
        is_valid=record.label.kind in ("active", "potential"),
        synergy_id=synergy_id,
        pattern_id=truth_patterns.get(synergy_id or ""),
    )
    i = record.inputs
    motion_light = (
        i.trigger.domain == "binary_sensor" and i.action.domain == "light" and i.action_state == "on"
    )
    return Candidate(
        source="synergy",
        source_record_id=record.record_id,
        kind="sequence",
        action_entity=i.action.entity_id,
        action_state=i.action_state,
        score=record.outputs.score,
        trigger_entity=i.trigger.entity_id,
        trigger_state=i.trigger_state,
        dark=motion_light,
        revert_state="off" if motion_light else None,
        revert_after_min=5.0 if motion_light else None,
        revert_when_clear=motion_light,
        label=label,
    )


def from_ground_truth(pattern: Pattern) -> Candidate:
    """A ground-truth-shaped candidate: what a perfect detector would report for `pattern`."""
    t, p = pattern.trigger, pattern.parameters
    first = pattern.actions[0]
    revert = p.revert
    base = Candidate(
        source="pattern",
        source_record_id=pattern.id,
        kind="time_of_day",
        action_entity=first.entity_id,
        action_state=first.state,
        score=pattern.confidence,
        dark="dark" in pattern.conditions,
        weekdays=tuple(p.weekdays),
        revert_state=revert.state if revert else None,
        revert_after_min=revert.median_min if revert else None,
        revert_when_clear=bool(revert and revert.after_trigger_clears and t.kind == "state"),
        label=SuggestionLabel(is_valid=True, pattern_id=pattern.id),
    )
    if t.kind == "state":
        return replace(base, kind="sequence", trigger_entity=t.entity_id, trigger_state=t.to)
    if t.kind == "presence":
        return replace(
            base, kind="presence", trigger_state="home" if t.event == "first_arrival" else "not_home"
        )
    if t.kind == "numeric":
        return replace(base, kind="temperature", above=t.above, below=t.below)
    if isinstance(t, TimeTriggerSpec) and t.anchor in ("sunset", "sunrise"):
        return replace(
            base,
            kind="sun",
            sun_event="sunset" if t.anchor == "sunset" else "sunrise",
            offset_min=t.offset_min,
        )
    hour = p.time_window.median_h if p.time_window is not None else 12.0
    return replace(base, hour=hour)


# ------------------------------------------------------------------------------------------ wording


def friendly(entity_id: str, home: Home | None = None) -> str:
    """A person's name for an entity: its original name, else its object id in words."""
    if home is not None:
        entity = next((e for e in home.entities if e.entity_id == entity_id), None)
        if entity is not None and entity.original_name and not entity.has_entity_name:
            return entity.original_name.lower()
    return entity_id.partition(".")[2].replace("_", " ")


def _clock(hour: float) -> str:
    minutes = round(hour * 60) % 1440
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


_STATE_WORDS = {
    "on": "turn on",
    "off": "turn off",
    "open": "open",
    "closed": "close",
    "locked": "lock",
    "unlocked": "unlock",
    "playing": "start playing",
    "heat": "start heating",
    "cool": "start cooling",
    "recording": "start recording",
}

_DONE = {
    "on": "switched on",
    "off": "switched off",
    "open": "opened",
    "closed": "closed",
    "locked": "locked",
    "unlocked": "unlocked",
    "playing": "started",
    "heat": "set to heat",
    "cool": "set to cool",
}

#: Templates per kind: (title, description, rationale, benefit); fields filled with `str.format`.
TEMPLATES: dict[Kind, tuple[tuple[str, str, str, str], ...]] = {
    "time_of_day": (
        (
            "{Verb} the {action} at {clock}",
            "Every day around {clock} the {action} gets {done}. Let homesim do it.",
            "This happened on most days at about the same time.",
            "One less thing to remember each day.",
        ),
        (
            "Daily {clock} routine for the {action}",
            "Schedule the {action} to {verb} at {clock}.",
            "A regular daily habit was seen around {clock}.",
            "Saves a daily manual step.",
        ),
        (
            "Automate your {clock} {action} habit",
            "You usually {verb} the {action} close to {clock}; an automation can take over.",
            "The timing is consistent from day to day.",
            "Routine handled for you.",
        ),
    ),
    "sequence": (
        (
            "{Verb} the {action} when the {trigger} changes",
            "When the {trigger} turns {trigger_state}, {verb} the {action}.",
            "The {action} usually follows the {trigger} within moments.",
            "Hands-free reaction to what happens in the home.",
        ),
        (
            "Link the {trigger} to the {action}",
            "Let the {trigger} ({trigger_state}) {verb} the {action} automatically.",
            "These two devices are used together again and again.",
            "Comfort and fewer taps.",
        ),
        (
            "Let the {trigger} control the {action}",
            "Each time the {trigger} reports {trigger_state}, the {action} should {verb}.",
            "A strong trigger→action link was detected.",
            "Faster, consistent response.",
        ),
    ),
    "sun": (
        (
            "{Verb} the {action} at {sun_event}",
            "Around {sun_event} ({offset}), {verb} the {action}.",
            "This follows the sun rather than the clock.",
            "Keeps up with the seasons without edits.",
        ),
        (
            "{sun_event_title} routine for the {action}",
            "Tie the {action} to {sun_event} ({offset}).",
            "The action tracks {sun_event} across days.",
            "Right timing all year round.",
        ),
        (
            "Follow the sun: {action}",
            "At {sun_event} ({offset}) the {action} should {verb}.",
            "Its timing moves with {sun_event}.",
            "Light and privacy at the right moment.",
        ),
    ),
    "temperature": (
        (
            "{Verb} the {action} when it is {direction} outside",
            "If the outdoor temperature goes {direction}, {verb} the {action}.",
            "The action follows the outdoor temperature.",
            "Comfort with less energy wasted.",
        ),
        (
            "Weather-aware {action}",
            "Let outdoor temperature ({direction}) {verb} the {action}.",
            "It reacts to the weather, not the clock.",
            "Better comfort on hot and cold days.",
        ),
        (
            "Climate rule for the {action}",
            "When it gets {direction} outdoors, the {action} should {verb}.",
            "A temperature threshold explains this behaviour.",
            "Energy used only when needed.",
        ),
    ),
    "presence": (
        (
            "{Verb} the {action} when {who}",
            "When {who}, {verb} the {action}.",
            "This happens as people come and go.",
            "The home reacts to you automatically.",
        ),
        (
            "Presence routine: {action}",
            "Tie the {action} to {who}.",
            "It consistently follows arrivals or departures.",
            "Nothing left on, nothing to remember.",
        ),
        (
            "{action_title} follows the household",
            "{Verb} the {action} as soon as {who}.",
            "Arrivals and departures predict it well.",
            "Security and comfort on autopilot.",
        ),
    ),
}


def _fields(c: Candidate, home: Home | None) -> dict[str, str]:
    verb = _STATE_WORDS.get(c.action_state, f"set to {c.action_state}")
    offset = f"{c.offset_min:+.0f} min" if c.offset_min else "on time"
    direction = f"above {c.above:g} °C" if c.above is not None else f"below {c.below or 0:g} °C"
    action = friendly(c.action_entity, home)
    return {
        "verb": verb,
        "Verb": verb[:1].upper() + verb[1:],
        "done": _DONE.get(c.action_state, f"set to {c.action_state}"),
        "action": action,
        "action_title": action[:1].upper() + action[1:],
        "trigger": friendly(c.trigger_entity, home) if c.trigger_entity else "trigger",
        "trigger_state": c.trigger_state or "changes",
        "clock": _clock(c.hour or 0.0),
        "sun_event": c.sun_event or "sunset",
        "sun_event_title": (c.sun_event or "sunset").title(),
        "offset": offset,
        "direction": direction,
        "who": "the first person gets home" if c.trigger_state == "home" else "the last person leaves",
    }


def spec_for(c: Candidate, home: Home, title: str) -> AutomationSpec:
    """The automation a candidate stands for."""
    if c.kind == "time_of_day":
        hour = c.hour or 0.0
        seconds = round(hour * 3600) % 86400
        trigger = SpecTrigger(
            kind="time", at=f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        )
    elif c.kind == "sun":
        trigger = SpecTrigger(kind="sun", event=c.sun_event, offset_min=c.offset_min)
    elif c.kind == "temperature":
        outdoor = next((e for e in home.entities if e.role == "outdoor_temperature"), None)
        weather = next((e for e in home.entities if e.domain == "weather"), None)
        if outdoor is not None:
            trigger = SpecTrigger(kind="numeric", entity_id=outdoor.entity_id, above=c.above, below=c.below)
        elif weather is not None:
            trigger = SpecTrigger(
                kind="numeric",
                entity_id=weather.entity_id,
                attribute="temperature",
                above=c.above,
                below=c.below,
            )
        else:  # the builder falls back to HA's default weather entity
            trigger = SpecTrigger(kind="numeric", above=c.above, below=c.below)
    elif c.kind == "presence":
        trigger = SpecTrigger(kind="presence", event="arrive" if c.trigger_state == "home" else "leave")
    else:
        trigger = SpecTrigger(kind="state", entity_id=c.trigger_entity, to=c.trigger_state)
    return AutomationSpec(
        alias=title,
        description=f"Suggested by homesim from a detected {c.source}.",
        trigger=trigger,
        actions=(SpecAction(entity_id=c.action_entity, state=c.action_state),),
        dark=c.dark,
        weekdays=c.weekdays,
        revert_state=c.revert_state,
        revert_after_min=c.revert_after_min,
        revert_when_clear=c.revert_when_clear,
    )


class LlmRewriter:
    """Rewrites a suggestion's title and description through an OpenAI-compatible chat endpoint."""

    def __init__(self, url: str, model: str = "homesim-rewriter", timeout_s: float = LLM_TIMEOUT_S) -> None:
        self.url = (
            url if url.rstrip("/").endswith("/chat/completions") else url.rstrip("/") + "/chat/completions"
        )
        self.model = model
        self.timeout_s = timeout_s

    def rewrite(self, title: str, description: str) -> tuple[str, str] | None:
        """The rewritten (title, description), or None on any failure: the caller keeps its text."""
        prompt = (
            "Rewrite this smart-home automation suggestion in friendly, concise English. Reply with JSON "
            f'{{"title": ..., "description": ...}}.\nTitle: {title}\nDescription: {description}'
        )
        body = {"model": self.model, "temperature": 0, "messages": [{"role": "user", "content": prompt}]}
        try:
            response = httpx.post(self.url, json=body, timeout=self.timeout_s)
            response.raise_for_status()
            content = json.loads(response.json()["choices"][0]["message"]["content"])
            new_title, new_description = content["title"], content["description"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError):
            return None
        if not (
            isinstance(new_title, str) and isinstance(new_description, str) and new_title and new_description
        ):
            return None
        return new_title, new_description


class SuggestionGenerator:
    """Words candidates from templates (seeded, per home and cycle) and optionally through an LLM."""

    def __init__(self, home: Home, seed: int, rewriter: LlmRewriter | None = None) -> None:
        self.home = home
        self.rng = np.random.default_rng(seed)
        self.rewriter = rewriter

    def outputs(self, c: Candidate) -> SuggestionOutputs:
        options = TEMPLATES[c.kind]
        index = int(self.rng.integers(len(options)))
        fields = _fields(c, self.home)
        title, description, rationale, benefit = (text.format(**fields) for text in options[index])
        spec = spec_for(c, self.home, title)
        rewritten = self.rewriter.rewrite(title, description) if self.rewriter is not None else None
        if rewritten is not None:
            title, description = rewritten
        return SuggestionOutputs(
            title=title,
            description=description,
            rationale=rationale,
            expected_benefit=benefit,
            automation_spec=spec.model_dump(mode="json"),
            template_id="llm" if rewritten else f"{c.kind}.{index}",
            rewritten=rewritten is not None,
        )

    def record(self, c: Candidate, home_key: str, cycle: int) -> SuggestionRecord:
        return SuggestionRecord(
            record_id=make_record_id("suggestion", home_key, cycle, c.source, c.source_record_id),
            cycle=cycle,
            home_key=home_key,
            inputs=SuggestionInputs(
                source=c.source,
                source_record_id=c.source_record_id,
                trigger_entity=c.trigger_entity,
                action_entity=c.action_entity,
                action_state=c.action_state,
                source_score=c.score,
                context={
                    "kind": c.kind,
                    "hour": c.hour,
                    "sun_event": c.sun_event,
                    "offset_min": c.offset_min,
                },
            ),
            outputs=self.outputs(c),
            # The simulated user approves suggestions that describe something real.
            label=c.label.model_copy(update={"approved": c.label.is_valid}),
            scores={"source_score": c.score},
            derived_from=(c.source_record_id,),
            model_version=BASELINE_VERSION,
        )


def select_candidates(view: HomeView) -> list[Candidate]:
    """The top predicted patterns and synergies of the home (upstream records), one per trigger/action."""
    patterns = sorted(
        _predicted(view, "pattern", PatternRecord), key=lambda r: (-r.outputs.score, r.record_id)
    )
    synergies = sorted(
        _predicted(view, "synergy", SynergyRecord), key=lambda r: (-r.outputs.score, r.record_id)
    )
    synergy_truth = view.truth.synergies if view.truth is not None else ()
    truth_patterns = {s.id: s.behavior_id for s in synergy_truth if s.behavior_id is not None}
    chosen: list[Candidate] = []
    seen: set[tuple[str | None, str, str]] = set()
    found = [c for c in (from_pattern_record(r) for r in patterns) if c is not None][:TOP_PATTERNS]
    found += [from_synergy_record(r, truth_patterns) for r in synergies][:TOP_SYNERGIES]
    for c in found:
        key = (c.trigger_entity, c.action_entity, c.action_state)
        if key not in seen:
            seen.add(key)
            chosen.append(c)
    return chosen


R = TypeVar("R", PatternRecord, SynergyRecord)


def _predicted(view: HomeView, stage: StageName, kind: type[R]) -> list[R]:
    """An upstream stage's predicted records, best score first (of a record frame, only those are built)."""
    records = view.records(stage)
    if isinstance(records, RecordFrame):
        records = records.where(at("outputs.predicted"))
    predicted = [r for r in records if isinstance(r, kind) and r.outputs.predicted]
    return sorted(predicted, key=lambda r: (-r.outputs.score, r.record_id))


def _seed(home_key: str, cycle: int) -> int:
    return zlib.crc32(f"suggestions:{home_key}:{cycle}".encode())


def suggestion_stage(view: HomeView, models: ModelProvider, cycle: int) -> list[AnyRecord]:
    """The cycle's suggestion stage: worded suggestions for the home's top patterns and synergies.

    Wording is template-based (no model type covers it); `HOMESIM_LLM_URL`, when set, rewrites it."""
    url = os.environ.get(LLM_URL_ENV)
    generator = SuggestionGenerator(view.home, _seed(view.key, cycle), LlmRewriter(url) if url else None)
    return [generator.record(c, view.key, cycle) for c in select_candidates(view)]
