"""Home Assistant automations: the schema, parsing with HA-style error paths, and the YAML round trip.

This module owns the *shape* of an automation in HA's 2024.10+ syntax (`triggers:` / `- trigger: state`,
`conditions:`, `actions:` / `- action: light.turn_on` with `target:`) as pydantic models, the conversion of
pydantic's errors into `(path, message)` issues such as `actions[0].target.entity_id`, and rendering and
loading `automations.yaml` in both the current and the legacy (`trigger:`/`platform:`, `condition:`,
`action:`/`service:`) syntax. Whether an automation makes sense for a given home (entities exist, the
service suits the target, states are valid) is checked in `homesim.ha.automation_validation`.

Values keep the form they were written in (a duration stays `"00:05:00"`, `300` or `{minutes: 5}`), so
YAML → models → YAML reproduces the file; error paths always use the 2024.10 key names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal, NamedTuple, TypeAlias, TypeGuard

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    SerializerFunctionWrapHandler,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import ErrorDetails

# --------------------------------------------------------------------------------------------- issues


class Issue(NamedTuple):
    """One problem found in an automation: where (`triggers[1].at`) and what, in words."""

    path: str
    message: str


class AutomationError(ValueError):
    """An automation (or a file of them) failed validation; `issues` lists every problem found."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(f"{path or '<root>'}: {message}" for path, message in self.issues))


# ------------------------------------------------------------------------------------- scalar values

