"""The HA automation (2024.10+ syntax) that reproduces a behaviour in its home: the `automation` of every
ground-truth pattern."""

from __future__ import annotations

import json
from collections.abc import Sequence

from pydantic import JsonValue

from homesim.generation.behaviors import (
    Behavior,
)
from homesim.ha.automation_validation import DEFAULT_DATA
from homesim.schema.ground_truth import HaAutomation, TimeWindow
from homesim.schema.home import Entity, Home
from homesim.schema.patterns import (
    CheapestHourTriggerSpec,
    NumericTriggerSpec,
    PresenceTriggerSpec,
    StateTriggerSpec,
    TimeTriggerSpec,
)

_WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: Service that puts an entity of a domain into a state (besides `turn_on`/`turn_off` for on/off).
_SERVICES: dict[tuple[str, str], str] = {
    ("cover", "open"): "cover.open_cover",
    ("cover", "closed"): "cover.close_cover",
    ("lock", "locked"): "lock.lock",
    ("lock", "unlocked"): "lock.unlock",
    ("alarm_control_panel", "armed_away"): "alarm_control_panel.alarm_arm_away",
    ("alarm_control_panel", "armed_home"): "alarm_control_panel.alarm_arm_home",
    ("alarm_control_panel", "armed_night"): "alarm_control_panel.alarm_arm_night",
    ("alarm_control_panel", "disarmed"): "alarm_control_panel.alarm_disarm",
    ("media_player", "playing"): "media_player.media_play",
    ("media_player", "paused"): "media_player.media_pause",
    ("vacuum", "cleaning"): "vacuum.start",
    ("vacuum", "docked"): "vacuum.return_to_base",
    ("camera", "recording"): "camera.record",
}
#: Domains whose state is set through a mode: (service, data key).
_MODE_SERVICES = {
    "climate": ("climate.set_hvac_mode", "hvac_mode"),
    "water_heater": ("water_heater.set_operation_mode", "operation_mode"),
}
#: Where a numeric variable is read when the home has no entity for it: HA's default weather entity
#: (created at onboarding) or the usual grid sensors.
_FALLBACK_TEMPLATES = {
    "outdoor_temperature": "state_attr('weather.forecast_home', 'temperature')",
    "humidity": "state_attr('weather.forecast_home', 'humidity')",
    "carbon_intensity": "states('sensor.grid_carbon_intensity')",
    "price": "states('sensor.electricity_price')",
}
_WEATHER_ATTRIBUTES = {"outdoor_temperature": "temperature", "humidity": "humidity"}


