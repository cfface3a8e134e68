"""AskAI: natural-language automation requests, their parsing, and a simulated approval — one record a turn.

This module owns three things. `RequestGenerator` writes realistic requests from a home's ground truth
and devices in seven intent families (`INTENT_FAMILIES`) and three template styles (imperative, question,
casual), with device synonyms, area aliases and typos, plus ambiguous requests (must be clarified) and
impossible ones (unknown device, a service the device lacks: must be refused); each carries the
automation it intends. A share of requests (`PARAPHRASE_SHARE`, drawn from a stream of its own so the
other requests keep their text) is reworded in a fourth style, `paraphrase`: everyday wording the keyword
rules do not know ("once it gets dark", "as soon as I'm home", "at lights-out"), reordered clauses and,
now and then, a device named by an everyday noun ("the hall bulb"). `RequestParser` turns text into an
`AutomationSpec` with rules (typo-tolerant vocabulary, area and device resolution against the home); a
deployed `soft_prompt` model, when present, picks the intent family instead of the keyword rules, and a
model that is a `RequestReader` also supplies the trigger event, darkness, device resolution by
embedding similarity and a confident clarify/refuse where the rules find nothing. `ask_ai_stage` builds
the parsed automation and approves it when it is valid for the home and behaves like the intended one
when both are replayed.
"""

from __future__ import annotations

import difflib
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import polars as pl

from homesim.ha.automation import Automation, AutomationError, render_yaml
from homesim.ha.automation_validation import SERVICES, validate_against_home
from homesim.schema.ground_truth import Pattern, TimeTriggerSpec
from homesim.schema.home import Entity, Home
from homesim.schema.records import (
    BASELINE_VERSION,
    AnyRecord,
    AskAIInputs,
    AskAILabel,
    AskAIOutputs,
    AskAIRecord,
    AskOutcome,
    make_record_id,
)
from homesim.simulation.automation_builder import (
    AutomationSpec,
    SpecAction,
    SpecTrigger,
    build_automation,
    signature,
)
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import Model, ModelProvider
from homesim.simulation.replay import Replayer, ReplayInput, agreement, service_for_state

Family = Literal["motion_light", "time_schedule", "sun", "presence", "temperature", "goodnight", "auto_off"]
INTENT_FAMILIES: tuple[Family, ...] = (
    "motion_light",
    "time_schedule",
    "sun",
    "presence",
    "temperature",
    "goodnight",
    "auto_off",
)
Style = Literal["imperative", "question", "casual", "paraphrase"]
#: The template styles requests rotate through; a share of requests is then reworded as a `paraphrase`.
STYLES: tuple[Style, ...] = ("imperative", "question", "casual")
ALL_STYLES: tuple[Style, ...] = (*STYLES, "paraphrase")
#: Share of requests reworded in everyday words the keyword rules do not know (`paraphrase` style).
PARAPHRASE_SHARE = 0.3
#: Replay agreement at or above which a parsed automation behaves like the intended one.
EQUIVALENCE = 0.9
#: Replay tolerance (seconds) for equivalence: the same call within a minute is the same behaviour.
EQUIVALENCE_TOLERANCE_S = 60.0

# ----------------------------------------------------------------------------------------- vocabulary

