"""Reading a request: `RequestParser` turns text into an `AutomationSpec` with rules (typo-tolerant
vocabulary, area and device resolution against the home), or into a clarify/refuse answer; a deployed
`soft_prompt` model picks the intent family, and one that is a `RequestReader` also reads the trigger event,
darkness and the device (by embedding similarity) and may answer clarify/refuse confidently."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import polars as pl

from homesim.schema.home import Entity, Home
from homesim.schema.records import AskOutcome
from homesim.schema.vocabulary import SERVICES, service_for_state
from homesim.simulation.ask_ai.spelling import speller
from homesim.simulation.ask_ai.vocabulary import (
    DEVICE_WORDS,
    IMPOSSIBLE_ACTIONS,
    INTENT_FAMILIES,
    STATE_WORDS,
    TRIGGER_WORDS,
    UNKNOWN_DEVICES,
    Family,
    HomeIndex,
)
from homesim.simulation.automation_builder import AutomationSpec, SpecAction, SpecTrigger
from homesim.simulation.model_provider import Model

_TIME_RE = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b")
_NUMBER_RE = re.compile(r"(-?\d+(?:\.\d+)?)")
_COMPARISON_RE = re.compile(
    " (?:" + "|".join(TRIGGER_WORDS["above"] + TRIGGER_WORDS["below"]) + r") (-?\d+(?:\.\d+)?) "
)


@dataclass(frozen=True)
class ParseResult:
    outcome: AskOutcome
    family: Family | None
    spec: AutomationSpec | None
    response: str


Event = Literal["sunrise", "sunset", "arrive", "leave"]
#: Classes of a request reader's trigger-event head (`none`: the request's family has no such event).
EVENTS: tuple[Event | Literal["none"], ...] = ("none", "sunrise", "sunset", "arrive", "leave")
OUTCOMES: tuple[AskOutcome, ...] = ("create", "clarify", "refuse")
#: A reader's non-create outcome overrides a rule-built automation only at this confidence or above.
OUTCOME_CONFIDENCE = 0.9
#: Least cosine similarity at which a reader's best-matching device names the request's target.
RESOLVE_MIN_SIMILARITY = 0.3


@dataclass(frozen=True)
class Reading:
    """What a request reader makes of one (normalized) request."""

    family: Family
    outcome: AskOutcome
    #: The reader's probability of `outcome`.
    outcome_confidence: float
    event: Event | None
    dark: bool


@runtime_checkable
class RequestReader(Protocol):
    """A `soft_prompt` model that reads more than the intent family (`predict`: family scores): the
    outcome, the trigger event and a darkness condition (`read`), and which of a home's device names a
    request means (`similarity`). The parser uses these where its rules find nothing."""

    version: str

    def predict(self, features: pl.DataFrame) -> npt.NDArray[np.float64]: ...

    def read(self, request: str) -> Reading: ...

    def similarity(self, request: str, names: Sequence[str]) -> npt.NDArray[np.float64]:
        """Cosine similarity of `request` to each of `names`."""
        ...


def normalize(text: str, vocabulary: tuple[str, ...]) -> str:
    """Lower case, punctuation removed, each word of 4+ letters snapped to the closest known word."""
    words = re.sub(r"[^a-z0-9:.' -]+", " ", text.lower()).replace("'s", "").split()
    spell = speller(vocabulary)
    fixed = []
    for word in words:
        if len(word) >= 4 and word.isalpha() and word not in spell.known:
            word = spell.closest(word, 0.8) or word
        fixed.append(word.strip(".'"))
    return " " + " ".join(fixed) + " "


def _has(text: str, phrases: tuple[str, ...]) -> bool:
    return any(f" {phrase} " in text for phrase in phrases)


def detect_family(text: str) -> Family:
    """The intent family by keywords (the baseline the `soft_prompt` model replaces)."""
    if _has(text, TRIGGER_WORDS["goodnight"]):
        return "goodnight"
    if _has(text, TRIGGER_WORDS["motion"]):
        return "motion_light"
    if re.search(r" \d+ (minutes|minute|hours) after (it|they) ", text) or " left on " in text:
        return "auto_off"
    if _has(text, TRIGGER_WORDS["arrive"] + TRIGGER_WORDS["leave"]):
        return "presence"
    if " degrees " in text or " temperature " in text:
        return "temperature"
    if _has(text, TRIGGER_WORDS["sunset"] + TRIGGER_WORDS["sunrise"]):
        return "sun"
    return "time_schedule"


def _state_of(text: str) -> str | None:
    """The target state of the request's first verb ("unlock the door lock" is unlocked, not locked)."""
    found = [
        (position, state)
        for state, phrases in STATE_WORDS.items()
        for phrase in phrases
        if (position := text.find(f" {phrase} ")) >= 0
    ]
    return min(found)[1] if found else None