class AutomationBuilder:
    """Turns a behaviour into an HA automation (2024.10+ syntax) that reproduces it in this home."""

    def __init__(self, home: Home) -> None:
        self.people = [p.entity_id for p in home.people]
        self.occupants = {o.person_id: o for o in home.metadata.occupants}
        self.outdoor = next((e for e in home.entities if e.role == "outdoor_temperature"), None)
        self.weather = next((e for e in home.entities if e.domain == "weather"), None)

    def trigger_entities(self, b: Behavior) -> tuple[str, ...]:
        trigger = b.trigger
        if isinstance(trigger, StateTriggerSpec):
            return (trigger.entity_id,)
        if isinstance(trigger, PresenceTriggerSpec):
            return (*self.people, "zone.home")
        if isinstance(trigger, TimeTriggerSpec) and trigger.anchor in ("sunset", "sunrise"):
            return ("sun.sun",)
        if isinstance(trigger, NumericTriggerSpec):
            source = self._numeric_source(trigger)
            return (source[0].entity_id,) if source else ()
        return ()

    def build(self, b: Behavior, window: TimeWindow | None) -> HaAutomation:
        triggers, conditions = self._triggers(b, window)
        conditions += self._conditions(b)
        calls = [self._call(a.entity_id, a.state, a.attributes, b) for a in b.actions]
        if b.delay is not None and b.delay.median_s >= 5:  # shorter delays are device latency, not intent
            calls.insert(0, {"delay": _duration(b.delay.median_s)})
        actions: list[dict[str, JsonValue]] = calls
        revert = b.revert
        if revert is not None:
            # A camera's recording ends by itself after the duration given to camera.record.
            reverting = [a for a in b.actions if _domain(a.entity_id) != "camera"]
            reverts = [self._call(a.entity_id, revert.state, None, b) for a in reverting]
            hold = _duration(revert.median_min * 60)
            if revert.after_trigger_clears and isinstance(b.trigger, StateTriggerSpec):
                # HA's motion-light idiom: the trigger turns on; the trigger clearing for a while turns off.
                cleared: dict[str, JsonValue] = {"trigger": "state", "entity_id": b.trigger.entity_id}
                cleared |= {"from": b.trigger.to, "for": hold, "id": "cleared"}
                triggers = [{**triggers[0], "id": "triggered"}, cleared]
                on: dict[str, JsonValue] = {
                    "conditions": [_trigger_is("triggered"), *conditions],
                    "sequence": [*calls],
                }
                off: dict[str, JsonValue] = {"conditions": [_trigger_is("cleared")], "sequence": [*reverts]}
                actions, conditions = [{"choose": [on, off]}], []
            elif reverts:
                actions = [*calls, {"delay": hold}, *reverts]
        return HaAutomation(
            id=b.id,
            alias=b.description[:1].upper() + b.description[1:],
            description=f"Reproduces homesim ground-truth pattern {b.id} ({b.type}).{self._note(b)}",
            mode="restart" if revert is not None else "single",
            triggers=tuple(triggers),
            conditions=tuple(conditions),
            actions=tuple(actions),
        )

    def _triggers(
        self, b: Behavior, window: TimeWindow | None
    ) -> tuple[list[dict[str, JsonValue]], list[dict[str, JsonValue]]]:
        """The automation's triggers, and the conditions that go with them (days, time windows)."""
        trigger = b.trigger
        if isinstance(trigger, StateTriggerSpec):
            return [{"trigger": "state", "entity_id": trigger.entity_id, "to": trigger.to}], []
        if isinstance(trigger, PresenceTriggerSpec):
            return self._presence(trigger)
        if isinstance(trigger, NumericTriggerSpec):
            # Crossing into range inside the window, or already in range when the window opens.
            numeric = self._numeric(trigger)
            in_range = {
                "condition": numeric["trigger"],
                **{k: v for k, v in numeric.items() if k != "trigger"},
            }
            opening: dict[str, JsonValue] = {"trigger": "time", "at": _clock(trigger.window[0])}
            return [numeric, opening], [*_hours_condition(trigger.window), in_range]
        if isinstance(trigger, CheapestHourTriggerSpec):
            # The hour the behaviour usually picks: the lowest price/CO₂ hour varies, its habit does not.
            hour = window.median_h if window is not None else trigger.window[0]
            return [{"trigger": "time", "at": _clock(hour)}], _weekday_condition(trigger.weekdays)
        if trigger.anchor in ("sunset", "sunrise"):
            sun: dict[str, JsonValue] = {"trigger": "sun", "event": trigger.anchor}
            if trigger.offset_min:
                sun["offset"] = _duration(trigger.offset_min * 60, signed=True)
            return [sun], _weekday_condition(trigger.weekdays)
        if trigger.anchor == "clock":
            at = _clock((trigger.hour or 0.0) + trigger.offset_min / 60)
            return [{"trigger": "time", "at": at}], _weekday_condition(trigger.weekdays)
        return self._person_anchor(trigger)

    def _person_anchor(
        self, trigger: TimeTriggerSpec
    ) -> tuple[list[dict[str, JsonValue]], list[dict[str, JsonValue]]]:
        """A wake/sleep/leave/return anchor at the occupant's usual time, weekdays and weekends apart."""
        occupant = self.occupants[trigger.occupant or ""]
        usual = {
            "wake": (occupant.wake_weekday_h, occupant.wake_weekend_h),
            "sleep": (occupant.sleep_h, occupant.sleep_h),
            "leave": (occupant.leave_h, occupant.leave_h),
            "return": (occupant.return_h, occupant.return_h),
        }[trigger.anchor]
        groups = []
        for name, hour, days in (("weekday", usual[0], range(5)), ("weekend", usual[1], range(5, 7))):
            chosen = [d for d in days if d in trigger.weekdays]
            if chosen and hour is None:
                raise ValueError(f"occupant {occupant.person_id} has no {trigger.anchor} time")
            if chosen and hour is not None:
                groups.append((name, _clock(hour + trigger.offset_min / 60), chosen))
        if len({at for _, at, _ in groups}) == 1:
            return [{"trigger": "time", "at": groups[0][1]}], _weekday_condition(trigger.weekdays)
        triggers: list[dict[str, JsonValue]] = [
            {"trigger": "time", "at": at, "id": name} for name, at, _ in groups
        ]
        options: list[JsonValue] = [
            {"condition": "and", "conditions": [_trigger_is(name), *_weekday_condition(days, always=True)]}
            for name, _, days in groups
        ]
        return triggers, [{"condition": "or", "conditions": options}]

    def _presence(
        self, trigger: PresenceTriggerSpec
    ) -> tuple[list[dict[str, JsonValue]], list[dict[str, JsonValue]]]:
        """First arrival: someone comes home and is the only one there; last departure: nobody is left."""
        arriving = trigger.event == "first_arrival"
        count = "states.person | selectattr('state', 'eq', 'home') | list | count"
        condition: dict[str, JsonValue] = {
            "condition": "template",
            "value_template": f"{{{{ {count} == {1 if arriving else 0} }}}}",
        }
        people: JsonValue = list(self.people)
        key = "to" if arriving else "from"
        return [{"trigger": "state", "entity_id": people, key: "home"}], [condition]

    def _numeric_source(self, trigger: NumericTriggerSpec) -> tuple[Entity, str | None] | None:
        """The home's entity carrying the variable, and the attribute to read (None: its state)."""
        if trigger.variable == "outdoor_temperature" and self.outdoor is not None:
            return self.outdoor, None
        if trigger.variable in _WEATHER_ATTRIBUTES and self.weather is not None:
            return self.weather, _WEATHER_ATTRIBUTES[trigger.variable]
        return None

    def _numeric(self, trigger: NumericTriggerSpec) -> dict[str, JsonValue]:
        source = self._numeric_source(trigger)
        bounds: dict[str, JsonValue] = {
            k: v for k, v in (("above", trigger.above), ("below", trigger.below)) if v is not None
        }
        if source is not None:
            entity, attribute = source
            found: dict[str, JsonValue] = {
                "trigger": "numeric_state",
                "entity_id": entity.entity_id,
                **bounds,
            }
            if attribute is not None:
                found["attribute"] = attribute
            return found
        value = f"{_FALLBACK_TEMPLATES[trigger.variable]} | float(0)"
        tests = [f"{value} {'>' if key == 'above' else '<'} {bound}" for key, bound in bounds.items()]
        return {"trigger": "template", "value_template": f"{{{{ {' and '.join(tests)} }}}}"}

    def _conditions(self, b: Behavior) -> list[dict[str, JsonValue]]:
        conditions: list[dict[str, JsonValue]] = []
        if b.conditions.dark:
            sun: dict[str, JsonValue] = {"condition": "numeric_state", "entity_id": "sun.sun"}
            conditions.append(sun | {"attribute": "elevation", "below": 3})
        someone: dict[str, JsonValue] = {
            "condition": "or",
            "conditions": [{"condition": "state", "entity_id": p, "state": "home"} for p in self.people],
        }
        if not self.people:
            someone = {"condition": "template", "value_template": "{{ states('zone.home') | int(0) > 0 }}"}
        if b.conditions.someone_home:
            conditions.append(someone)
        if b.conditions.nobody_home:
            conditions.append({"condition": "not", "conditions": [someone]})
        return conditions

    def _call(self, entity_id: str, state: str, attributes: str | None, b: Behavior) -> dict[str, JsonValue]:
        domain = _domain(entity_id)
        data: dict[str, JsonValue] = dict(parse_attributes(attributes) or {})
        if domain in _MODE_SERVICES:
            service, key = _MODE_SERVICES[domain]
            data[key] = state
        elif (domain, state) in _SERVICES:
            service = _SERVICES[(domain, state)]
        elif state in ("on", "off"):
            service = f"{domain}.turn_{state}"
        else:
            raise ValueError(f"no service sets {entity_id} to {state!r}")
        if service == "camera.record":
            data.update(DEFAULT_DATA[service])
            data["duration"] = round((b.revert.median_min if b.revert else 1.0) * 60)
        call: dict[str, JsonValue] = {"action": service, "target": {"entity_id": entity_id}}
        if data:
            call["data"] = data
        return call

    def _note(self, b: Behavior) -> str:
        trigger = b.trigger
        if isinstance(trigger, CheapestHourTriggerSpec):
            lowest = trigger.variable.replace("_", " ")
            hours = f"{_clock(trigger.window[0])}–{_clock(trigger.window[1])}"
            return (
                f" The behaviour starts in the lowest-{lowest} hour of {hours}; this runs at its usual hour."
            )
        if isinstance(trigger, NumericTriggerSpec) and self._numeric_source(trigger) is None:
            return " The home has no entity for this variable; the template reads HA's default sources."
        return ""