#: Words for a device, per domain (first: the plain word the generator prefers).
DEVICE_WORDS: dict[str, tuple[str, ...]] = {
    "light": ("light", "lamp", "lights", "lamps", "lighting"),
    "cover": ("blinds", "shades", "curtains", "shutters"),
    "fan": ("fan", "ventilator", "extractor"),
    "climate": ("air conditioner", "ac", "aircon", "thermostat", "heating", "heater"),
    "lock": ("lock", "door lock", "deadbolt"),
    "alarm_control_panel": ("alarm", "security system"),
    "media_player": ("tv", "television", "telly", "speaker"),
    "switch": ("plug", "dishwasher", "washing machine", "charger", "ev charger", "water heater"),
    "vacuum": ("vacuum", "robot vacuum", "hoover", "roomba"),
    "binary_sensor": ("sensor", "door sensor", "motion sensor", "window sensor", "smoke detector"),
}
#: Things no homesim home has: requests about them must be refused.
UNKNOWN_DEVICES = ("sauna", "pool pump", "aquarium", "sprinkler", "coffee machine", "hot tub")
#: Other names people use for areas.
AREA_ALIASES: dict[str, tuple[str, ...]] = {
    "living_room": ("lounge", "family room"),
    "primary_bedroom": ("master bedroom", "main bedroom"),
    "kids_room": ("nursery", "children's room"),
    "entrance": ("entryway", "front hall"),
    "hallway": ("hall", "corridor"),
    "bathroom": ("bath", "washroom"),
    "kitchen": ("kitchenette",),
}
#: Verb phrases per target state (first: what the generator prefers).
STATE_WORDS: dict[str, tuple[str, ...]] = {
    "on": ("turn on", "switch on", "come on", "came on", "start"),
    "off": ("turn off", "switch off", "shut off", "go off", "went off", "kill"),
    "open": ("open", "raise", "roll up"),
    "closed": ("close", "shut", "lower", "draw"),
    "locked": ("lock",),
    "unlocked": ("unlock",),
    "disarmed": ("disarm",),
    "armed_away": ("arm",),
    "cool": ("cool", "cooling"),
    "heat": ("heat", "heating"),
    "playing": ("play", "put on"),
    "cleaning": ("clean", "run", "vacuum"),
}
#: Services nobody can ask of a sensor: "make the door sensor play music" names these.
IMPOSSIBLE_ACTIONS = ("play music", "brew coffee", "sing", "dance", "make toast")
_TRIGGER_WORDS = {
    "motion": ("motion", "movement", "walks", "walk", "enters", "moves"),
    "arrive": ("get home", "gets home", "arrive", "arrives", "come home", "comes home", "back home"),
    "leave": ("leave", "leaves", "left", "nobody is home", "everyone is out"),
    "sunset": ("sunset", "sundown", "dusk"),
    "sunrise": ("sunrise", "dawn", "sunup"),
    "above": ("above", "over", "hotter than", "exceeds", "warmer than"),
    "below": ("below", "under", "colder than", "drops", "cooler than"),
    "goodnight": ("goodnight", "good night", "bedtime", "all the lights"),
    "weekdays": ("weekday", "weekdays", "workday", "workdays"),
}
_VOCABULARY = sorted(
    {
        word
        for group in (
            *DEVICE_WORDS.values(),
            *STATE_WORDS.values(),
            *_TRIGGER_WORDS.values(),
            *AREA_ALIASES.values(),
        )
        for phrase in group
        for word in phrase.split()
    }
    | {
        "minutes",
        "minute",
        "hours",
        "degrees",
        "after",
        "before",
        "when",
        "whenever",
        "dark",
        "every",
        "turns",
        "sensor",
        "music",
        "detected",
    }
)
_TIME_RE = re.compile(r"\b(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b")
_NUMBER_RE = re.compile(r"(-?\d+(?:\.\d+)?)")
_COMPARISON_RE = re.compile(
    " (?:" + "|".join(_TRIGGER_WORDS["above"] + _TRIGGER_WORDS["below"]) + r") (-?\d+(?:\.\d+)?) "
)

# ------------------------------------------------------------------------------------- home index


@dataclass(frozen=True)
class _Device:
    entity: Entity
    area_id: str | None
    #: The entity's own words without its area: "ceiling light", "floor lamp 2".
    words: str


@dataclass(frozen=True)
class HomeIndex:
    """The home's areas and actuators as people name them."""

    home: Home
    devices: tuple[_Device, ...]
    #: Area name or alias (lower case) → area id; longest names first, so "living room 2" wins.
    areas: tuple[tuple[str, str], ...]
    vocabulary: tuple[str, ...]

    @classmethod
    def of(cls, home: Home) -> HomeIndex:
        devices = []
        for entity in home.entities:
            if entity.role != "main":
                continue
            area = home.entity_area(entity)
            words = entity.entity_id.partition(".")[2]
            words = words.removeprefix(f"{area}_") if area else words
            devices.append(_Device(entity, area, words.replace("_", " ")))
        areas = [(a.name.lower(), a.area_id) for a in home.areas]
        areas += [(alias, a.area_id) for a in home.areas for alias in AREA_ALIASES.get(a.area_id, ())]
        areas.sort(key=lambda item: (-len(item[0]), item[0]))
        known = {w for name, _ in areas for w in name.split()} | {w for d in devices for w in d.words.split()}
        return cls(home, tuple(devices), tuple(areas), tuple(sorted(known | set(_VOCABULARY))))

    def areas_in(self, text: str) -> list[str]:
        """Areas named in normalized text, in order of name length; "hallway 2" is not also "hallway"."""
        found = []
        for name, area_id in self.areas:
            if f" {name} " in text:
                found.append(area_id)
                text = text.replace(f" {name} ", " | ")
        return found

    def in_area(self, domain: str, area: str | None) -> list[_Device]:
        return [d for d in self.devices if d.entity.domain == domain and (area is None or d.area_id == area)]

    def motion_sensor(self, area: str | None) -> _Device | None:
        found = [d for d in self.in_area("binary_sensor", area) if d.entity.device_class == "motion"]
        return found[0] if len(found) == 1 else None


