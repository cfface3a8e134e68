"""Behaviours: the causal rules that drive a home's events, each with an id that becomes ground truth.

The planner looks at the home's devices (by catalog tag) and its occupants and decides which routines,
synergies, environment reactions and presence reactions this household has, and which near-miss decoys
it shows (a scene switching one room's devices together, manual co-use habits: `generation/decoys.py`),
and which pairs of the decoys' kinds it has automated instead (`generation/habits.py`). It only decides;
the EventGenerator turns each behaviour, co-use and manual use into events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from homesim.generation.decoys import (
    TOGGLES,
    CoUse,
    is_look_alike,
    plan_co_uses,
    plan_walk_in,
    ranked_pairs,
    sessions_per_day,
)
from homesim.generation.habits import ManualUse
from homesim.schema.home import Entity, Home
from homesim.schema.patterns import (
    CheapestHourTriggerSpec,
    DecoySpec,
    NumericTriggerSpec,
    PatternType,
    PresenceTriggerSpec,
    StateTriggerSpec,
    TimeTriggerSpec,
    TriggerSpec,
)

#: Catalog tags of the sensors a manual co-use may start with (someone walks in, opens the door, sits down).
_CO_USE_SENSORS = ("motion", "door", "occupancy", "bed", "seat")
#: Share of households with walk-in decoys (`decoys.plan_walk_in`), and walk-ins per household at most.
_WALK_IN_HOMES = 0.8
_WALK_INS = 2
#: Share of habit synergies with an "only after dark" condition (`habits.py`).
_DARK_HABITS = 0.4


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Action(_Spec):
    entity_id: str
    state: str
    #: Attributes JSON set with the state (e.g. a light's brightness).
    attributes: str | None = None
    #: Stagger of this action after the trigger, seconds (scenes fire several actions in a row).
    stagger_s: float = Field(default=0.0, ge=0)


class Revert(_Spec):
    """The action's entity goes back to `state` after a duration (lognormal, minutes)."""

    state: str
    median_min: float = Field(gt=0)
    sigma: float = Field(default=0.3, ge=0)
    #: For synergies on a motion trigger: revert `median_min` after the trigger clears instead.
    after_trigger_clears: bool = False


class Delay(_Spec):
    """Lognormal delay between trigger and action: median seconds and log-sigma."""

    median_s: float = Field(gt=0)
    sigma: float = Field(default=0.35, ge=0)


class Conditions(_Spec):
    dark: bool = False
    someone_home: bool = False
    nobody_home: bool = False


class Behavior(_Spec):
    id: str
    type: PatternType
    description: str
    trigger: TriggerSpec
    actions: tuple[Action, ...] = Field(min_length=1)
    conditions: Conditions = Conditions()
    delay: Delay | None = None
    revert: Revert | None = None
    probability: float = Field(ge=0, le=1)


class BehaviorPlan(_Spec):
    behaviors: tuple[Behavior, ...]
    decoys: tuple[DecoySpec, ...] = ()
    co_uses: tuple[CoUse, ...] = ()
    #: The manual switching of the habit synergies' triggers (`habits.py`).
    manual_uses: tuple[ManualUse, ...] = ()


def linked_pairs(behaviors: Iterable[Behavior]) -> set[frozenset[str]]:
    """The entity pairs some behaviour links causally (a state trigger and one of its actions), either way."""
    return {
        frozenset((b.trigger.entity_id, a.entity_id))
        for b in behaviors
        if isinstance(b.trigger, StateTriggerSpec)
        for a in b.actions
    }


def entities_with_tag(home: Home, tag: str, tags: dict[str, frozenset[str]]) -> list[Entity]:
    """Main entities of the home's devices whose catalog type carries `tag`."""
    devices = {d.id: d for d in home.devices}
    return [
        e
        for e in home.entities
        if e.role == "main" and e.device_id is not None and tag in tags[devices[e.device_id].device_type]
    ]


