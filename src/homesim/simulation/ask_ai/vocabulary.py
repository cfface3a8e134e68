"""AskAI's words: the intent families and request styles, the words people use for devices, areas,
states and triggers, and `HomeIndex`, a home's devices and areas as a request names them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from homesim.schema.home import Entity, Home

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
TRIGGER_WORDS = {
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
            *TRIGGER_WORDS.values(),
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

# ------------------------------------------------------------------------------------- home index


@dataclass(frozen=True)
class IndexedDevice:
    entity: Entity
    area_id: str | None
    #: The entity's own words without its area: "ceiling light", "floor lamp 2".
    words: str


@dataclass(frozen=True)
class HomeIndex:
    """The home's areas and actuators as people name them."""

    home: Home
    devices: tuple[IndexedDevice, ...]
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
            devices.append(IndexedDevice(entity, area, words.replace("_", " ")))
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

    def in_area(self, domain: str, area: str | None) -> list[IndexedDevice]:
        return [d for d in self._by_domain.get(domain, ()) if area is None or d.area_id == area]

    @cached_property
    def _by_domain(self) -> dict[str, list[IndexedDevice]]:
        """The devices per domain, in index order (requests and the parser ask for them hundreds of times)."""
        grouped: dict[str, list[IndexedDevice]] = {}
        for device in self.devices:
            grouped.setdefault(device.entity.domain, []).append(device)
        return grouped

    def motion_sensor(self, area: str | None) -> IndexedDevice | None:
        found = [d for d in self.in_area("binary_sensor", area) if d.entity.device_class == "motion"]
        return found[0] if len(found) == 1 else None
