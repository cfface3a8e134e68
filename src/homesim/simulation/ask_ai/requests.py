"""Writing requests: `RequestGenerator` makes realistic requests from a home's ground truth and devices in
the intent families and template styles, with device synonyms, area aliases and typos, ambiguous and
impossible requests, and a share reworded as everyday paraphrases; each carries the automation it means.

Held-out homes (`homesim.splits.is_validation_home`) word their paraphrases with templates and trigger
phrasings of their own (`_NOVEL_PARAPHRASES`, `_NOVEL_TRIGGERS`) that no training home ever uses, so a
model is judged on wording it never saw — generalisation, not recall of the training phrasings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from homesim.schema.ground_truth import Pattern
from homesim.schema.home import Home
from homesim.schema.patterns import TimeTriggerSpec
from homesim.schema.records import AskOutcome
from homesim.schema.vocabulary import service_for_state
from homesim.simulation.ask_ai.parser import RequestParser
from homesim.simulation.ask_ai.vocabulary import (
    AREA_ALIASES,
    DEVICE_WORDS,
    INTENT_FAMILIES,
    PARAPHRASE_SHARE,
    STATE_WORDS,
    STYLES,
    UNKNOWN_DEVICES,
    Family,
    HomeIndex,
    IndexedDevice,
    Style,
)
from homesim.simulation.automation_builder import AutomationSpec, SpecAction, SpecTrigger


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
#: Paraphrase templates of held-out homes only: never in a training home's requests.
_NOVEL_PARAPHRASES: tuple[str, ...] = (
    "Would be handy if you'd {action} {trigger}",
    "{Trigger}? Then {action}, please",
    "Going forward, {trigger} {action}",
    "mind setting things up so that {trigger} you {action}",
    "{Trigger} — that's when to {action}",
)
#: Trigger phrasings of held-out homes only (same slots, meaning and counts as `_PARA_TRIGGERS`: equal
#: counts keep the paraphrase stream's draws, hence which requests are paraphrased, as in a training home).
_NOVEL_TRIGGERS: dict[str, tuple[str, ...]] = {
    "motion": (
        "each time a person is detected in the {area}",
        "whenever the {area} gets a visitor",
        "the instant anyone shows up in the {area}",
        "when there's somebody about in the {area}",
    ),
    "dark": ("after the light's gone", "when it's pitch black", "once the evening is over"),
    "sunset": ("the light fades", "day turns to night", "the sky goes dim"),
    "sunrise": ("first light hits", "it starts getting light", "the night is over"),
    "sun_now": ("right when", "just as", "precisely when"),
    "arrive": (
        "the second I'm back",
        "when someone turns up at home",
        "as soon as the family returns",
        "once we're in from outside",
    ),
    "leave": (
        "when the place is deserted",
        "after the house clears out",
        "once all of us are gone",
        "when there's no one in",
    ),
    "above": (
        "should it top {bound} outdoors",
        "when the outside temperature passes {bound}",
        "if the outdoors reads more than {bound}",
    ),
    "goodnight": ("when we call it a night at {at}", "at {at} as we hit the sack", "come {at}, lights out"),
    "goodnight_action": ("shut every light off in the {areas}", "darken the {areas}"),
    "auto_off": (
        "after it's stayed on {minutes} minutes",
        "if nobody's turned it off in {minutes} minutes",
        "{minutes} minutes after it went on",
    ),
    "time": ("daily at {at}", "each day at {at} sharp"),
    "morning": ("at {at}, when I'm heading out for the day",),
    "evening": ("at {at}, around when I get in",),
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
    `seed`), so adding them left every other request's draws, and hence its text, as it was. `held_out`
    homes draw their paraphrase wording from the held-out-only phrasings (same number of draws)."""

    def __init__(self, home: Home, seed: int, *, held_out: bool = False) -> None:
        self.index = HomeIndex.of(home)
        self.rng = np.random.default_rng(seed)
        self.para_rng = np.random.default_rng([seed, 1])
        self.templates = _NOVEL_PARAPHRASES if held_out else _PARAPHRASES
        self.triggers = {**_PARA_TRIGGERS, **_NOVEL_TRIGGERS} if held_out else _PARA_TRIGGERS

    def _pick(self, options: tuple[str, ...] | list[str], rng: np.random.Generator | None = None) -> str:
        return options[int((rng or self.rng).integers(len(options)))]

    def _naming(self, device: IndexedDevice) -> tuple[str, str, list[str]]:
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

    def named(self, device: IndexedDevice) -> _Named:
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
            template = self._pick(self.templates, self.para_rng)
        else:
            template = self._pick(_PHRASES[style])
        text = template.format(action=action, trigger=trigger, Trigger=trigger[:1].upper() + trigger[1:])
        return text[:1].upper() + text[1:]

    def _para(self, key: str, **slots: object) -> str:
        return self._pick(self.triggers[key], self.para_rng).format(**slots)

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

    def _device(self, domain: str, state: str) -> IndexedDevice | None:
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