def _domain(entity_id: str) -> str:
    return entity_id.partition(".")[0]


def _clock(hours: float) -> str:
    seconds = round(hours * 3600) % 86400
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _duration(seconds: float, signed: bool = False) -> str:
    total = round(abs(seconds))
    text = f"{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}"
    return ("-" if seconds < 0 else "+") + text if signed else text


def _trigger_is(trigger_id: str) -> dict[str, JsonValue]:
    return {"condition": "trigger", "id": trigger_id}


def _weekday_condition(weekdays: Sequence[int], always: bool = False) -> list[dict[str, JsonValue]]:
    """A `time` condition on the days, unless they are all seven days (and `always` is off)."""
    if len(set(weekdays)) == 7 and not always:
        return []
    names: list[JsonValue] = [_WEEKDAY_NAMES[d] for d in sorted(set(weekdays))]
    return [{"condition": "time", "weekday": names}]


def _hours_condition(window: tuple[float, float]) -> list[dict[str, JsonValue]]:
    if window[1] - window[0] >= 24:
        return []
    return [{"condition": "time", "after": _clock(window[0]), "before": _clock(window[1])}]


def parse_attributes(text: str | None) -> dict[str, JsonValue] | None:
    """A state's attributes as stored in the events (JSON text), as a dict."""
    if text is None:
        return None
    value = json.loads(text)
    assert isinstance(value, dict)
    return value
