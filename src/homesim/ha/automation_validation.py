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
from dataclasses import dataclass
from pathlib import Path

from homesim.ha.automation import (
    Automation,
    AutomationError,
    DeviceAction,
    DeviceCondition,
    DeviceTrigger,
    IntegrationTrigger,
    Issue,
    NumericStateCondition,
    NumericStateTrigger,
    ServiceAction,
    StateCondition,
    StateTrigger,
    Target,
    TimeCondition,
    TimeTrigger,
    TriggerCondition,
    ZoneTrigger,
    is_template,
    join_path,
    parse_items,
)
from homesim.ha.automation.blueprints import expand
from homesim.ha.automation.values import REGISTRY_ID_RE
from homesim.ha.automation.walk import Node, walk
from homesim.ha.yaml_loader import HaYamlError, loads
from homesim.schema.home import Entity, Home
from homesim.schema.states import DOMAIN_STATES, NUMERIC_DOMAINS, allowed_states
from homesim.schema.vocabulary import ANY_ENTITY_DOMAINS, SERVICES, service_status

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
_INDEX_RE = re.compile(r"^\[(\d+)\]")


def _values(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


def _suggest(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Checker:
    """Walks one automation, collecting issues (and notes on what it could not check); with `home` None
    only the home-independent checks run."""

    def __init__(self, automation: Automation, home: Home | None, services: bool = True) -> None:
        self.automation = automation
        self.home = home
        #: Whether to check service names and service data (HA itself checks them only when a call runs).
        self.services = services
        self.issues: list[Issue] = []
        self.notes: list[Issue] = []
        # HA gives a trigger without an `id` its index as id.
        self.trigger_ids = {
            trigger.id if trigger.id is not None else str(index)
            for index, trigger in enumerate(automation.triggers)
        }
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
        for path, node in walk(self.automation):
            self.node(node, path)
        return self.issues

    def add(self, path: str, message: str) -> None:
        self.issues.append(Issue(path, message))

    def note(self, path: str, message: str) -> None:
        self.notes.append(Issue(path, message))

    def node(self, node: Node, path: str) -> None:
        if isinstance(node, ServiceAction):
            self.service_call(node, path)
        elif isinstance(node, IntegrationTrigger):
            self.note(
                f"{path}.trigger",
                f"integration not checked: trigger platform {node.trigger!r} is not part of HA core",
            )
        elif isinstance(node, DeviceTrigger | DeviceCondition | DeviceAction):
            kind = type(node).__name__.removeprefix("Device").lower()
            self.note(
                f"{path}.domain",
                f"integration not checked: device {kind} of integration {node.domain!r}",
            )
            if self.home is not None and not is_template(node.device_id):
                self.exist("device", node.device_id, f"{path}.device_id")
        elif isinstance(node, StateTrigger | NumericStateTrigger | TimeTrigger | ZoneTrigger):
            self.trigger(node, path)
        elif isinstance(node, StateCondition | NumericStateCondition | TimeCondition | TriggerCondition):
            self.condition(node, path)

    # ------------------------------------------------------------------------------ references

    def entity(self, entity_id: str, path: str) -> Entity | None:
        """The home's entity, or None (reporting it when a home is given and lacks it)."""
        if self.home is None or is_template(entity_id) or REGISTRY_ID_RE.match(entity_id):
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
            if value not in known and not is_template(value):
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
            if (
                item.attribute is None
                and item.value_template is None
                and entity.domain not in NUMERIC_DOMAINS
            ):
                self.add(
                    f"{path}.entity_id",
                    f"{entity.entity_id} has no numeric state: use a sensor or number entity, "
                    "or set 'attribute'",
                )
        for key, bound in (("above", item.above), ("below", item.below)):
            if isinstance(bound, str):
                self.entity(bound, f"{path}.{key}")

    def time_entities(self, times: object, path: str) -> None:
        for value in times if isinstance(times, list) else [times]:
            if isinstance(value, dict):
                self.entity(str(value.get("entity_id")), path)
            elif isinstance(value, str) and "." in value:  # an input_datetime or timestamp sensor
                self.entity(value, path)

    # -------------------------------------------------------------------- triggers, conditions

    def trigger(
        self, trigger: StateTrigger | NumericStateTrigger | TimeTrigger | ZoneTrigger, path: str
    ) -> None:
        if isinstance(trigger, StateTrigger):
            entities = self.entities_at(trigger.entity_id, f"{path}.entity_id")
            if trigger.attribute is None:  # attribute values are not states
                for key in ("from", "to", "not_from", "not_to"):
                    self.states(
                        entities, getattr(trigger, "from_" if key == "from" else key), f"{path}.{key}"
                    )
        elif isinstance(trigger, NumericStateTrigger):
            self.numeric(trigger, path)
        elif isinstance(trigger, TimeTrigger):
            self.time_entities(trigger.at, f"{path}.at")
        else:
            for entity in self.entities_at(trigger.entity_id, f"{path}.entity_id"):
                if entity.domain not in ("person", "device_tracker"):
                    self.add(
                        f"{path}.entity_id",
                        f"{entity.entity_id} cannot enter a zone: use a person or device_tracker",
                    )
            self.entity(trigger.zone, f"{path}.zone")

    def condition(
        self, condition: StateCondition | NumericStateCondition | TimeCondition | TriggerCondition, path: str
    ) -> None:
        if isinstance(condition, StateCondition):
            entities = self.entities_at(condition.entity_id, f"{path}.entity_id")
            if condition.attribute is None:
                self.states(entities, condition.state, f"{path}.state")
        elif isinstance(condition, NumericStateCondition):
            self.numeric(condition, path)
        elif isinstance(condition, TimeCondition):
            self.time_entities(condition.after, f"{path}.after")
            self.time_entities(condition.before, f"{path}.before")
        else:
            for trigger_id in _values(condition.id):
                if trigger_id not in self.trigger_ids:
                    known = ", ".join(sorted(self.trigger_ids)) or "none"
                    self.add(f"{path}.id", f"no trigger has id {trigger_id!r} (trigger ids: {known})")

    # -------------------------------------------------------------------------------- actions

    def service_call(self, action: ServiceAction, path: str) -> None:
        if action.templated:
            self.note(f"{path}.action", "service chosen by a template when it runs: not checked")
            return
        if not self.services:
            return
        domain, service = action.domain, action.service
        status = service_status(domain, service)
        if status == "not_checked":
            self.note(
                f"{path}.action",
                f"integration not checked: {domain!r} is not an HA core domain homesim knows",
            )
        elif domain == "script" and service not in SERVICES[domain]:
            # script.<object_id> runs that script; without a home any script id is plausible.
            if self.home is not None and f"script.{service}" not in self.entities:
                self.add(f"{path}.action", f"script has no service {service!r}: no entity script.{service}")
        elif status == "unknown":
            self.add(
                f"{path}.action",
                f"{domain} has no service {service!r}{_suggest(service, SERVICES[domain])}; "
                f"expected one of {', '.join(sorted(SERVICES[domain]))}",
            )
        targets = self.target(action, f"{path}.target")
        self.data(action, targets, f"{path}.data")

    def target(self, action: ServiceAction, path: str) -> list[Entity]:
        """Check the target's references; return the entities it names by entity_id."""
        domain = action.domain
        target = action.target if isinstance(action.target, Target) else Target()
        if self.home is None:
            return []
        reported = len(self.issues)
        named: list[Entity] = []
        on_call = [
            (entity_id, f"{path.removesuffix('.target')}.entity_id")
            for entity_id in _values(action.entity_id)
        ]
        in_target = [(entity_id, f"{path}.entity_id") for entity_id in _values(target.entity_id)]
        for entity_id, where in on_call + in_target:
            entity = None if entity_id in ("all", "none") else self.entity(entity_id, where)
            if entity is None:
                continue
            named.append(entity)
            if domain not in ANY_ENTITY_DOMAINS and entity.domain != domain:
                self.add(
                    where,
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
        if is_template(action.data) or is_template(action.data_template):
            return  # the whole data is rendered when the call runs
        data = action.all_data
        required = REQUIRED_DATA.get(action.service_name, REQUIRED_DATA.get(f"{action.domain}.*", ()))
        if required and not any(key in data for key in required):
            self.add(path, f"{action.action} needs {' or '.join(repr(key) for key in required)} in data")
        ranges = DATA_RANGES | DOMAIN_DATA_RANGES.get(action.domain, {})
        for key, value in data.items():
            if key in ranges:
                self.in_range(key, value, ranges[key], f"{path}.{key}")
        if action.service_name in DATA_CHOICES:
            key, choices = DATA_CHOICES[action.service_name]
            self.choice(data.get(key), choices, f"{action.domain} {key}", f"{path}.{key}")
        if action.action == "select.select_option":
            for entity in targets:
                if entity.domain == "select":
                    self.choice(
                        data.get("option"), frozenset(entity.options), entity.entity_id, f"{path}.option"
                    )

    def in_range(self, key: str, value: object, bounds: tuple[float, float], path: str) -> None:
        if is_template(value):
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
        if value is None or (is_template(value)):
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


def structural_issues(automation: Automation) -> list[Issue]:
    """The checks of an automation's own structure beyond its schema (`condition: trigger` ids that no
    trigger has), without the service and service-data checks HA itself makes only when a call runs."""
    return _Checker(automation, None, services=False).run()


def automation_notes(automation: Automation) -> list[Issue]:
    """What the checks could not judge: integrations homesim does not know, device automations, templated
    services. Notes are not problems: the automation is valid where that integration is installed."""
    checker = _Checker(automation, None)
    checker.run()
    return checker.notes


@dataclass(frozen=True)
class AutomationReport:
    """One automation of a file: kept (`automation` set) or refused, with its issues and notes."""

    prefix: str
    id: str | None
    alias: str | None
    automation: Automation | None
    issues: tuple[Issue, ...]
    notes: tuple[Issue, ...]
    #: Made from a blueprint (`use_blueprint`).
    blueprint: str | None = None

    @property
    def kept(self) -> bool:
        return self.automation is not None and not self.issues


def check_items(
    data: object, home: Home | None = None, config_dir: Path | None = None
) -> list[AutomationReport]:
    """Parse and check loaded automations (a list or one mapping) one by one, as HA loads them: blueprint
    uses are expanded from `config_dir`'s blueprints ("blueprint not found" without it); duplicate ids
    are issues of the later automation."""
    parsed = parse_items(data)
    items = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    prefixes = [f"[{i}]" for i in range(len(items))] if isinstance(data, list) else [""] * len(items)
    reports: list[AutomationReport] = []
    first_use: dict[str, str] = {}
    for prefix, item in zip(prefixes, items, strict=True):
        raw = item if isinstance(item, dict) else {}
        ident = raw.get("id")
        issues = [
            Issue(path.removeprefix(prefix).lstrip("."), message)
            for path, message in parsed.issues
            if prefix == "" or path == prefix or path.startswith((f"{prefix}.", f"{prefix}["))
        ]
        automation = parsed.automations.get(prefix)
        use = parsed.blueprints.get(prefix)
        if use is not None:
            try:
                automation = expand(use, config_dir)
            except AutomationError as error:
                issues += error.issues
        notes: list[Issue] = []
        if automation is not None:
            checker = _Checker(automation, home)
            issues += checker.run()
            notes = checker.notes
            if automation.id is not None:
                if automation.id in first_use:
                    issues.append(
                        Issue(
                            "id", f"duplicate id {automation.id!r}, first used at {first_use[automation.id]}"
                        )
                    )
                first_use.setdefault(automation.id, join_path(prefix, "id"))
        reports.append(
            AutomationReport(
                prefix=prefix,
                id=str(ident) if ident is not None else None,
                alias=str(raw["alias"]) if raw.get("alias") is not None else None,
                automation=automation,
                issues=tuple(issues),
                notes=tuple(notes),
                blueprint=use.use_blueprint.path if use is not None else None,
            )
        )
    return reports


def validate_yaml(text: str, home: Home | None = None, config_dir: Path | None = None) -> list[Issue]:
    """Every issue of an automations.yaml: YAML and schema errors, semantic checks, duplicate ids,
    blueprints not found.

    With `home`, each automation is also checked against it; with `config_dir`, blueprint uses are
    expanded from its `blueprints/automation/` and checked. Paths are prefixed with the automation's
    index in the file (`[2].actions[0].target.entity_id`); issues are ordered by automation.
    """
    try:
        data = loads(text)
    except HaYamlError as error:
        return [Issue("", str(error))]
    if data is not None and not isinstance(data, list | dict):
        return [Issue("", f"expected a list of automations, got {type(data).__name__}")]
    issues = [
        Issue(join_path(report.prefix, path), message)
        for report in check_items(data, home, config_dir)
        for path, message in report.issues
    ]
    return sorted(issues, key=_automation_index)


def _automation_index(issue: Issue) -> int:
    match = _INDEX_RE.match(issue.path)
    return int(match.group(1)) if match else -1