class RequestParser:
    """Rule-based request → spec parser; never raises (unparseable text is a clarification).

    With a deployed `soft_prompt` model the model picks the intent family; a model that is also a
    `RequestReader` fills in what the rules miss: the trigger event and darkness where no keyword says
    them, the target device by embedding similarity where no device word names it, and a confident
    clarify/refuse verdict. Without a model the rules alone decide."""

    def __init__(self, home: Home, model: Model | None = None) -> None:
        self.index = HomeIndex.of(home)
        self.model = model
        self.reader = model if isinstance(model, RequestReader) else None

    def family(self, text: str) -> Family:
        if self.model is None:
            return detect_family(text)
        scores = self.model.predict(pl.DataFrame({"request": [text]}))
        return INTENT_FAMILIES[int(np.argmax(np.asarray(scores).reshape(-1)[: len(INTENT_FAMILIES)]))]

    def parse(self, request: str) -> ParseResult:
        text = normalize(request, self.index.vocabulary)
        reading = self.reader.read(text) if self.reader is not None else None
        family = reading.family if reading is not None else self.family(text)
        if _has(text, UNKNOWN_DEVICES):
            return ParseResult("refuse", family, None, "I can't find that device in your home.")
        areas = self.index.areas_in(text)
        area = areas[0] if areas else None
        try:
            spec = self._spec(family, text, area, reading)
        except _UnclearError as unclear:
            return ParseResult(unclear.outcome, family, None, unclear.message)
        if (
            reading is not None
            and reading.outcome != "create"
            and reading.outcome_confidence >= OUTCOME_CONFIDENCE
        ):
            return ParseResult(reading.outcome, family, None, _READER_RESPONSES[reading.outcome])
        return ParseResult("create", family, spec, f"Here is an automation: {spec.alias}.")

    # --------------------------------------------------------------------------------- slots

    def _spec(self, family: Family, text: str, area: str | None, reading: Reading | None) -> AutomationSpec:
        clause = re.split(
            r" (?:when|whenever|if|once|as soon as|\d+ minutes? after|\d+ hours? after) ", text
        )[0]
        # The action is usually the first clause ("turn on X when …"); otherwise ("when …, turn on X",
        # "I'd love it if …") the whole request is searched.
        action_text = clause + " " if _state_of(clause + " ") is not None else text
        if family == "goodnight":
            return self._goodnight(text)
        state = self._state(action_text)
        targets = [self._target(action_text if action_text.strip() else text, text, area, state)]
        trigger, dark = self._trigger(family, text, area, reading)
        if family == "auto_off":  # "… after it turns on": the device's own state starts the automation
            trigger = trigger.model_copy(update={"entity_id": targets[0].entity_id})
        weekdays = (0, 1, 2, 3, 4) if _has(text, TRIGGER_WORDS["weekdays"]) else (0, 1, 2, 3, 4, 5, 6)
        # A motion light turns its target off again; a target switched to another state ("unlock the door
        # when I walk in", read as a motion light) has no "off" to revert to (`lock.turn_off` is invalid).
        motion = family == "motion_light" and state == "on"
        return AutomationSpec(
            alias=f"{family.replace('_', ' ')}: {targets[0].entity_id} {state}",
            trigger=trigger,
            actions=tuple(SpecAction(entity_id=t.entity_id, state=state) for t in targets),
            dark=dark,
            weekdays=weekdays,
            revert_state="off" if motion else None,
            revert_after_min=5.0 if motion else None,
            revert_when_clear=motion,
        )

    def _state(self, text: str) -> str:
        state = _state_of(text)
        if state is not None:
            return state
        if _has(text, IMPOSSIBLE_ACTIONS):
            raise _UnclearError("refuse", "That device can't do that.")
        raise _UnclearError("clarify", "What should happen: on, off, open, close…?")

    def _target(self, action_text: str, text: str, area: str | None, state: str) -> Entity:
        # A device's own words ("coffee maker") name its domain best; generic nouns ("lamp") come next.
        named_devices = sorted(
            (d for d in self.index.devices if f" {d.words} " in action_text), key=lambda d: -len(d.words)
        )
        domains = [d.entity.domain for d in named_devices[:1]]
        domains += [domain for domain, words in DEVICE_WORDS.items() if _has(action_text, words)]
        domains += [domain for domain, words in DEVICE_WORDS.items() if _has(text, words)]
        if not domains:
            if self.reader is None:
                raise _UnclearError("clarify", "Which device do you mean?")
            return self._resolve(self.reader, action_text, area, state)
        domain = domains[0]
        if domain == "binary_sensor" or service_for_state(f"{domain}.x", state) is None:
            raise _UnclearError("refuse", f"A {domain.replace('_', ' ')} can't be set to {state}.")
        service = service_for_state(f"{domain}.x", state)
        if service is not None and service[0].partition(".")[2] not in SERVICES.get(domain, frozenset()):
            raise _UnclearError("refuse", f"A {domain.replace('_', ' ')} has no way to {state}.")
        candidates = self.index.in_area(domain, area)
        if not candidates:
            raise _UnclearError("refuse", f"There is no {DEVICE_WORDS[domain][0]} there.")
        named = [d for d in candidates if f" {d.words} " in action_text or f" {d.words} " in text]
        longest = max((len(d.words) for d in named), default=0)
        named = [d for d in named if len(d.words) == longest]  # "floor lamp 2" over "floor lamp"
        if len(named) == 1 or len(candidates) == 1:
            return (named or candidates)[0].entity
        raise _UnclearError(
            "clarify", "Which one: " + ", ".join(sorted(d.entity.entity_id for d in candidates)) + "?"
        )

    def _resolve(self, reader: RequestReader, action_text: str, area: str | None, state: str) -> Entity:
        """The device a request names in words no rule knows: the reader's most similar device name among
        those (in the request's area, if it names one) that can be set to `state`."""
        able = [
            d
            for d in self.index.devices
            if (area is None or d.area_id == area)
            and d.entity.domain != "binary_sensor"
            and (service := service_for_state(d.entity.entity_id, state)) is not None
            and service[0].partition(".")[2] in SERVICES.get(d.entity.domain, frozenset())
        ]
        if not able:
            raise _UnclearError("clarify", "Which device do you mean?")
        names = [f"{(d.area_id or '').replace('_', ' ')} {d.words}".strip() for d in able]
        similarity = np.asarray(reader.similarity(action_text.strip(), names), dtype=np.float64)
        best = int(np.argmax(similarity))
        if similarity[best] < RESOLVE_MIN_SIMILARITY:
            raise _UnclearError("clarify", "Which device do you mean?")
        return able[best].entity

    def _trigger(
        self, family: Family, text: str, area: str | None, reading: Reading | None
    ) -> tuple[SpecTrigger, bool]:
        dark_words = (" dark ", *(f" {w} " for w in TRIGGER_WORDS["sunset"]))
        dark = any(word in text for word in dark_words) or (reading is not None and reading.dark)
        if family == "motion_light":
            sensor = self.index.motion_sensor(area)
            if sensor is None:
                raise _UnclearError("clarify", "Which room's motion sensor should start it?")
            return SpecTrigger(kind="state", entity_id=sensor.entity.entity_id, to="on"), dark
        if family == "presence":
            arrive = _has(text, TRIGGER_WORDS["arrive"])
            said = arrive or _has(text, TRIGGER_WORDS["leave"])
            if not said and reading is not None and reading.event in ("arrive", "leave"):
                arrive = reading.event == "arrive"
            return SpecTrigger(kind="presence", event="arrive" if arrive else "leave"), False
        if family == "sun":
            event: Literal["sunset", "sunrise"] = (
                "sunrise" if _has(text, TRIGGER_WORDS["sunrise"]) else "sunset"
            )
            said = _has(text, TRIGGER_WORDS["sunrise"] + TRIGGER_WORDS["sunset"])
            if not said and reading is not None and reading.event in ("sunrise", "sunset"):
                event = "sunrise" if reading.event == "sunrise" else "sunset"
            offset = re.search(r" (\d+) (?:minutes|minute) (before|after) ", text)
            minutes = float(offset.group(1)) * (-1 if offset.group(2) == "before" else 1) if offset else 0.0
            return SpecTrigger(kind="sun", event=event, offset_min=minutes), False
        if family == "temperature":
            # The number right before "degrees"; without that word (a reader chose the family), the one a
            # comparison introduces ("hotter than 28"), not an area's "bedroom 3" later on.
            comparison = (
                _COMPARISON_RE.search(text) if reading is not None and " degrees " not in text else None
            )
            numbers = [comparison.group(1)] if comparison else _NUMBER_RE.findall(text.split(" degrees ")[0])
            if not numbers:
                raise _UnclearError("clarify", "At what temperature?")
            bound = float(numbers[-1])  # the number right before "degrees", not an area's "bedroom 3"
            above = _has(text, TRIGGER_WORDS["above"]) or not _has(text, TRIGGER_WORDS["below"])
            return self._temperature(bound if above else None, None if above else bound), False
        if family == "auto_off":
            hold = re.search(r" (\d+) (minutes|minute|hours) ", text)
            if hold is None:  # a deployed model may call it auto-off without saying how long
                raise _UnclearError("clarify", "After how long?")
            scale = 60 if hold.group(2) == "hours" else 1
            return SpecTrigger(kind="state", to="on", for_min=float(hold.group(1)) * scale), False
        return SpecTrigger(kind="time", at=self._clock(text)), False

    def _temperature(self, above: float | None, below: float | None) -> SpecTrigger:
        outdoor = next((e for e in self.index.home.entities if e.role == "outdoor_temperature"), None)
        weather = next((e for e in self.index.home.entities if e.domain == "weather"), None)
        if outdoor is not None:
            return SpecTrigger(kind="numeric", entity_id=outdoor.entity_id, above=above, below=below)
        if weather is not None:
            return SpecTrigger(
                kind="numeric", entity_id=weather.entity_id, attribute="temperature", above=above, below=below
            )
        return SpecTrigger(kind="numeric", above=above, below=below)

    @staticmethod
    def _clock(text: str) -> str:
        for found in _TIME_RE.finditer(text):
            hour, minute, half = int(found.group(1)), int(found.group(2) or 0), found.group(3)
            if found.group(2) is None and half is None and " at " + found.group(0).strip() + " " not in text:
                continue  # a bare number that is not "at 7" (a count, a temperature)
            hour = hour % 12 + (12 if half == "pm" else 0) if half else hour
            if hour < 24 and minute < 60:
                return f"{hour:02d}:{minute:02d}:00"
        raise _UnclearError("clarify", "At what time?")

    def _goodnight(self, text: str) -> AutomationSpec:
        areas = self.index.areas_in(text)
        lights = [
            d.entity
            for d in self.index.devices
            if d.entity.domain == "light" and (not areas or d.area_id in areas)
        ]
        if not lights:
            raise _UnclearError("refuse", "There are no lights there.")
        return AutomationSpec(
            alias="goodnight: lights off",
            trigger=SpecTrigger(kind="time", at=self._clock(text)),
            actions=tuple(
                SpecAction(entity_id=e.entity_id, state="off")
                for e in sorted(lights, key=lambda e: e.entity_id)
            ),
        )


_READER_RESPONSES: dict[AskOutcome, str] = {
    "clarify": "Could you say more precisely what should happen?",
    "refuse": "I can't do that in your home.",
}


class _UnclearError(Exception):
    def __init__(self, outcome: AskOutcome, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message