# HA's own `valid_entity_id` expression. Unlike `homesim.schema.naming.is_valid_entity_id` it accepts any
# domain: automations may name helpers homesim does not model (input_datetime, …); the home check
# reports those as unknown entities.
_ENTITY_ID_RE = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")
_DEVICE_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?$")
_DURATION_RE = re.compile(r"^[-+]?\d+:[0-5]\d(?::[0-5]\d(?:\.\d+)?)?$")
_NUMBER_RE = re.compile(r"^[-+]?\d+(?:\.\d+)?$")
_DURATION_KEYS = ("days", "hours", "minutes", "seconds", "milliseconds")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: A duration as written: "HH:MM[:SS[.fff]]", a number of seconds, or {days, hours, minutes, seconds,
#: milliseconds}.
DurationValue: TypeAlias = str | int | float | dict[str, int | float]


def _is_number(value: object) -> TypeGuard[int | float]:
    # bool is an int subclass; YAML's unquoted yes/no/on/off must not pass as 1/0.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {value!r}")
    if not value:
        raise ValueError(f"{what} must not be empty")
    return value


def _id(value: object, what: str) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        # An unquoted all-digit id loads as a number and loses leading zeros; HA rejects it too.
        raise ValueError(f"{what} {value!r} must be a string: quote ids that look like numbers")
    return _text(value, what)


def _entity_id(value: object) -> str:
    text = _text(value, "entity id")
    if not _ENTITY_ID_RE.match(text):
        raise ValueError(f"{text!r} is not an entity id ('domain.object_id' in lowercase, digits, '_')")
    return text


def _target_entity_id(value: object) -> str:
    # `all` and `none` are HA's targets for every / no entity of the service's domain.
    if value in ("all", "none"):
        return str(value)
    return _entity_id(value)


def _zone_id(value: object) -> str:
    zone = _entity_id(value)
    if not zone.startswith("zone."):
        raise ValueError(f"{zone!r} is not a zone (expected 'zone.<name>')")
    return zone


def _device_id(value: object) -> str:
    text = _id(value, "device id")
    if not _DEVICE_ID_RE.match(text):
        raise ValueError(f"{text!r} is not a device id (32 lowercase hex characters)")
    return text


def _service(value: object) -> str:
    text = _text(value, "action")
    if not _ENTITY_ID_RE.match(text):
        raise ValueError(f"{text!r} is not a service: expected 'domain.service', e.g. 'light.turn_on'")
    return text


def _state(value: object) -> str:
    if isinstance(value, bool) or value is None:
        raise ValueError(
            f"state {value!r} is not a string: quote states in YAML (unquoted on/off/yes/no are booleans)"
        )
    if _is_number(value):
        return str(value)  # HA compares state strings; a YAML number means its text
    return _text(value, "state")


def _weekday(value: object) -> str:
    if value not in _WEEKDAYS:
        raise ValueError(f"weekday {value!r} must be one of {', '.join(_WEEKDAYS)}")
    return str(value)


def _time_of_day(value: object) -> str:
    if _is_number(value):
        raise ValueError(
            f"time {value!r} is a number: quote times as 'HH:MM' or 'HH:MM:SS' "
            "(YAML reads an unquoted 17:30 as the base-60 number 1050)"
        )
    text = _text(value, "time")
    if not _TIME_RE.match(text):
        raise ValueError(f"time {text!r} must be 'HH:MM' or 'HH:MM:SS' (00:00 to 23:59:59)")
    return text


def _time_or_entity(value: object) -> str:
    # A time of day, or an input_datetime / timestamp sensor holding one.
    if isinstance(value, str) and _ENTITY_ID_RE.match(value):
        return value
    return _time_of_day(value)


def _threshold(value: object) -> int | float | str:
    # numeric_state bounds: a number, or an entity (input_number, sensor, number) holding one.
    if _is_number(value):
        return value
    if isinstance(value, str) and _NUMBER_RE.match(value):
        return float(value)
    if isinstance(value, str) and _ENTITY_ID_RE.match(value):
        return value
    raise ValueError(f"{value!r} must be a number or an entity id holding one")


def _one_or_many(item: Callable[[object], str]) -> Callable[[object], str | list[str]]:
    """A validator for HA's `x` or `[x, …]` fields, reporting at the field (pydantic's union loc is noise)."""

    def validate(value: object) -> str | list[str]:
        if isinstance(value, list):
            if not value:
                raise ValueError("must not be an empty list")
            return [item(entry) for entry in value]
        return item(value)

    return validate


def _duration(signed: bool) -> Callable[[object], DurationValue]:
    """A validator for HA time periods; `signed` allows the negative offsets of sun triggers/conditions."""

    def negative(number: float) -> bool:
        return number < 0 and not signed

    def validate(value: object) -> DurationValue:
        forms = "'HH:MM:SS', a number of seconds, or {hours, minutes, seconds, milliseconds}"
        if _is_number(value):
            if negative(value):
                raise ValueError(f"duration {value!r} must not be negative")
            return value
        if isinstance(value, str):
            if not (_DURATION_RE.match(value) or _NUMBER_RE.match(value)):
                raise ValueError(f"duration {value!r} must be {forms}")
            if value.startswith("-") and not signed:
                raise ValueError(f"duration {value!r} must not be negative")
            return value
        if isinstance(value, dict):
            unknown = sorted(str(key) for key in value if key not in _DURATION_KEYS)
            if unknown or not value:
                raise ValueError(f"duration keys must be among {', '.join(_DURATION_KEYS)}, got {unknown}")
            parts: dict[str, int | float] = {}
            for key in _DURATION_KEYS:  # canonical order, so equal durations render alike
                if key in value:
                    number = value[key]
                    if not _is_number(number) or negative(number):
                        sign = "a number" if signed else "a non-negative number"
                        raise ValueError(f"duration {key} {number!r} must be {sign}")
                    parts[key] = number
            return parts
        raise ValueError(f"duration {value!r} must be {forms}")

    return validate


def duration_to_timedelta(value: DurationValue) -> timedelta:
    """The length of a validated duration in any of its written forms."""
    if isinstance(value, dict):
        return timedelta(**value)
    if isinstance(value, int | float) or _NUMBER_RE.match(value):
        return timedelta(seconds=float(value))
    sign = -1 if value.startswith("-") else 1
    hours, minutes, *seconds = value.lstrip("+-").split(":")
    return sign * timedelta(
        hours=int(hours), minutes=int(minutes), seconds=float(seconds[0] if seconds else 0)
    )


def _plain(validate: Callable[[object], Any], schema_type: Any) -> PlainValidator:
    return PlainValidator(validate, json_schema_input_type=schema_type)


def _ensure_list(value: object) -> object:
    # HA accepts one item where a list is expected, and an empty key (`conditions:`) as no items.
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


Text = Annotated[str, _plain(lambda v: _text(v, "value"), str)]
Id = Annotated[str, _plain(lambda v: _id(v, "id"), str)]
EntityIds = Annotated[str | list[str], _plain(_one_or_many(_entity_id), str | list[str])]
ZoneId = Annotated[str, _plain(_zone_id, str)]
ServiceName = Annotated[str, _plain(_service, str)]
StateValues = Annotated[str | list[str], _plain(_one_or_many(_state), str | list[str])]
TimeOrEntity = Annotated[str, _plain(_time_or_entity, str)]
TimesOrEntities = Annotated[str | list[str], _plain(_one_or_many(_time_or_entity), str | list[str])]
Weekdays = Annotated[str | list[str], _plain(_one_or_many(_weekday), str | list[str])]
Threshold = Annotated[int | float | str, _plain(_threshold, float | str)]
Duration = Annotated[DurationValue, _plain(_duration(signed=False), DurationValue)]
Offset = Annotated[DurationValue, _plain(_duration(signed=True), DurationValue)]
Texts = Annotated[str | list[str], _plain(_one_or_many(lambda v: _text(v, "value")), str | list[str])]
TargetEntityIds = Annotated[str | list[str], _plain(_one_or_many(_target_entity_id), str | list[str])]
DeviceIds = Annotated[str | list[str], _plain(_one_or_many(_device_id), str | list[str])]

# ---------------------------------------------------------------------------------------- base model


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    #: Fields rendered as an explicit YAML null when set to None: HA gives `to: null` a meaning
    #: (state changes only, not attribute changes), distinct from leaving `to` out.
    _explicit_null: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _omit_none(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        fields = type(self).model_fields
        keep = {fields[name].alias or name for name in self._explicit_null & self.model_fields_set}
        return {key: value for key, value in data.items() if value is not None or key in keep}


def _rename_legacy(data: Any, legacy: str, current: str) -> Any:
    """Move a legacy key to its 2024.10 name, keeping key order; both at once is ambiguous."""
    if not isinstance(data, dict) or legacy not in data:
        return data
    if current in data:
        raise ValueError(f"use {current!r} or the legacy {legacy!r}, not both")
    return {current if key == legacy else key: value for key, value in data.items()}


def _check_thresholds(above: int | float | str | None, below: int | float | str | None) -> None:
    if isinstance(above, int | float) and isinstance(below, int | float) and above >= below:
        raise ValueError(f"'below' {below} must be greater than 'above' {above}, or it never matches")


# ------------------------------------------------------------------------------------------ triggers


class _Trigger(_Model):
    #: The trigger's kind; each subclass narrows it to one literal.
    trigger: str
    #: Names the trigger for `condition: trigger` and `trigger.id` in templates.
    id: Id | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_platform(cls, data: Any) -> Any:
        return _rename_legacy(data, "platform", "trigger")


class StateTrigger(_Trigger):
    _explicit_null = frozenset({"from_", "to"})

    trigger: Literal["state"] = "state"
    entity_id: EntityIds
    attribute: Text | None = None
    #: Set to None explicitly for `from: null` (any state change, ignoring attribute changes).
    from_: StateValues | None = Field(default=None, alias="from")
    #: Set to None explicitly for `to: null` (any state change, ignoring attribute changes).
    to: StateValues | None = None
    for_: Duration | None = Field(default=None, alias="for")


class NumericStateTrigger(_Trigger):
    trigger: Literal["numeric_state"] = "numeric_state"
    entity_id: EntityIds
    attribute: Text | None = None
    above: Threshold | None = None
    below: Threshold | None = None
    for_: Duration | None = Field(default=None, alias="for")

    @field_validator("below")
    @classmethod
    def _below_above(cls, below: int | float | str | None, info: ValidationInfo) -> int | float | str | None:
        _check_thresholds(info.data.get("above"), below)
        return below

    @model_validator(mode="after")
    def _bounded(self) -> NumericStateTrigger:
        if self.above is None and self.below is None:
            raise ValueError("numeric_state needs 'above', 'below' or both")
        return self


class TimeTrigger(_Trigger):
    trigger: Literal["time"] = "time"
    at: TimesOrEntities


class SunTrigger(_Trigger):
    trigger: Literal["sun"] = "sun"
    event: Literal["sunrise", "sunset"]
    offset: Offset | None = None


class HomeAssistantTrigger(_Trigger):
    trigger: Literal["homeassistant"] = "homeassistant"
    event: Literal["start", "shutdown"]


class EventTrigger(_Trigger):
    trigger: Literal["event"] = "event"
    event_type: Texts
    event_data: dict[str, Any] | None = None


class TemplateTrigger(_Trigger):
    trigger: Literal["template"] = "template"
    value_template: Text
    for_: Duration | None = Field(default=None, alias="for")


class ZoneTrigger(_Trigger):
    trigger: Literal["zone"] = "zone"
    entity_id: EntityIds
    zone: ZoneId
    event: Literal["enter", "leave"] = "enter"


class _Kinds(NamedTuple):
    """How the members of a union of kinds are told apart, for messages about a missing or unknown kind."""

    key: str  # "" where the kind is whichever of `kinds` is a key of the mapping (actions)
    legacy: str
    kinds: tuple[str, ...]


#: The discriminated unions, keyed by the custom error type their discriminator reports. (Discriminator
#: context must stay hashable, so these details live here rather than in `custom_error_context`.)
_UNIONS: dict[str, _Kinds] = {
    "trigger": _Kinds(
        "trigger",
        "platform",
        ("state", "numeric_state", "time", "sun", "homeassistant", "event", "template", "zone"),
    ),
    "condition": _Kinds(
        "condition", "", ("state", "numeric_state", "time", "sun", "and", "or", "not", "template", "trigger")
    ),
    "action": _Kinds("", "", ("action", "delay", "choose")),
}


def _tagger(noun: str) -> Callable[[Any], str | None]:
    """Discriminator: the union member for a mapping's kind key (or its legacy name), or a model's kind.

    Tags are `key:kind`: a colon never occurs in a field name, so `_path` can drop tags from error locs.
    """
    key, legacy, _ = _UNIONS[noun]

    def tag(value: Any) -> str | None:
        if isinstance(value, BaseModel):
            return f"{key}:{getattr(value, key)}"
        if isinstance(value, dict):
            kind = value.get(key, value.get(legacy))
            return f"{key}:{kind}" if isinstance(kind, str) else None
        return None

    return tag


def _discriminator(noun: str, tagger: Callable[[Any], str | None]) -> Discriminator:
    return Discriminator(tagger, custom_error_type=noun, custom_error_message=f"unknown {noun} kind")


Trigger: TypeAlias = Annotated[
    Annotated[StateTrigger, Tag("trigger:state")]
    | Annotated[NumericStateTrigger, Tag("trigger:numeric_state")]
    | Annotated[TimeTrigger, Tag("trigger:time")]
    | Annotated[SunTrigger, Tag("trigger:sun")]
    | Annotated[HomeAssistantTrigger, Tag("trigger:homeassistant")]
    | Annotated[EventTrigger, Tag("trigger:event")]
    | Annotated[TemplateTrigger, Tag("trigger:template")]
    | Annotated[ZoneTrigger, Tag("trigger:zone")],
    _discriminator("trigger", _tagger("trigger")),
]

# ---------------------------------------------------------------------------------------- conditions


class StateCondition(_Model):
    condition: Literal["state"] = "state"
    entity_id: EntityIds
    attribute: Text | None = None
    state: StateValues
    for_: Duration | None = Field(default=None, alias="for")


class NumericStateCondition(_Model):
    condition: Literal["numeric_state"] = "numeric_state"
    entity_id: EntityIds
    attribute: Text | None = None
    above: Threshold | None = None
    below: Threshold | None = None

    @field_validator("below")
    @classmethod
    def _below_above(cls, below: int | float | str | None, info: ValidationInfo) -> int | float | str | None:
        _check_thresholds(info.data.get("above"), below)
        return below

    @model_validator(mode="after")
    def _bounded(self) -> NumericStateCondition:
        if self.above is None and self.below is None:
            raise ValueError("numeric_state needs 'above', 'below' or both")
        return self


class TimeCondition(_Model):
    condition: Literal["time"] = "time"
    after: TimeOrEntity | None = None
    before: TimeOrEntity | None = None
    weekday: Weekdays | None = None

    @model_validator(mode="after")
    def _constrained(self) -> TimeCondition:
        if self.after is None and self.before is None and self.weekday is None:
            raise ValueError("time condition needs 'after', 'before' or 'weekday'")
        return self


SunEvent: TypeAlias = Literal["sunrise", "sunset"]


class SunCondition(_Model):
    condition: Literal["sun"] = "sun"
    after: SunEvent | None = None
    before: SunEvent | None = None
    after_offset: Offset | None = None
    before_offset: Offset | None = None

    @field_validator("after_offset", "before_offset")
    @classmethod
    def _anchored(cls, offset: DurationValue | None, info: ValidationInfo) -> DurationValue | None:
        anchor = (info.field_name or "").removesuffix("_offset")
        if offset is not None and info.data.get(anchor) is None:
            raise ValueError(f"'{anchor}_offset' needs '{anchor}'")
        return offset

    @model_validator(mode="after")
    def _constrained(self) -> SunCondition:
        if self.after is None and self.before is None:
            raise ValueError("sun condition needs 'after', 'before' or both")
        return self


class AndCondition(_Model):
    condition: Literal["and"] = "and"
    conditions: Annotated[list[Condition], BeforeValidator(_ensure_list)]


class OrCondition(_Model):
    condition: Literal["or"] = "or"
    conditions: Annotated[list[Condition], BeforeValidator(_ensure_list)]


class NotCondition(_Model):
    condition: Literal["not"] = "not"
    conditions: Annotated[list[Condition], BeforeValidator(_ensure_list)]


class TemplateCondition(_Model):
    condition: Literal["template"] = "template"
    value_template: Text


class TriggerCondition(_Model):
    """True when the automation was started by the trigger(s) with this `id`."""

    condition: Literal["trigger"] = "trigger"
    id: Texts


Condition: TypeAlias = Annotated[
    Annotated[StateCondition, Tag("condition:state")]
    | Annotated[NumericStateCondition, Tag("condition:numeric_state")]
    | Annotated[TimeCondition, Tag("condition:time")]
    | Annotated[SunCondition, Tag("condition:sun")]
    | Annotated[AndCondition, Tag("condition:and")]
    | Annotated[OrCondition, Tag("condition:or")]
    | Annotated[NotCondition, Tag("condition:not")]
    | Annotated[TemplateCondition, Tag("condition:template")]
    | Annotated[TriggerCondition, Tag("condition:trigger")],
    _discriminator("condition", _tagger("condition")),
]

# ------------------------------------------------------------------------------------------- actions


class Target(_Model):
    """What a service call acts on; HA resolves areas, floors, devices and labels to their entities."""

    entity_id: TargetEntityIds | None = None
    device_id: DeviceIds | None = None
    area_id: Texts | None = None
    floor_id: Texts | None = None
    label_id: Texts | None = None


class ServiceAction(_Model):
    """A service call, `action: domain.service` (the legacy key is `service:`)."""

    action: ServiceName
    target: Target | None = None
    data: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_service(cls, data: Any) -> Any:
        data = _rename_legacy(data, "service", "action")
        # Legacy calls put `entity_id` beside `service:`; HA treats it as the target.
        if isinstance(data, dict) and "entity_id" in data:
            data = dict(data)
            target = data.get("target") or {}
            if not isinstance(target, dict) or "entity_id" in target:
                raise ValueError("give 'entity_id' once, inside 'target'")
            data["target"] = {"entity_id": data.pop("entity_id"), **target}
        return data

    @property
    def domain(self) -> str:
        return self.action.partition(".")[0]

    @property
    def service(self) -> str:
        return self.action.partition(".")[2]


class DelayAction(_Model):
    delay: Duration


class ChooseOption(_Model):
    conditions: Annotated[list[Condition], BeforeValidator(_ensure_list)]
    sequence: Annotated[list[Action], BeforeValidator(_ensure_list)]


class ChooseAction(_Model):
    """Runs the sequence of the first option whose conditions all hold, else `default`."""

    choose: Annotated[list[ChooseOption], BeforeValidator(_ensure_list), Field(min_length=1)]
    default: Annotated[list[Action], BeforeValidator(_ensure_list)] | None = None


def _action_tag(value: Any) -> str | None:
    # Actions have no common kind key: the kind is whichever of these keys the mapping has.
    if isinstance(value, ServiceAction) or (isinstance(value, dict) and {"action", "service"} & value.keys()):
        return "action:service"
    if isinstance(value, DelayAction) or (isinstance(value, dict) and "delay" in value):
        return "action:delay"
    if isinstance(value, ChooseAction) or (isinstance(value, dict) and "choose" in value):
        return "action:choose"
    return None


Action: TypeAlias = Annotated[
    Annotated[ServiceAction, Tag("action:service")]
    | Annotated[DelayAction, Tag("action:delay")]
    | Annotated[ChooseAction, Tag("action:choose")],
    _discriminator("action", _action_tag),
]

# ---------------------------------------------------------------------------------------- automation

Mode: TypeAlias = Literal["single", "restart", "queued", "parallel"]


class Automation(_Model):
    """One automation as HA stores it in automations.yaml (2024.10+ key names)."""

    id: Id | None = None
    alias: Text | None = None
    description: str | None = None
    triggers: Annotated[list[Trigger], BeforeValidator(_ensure_list)]
    conditions: Annotated[list[Condition], BeforeValidator(_ensure_list)] = Field(default_factory=list)
    actions: Annotated[list[Action], BeforeValidator(_ensure_list)]
    mode: Mode = "single"
    #: How many runs may queue or overlap; HA allows it only with mode queued or parallel.
    max: int | None = Field(default=None, ge=2, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _legacy_keys(cls, data: Any) -> Any:
        for legacy, current in (("trigger", "triggers"), ("condition", "conditions"), ("action", "actions")):
            data = _rename_legacy(data, legacy, current)
        return data

    @field_validator("max")
    @classmethod
    def _max_needs_queue(cls, value: int | None, info: ValidationInfo) -> int | None:
        mode = info.data.get("mode")
        if value is not None and mode not in ("queued", "parallel"):
            raise ValueError(f"'max' is only allowed with mode queued or parallel, not {mode!r}")
        return value


for _model in (AndCondition, OrCondition, NotCondition, ChooseOption, ChooseAction, Automation):
    _model.model_rebuild()

# ------------------------------------------------------------------------------------------- parsing


def _path(loc: Sequence[int | str]) -> str:
    """pydantic's loc as an HA-style path, `actions[0].target.entity_id`, without union tags."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif ":" not in part:
            path += f".{part}" if path else part
    return path


def _issue(error: ErrorDetails) -> Issue:
    path = _path(error["loc"])
    kind, value = error["type"], error["input"]
    if kind in _UNIONS:
        if not isinstance(value, dict):
            return Issue(path, f"each {kind} must be a mapping, got {value!r}")
        key, legacy, kinds = _UNIONS[kind]
        if not key:
            return Issue(path, f"unknown {kind}: expected a mapping with one of the keys {', '.join(kinds)}")
        where = f"{path}.{key}"
        given = value.get(key, value.get(legacy) if legacy else None)
        if given is None:
            also = f" (or legacy {legacy!r})" if legacy else ""
            return Issue(where, f"required key {key!r}{also} is missing")
        return Issue(where, f"unknown {kind} kind {given!r}; expected one of {', '.join(kinds)}")
    if kind == "missing":
        return Issue(path, "required key is missing")
    if kind == "extra_forbidden":
        return Issue(path, f"unknown key {path.rpartition('.')[2]!r}")
    if kind == "value_error":
        return Issue(path, str(error.get("ctx", {})["error"]))
    if isinstance(value, dict | list):
        return Issue(path, error["msg"])
    return Issue(path, f"{error['msg']}, got {value!r}")


def parse_automation(data: object) -> Automation:
    """Validate one automation mapping (either syntax); raise `AutomationError` listing every problem."""
    try:
        return Automation.model_validate(data)
    except ValidationError as error:
        raise AutomationError([_issue(e) for e in error.errors(include_url=False)]) from None


# ---------------------------------------------------------------------------------------------- YAML


class _QuotedStr(str):
    """A string YAML must quote: automation ids, so a numeric-looking id stays a string."""

    __slots__ = ()


class _Dumper(yaml.SafeDumper):
    """SafeDumper writing as HA does: nulls as empty values, quoted automation ids, multi-line blocks."""


def _represent_quoted(dumper: yaml.SafeDumper, data: _QuotedStr) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(data), style="'")


def _represent_none(dumper: yaml.SafeDumper, _data: None) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:null", "")


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # Multi-line templates read best as `|` blocks, as people write them; PyYAML falls back to quoting
    # where a block cannot hold the text exactly (trailing spaces, say).
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(_QuotedStr, _represent_quoted)
_Dumper.add_representer(type(None), _represent_none)
_Dumper.add_representer(str, _represent_str)


def _legacy_actions(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    legacy = []
    for action in actions:
        if "action" in action:
            action = {"service" if key == "action" else key: value for key, value in action.items()}
        elif "choose" in action:
            action = dict(action)
            action["choose"] = [
                {**option, "sequence": _legacy_actions(option["sequence"])} for option in action["choose"]
            ]
            if "default" in action:
                action["default"] = _legacy_actions(action["default"])
        legacy.append(action)
    return legacy


def _document(automation: Automation, legacy: bool) -> dict[str, Any]:
    data: dict[str, Any] = automation.model_dump(mode="json")
    if "id" in data:
        data["id"] = _QuotedStr(data["id"])
    if not legacy:
        return data
    renamed: dict[str, Any] = {}
    for key, value in data.items():
        if key == "triggers":
            renamed["trigger"] = [
                {"platform" if k == "trigger" else k: v for k, v in trigger.items()} for trigger in value
            ]
        elif key == "conditions":
            renamed["condition"] = value
        elif key == "actions":
            renamed["action"] = _legacy_actions(value)
        else:
            renamed[key] = value
    return renamed


def render_yaml(automations: Sequence[Automation], legacy: bool = False) -> str:
    """automations.yaml text: 2024.10+ syntax, or with `legacy` the `platform:`/`service:` syntax.

    The same automations always give the same text (model field order, no sorting, no line folding).
    """
    documents = [_document(automation, legacy) for automation in automations]
    return yaml.dump(
        documents,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000,  # never fold long templates or descriptions across lines
    )


@dataclass(frozen=True)
class ParsedFile:
    """The automations of a YAML file that parsed, keyed by their path prefix (`[3]`), and the others' issues.

    The prefix is "" when the file holds a single automation mapping rather than a list.
    """

    automations: dict[str, Automation]
    issues: list[Issue]


def join_path(prefix: str, path: str) -> str:
    """`prefix` and `path` joined as one HA-style path: `[2]` + `triggers[0]` → `[2].triggers[0]`."""
    if not prefix or not path:
        return prefix or path
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def parse_yaml(text: str) -> ParsedFile:
    """Parse automations.yaml (either syntax) with `yaml.safe_load`, keeping going past bad automations."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return ParsedFile({}, [Issue("", f"invalid YAML: {error}")])
    if data is None:
        return ParsedFile({}, [])
    if isinstance(data, dict):
        items = {"": data}
    elif isinstance(data, list):
        items = {f"[{index}]": item for index, item in enumerate(data)}
    else:
        return ParsedFile({}, [Issue("", f"expected a list of automations, got {type(data).__name__}")])
    automations: dict[str, Automation] = {}
    issues: list[Issue] = []
    for prefix, item in items.items():
        try:
            automations[prefix] = parse_automation(item)
        except AutomationError as error:
            issues += [Issue(join_path(prefix, path), message) for path, message in error.issues]
    return ParsedFile(automations, issues)


def load_yaml(text: str) -> list[Automation]:
    """The automations of automations.yaml text (either syntax); `AutomationError` if any is invalid."""
    parsed = parse_yaml(text)
    if parsed.issues:
        raise AutomationError(parsed.issues)
    return list(parsed.automations.values())
