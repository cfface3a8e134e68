"""Checks of automations beyond their schema: services, service data, trigger ids, and fit to a home.

`homesim.ha.automation` owns the shape of an automation; this module takes a parsed `Automation` and
reports what HA would reject or silently ignore when it runs: a service its domain does not have, data out
of range (brightness_pct 150), a `condition: trigger` naming no trigger, and — given a `Home` — references
to entities, devices, areas, floors or labels the home lacks, a target entity of another domain than the
service, a target that matches no entity of the service's domain, and state triggers/conditions waiting
for a state the entity's domain never takes. Issues carry the same HA-style paths as schema errors.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Sequence

from homesim.ha.automation import (
    Action,
    AndCondition,
    Automation,
    AutomationError,
    ChooseAction,
    Condition,
    Issue,
    NotCondition,
    NumericStateCondition,
    NumericStateTrigger,
    OrCondition,
    ServiceAction,
    StateCondition,
    StateTrigger,
    Target,
    TimeCondition,
    TimeTrigger,
    Trigger,
    TriggerCondition,
    ZoneTrigger,
    join_path,
    parse_yaml,
)
from homesim.schema.home import Entity, Home
from homesim.schema.states import DOMAIN_STATES, NUMERIC_DOMAINS, allowed_states

#: Services homesim knows, per domain (HA's service names for the domains homesim models).
SERVICES: dict[str, frozenset[str]] = {
    "homeassistant": frozenset({"turn_on", "turn_off", "toggle", "update_entity"}),
    "light": frozenset({"turn_on", "turn_off", "toggle"}),
    "switch": frozenset({"turn_on", "turn_off", "toggle"}),
    "input_boolean": frozenset({"turn_on", "turn_off", "toggle"}),
    "siren": frozenset({"turn_on", "turn_off", "toggle"}),
    "cover": frozenset({"open_cover", "close_cover", "stop_cover", "set_cover_position", "toggle"}),
    "valve": frozenset({"open_valve", "close_valve", "stop_valve", "set_valve_position", "toggle"}),
    "climate": frozenset(
        {"set_hvac_mode", "set_temperature", "set_preset_mode", "set_fan_mode", "turn_on", "turn_off"}
    ),
    "lock": frozenset({"lock", "unlock", "open"}),
    "media_player": frozenset(
        {
            "turn_on",
            "turn_off",
            "toggle",
            "media_play",
            "media_pause",
            "media_stop",
            "media_play_pause",
            "volume_set",
            "volume_mute",
            "play_media",
        }
    ),
    "fan": frozenset({"turn_on", "turn_off", "toggle", "set_percentage", "oscillate", "set_preset_mode"}),
    "vacuum": frozenset({"start", "stop", "pause", "return_to_base", "locate", "clean_spot"}),
    "alarm_control_panel": frozenset(
        {
            "alarm_arm_home",
            "alarm_arm_away",
            "alarm_arm_night",
            "alarm_arm_vacation",
            "alarm_disarm",
            "alarm_trigger",
        }
    ),
    "water_heater": frozenset({"set_operation_mode", "set_temperature", "turn_on", "turn_off"}),
    "humidifier": frozenset({"turn_on", "turn_off", "toggle", "set_humidity", "set_mode"}),
    "select": frozenset({"select_option", "select_next", "select_previous", "select_first", "select_last"}),
    "number": frozenset({"set_value"}),
    "camera": frozenset({"turn_on", "turn_off", "snapshot", "record", "enable_motion_detection"}),
    "button": frozenset({"press"}),
    "scene": frozenset({"turn_on"}),
    # Besides these, `script.<object_id>` runs that script directly.
    "script": frozenset({"turn_on", "turn_off", "toggle"}),
    # Each notifier is its own service (notify.mobile_app_pixel); `send_message` targets notify entities.
    "notify": frozenset({"send_message"}),
}

#: Domains whose service names are open-ended (one service per configured notifier).
OPEN_DOMAINS: frozenset[str] = frozenset({"notify"})

#: Domains whose services act on entities of any domain.
ANY_ENTITY_DOMAINS: frozenset[str] = frozenset({"homeassistant"})

#: Inclusive bounds of numeric service data, whatever the service (HA's ranges; temperatures in °C).
DATA_RANGES: dict[str, tuple[float, float]] = {
    "brightness_pct": (0, 100),
    "brightness": (0, 255),
    "color_temp_kelvin": (1000, 10000),
    "temperature": (-20, 50),
    "target_temp_low": (-20, 50),
    "target_temp_high": (-20, 50),
    "position": (0, 100),
    "tilt_position": (0, 100),
    "percentage": (0, 100),
    "humidity": (0, 100),
    "volume_level": (0, 1),
}

#: Domain-specific bounds that replace `DATA_RANGES` (a water heater's setpoint is hotter than a room's).
DOMAIN_DATA_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "water_heater": {"temperature": (30, 80)},
}

#: Data a service cannot run without: at least one of the keys (`domain.*`: any other service of it).
REQUIRED_DATA: dict[str, tuple[str, ...]] = {
    "cover.set_cover_position": ("position",),
    "valve.set_valve_position": ("position",),
    "climate.set_hvac_mode": ("hvac_mode",),
    "climate.set_temperature": ("temperature", "target_temp_low", "target_temp_high"),
    "climate.set_preset_mode": ("preset_mode",),
    "climate.set_fan_mode": ("fan_mode",),
    "media_player.volume_set": ("volume_level",),
    "media_player.volume_mute": ("is_volume_muted",),
    "media_player.play_media": ("media_content_id",),
    "fan.set_percentage": ("percentage",),
    "fan.oscillate": ("oscillating",),
    "fan.set_preset_mode": ("preset_mode",),
    "humidifier.set_humidity": ("humidity",),
    "humidifier.set_mode": ("mode",),
    "water_heater.set_operation_mode": ("operation_mode",),
    "water_heater.set_temperature": ("temperature",),
    "select.select_option": ("option",),
    "number.set_value": ("value",),
    "camera.snapshot": ("filename",),
    "camera.record": ("filename",),
    "notify.send_message": ("message",),
    "notify.*": ("message",),  # every notifier's own service
}

#: Data that makes a service call with required data complete when the caller has nothing better to give.
DEFAULT_DATA: dict[str, dict[str, str]] = {
    "camera.record": {
        "filename": "/media/{{ entity_id.entity_id }}_{{ now().strftime('%Y%m%d_%H%M%S') }}.mp4"
    },
}

#: Service data that must be one of a domain's states.
DATA_CHOICES: dict[str, tuple[str, frozenset[str]]] = {
    "climate.set_hvac_mode": ("hvac_mode", DOMAIN_STATES["climate"]),
    "water_heater.set_operation_mode": ("operation_mode", DOMAIN_STATES["water_heater"]),
}

# Entities every HA instance has, whether or not a home lists them.
_BUILTIN_ENTITIES = (
    Entity(entity_id="sun.sun", unique_id="sun", platform="sun"),
    Entity(entity_id="zone.home", unique_id="home", platform="zone"),
)
_TEMPLATE_MARK = "{{"
_INDEX_RE = re.compile(r"^\[(\d+)\]")


def _values(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


def _suggest(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Checker:
    """Walks one automation, collecting issues; with `home` None only the home-independent checks run."""

    def __init__(self, automation: Automation, home: Home | None) -> None:
        self.automation = automation
        self.home = home
        self.issues: list[Issue] = []
        self.trigger_ids = {trigger.id for trigger in automation.triggers if trigger.id is not None}
        self.entities: dict[str, Entity] = {}
        self.known: dict[str, set[str]] = {}
        if home is not None:
            self.entities = {e.entity_id: e for e in (*_BUILTIN_ENTITIES, *home.entities)}
            self.known = {
                "device": {d.id for d in home.devices},
                "area": {a.area_id for a in home.areas},
                "floor": {f.floor_id for f in home.floors},
                "label": {lb.label_id for lb in home.labels},
            }

    def run(self) -> list[Issue]:
        for index, trigger in enumerate(self.automation.triggers):
            self.trigger(trigger, f"triggers[{index}]")
        self.conditions(self.automation.conditions, "conditions")
        self.actions(self.automation.actions, "actions")
        return self.issues

    def add(self, path: str, message: str) -> None:
        self.issues.append(Issue(path, message))

    # ------------------------------------------------------------------------------ references

    def entity(self, entity_id: str, path: str) -> Entity | None:
        """The home's entity, or None (reporting it when a home is given and lacks it)."""
        if self.home is None:
            return None
        found = self.entities.get(entity_id)
        if found is None:
            self.add(path, f"unknown entity {entity_id!r}{_suggest(entity_id, self.entities)}")
        return found

    def entities_at(self, entity_ids: str | list[str], path: str) -> list[Entity]:
        found = (self.entity(entity_id, path) for entity_id in _values(entity_ids))
        return [entity for entity in found if entity is not None]

    def exist(self, kind: str, ids: str | list[str] | None, path: str) -> None:
        known = self.known.get(kind, set())
        for value in _values(ids):
            if value not in known:
                self.add(path, f"unknown {kind} {value!r}{_suggest(value, known)}")

    def states(self, entities: Sequence[Entity], values: str | list[str] | None, path: str) -> None:
        for entity in entities:
            allowed = allowed_states(entity.domain, entity.options)
            if allowed is None:  # numbers and timestamps: any text may be a state
                continue
            for value in _values(values):
                if value not in allowed:
                    self.add(
                        path,
                        f"{value!r} is not a state of {entity.entity_id}; "
                        f"{entity.domain} states are {', '.join(sorted(allowed))}",
                    )

    def numeric(self, item: NumericStateTrigger | NumericStateCondition, path: str) -> None:
        for entity in self.entities_at(item.entity_id, f"{path}.entity_id"):
            if item.attribute is None and entity.domain not in NUMERIC_DOMAINS:
                self.add(
                    f"{path}.entity_id",
                    f"{entity.entity_id} has no numeric state: use a sensor or number entity, "
                    "or set 'attribute'",
                )
        for key, bound in (("above", item.above), ("below", item.below)):
            if isinstance(bound, str):
                self.entity(bound, f"{path}.{key}")

    def time_entities(self, times: str | list[str] | None, path: str) -> None:
        for value in _values(times):
            if "." in value:  # an input_datetime or timestamp sensor, not "HH:MM"
                self.entity(value, path)

    # -------------------------------------------------------------------- triggers, conditions

    def trigger(self, trigger: Trigger, path: str) -> None:
        if isinstance(trigger, StateTrigger):
            entities = self.entities_at(trigger.entity_id, f"{path}.entity_id")
            if trigger.attribute is None:  # attribute values are not states
                self.states(entities, trigger.from_, f"{path}.from")
                self.states(entities, trigger.to, f"{path}.to")
        elif isinstance(trigger, NumericStateTrigger):
            self.numeric(trigger, path)
        elif isinstance(trigger, TimeTrigger):
            self.time_entities(trigger.at, f"{path}.at")
        elif isinstance(trigger, ZoneTrigger):
            for entity in self.entities_at(trigger.entity_id, f"{path}.entity_id"):
                if entity.domain not in ("person", "device_tracker"):
                    self.add(
                        f"{path}.entity_id",
                        f"{entity.entity_id} cannot enter a zone: use a person or device_tracker",
                    )
            self.entity(trigger.zone, f"{path}.zone")

    def conditions(self, conditions: Sequence[Condition], path: str) -> None:
        for index, condition in enumerate(conditions):
            self.condition(condition, f"{path}[{index}]")

    def condition(self, condition: Condition, path: str) -> None:
        if isinstance(condition, StateCondition):
            entities = self.entities_at(condition.entity_id, f"{path}.entity_id")
            if condition.attribute is None:
                self.states(entities, condition.state, f"{path}.state")
        elif isinstance(condition, NumericStateCondition):
            self.numeric(condition, path)
        elif isinstance(condition, TimeCondition):
            self.time_entities(condition.after, f"{path}.after")
            self.time_entities(condition.before, f"{path}.before")
        elif isinstance(condition, AndCondition | OrCondition | NotCondition):
            self.conditions(condition.conditions, f"{path}.conditions")
        elif isinstance(condition, TriggerCondition):
            for trigger_id in _values(condition.id):
                if trigger_id not in self.trigger_ids:
                    known = ", ".join(sorted(self.trigger_ids)) or "none"
                    self.add(f"{path}.id", f"no trigger has id {trigger_id!r} (trigger ids: {known})")

    # -------------------------------------------------------------------------------- actions

    def actions(self, actions: Sequence[Action], path: str) -> None:
        for index, action in enumerate(actions):
            where = f"{path}[{index}]"
            if isinstance(action, ServiceAction):
                self.service_call(action, where)
            elif isinstance(action, ChooseAction):
                for number, option in enumerate(action.choose):
                    self.conditions(option.conditions, f"{where}.choose[{number}].conditions")
                    self.actions(option.sequence, f"{where}.choose[{number}].sequence")
                if action.default is not None:
                    self.actions(action.default, f"{where}.default")

    def service_call(self, action: ServiceAction, path: str) -> None:
        domain, service = action.domain, action.service
        if domain not in SERVICES:
            self.add(
                f"{path}.action",
                f"unknown service {action.action!r}: no services for domain {domain!r}"
                f"{_suggest(domain, SERVICES)}",
            )
        elif not self.service_known(domain, service):
            self.add(
                f"{path}.action",
                f"{domain} has no service {service!r}; expected one of {', '.join(sorted(SERVICES[domain]))}",
            )
        targets = self.target(action, f"{path}.target")
        self.data(action, targets, f"{path}.data")

    def service_known(self, domain: str, service: str) -> bool:
        if domain in OPEN_DOMAINS or service in SERVICES[domain]:
            return True
        # script.<object_id> runs that script; without a home any script id is plausible.
        return domain == "script" and (self.home is None or f"script.{service}" in self.entities)

    def target(self, action: ServiceAction, path: str) -> list[Entity]:
        """Check the target's references; return the entities it names by entity_id."""
        target, domain = action.target, action.domain
        if target is None or self.home is None:
            return []
        reported = len(self.issues)
        named: list[Entity] = []
        for entity_id in _values(target.entity_id):
            entity = None if entity_id in ("all", "none") else self.entity(entity_id, f"{path}.entity_id")
            if entity is None:
                continue
            named.append(entity)
            if domain not in ANY_ENTITY_DOMAINS and entity.domain != domain:
                self.add(
                    f"{path}.entity_id",
                    f"{entity.entity_id} is a {entity.domain} entity; {action.action} acts on {domain} "
                    "entities",
                )
        self.exist("device", target.device_id, f"{path}.device_id")
        self.exist("area", target.area_id, f"{path}.area_id")
        self.exist("floor", target.floor_id, f"{path}.floor_id")
        self.exist("label", target.label_id, f"{path}.label_id")
        grouped = (target.device_id, target.area_id, target.floor_id, target.label_id)
        # HA resolves areas, floors, devices and labels to the entities of the service's domain among
        # them; when there are none (and no entity is named) the call silently does nothing.
        if (
            len(self.issues) == reported
            and any(grouped)
            and not self.acts_on(named, domain)
            and not self.acts_on(self.resolve(self.home, target), domain)
        ):
            self.add(path, f"target matches no {domain} entity in the home")
        return named

    @staticmethod
    def acts_on(entities: Iterable[Entity], domain: str) -> bool:
        return any(domain in ANY_ENTITY_DOMAINS or entity.domain == domain for entity in entities)

    @staticmethod
    def resolve(home: Home, target: Target) -> list[Entity]:
        """The entities HA's target resolution finds through the target's devices, areas, floors, labels."""
        labels = set(_values(target.label_id))
        floors = set(_values(target.floor_id))
        areas = set(_values(target.area_id)) | {
            area.area_id for area in home.areas if area.floor_id in floors or labels & set(area.labels)
        }
        devices = set(_values(target.device_id)) | {d.id for d in home.devices if labels & set(d.labels)}
        return [
            entity
            for entity in home.entities
            if entity.device_id in devices or labels & set(entity.labels) or home.entity_area(entity) in areas
        ]

    def data(self, action: ServiceAction, targets: Sequence[Entity], path: str) -> None:
        data = action.data or {}
        required = REQUIRED_DATA.get(action.action, REQUIRED_DATA.get(f"{action.domain}.*", ()))
        if required and not any(key in data for key in required):
            self.add(path, f"{action.action} needs {' or '.join(repr(key) for key in required)} in data")
        ranges = DATA_RANGES | DOMAIN_DATA_RANGES.get(action.domain, {})
        for key, value in data.items():
            if key in ranges:
                self.in_range(key, value, ranges[key], f"{path}.{key}")
        if action.action in DATA_CHOICES:
            key, choices = DATA_CHOICES[action.action]
            self.choice(data.get(key), choices, f"{action.domain} {key}", f"{path}.{key}")
        if action.action == "select.select_option":
            for entity in targets:
                if entity.domain == "select":
                    self.choice(
                        data.get("option"), frozenset(entity.options), entity.entity_id, f"{path}.option"
                    )

    def in_range(self, key: str, value: object, bounds: tuple[float, float], path: str) -> None:
        if isinstance(value, str) and _TEMPLATE_MARK in value:
            return  # rendered at run time
        try:
            # HA coerces numeric strings; YAML booleans are not numbers.
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError
            number = float(value)
        except ValueError:
            self.add(path, f"{key} must be a number, got {value!r}")
            return
        low, high = bounds
        if not low <= number <= high:
            self.add(path, f"{key} {value!r} is outside {low:g}–{high:g}")

    def choice(self, value: object, choices: Collection[str], owner: str, path: str) -> None:
        if value is None or (isinstance(value, str) and _TEMPLATE_MARK in value):
            return  # a missing key is reported by the required-data check
        if value not in choices:
            self.add(path, f"{value!r} is not an option of {owner}; options are {', '.join(sorted(choices))}")