# ------------------------------------------------------------------------------------------ parsing


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
    fixed = []
    for word in words:
        if len(word) >= 4 and word.isalpha() and word not in vocabulary:
            close = difflib.get_close_matches(word, vocabulary, n=1, cutoff=0.8)
            word = close[0] if close else word
        fixed.append(word.strip(".'"))
    return " " + " ".join(fixed) + " "


def _has(text: str, phrases: tuple[str, ...]) -> bool:
    return any(f" {phrase} " in text for phrase in phrases)


def detect_family(text: str) -> Family:
    """The intent family by keywords (the baseline the `soft_prompt` model replaces)."""
    if _has(text, _TRIGGER_WORDS["goodnight"]):
        return "goodnight"
    if _has(text, _TRIGGER_WORDS["motion"]):
        return "motion_light"
    if re.search(r" \d+ (minutes|minute|hours) after (it|they) ", text) or " left on " in text:
        return "auto_off"
    if _has(text, _TRIGGER_WORDS["arrive"] + _TRIGGER_WORDS["leave"]):
        return "presence"
    if " degrees " in text or " temperature " in text:
        return "temperature"
    if _has(text, _TRIGGER_WORDS["sunset"] + _TRIGGER_WORDS["sunrise"]):
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
        weekdays = (0, 1, 2, 3, 4) if _has(text, _TRIGGER_WORDS["weekdays"]) else (0, 1, 2, 3, 4, 5, 6)
        motion = family == "motion_light"
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
        dark_words = (" dark ", *(f" {w} " for w in _TRIGGER_WORDS["sunset"]))
        dark = any(word in text for word in dark_words) or (reading is not None and reading.dark)
        if family == "motion_light":
            sensor = self.index.motion_sensor(area)
            if sensor is None:
                raise _UnclearError("clarify", "Which room's motion sensor should start it?")
            return SpecTrigger(kind="state", entity_id=sensor.entity.entity_id, to="on"), dark
        if family == "presence":
            arrive = _has(text, _TRIGGER_WORDS["arrive"])
            said = arrive or _has(text, _TRIGGER_WORDS["leave"])
            if not said and reading is not None and reading.event in ("arrive", "leave"):
                arrive = reading.event == "arrive"
            return SpecTrigger(kind="presence", event="arrive" if arrive else "leave"), False
        if family == "sun":
            event: Literal["sunset", "sunrise"] = (
                "sunrise" if _has(text, _TRIGGER_WORDS["sunrise"]) else "sunset"
            )
            said = _has(text, _TRIGGER_WORDS["sunrise"] + _TRIGGER_WORDS["sunset"])
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
            above = _has(text, _TRIGGER_WORDS["above"]) or not _has(text, _TRIGGER_WORDS["below"])
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


# --------------------------------------------------------------------------------------- generation


@dataclass(frozen=True)
class Request:
    """A generated request: its text, how it was written, and what it means."""

    text: str
    family: Family
    style: Style
    perturbations: tuple[str, ...]
    expected: AskOutcome
    intended: AutomationSpec | None = None
    pattern_id: str | None = None


_PHRASES: dict[Style, tuple[str, ...]] = {
    "imperative": ("{action} {trigger}.", "Please {action} {trigger}.", "{Trigger}, {action}."),
    "question": (
        "Can you {action} {trigger}?",
        "Could you set it up to {action} {trigger}?",
        "Is it possible to {action} {trigger}?",
    ),
    "casual": (
        "I'd love it if you could {action} {trigger}",
        "it would be great to {action} {trigger} tbh",
        "hey, {action} {trigger} pls",
    ),
}