def plan_behaviors(home: Home, tags: dict[str, frozenset[str]], rng: np.random.Generator) -> BehaviorPlan:
    """Decide this household's behaviours from its devices' tags, areas and occupants."""
    planner = _Planner(home, tags, rng)
    return planner.plan()


class _Planner:
    def __init__(self, home: Home, tags: dict[str, frozenset[str]], rng: np.random.Generator) -> None:
        self.home = home
        self.tags = tags
        self.rng = rng
        self.behaviors: list[Behavior] = []
        self.decoys: list[DecoySpec] = []
        self.co_uses: list[CoUse] = []
        self.manual_uses: list[ManualUse] = []
        self.area_of = {e.entity_id: home.entity_area(e) for e in home.entities}
        self.room_type = {a.area_id: a.room_type for a in home.areas}

    def _add(
        self, type_: PatternType, description: str, trigger: TriggerSpec, actions: list[Action], **kw: object
    ) -> str:
        bid = f"b{len(self.behaviors):03d}-{type_}"
        self.behaviors.append(
            Behavior(
                id=bid, type=type_, description=description, trigger=trigger, actions=tuple(actions), **kw
            )
        )
        return bid

    def _in_room(self, entities: list[Entity], *room_types: str) -> list[Entity]:
        return [e for e in entities if self.room_type.get(self.area_of[e.entity_id] or "", "") in room_types]

    def _p(self, lo: float, hi: float) -> float:
        return round(float(self.rng.uniform(lo, hi)), 3)

    def plan(self) -> BehaviorPlan:
        occupants = self.home.metadata.occupants
        lights = entities_with_tag(self.home, "light", self.tags)
        self._motion_lights(lights)
        self._entry_lights(lights)
        if occupants:
            self._wake_routines(occupants[0].person_id, lights)
            self._evening_routines(occupants[0].person_id, lights)
            self._goodnight_scene(occupants[0].person_id, lights)
        self._security()
        self._environment(lights)
        self._deferrable()
        self._cleaning()
        # Added last, so the behaviours above keep their ids and draws.
        self._media_lighting(lights)
        self._evening_scene()
        self._co_use()
        self._habits()
        return BehaviorPlan(
            behaviors=tuple(self.behaviors),
            decoys=tuple(self.decoys),
            co_uses=tuple(self.co_uses),
            manual_uses=tuple(self.manual_uses),
        )

    def _motion_lights(self, lights: list[Entity]) -> None:
        """Motion → light in the same area, only when dark, off a few minutes after motion clears."""
        for motion in entities_with_tag(self.home, "motion", self.tags):
            area = self.area_of[motion.entity_id]
            same = [lt for lt in lights if self.area_of[lt.entity_id] == area]
            if not same or self.rng.random() > 0.85:
                continue
            light = same[0]
            self._add(
                "synergy",
                f"Motion in {area} turns on {light.entity_id} when it is dark",
                StateTriggerSpec(entity_id=motion.entity_id, to="on"),
                [Action(entity_id=light.entity_id, state="on", attributes='{"brightness": 204}')],
                conditions=Conditions(dark=True),
                delay=Delay(median_s=round(float(self.rng.uniform(0.8, 2.5)), 2), sigma=0.3),
                revert=Revert(
                    state="off",
                    median_min=round(float(self.rng.uniform(2, 6)), 1),
                    sigma=0.15,
                    after_trigger_clears=True,
                ),
                probability=self._p(0.85, 0.98),
            )

    def _entry_lights(self, lights: list[Entity]) -> None:
        """Front door opens → entrance/hallway light, after dark."""
        doors = self._in_room(entities_with_tag(self.home, "door", self.tags), "entrance")
        targets = self._in_room(lights, "entrance", "hallway")
        if doors and targets:
            self._add(
                "synergy",
                "Opening the front door after dark turns on the entrance light",
                StateTriggerSpec(entity_id=doors[0].entity_id, to="on"),
                [Action(entity_id=targets[0].entity_id, state="on")],
                conditions=Conditions(dark=True),
                delay=Delay(median_s=round(float(self.rng.uniform(1.0, 3.0)), 2), sigma=0.3),
                revert=Revert(state="off", median_min=round(float(self.rng.uniform(4, 10)), 1)),
                probability=self._p(0.85, 0.97),
            )
        cameras = entities_with_tag(self.home, "camera", self.tags)
        for cam in cameras:
            person = next(
                (
                    e
                    for e in self.home.entities
                    if e.device_id == cam.device_id and e.role == "person_detected"
                ),
                None,
            )
            if person is not None:
                self._add(
                    "synergy",
                    f"A person in view makes {cam.entity_id} record",
                    StateTriggerSpec(entity_id=person.entity_id, to="on"),
                    [Action(entity_id=cam.entity_id, state="recording")],
                    delay=Delay(median_s=0.6, sigma=0.2),
                    revert=Revert(state="idle", median_min=1.5, sigma=0.2),
                    probability=0.97,
                )

    def _wake_routines(self, who: str, lights: list[Entity]) -> None:
        bedroom_lights = self._in_room(lights, "bedroom")
        first_action = None
        if bedroom_lights:
            first_action = self._add(
                "time_of_day",
                f"{bedroom_lights[-1].entity_id} turns on when {who} wakes up",
                TimeTriggerSpec(anchor="wake", occupant=who, offset_min=1.0, jitter_min=2.0),
                [
                    Action(
                        entity_id=bedroom_lights[-1].entity_id, state="on", attributes='{"brightness": 102}'
                    )
                ],
                revert=Revert(state="off", median_min=25, sigma=0.3),
                probability=self._p(0.8, 0.95),
            )
        coffee = entities_with_tag(self.home, "morning_appliance", self.tags)
        if coffee:
            second = self._add(
                "time_of_day",
                f"{coffee[0].entity_id} starts on weekday mornings after {who} wakes",
                TimeTriggerSpec(
                    anchor="wake", occupant=who, offset_min=12.0, jitter_min=3.0, weekdays=(0, 1, 2, 3, 4)
                ),
                [Action(entity_id=coffee[0].entity_id, state="on")],
                revert=Revert(state="off", median_min=12, sigma=0.2),
                probability=self._p(0.8, 0.95),
            )
            if first_action is not None and bedroom_lights:
                self.decoys.append(
                    DecoySpec(
                        entity_a=bedroom_lights[-1].entity_id,
                        entity_b=coffee[0].entity_id,
                        behaviors=(first_action, second),
                        shared_cause=f"wake:{who}",
                    )
                )
        fans = entities_with_tag(self.home, "exhaust_fan", self.tags)
        if fans:
            self._add(
                "time_of_day",
                f"{fans[0].entity_id} runs after {who}'s morning shower",
                TimeTriggerSpec(anchor="wake", occupant=who, offset_min=20.0, jitter_min=4.0),
                [Action(entity_id=fans[0].entity_id, state="on")],
                revert=Revert(state="off", median_min=20, sigma=0.2),
                probability=self._p(0.6, 0.85),
            )
        blinds = self._in_room(entities_with_tag(self.home, "cover", self.tags), "bedroom", "living_room")
        if blinds:
            self._add(
                "time_of_day",
                "Blinds open at 07:30 on weekdays",
                TimeTriggerSpec(anchor="clock", hour=7.5, jitter_min=3.0, weekdays=(0, 1, 2, 3, 4)),
                [
                    Action(entity_id=b.entity_id, state="open", stagger_s=2.0 * i)
                    for i, b in enumerate(blinds)
                ],
                probability=self._p(0.85, 0.97),
            )

    def _evening_routines(self, who: str, lights: list[Entity]) -> None:
        living = self._in_room(lights, "living_room")
        if len(living) > 1:
            self._add(
                "time_of_day",
                f"{living[1].entity_id} turns on around 19:00 when someone is home",
                TimeTriggerSpec(
                    anchor="clock", hour=float(np.round(self.rng.uniform(18.5, 19.5), 2)), jitter_min=8.0
                ),
                [Action(entity_id=living[1].entity_id, state="on", attributes='{"brightness": 153}')],
                conditions=Conditions(someone_home=True),
                revert=Revert(state="off", median_min=180, sigma=0.2),
                probability=self._p(0.75, 0.92),
            )
        tvs = self._in_room(entities_with_tag(self.home, "tv", self.tags), "living_room")
        if tvs:
            self._add(
                "time_of_day",
                f"{tvs[0].entity_id} plays in the evening",
                TimeTriggerSpec(
                    anchor="clock", hour=float(np.round(self.rng.uniform(19.5, 21.0), 2)), jitter_min=15.0
                ),
                [Action(entity_id=tvs[0].entity_id, state="playing")],
                conditions=Conditions(someone_home=True),
                revert=Revert(state="off", median_min=110, sigma=0.3),
                probability=self._p(0.5, 0.8),
            )

    def _goodnight_scene(self, who: str, lights: list[Entity]) -> None:
        """At bedtime: downstairs lights off, door locked, alarm armed for the night, in a few seconds."""
        actions = [
            Action(entity_id=lt.entity_id, state="off", stagger_s=float(i))
            for i, lt in enumerate(
                self._in_room(lights, "living_room", "kitchen", "dining_room", "hallway")[:4]
            )
        ]
        locks = entities_with_tag(self.home, "lock", self.tags)
        if locks:
            actions.append(Action(entity_id=locks[0].entity_id, state="locked", stagger_s=len(actions) + 1.0))
        alarms = entities_with_tag(self.home, "alarm", self.tags)
        if alarms:
            actions.append(
                Action(entity_id=alarms[0].entity_id, state="armed_night", stagger_s=len(actions) + 2.0)
            )
        if len(actions) >= 2:
            self._add(
                "scene",
                f"Goodnight scene when {who} goes to bed",
                TimeTriggerSpec(anchor="sleep", occupant=who, offset_min=-2.0, jitter_min=2.0),
                actions,
                probability=self._p(0.8, 0.95),
            )
            if alarms:
                self._add(
                    "time_of_day",
                    f"{alarms[0].entity_id} is disarmed when {who} wakes",
                    TimeTriggerSpec(anchor="wake", occupant=who, offset_min=3.0, jitter_min=1.5),
                    [Action(entity_id=alarms[0].entity_id, state="disarmed")],
                    probability=0.97,
                )

    def _security(self) -> None:
        alarms = entities_with_tag(self.home, "alarm", self.tags)
        locks = entities_with_tag(self.home, "lock", self.tags)
        if alarms:
            self._add(
                "presence",
                "The alarm arms when the last person leaves",
                PresenceTriggerSpec(event="last_departure"),
                [Action(entity_id=alarms[0].entity_id, state="armed_away")],
                delay=Delay(median_s=90, sigma=0.2),
                probability=self._p(0.85, 0.97),
            )
            self._add(
                "presence",
                "The alarm disarms when the first person arrives",
                PresenceTriggerSpec(event="first_arrival"),
                [Action(entity_id=alarms[0].entity_id, state="disarmed")],
                delay=Delay(median_s=20, sigma=0.3),
                probability=0.98,
            )
            if locks:
                self._add(
                    "synergy",
                    "Arming the alarm away locks the front door",
                    StateTriggerSpec(entity_id=alarms[0].entity_id, to="armed_away"),
                    [Action(entity_id=locks[0].entity_id, state="locked")],
                    delay=Delay(median_s=5, sigma=0.25),
                    probability=self._p(0.9, 0.99),
                )
        if locks:
            self._add(
                "presence",
                "The front door unlocks when someone arrives",
                PresenceTriggerSpec(event="first_arrival"),
                [Action(entity_id=locks[0].entity_id, state="unlocked")],
                delay=Delay(median_s=8, sigma=0.3),
                probability=self._p(0.85, 0.97),
            )

    def _environment(self, lights: list[Entity]) -> None:
        outdoor = entities_with_tag(self.home, "outdoor_light", self.tags)
        if outdoor:
            self._add(
                "environment",
                "Outdoor lights turn on at sunset and off at 23:30",
                TimeTriggerSpec(
                    anchor="sunset", offset_min=float(self.rng.choice([-15, 0, 10])), jitter_min=1.0
                ),
                [
                    Action(entity_id=o.entity_id, state="on", stagger_s=float(i))
                    for i, o in enumerate(outdoor)
                ],
                revert=Revert(state="off", median_min=240, sigma=0.05),
                probability=self._p(0.9, 0.99),
            )
        blinds = self._in_room(
            entities_with_tag(self.home, "cover", self.tags),
            "bedroom",
            "living_room",
            "dining_room",
            "kids_room",
        )
        if blinds:
            self._add(
                "environment",
                "Blinds close at sunset",
                TimeTriggerSpec(anchor="sunset", offset_min=20.0, jitter_min=4.0),
                [
                    Action(entity_id=b.entity_id, state="closed", stagger_s=2.0 * i)
                    for i, b in enumerate(blinds)
                ],
                probability=self._p(0.8, 0.95),
            )
        for ac in entities_with_tag(self.home, "cooling", self.tags):
            self._add(
                "environment",
                f"{ac.entity_id} cools when it is hot outside and someone is home",
                NumericTriggerSpec(
                    variable="outdoor_temperature",
                    above=round(float(self.rng.uniform(24, 27)), 1),
                    window=(9.0, 23.0),
                ),
                [Action(entity_id=ac.entity_id, state="cool")],
                conditions=Conditions(someone_home=True),
                revert=Revert(state="off", median_min=150, sigma=0.3),
                probability=self._p(0.7, 0.9),
            )
        for fan in entities_with_tag(self.home, "fan", self.tags):
            self._add(
                "environment",
                f"{fan.entity_id} runs on warm afternoons",
                NumericTriggerSpec(
                    variable="outdoor_temperature",
                    above=round(float(self.rng.uniform(22, 25)), 1),
                    window=(11.0, 22.0),
                ),
                [Action(entity_id=fan.entity_id, state="on")],
                conditions=Conditions(someone_home=True),
                revert=Revert(state="off", median_min=60, sigma=0.3),
                probability=self._p(0.5, 0.8),
            )
        for heater in entities_with_tag(self.home, "heating", self.tags):
            self._add(
                "environment",
                f"{heater.entity_id} heats on cold mornings",
                NumericTriggerSpec(
                    variable="outdoor_temperature",
                    below=round(float(self.rng.uniform(10, 15)), 1),
                    window=(5.5, 8.0),
                ),
                [Action(entity_id=heater.entity_id, state="heat")],
                revert=Revert(state="off", median_min=120, sigma=0.3),
                probability=self._p(0.8, 0.95),
            )
        for dry in entities_with_tag(self.home, "dehumidifier", self.tags):
            self._add(
                "environment",
                f"{dry.entity_id} runs when outdoor humidity is high",
                NumericTriggerSpec(
                    variable="humidity", above=round(float(self.rng.uniform(80, 90)), 0), window=(8.0, 22.0)
                ),
                [Action(entity_id=dry.entity_id, state="on")],
                revert=Revert(state="off", median_min=90, sigma=0.3),
                probability=self._p(0.6, 0.9),
            )
        for valve in entities_with_tag(self.home, "irrigation", self.tags):
            self._add(
                "environment",
                f"{valve.entity_id} waters early on warm days",
                NumericTriggerSpec(
                    variable="outdoor_temperature",
                    above=round(float(self.rng.uniform(14, 20)), 1),
                    window=(5.0, 7.0),
                ),
                [Action(entity_id=valve.entity_id, state="on")],
                revert=Revert(state="off", median_min=15, sigma=0.1),
                probability=self._p(0.7, 0.95),
            )

    def _deferrable(self) -> None:
        """Deferrable loads start in the cleanest or cheapest hour of their window."""
        windows = {
            "dishwasher": (20.0, 30.0),
            "washing_machine": (9.0, 20.0),
            "ev": (18.0, 31.0),
            "water_heater": (0.0, 7.0),
        }
        devices = {d.id: d for d in self.home.devices}
        for entity in entities_with_tag(self.home, "deferrable", self.tags):
            device_type = devices[entity.device_id or ""].device_type
            key = "ev" if device_type == "ev_charger" else device_type
            window = windows.get(key, (10.0, 16.0))
            variable: Literal["carbon_intensity", "price"] = (
                "carbon_intensity" if self.rng.random() < 0.5 else "price"
            )
            days = (0, 2, 4, 5) if key == "washing_machine" else (0, 1, 2, 3, 4, 5, 6)
            on_state = "performance" if entity.domain == "water_heater" else "on"
            off_state = "eco" if entity.domain == "water_heater" else "off"
            self._add(
                "environment",
                f"{entity.entity_id} starts in the lowest-{variable.replace('_', ' ')} hour",
                CheapestHourTriggerSpec(
                    variable=variable,
                    window=window,
                    weekdays=days,
                    preference=round(float(self.rng.uniform(3, 6)), 2),
                ),
                [Action(entity_id=entity.entity_id, state=on_state)],
                revert=Revert(
                    state=off_state, median_min={"ev": 180.0, "water_heater": 90.0}.get(key, 110.0), sigma=0.2
                ),
                probability=self._p(0.6, 0.9),
            )

    def _cleaning(self) -> None:
        for vac in entities_with_tag(self.home, "vacuum", self.tags):
            self._add(
                "presence",
                f"{vac.entity_id} cleans when nobody is home",
                TimeTriggerSpec(anchor="clock", hour=10.0, jitter_min=20.0, weekdays=(0, 1, 2, 3, 4)),
                [Action(entity_id=vac.entity_id, state="cleaning")],
                conditions=Conditions(nobody_home=True),
                revert=Revert(state="docked", median_min=70, sigma=0.2),
                probability=self._p(0.7, 0.95),
            )

    def _busy(self, types: tuple[PatternType, ...]) -> set[str]:
        """Entities a behaviour of `types` switches to anything but off: decoys leave their patterns alone."""
        return {
            a.entity_id
            for b in self.behaviors
            if b.type in types
            for a in b.actions
            if a.state not in ("off", "closed")
        }

    def _pair_decoys(self, entities: list[str], cause_id: str, shared_cause: str) -> None:
        """Every pair of `entities` is a decoy of one cause (`cause_id` fires them all)."""
        for i, a in enumerate(entities):
            for b in entities[i + 1 :]:
                self.decoys.append(
                    DecoySpec(
                        entity_a=a, entity_b=b, behaviors=(cause_id, cause_id), shared_cause=shared_cause
                    )
                )

    def _media_lighting(self, lights: list[Entity]) -> None:
        """Some households link a TV or speaker to a light of its room, after dark, on the evenings no one
        overrides it (probability < 1): it dims the room (turns off a light a routine had turned on) or
        turns on an ambient light. The ambient kind has the shape of the evening scene's player → light
        decoy."""
        lit = self._busy(("time_of_day",))
        players = [e for e in self.home.entities if e.domain == "media_player" and e.role == "main"]
        for tv in sorted(players, key=lambda e: e.entity_id):
            area = self.area_of[tv.entity_id]
            same = [lt for lt in lights if self.area_of[lt.entity_id] == area]
            if not same or self.rng.random() > 0.7:
                continue
            dim = [lt for lt in same if lt.entity_id in lit]
            if dim and self.rng.random() < 0.5:
                light, state, revert = dim[0], "off", None
            else:
                light, state = same[int(self.rng.integers(len(same)))], "on"
                revert = Revert(state="off", median_min=round(float(self.rng.uniform(60, 120)), 1), sigma=0.3)
            self._add(
                "synergy",
                f"{tv.entity_id} playing turns {light.entity_id} {state} after dark",
                StateTriggerSpec(entity_id=tv.entity_id, to="playing"),
                [Action(entity_id=light.entity_id, state=state)],
                conditions=Conditions(dark=True),
                delay=Delay(median_s=round(float(self.rng.uniform(1.0, 3.0)), 2), sigma=0.3),
                revert=revert,
                probability=self._p(0.4, 0.8),
            )

    def _evening_scene(self) -> None:
        """Some households' evening scene: a room's music or TV, then one or two of its lights, switched on
        a second or two apart on the evenings someone is home. Each player → light pair looks like a synergy
        (the light follows every time, seconds later) but its shared cause is the scene: a decoy."""
        if self.rng.random() > 0.8:
            return
        busy = self._busy(("time_of_day", "synergy", "environment", "presence", "scene"))
        by_area: dict[str, list[Entity]] = {}
        for e in sorted(self.home.entities, key=lambda e: e.entity_id):
            area = self.area_of[e.entity_id]
            on_off = e.domain in ("light", "media_player", "switch", "fan")
            if e.role == "main" and on_off and area and e.entity_id not in busy:
                by_area.setdefault(area, []).append(e)

        def players_first(members: list[Entity]) -> list[Entity]:
            return sorted(members, key=lambda e: (e.domain != "media_player", e.domain != "light"))

        with_player = [
            a for a, m in sorted(by_area.items()) if {"media_player", "light"} <= {e.domain for e in m}
        ]
        areas = with_player or sorted(a for a, m in by_area.items() if len(m) >= 2)
        if not areas:
            return
        living = [a for a in areas if self.room_type.get(a) == "living_room"]
        area = living[0] if living else areas[int(self.rng.integers(len(areas)))]
        members = players_first(by_area[area])[:3]
        gaps = self.rng.uniform(1.0, 3.0, len(members) - 1)  # each device a second or so after the last
        bid = self._add(
            "scene",
            f"Evening scene in {area}",
            TimeTriggerSpec(
                anchor="clock", hour=float(np.round(self.rng.uniform(18.0, 21.0), 2)), jitter_min=10.0
            ),
            [
                Action(entity_id=e.entity_id, state=TOGGLES[e.domain][0], stagger_s=stagger)
                for e, stagger in zip(members, np.cumsum(np.r_[0.0, gaps]).round(1).tolist(), strict=False)
            ],
            conditions=Conditions(someone_home=True),
            revert=Revert(state="off", median_min=round(float(self.rng.uniform(60, 150)), 1), sigma=0.3),
            probability=self._p(0.6, 0.9),
        )
        self._pair_decoys([e.entity_id for e in members], bid, bid)

    def _state_triggers(self) -> set[str]:
        """The entities whose state changes trigger a planned behaviour."""
        return {b.trigger.entity_id for b in self.behaviors if isinstance(b.trigger, StateTriggerSpec)}

    def _co_use(self) -> None:
        """Manual co-use habits (`decoys.plan_co_uses`) over devices no synergy or scene drives: a routine's
        device (the evening TV) may be switched by hand besides. A motion, door, presence, bed or seat
        sensor may be the first of the two unless it triggers a behaviour (its co-use events would not
        trigger it)."""
        triggers = self._state_triggers()
        sensors = {
            e.entity_id for tag in _CO_USE_SENSORS for e in entities_with_tag(self.home, tag, self.tags)
        }
        candidates = [
            e
            for e in self.home.entities
            if e.role == "main"
            and (e.domain != "binary_sensor" or (e.entity_id in sensors and e.entity_id not in triggers))
        ]
        linked = linked_pairs(self.behaviors)
        busy = self._busy(("synergy", "scene"))
        for use in plan_co_uses(candidates, lambda e: self.area_of[e.entity_id], busy, linked, self.rng):
            self.co_uses.append(use)
            self._pair_decoys([use.entity_a, use.entity_b], use.id, f"manual:{use.area_id}")
        self._walk_in(busy)

    def _walk_in(self, busy: set[str]) -> None:
        """In `_WALK_IN_HOMES` of households, up to `_WALK_INS` lights, each in its own area, that someone
        switches by hand on walking in, seconds after some of a motion sensor's detections
        (`decoys.plan_walk_in`), on lights no synergy, scene or co-use drives and no behaviour links to
        that sensor."""
        if self.rng.random() > _WALK_IN_HOMES:
            return
        motion = [e for e in entities_with_tag(self.home, "motion", self.tags) if e.domain == "binary_sensor"]
        linked = linked_pairs(self.behaviors)
        walked: set[str] = set()
        for _ in range(_WALK_INS):
            used = {e for u in self.co_uses for e in (u.entity_a, u.entity_b)}
            lights = [
                e
                for e in self.home.entities
                if e.role == "main"
                and e.domain == "light"
                and e.entity_id not in busy | used
                and self.area_of[e.entity_id] not in walked
            ]
            use = plan_walk_in(
                motion, lights, lambda e: self.area_of[e.entity_id], linked, len(self.co_uses), self.rng
            )
            if use is None:
                return
            walked.add(use.area_id)
            self.co_uses.append(use)
            self._pair_decoys([use.entity_a, use.entity_b], use.id, f"manual:{use.area_id}")

    def _habits(self) -> None:
        """In 90 % of households, up to two look-alike pairs of the co-uses' kinds (`decoys.LOOK_ALIKE`, never
        two appliances), each in another room, are automated (`habits.py`): the first device, switched by
        hand, switches the second on some of the times (probability < 1; for 40 % of them only after dark),
        seconds later as a co-use's second device, or for 30 % of the pairs a median 5.5–8 minutes later,
        past the synergy stage's 5 minutes; sometimes the occupant switches the second by hand first.
        Devices of a co-use, scene or synergy are left alone, so each pair is one thing, and so are the
        triggers of other behaviours: those ran before the habit, so a state the habit sets would hide
        their trigger's change."""
        if self.rng.random() > 0.9:
            return
        used = {e for u in self.co_uses for e in (u.entity_a, u.entity_b)}
        triggers = self._state_triggers()
        busy = self._busy(("synergy", "scene")) | used | triggers
        candidates = [e for e in self.home.entities if e.role == "main" and e.domain in TOGGLES]
        pairs = ranked_pairs(
            candidates, lambda e: self.area_of[e.entity_id], busy, linked_pairs(self.behaviors), self.rng
        )
        for _, options in [(a, p) for a, p in pairs if is_look_alike(p[0])][:2]:
            trigger, action = options[int(self.rng.integers(len(options)))]
            if self.rng.random() < 0.5:
                trigger, action = action, trigger
            on, (to, back) = TOGGLES[trigger.domain][0], TOGGLES[action.domain]
            delayed = self.rng.random() < 0.3
            delay = (
                Delay(median_s=round(float(self.rng.uniform(330, 480)), 1), sigma=0.15)
                if delayed
                else Delay(
                    median_s=round(float(self.rng.uniform(2, 12)), 2),
                    sigma=round(float(self.rng.uniform(0.2, 0.6)), 2),
                )
            )
            dark = self.rng.random() < _DARK_HABITS
            bid = self._add(
                "synergy",
                f"{trigger.entity_id} {on} turns {action.entity_id} {to}"
                + (" a few minutes later" if delayed else ""),
                StateTriggerSpec(entity_id=trigger.entity_id, to=on),
                [Action(entity_id=action.entity_id, state=to)],
                conditions=Conditions(dark=dark),
                delay=delay,
                revert=Revert(state=back, median_min=round(float(self.rng.uniform(20, 90)), 1), sigma=0.5),
                probability=self._p(0.3, 0.85),
            )
            self.manual_uses.append(
                ManualUse(
                    id=f"u{len(self.manual_uses):03d}-manual_use",
                    entity_id=trigger.entity_id,
                    behavior_id=bid,
                    per_day=sessions_per_day(self.rng),
                    hold_median_min=round(float(self.rng.uniform(20, 90)), 1),
                    action_entity=action.entity_id,
                    override=round(float(self.rng.uniform(0.05, 0.3)), 3),
                )
            )