def validate_automation(automation: Automation) -> list[Issue]:
    """Issues that need no home: unknown services, service data out of range, unknown trigger ids."""
    return _Checker(automation, None).run()


def validate_against_home(automation: Automation, home: Home) -> list[Issue]:
    """Every issue of `validate_automation`, plus references, target domains and states against `home`."""
    return _Checker(automation, home).run()


def ensure_valid_for_home(automation: Automation, home: Home) -> None:
    """Raise `AutomationError` listing every issue `validate_against_home` finds."""
    issues = validate_against_home(automation, home)
    if issues:
        raise AutomationError(issues)


def validate_yaml(text: str, home: Home | None = None) -> list[Issue]:
    """Every issue of an automations.yaml: YAML and schema errors, semantic checks, duplicate ids.

    With `home`, each automation is also checked against it. Paths are prefixed with the automation's
    index in the file (`[2].actions[0].target.entity_id`); issues are ordered by automation.
    """
    parsed = parse_yaml(text)
    issues = list(parsed.issues)
    first_use: dict[str, str] = {}
    for prefix, automation in parsed.automations.items():
        found = _Checker(automation, home).run()
        issues += [Issue(join_path(prefix, path), message) for path, message in found]
        if automation.id is not None:
            where = join_path(prefix, "id")
            if automation.id in first_use:
                issues.append(
                    Issue(where, f"duplicate id {automation.id!r}, first used at {first_use[automation.id]}")
                )
            first_use.setdefault(automation.id, where)
    return sorted(issues, key=_automation_index)


def _automation_index(issue: Issue) -> int:
    match = _INDEX_RE.match(issue.path)
    return int(match.group(1)) if match else -1