#: Paraphrase templates: reordered clauses, indirect and colloquial wording.
_PARAPHRASES: tuple[str, ...] = (
    "{Trigger}, {action}.",
    "{Trigger} I'd like you to {action}",
    "Any chance you could {action} {trigger}?",
    "{action} {trigger}, cheers",
    "so yeah, {trigger} just {action}",
)
#: Everyday wording of triggers that avoids the keyword rules' words (`{area}`, `{at}`… are slots).
_PARA_TRIGGERS: dict[str, tuple[str, ...]] = {
    "motion": (
        "the moment anyone steps into the {area}",
        "as soon as somebody's in the {area}",
        "whenever someone pops into the {area}",
        "if anybody goes into the {area}",
    ),
    "dark": ("once it's dark", "at night", "after nightfall"),
    "sunset": ("it gets dark", "evening comes", "night falls"),
    "sunrise": ("morning comes", "it gets bright out", "the day breaks"),
    "sun_now": ("once", "when", "as soon as"),
    "arrive": (
        "as soon as I'm home",
        "the minute we pull into the driveway",
        "when I walk in the door",
        "once I'm through the front door",
    ),
    "leave": (
        "when the house is empty",
        "once the last of us heads out",
        "when we've all gone out",
        "once nobody's around",
    ),
    "above": (
        "once it's hotter than {bound} outside",
        "when it gets above {bound} out",
        "if it goes over {bound} outside",
    ),
    "goodnight": ("at lights-out, {at}", "when we turn in at {at}", "at {at} when we head to bed"),
    "goodnight_action": ("switch off every light in the {areas}", "kill the lights in the {areas}"),
    "auto_off": (
        "once it's been on for {minutes} minutes",
        "if it's been running for {minutes} minutes",
        "when it's been left running {minutes} minutes",
    ),
    "time": ("every day at {at}", "at {at} on the dot"),
    "morning": ("at {at}, before I leave for work",),
    "evening": ("at {at}, when I'm usually back home",),
}
#: Everyday nouns for a device that no rule knows (resolved by a deployed model's embedding similarity).
_PARA_DEVICES: dict[str, tuple[str, ...]] = {
    "light": ("bulb",),
    "fan": ("blower",),
    "climate": ("air con",),
    "lock": ("door latch",),
    "media_player": ("stereo",),
}
#: Share of paraphrased requests that also name their device by such a noun (where it is unambiguous).
DEVICE_PARAPHRASE_SHARE = 0.3


def _clock_words(at: str) -> str:
    hour, minute = int(at[:2]), int(at[3:5])
    return f"{hour:02d}:{minute:02d}"


@dataclass(frozen=True)
class _Paraphrase:
    """A request's action and trigger in `paraphrase` wording, and the perturbations that wording used."""

    action: str
    trigger: str
    used: tuple[str, ...]


@dataclass(frozen=True)
class _Named:
    """A device as a request names it (`name`, with perturbations `used`), its area's words, and the
    name its paraphrase uses."""

    name: str
    used: list[str]
    area: str
    para_name: str
    para_used: tuple[str, ...]

    def paraphrase(self, action: str, trigger: str) -> _Paraphrase:
        """A paraphrase whose action is `action` followed by the paraphrase's name of the device."""
        return _Paraphrase(f"{action} {self.para_name}", trigger, self.para_used)


class RequestGenerator:
    """Writes requests for one home from its ground truth and devices, deterministically from `seed`.

    The template styles draw from `rng`; paraphrases draw from their own stream (`para_rng`, also from
    `seed`), so adding them left every other request's draws, and hence its text, as it was."""

    def __init__(self, home: Home, seed: int) -> None:
        self.index = HomeIndex.of(home)
        self.rng = np.random.default_rng(seed)
        self.para_rng = np.random.default_rng([seed, 1])

    def _pick(self, options: tuple[str, ...] | list[str], rng: np.random.Generator | None = None) -> str:
        return options[int((rng or self.rng).integers(len(options)))]

    def _naming(self, device: _Device) -> tuple[str, str, list[str]]:
        """How a person names a device: area (maybe by an alias), device words (maybe a synonym), and
        the perturbations used."""
        used = []
        area = next((a.name.lower() for a in self.index.home.areas if a.area_id == device.area_id), "")
        aliases = AREA_ALIASES.get(device.area_id or "", ())
        if aliases and self.rng.random() < 0.4:
            area = self._pick(aliases)
            used.append("area_alias")
        words = device.words
        same = self.index.in_area(device.entity.domain, device.area_id)
        if len(same) == 1 and self.rng.random() < 0.5:
            words = self._pick(
                DEVICE_WORDS[device.entity.domain][:3] if device.entity.domain != "switch" else (words,)
            )
            used.append("synonym")
        return area, words, used

    def named(self, device: _Device) -> _Named:
        """`name`, plus the paraphrase's name: now and then an everyday noun no rule knows ("the hall
        bulb"), where the device is its area's only one of its kind."""
        area, words, used = self._naming(device)
        name = f"the {area} {words}".replace("  ", " ")
        nouns = _PARA_DEVICES.get(device.entity.domain, ())
        unique = len(self.index.in_area(device.entity.domain, device.area_id)) == 1
        if nouns and unique and area and self.para_rng.random() < DEVICE_PARAPHRASE_SHARE:
            kept = tuple(u for u in used if u != "synonym")
            noun = self._pick(nouns, self.para_rng)
            return _Named(name, used, area, f"the {area} {noun}", (*kept, "device_paraphrase"))
        return _Named(name, used, area, name, tuple(used))

    def _typo(self, text: str, rng: np.random.Generator | None = None) -> str:
        rng = rng or self.rng
        words = text.split()
        long = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
        if not long:
            return text
        i = long[int(rng.integers(len(long)))]
        w = words[i]
        j = int(rng.integers(1, len(w) - 2))
        words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]  # swap two neighbouring letters
        return " ".join(words)

    def phrase(self, action: str, trigger: str, style: Style) -> str:
        if style == "paraphrase":
            template = self._pick(_PARAPHRASES, self.para_rng)
        else:
            template = self._pick(_PHRASES[style])
        text = template.format(action=action, trigger=trigger, Trigger=trigger[:1].upper() + trigger[1:])
        return text[:1].upper() + text[1:]

    def _para(self, key: str, **slots: object) -> str:
        return self._pick(_PARA_TRIGGERS[key], self.para_rng).format(**slots)

    def request(
        self,
        family: Family,
        spec: AutomationSpec | None,
        action: str,
        trigger: str,
        style: Style,
        perturbations: list[str],
        expected: AskOutcome = "create",
        pattern_id: str | None = None,
        paraphrase: _Paraphrase | None = None,
    ) -> Request:
        """The request in `style`, or (for a `PARAPHRASE_SHARE` of those that have one) in its paraphrase;
        a quarter get a typo."""
        text = self.phrase(action, trigger, style)
        typo = bool(self.rng.random() < 0.25)
        if typo:
            text = self._typo(text)
        if paraphrase is not None and self.para_rng.random() < PARAPHRASE_SHARE:
            style = "paraphrase"
            text = self.phrase(paraphrase.action, paraphrase.trigger, style)
            text = self._typo(text, self.para_rng) if typo else text
            perturbations = list(paraphrase.used)
        if typo:
            perturbations.append("typo")
        return Request(text, family, style, tuple(perturbations), expected, spec, pattern_id)

    def _device(self, domain: str, state: str) -> _Device | None:
        options = [
            d for d in self.index.in_area(domain, None) if service_for_state(d.entity.entity_id, state)
        ]
        return options[int(self.rng.integers(len(options)))] if options else None

    def generate(self, patterns: tuple[Pattern, ...], per_family: int = 3) -> list[Request]:
        """Requests for every family (from ground-truth patterns where the home has one), plus ambiguous
        and impossible ones."""
        requests: list[Request] = []
        for family in INTENT_FAMILIES:
            for n in range(per_family):
                style = STYLES[(n + INTENT_FAMILIES.index(family)) % len(STYLES)]
                made = self._make(family, style, patterns)
                if made is not None:
                    requests.append(made)
        requests += self._unclear()
        return requests

    def _make(self, family: Family, style: Style, patterns: tuple[Pattern, ...]) -> Request | None:
        verb = {"on": "turn on", "off": "turn off", "open": "open", "closed": "close"}
        if family == "motion_light":
            sensors = [
                d
                for d in self.index.devices
                if d.entity.device_class == "motion"
                and self.index.motion_sensor(d.area_id) is d
                and len(self.index.in_area("light", d.area_id)) == 1
            ]
            if not sensors:
                return None
            sensor = sensors[int(self.rng.integers(len(sensors)))]
            light = self.index.in_area("light", sensor.area_id)[0]
            named = self.named(light)
            area = named.name.removeprefix("the ").rsplit(" ", 1)[0]
            dark = bool(self.rng.random() < 0.5)
            when = self._pick(
                (f"when someone walks into the {area}", f"whenever there is motion in the {area}")
            )
            trigger = when + (" after sunset" if dark else "")
            para = self._para("motion", area=named.area) + (" " + self._para("dark") if dark else "")
            spec = AutomationSpec(
                alias="motion light",
                trigger=SpecTrigger(kind="state", entity_id=sensor.entity.entity_id, to="on"),
                actions=(SpecAction(entity_id=light.entity.entity_id, state="on"),),
                dark=dark,
                revert_state="off",
                revert_after_min=5.0,
                revert_when_clear=True,
            )
            pattern = next(
                (
                    p.id
                    for p in patterns
                    if p.trigger.kind == "state" and p.trigger_entities == (sensor.entity.entity_id,)
                ),
                None,
            )
            return self.request(
                family,
                spec,
                f"turn on {named.name}",
                trigger,
                style,
                named.used,
                pattern_id=pattern,
                paraphrase=named.paraphrase("turn on", para),
            )
        if family in ("time_schedule", "sun"):
            wanted = [
                p
                for p in patterns
                if isinstance(p.trigger, TimeTriggerSpec)
                and (p.trigger.anchor in ("sunset", "sunrise")) == (family == "sun")
                and p.actions[0].state in verb
                and service_for_state(p.actions[0].entity_id, p.actions[0].state)
            ]
            if not wanted:
                return None
            chosen = wanted[int(self.rng.integers(len(wanted)))]
            first = chosen.actions[0]
            target = next(d for d in self.index.devices if d.entity.entity_id == first.entity_id)
            named = self.named(target)
            trig = chosen.trigger
            assert isinstance(trig, TimeTriggerSpec)  # `wanted` holds time-anchored patterns only
            if family == "sun":
                offset = round(trig.offset_min)
                words = (
                    trig.anchor
                    if offset == 0
                    else f"{abs(offset)} minutes {'after' if offset > 0 else 'before'} {trig.anchor}"
                )
                event: Literal["sunset", "sunrise"] = "sunset" if trig.anchor == "sunset" else "sunrise"
                trigger_spec = SpecTrigger(kind="sun", event=event, offset_min=float(offset))
                trigger = f"at {words}" if offset == 0 else words
                clause = self._para(event)
                para = (
                    f"{self._para('sun_now')} {clause}"
                    if offset == 0
                    else f"{abs(offset)} minutes {'after' if offset > 0 else 'before'} {clause}"
                )
            else:
                at = str(next(t["at"] for t in chosen.automation.triggers if t.get("trigger") == "time"))
                at = at[:5] + ":00"
                trigger_spec = SpecTrigger(kind="time", at=at)
                trigger = f"at {_clock_words(at)}"
                hour = int(at[:2])
                # Times of day near commutes get the commute mentioned, as people do.
                keys = ["time", *(["morning"] if hour < 10 else ["evening"] if hour >= 16 else [])]
                para = self._para(self._pick(keys, self.para_rng), at=_clock_words(at))
            spec = AutomationSpec(
                alias=family,
                trigger=trigger_spec,
                actions=(SpecAction(entity_id=first.entity_id, state=first.state),),
            )
            return self.request(
                family,
                spec,
                f"{verb[first.state]} {named.name}",
                trigger,
                style,
                named.used,
                pattern_id=chosen.id,
                paraphrase=named.paraphrase(verb[first.state], para),
            )
        if family == "presence":
            device = self._device("lock", "locked") or self._device("light", "off")
            if device is None:
                return None
            leave = bool(self.rng.random() < 0.5)
            state = (
                ("locked" if leave else "unlocked")
                if device.entity.domain == "lock"
                else ("off" if leave else "on")
            )
            named = self.named(device)
            action = f"{STATE_WORDS[state][0]} {named.name}"
            trigger = (
                "when everyone is out"
                if leave
                else self._pick(("when I get home", "when someone comes home"))
            )
            spec = AutomationSpec(
                alias=family,
                trigger=SpecTrigger(kind="presence", event="leave" if leave else "arrive"),
                actions=(SpecAction(entity_id=device.entity.entity_id, state=state),),
            )
            para = self._para("leave" if leave else "arrive")
            return self.request(
                family,
                spec,
                action,
                trigger,
                style,
                named.used,
                paraphrase=named.paraphrase(STATE_WORDS[state][0], para),
            )
        if family == "temperature":
            device = self._device("climate", "cool") or self._device("fan", "on")
            if device is None:
                return None
            state = "cool" if device.entity.domain == "climate" else "on"
            bound = float(int(self.rng.integers(24, 30)))
            named = self.named(device)
            verb_words = "cool with" if state == "cool" else "turn on"
            trigger = self._pick(
                (
                    f"when it is above {bound:g} degrees outside",
                    f"if the outdoor temperature goes over {bound:g} degrees",
                )
            )
            spec = AutomationSpec(
                alias=family,
                trigger=RequestParser(self.index.home)._temperature(bound, None),
                actions=(SpecAction(entity_id=device.entity.entity_id, state=state),),
            )
            return self.request(
                family,
                spec,
                f"{verb_words} {named.name}",
                trigger,
                style,
                named.used,
                paraphrase=named.paraphrase(verb_words, self._para("above", bound=f"{bound:g}")),
            )
        if family == "goodnight":
            areas = sorted({d.area_id for d in self.index.in_area("light", None) if d.area_id})
            if not areas:
                return None  # no light in any area (a real home of sensors only): nothing to ask for
            picked = [areas[int(i)] for i in sorted(set(self.rng.integers(len(areas), size=2).tolist()))]
            names = [next(a.name.lower() for a in self.index.home.areas if a.area_id == c) for c in picked]
            hour = int(self.rng.integers(22, 24))
            lights = sorted(
                d.entity.entity_id for d in self.index.in_area("light", None) if d.area_id in picked
            )
            spec = AutomationSpec(
                alias=family,
                trigger=SpecTrigger(kind="time", at=f"{hour:02d}:30:00"),
                actions=tuple(SpecAction(entity_id=e, state="off") for e in lights),
            )
            action = f"turn off all the lights in the {' and the '.join(names)}"
            wording = _Paraphrase(
                self._para("goodnight_action", areas=" and the ".join(names)),
                self._para("goodnight", at=f"{hour:02d}:30"),
                (),
            )
            return self.request(
                family, spec, action, f"at bedtime, {hour:02d}:30", style, [], paraphrase=wording
            )
        device = self._device("fan", "on") or self._device("light", "on")
        if device is None:
            return None
        minutes = int(self.rng.integers(2, 7)) * 5
        named = self.named(device)
        spec = AutomationSpec(
            alias=family,
            trigger=SpecTrigger(
                kind="state", entity_id=device.entity.entity_id, to="on", for_min=float(minutes)
            ),
            actions=(SpecAction(entity_id=device.entity.entity_id, state="off"),),
        )
        return self.request(
            family,
            spec,
            f"turn off {named.name}",
            f"{minutes} minutes after it turns on",
            style,
            named.used,
            paraphrase=named.paraphrase(
                self._pick(("turn off", "switch off"), self.para_rng), self._para("auto_off", minutes=minutes)
            ),
        )

    def _unclear(self) -> list[Request]:
        """Ambiguous requests (clarify) and impossible ones (refuse)."""
        out: list[Request] = []
        lights = self.index.in_area("light", None)
        if len(lights) > 1:
            out.append(
                Request(
                    "Turn on the light when I get home", "presence", "imperative", ("ambiguous",), "clarify"
                )
            )
        sensors = [d for d in self.index.devices if d.entity.domain == "binary_sensor"]
        if sensors:
            sensor = sensors[int(self.rng.integers(len(sensors)))]
            name = f"the {sensor.area_id or ''} {sensor.words}".replace("_", " ")
            out.append(
                Request(
                    f"Make {name} play music at 18:00",
                    "time_schedule",
                    "imperative",
                    ("impossible_service",),
                    "refuse",
                )
            )
        unknown = self._pick(UNKNOWN_DEVICES)
        out.append(
            Request(
                f"Can you turn on the {unknown} at 07:00?",
                "time_schedule",
                "question",
                ("unknown_device",),
                "refuse",
            )
        )
        return out


# ------------------------------------------------------------------------------------------- stage


def _automation(spec: AutomationSpec, home: Home, automation_id: str) -> tuple[Automation | None, str | None]:
    try:
        return build_automation(spec, home, automation_id), None
    except (AutomationError, ValueError) as error:
        return None, str(error)


class AskAI:
    """Runs generated requests through the parser, builds automations and simulates the user's verdict."""

    def __init__(self, view: HomeView, model: Model | None) -> None:
        self.view = view
        self.parser = RequestParser(view.home, model)
        self.replayer = Replayer(ReplayInput.build(view.events, view.environment, view.timezone))

    def verdict(self, request: Request, parsed: ParseResult) -> tuple[bool, str | None, Automation | None]:
        """Approved, the rejection reason, and the parsed automation."""
        if request.expected != "create":
            if parsed.outcome == request.expected:
                return True, None, None
            return False, f"expected {request.expected}, got {parsed.outcome}", None
        if parsed.spec is None or request.intended is None:
            return False, f"not understood ({parsed.outcome}: {parsed.response})", None
        automation, error = _automation(parsed.spec, self.view.home, "ask_ai")
        intended, _ = _automation(request.intended, self.view.home, "ask_ai")
        if automation is None or intended is None:
            return False, f"could not build: {error}", automation
        issues = validate_against_home(automation, self.view.home)
        if issues:
            return False, f"invalid: {issues[0].path}: {issues[0].message}", automation
        if signature(automation)["calls"] != signature(intended)["calls"]:
            return False, "acts on the wrong devices or states", automation
        score = agreement(self.replayer.run(automation), self.replayer.run(intended), EQUIVALENCE_TOLERANCE_S)
        if score < EQUIVALENCE:
            return False, f"behaves differently (replay agreement {score:.2f})", automation
        return True, None, automation

    def record(self, request: Request, cycle: int, number: int, model_version: str) -> AskAIRecord:
        parsed = self.parser.parse(request.text)
        approved, reason, automation = self.verdict(request, parsed)
        return AskAIRecord(
            record_id=make_record_id("ask_ai", self.view.key, cycle, number, request.text),
            cycle=cycle,
            home_key=self.view.key,
            inputs=AskAIInputs(
                request=request.text,
                intent_family=request.family,
                phrasing_style=request.style,
                perturbations=request.perturbations,
            ),
            outputs=AskAIOutputs(
                outcome=parsed.outcome,
                response=parsed.response,
                parsed=parsed.spec.model_dump(mode="json") if parsed.spec else {"family": parsed.family},
                automation_yaml=render_yaml([automation]) if automation is not None else None,
            ),
            label=AskAILabel(
                expected_outcome=request.expected,
                intended_automation=request.intended.model_dump(mode="json") if request.intended else None,
                pattern_id=request.pattern_id,
                approved=approved,
                rejection_reason=reason,
            ),
            scores={
                "approved": float(approved),
                "outcome_correct": float(parsed.outcome == request.expected),
            },
            model_version=model_version,
        )


def ask_ai_stage(view: HomeView, models: ModelProvider, cycle: int) -> list[AnyRecord]:
    """The cycle's Ask-AI stage: generated requests for the home, parsed and judged, one record each."""
    model = models.get("soft_prompt")
    ask = AskAI(view, model)
    requests = RequestGenerator(view.home, zlib.crc32(f"ask_ai:{view.key}:{cycle}".encode())).generate(
        view.truth.patterns if view.truth is not None else ()
    )
    if ask.parser.reader is not None:  # one batched pass; the reader answers the parser's calls from it
        vocabulary = ask.parser.index.vocabulary
        ask.parser.reader.predict(
            pl.DataFrame({"request": [normalize(r.text, vocabulary) for r in requests]})
        )
    version = model.version if model is not None else BASELINE_VERSION
    return [ask.record(request, cycle, number, version) for number, request in enumerate(requests)]
