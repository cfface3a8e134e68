"""Scalar values of HA's automation language, issues, and the base model every step builds on.

Owns the validators of single values (entity ids, services, times, durations, states, thresholds,
templates) as HA's `config_validation` accepts them, the `Issue`/`AutomationError` types that carry
HA-style paths, and `_Model`: strict pydantic models that remember which of HA's legacy key names
(`platform`, `service`, `trigger:` …) a mapping was written with and render either syntax. Values keep
the form they were written in (a duration stays `"00:05:00"`, `300` or `{minutes: 5}`), so YAML →
models → YAML reproduces the file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, NamedTuple, Self, TypeAlias, TypeGuard

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    ModelWrapValidatorHandler,
    PlainValidator,
    PrivateAttr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    Tag,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

#: Longest issue path or message kept: a message quoting a value (`got '…'`) must not grow with it — an
#: alias repeating a 100 kB string 2,000 times once made 400 MB of messages from 187 kB of YAML.
MAX_ISSUE_CHARS = 500


class _IssueFields(NamedTuple):
    path: str
    message: str


class Issue(_IssueFields):
    """One problem found in an automation: where (`triggers[1].at`) and what, in words (each cut to
    `MAX_ISSUE_CHARS`)."""

    __slots__ = ()

    def __new__(cls, path: str, message: str) -> Self:
        def cut(text: str) -> str:
            return text if len(text) <= MAX_ISSUE_CHARS else text[: MAX_ISSUE_CHARS - 1] + "…"

        return super().__new__(cls, cut(path), cut(message))


class AutomationError(ValueError):
    """An automation (or a file of them) failed validation; `issues` lists every problem found."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(f"{path or '<root>'}: {message}" for path, message in self.issues))


#: How a rendering names keys: as each mapping was written, HA's 2024.10+ names, or the legacy names.
Syntax: TypeAlias = Literal["as_written", "current", "legacy"]

# HA's own `valid_entity_id` expression. Unlike `homesim.schema.naming.is_valid_entity_id` it accepts any
# domain: automations may name helpers homesim does not model (input_datetime, …).
ENTITY_ID_RE = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")
# Entity registry ids: the UI writes these instead of entity ids in device-oriented triggers/conditions.
REGISTRY_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_DEVICE_ID_RE = REGISTRY_ID_RE
_TIME_RE = re.compile(r"^([01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?$")
# HA splits "H:M[:S]" on colons and adds the parts up (`cv.time_period_str`): no range per part.
_DURATION_RE = re.compile(r"^[-+]?\d+:\d+(?::\d+(?:\.\d+)?)?$")
NUMBER_RE = re.compile(r"^[-+]?\d+(?:\.\d+)?$")
_DURATION_KEYS = ("days", "hours", "minutes", "seconds", "milliseconds")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TEMPLATE_RE = re.compile(r"\{\{|\{%|\{#")

#: A duration as written: "HH:MM[:SS[.fff]]", a number of seconds, {days, hours, minutes, seconds,
#: milliseconds}, or a template rendering one.
DurationValue: TypeAlias = str | int | float | dict[str, Any]


def is_template(value: object) -> TypeGuard[str]:
    """Whether a value is a Jinja template (HA renders it when the automation runs)."""
    return isinstance(value, str) and _TEMPLATE_RE.search(value) is not None


def is_number(value: object) -> TypeGuard[int | float]:
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


def _loose_id(value: object) -> str:
    # Trigger ids and similar labels: HA's `cv.string` turns numbers into their text.
    if is_number(value):
        return str(value)
    return _text(value, "id")


def _entity_id(value: object) -> str:
    text = _text(value, "entity id")
    # HA lowercases entity ids before checking them (`cv.entity_id`); the text is kept as written.
    if not (ENTITY_ID_RE.match(text.lower()) or REGISTRY_ID_RE.match(text)):
        raise ValueError(f"{text!r} is not an entity id ('domain.object_id' in lowercase, digits, '_')")
    return text


def _target_entity_id(value: object) -> str:
    # `all` and `none` are HA's targets for every / no entity of the service's domain; service calls
    # render templates in their targets.
    if value in ("all", "none") or is_template(value):
        return str(value)
    return _entity_id(value)


def _zone_id(value: object) -> str:
    zone = _entity_id(value)
    if not zone.startswith("zone.") and "." in zone:
        raise ValueError(f"{zone!r} is not a zone (expected 'zone.<name>')")
    return zone


def _device_id(value: object) -> str:
    text = _id(value, "device id")
    if not (_DEVICE_ID_RE.match(text) or is_template(text)):
        raise ValueError(f"{text!r} is not a device id (32 lowercase hex characters)")
    return text


def _service(value: object) -> str:
    text = _text(value, "action")
    if not (ENTITY_ID_RE.match(text) or is_template(text)):
        raise ValueError(f"{text!r} is not a service: expected 'domain.service', e.g. 'light.turn_on'")
    return text


def _state(value: object) -> str:
    if isinstance(value, bool) or value is None:
        raise ValueError(
            f"state {value!r} is not a string: quote states in YAML (unquoted on/off/yes/no are booleans)"
        )
    if is_number(value):
        return str(value)  # HA compares state strings; a YAML number means its text
    if not isinstance(value, str):
        raise ValueError(f"state must be a string, got {value!r}")
    return value  # "" is a state (an entity whose state is the empty string)


def _weekday(value: object) -> str:
    if value not in WEEKDAYS:
        raise ValueError(f"weekday {value!r} must be one of {', '.join(WEEKDAYS)}")
    return str(value)


def _time_of_day(value: object) -> str:
    if is_number(value):
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
    if isinstance(value, str) and ENTITY_ID_RE.match(value):
        return value
    return _time_of_day(value)


def _time_at(value: object) -> str | dict[str, Any]:
    # A time trigger's `at`: a time, an entity holding one, or {entity_id, offset} (a sensor's time shifted).
    if isinstance(value, dict):
        unknown = sorted(str(key) for key in value if key not in ("entity_id", "offset"))
        if unknown or "entity_id" not in value:
            raise ValueError(f"'at' as a mapping takes 'entity_id' and 'offset', got {sorted(value)}")
        _entity_id(value["entity_id"])
        if "offset" in value:
            _duration(signed=True)(value["offset"])
        return value
    return _time_or_entity(value)


def _threshold(value: object) -> int | float | str:
    # numeric_state bounds: a number, or an entity (input_number, sensor, number) holding one.
    if is_number(value):
        return value
    if isinstance(value, str) and NUMBER_RE.match(value):
        return float(value)
    if isinstance(value, str) and ENTITY_ID_RE.match(value):
        return value
    raise ValueError(f"{value!r} must be a number or an entity id holding one")


def _template(value: object) -> str:
    # HA accepts any string as a template (a static one renders as itself).
    if is_number(value) or isinstance(value, bool):
        return str(value).lower() if isinstance(value, bool) else str(value)
    return _text(value, "template")


def one_or_many(item: Callable[[object], Any]) -> Callable[[object], Any]:
    """A validator for HA's `x` or `[x, …]` fields, reporting at the field (pydantic's union loc is noise)."""

    def validate(value: object) -> Any:
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
        if is_template(value):
            return value
        if is_number(value):
            if negative(value):
                raise ValueError(f"duration {value!r} must not be negative")
            return value
        if isinstance(value, str):
            if not (_DURATION_RE.match(value) or NUMBER_RE.match(value)):
                raise ValueError(f"duration {value!r} must be {forms}")
            if value.startswith("-") and not signed:
                raise ValueError(f"duration {value!r} must not be negative")
            return value
        if isinstance(value, dict):
            unknown = sorted(str(key) for key in value if key not in _DURATION_KEYS)
            if unknown or not value:
                raise ValueError(f"duration keys must be among {', '.join(_DURATION_KEYS)}, got {unknown}")
            parts: dict[str, Any] = {}
            for key in _DURATION_KEYS:  # canonical order, so equal durations render alike
                if key in value:
                    number = value[key]
                    if is_template(number):
                        parts[key] = number
                        continue
                    if not is_number(number) or negative(number):
                        sign = "a number" if signed else "a non-negative number"
                        raise ValueError(f"duration {key} {number!r} must be {sign}")
                    parts[key] = number
            return parts
        raise ValueError(f"duration {value!r} must be {forms}")

    return validate


def duration_to_timedelta(value: DurationValue) -> timedelta:
    """The length of a validated duration in any of its written forms (templates raise ValueError)."""
    if is_template(value) or (isinstance(value, dict) and any(is_template(v) for v in value.values())):
        raise ValueError(f"duration {value!r} is a template: its length is only known when it runs")
    if isinstance(value, dict):
        return timedelta(**value)
    if isinstance(value, int | float) or NUMBER_RE.match(value):
        return timedelta(seconds=float(value))
    sign = -1 if value.startswith("-") else 1
    hours, minutes, *seconds = value.lstrip("+-").split(":")
    return sign * timedelta(
        hours=int(hours), minutes=int(minutes), seconds=float(seconds[0] if seconds else 0)
    )


def _enabled(value: object) -> bool | str:
    if isinstance(value, bool) or is_template(value):
        return value
    raise ValueError(f"'enabled' must be true, false or a template, got {value!r}")


def _plain(validate: Callable[[object], Any], schema_type: Any) -> PlainValidator:
    return PlainValidator(validate, json_schema_input_type=schema_type)


def ensure_list(value: object) -> object:
    # HA accepts one item where a list is expected, and an empty key (`conditions:`) as no items.
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


Text = Annotated[str, _plain(lambda v: _text(v, "value"), str)]
#: Text HA takes through `cv.string`, which turns a number into its text (aliases).
LooseText = Annotated[str, _plain(_loose_id, str)]
Id = Annotated[str, _plain(lambda v: _id(v, "id"), str)]
LooseId = Annotated[str, _plain(_loose_id, str)]
EntityIds = Annotated[str | list[str], _plain(one_or_many(_entity_id), str | list[str])]
EntityId = Annotated[str, _plain(_entity_id, str)]
ZoneId = Annotated[str, _plain(_zone_id, str)]
ServiceName = Annotated[str, _plain(_service, str)]
StateValues = Annotated[str | list[str], _plain(one_or_many(_state), str | list[str])]
TimeOrEntity = Annotated[str, _plain(_time_or_entity, str)]
TimesOrEntities = Annotated[
    str | dict[str, Any] | list[str | dict[str, Any]],
    _plain(one_or_many(_time_at), str | list[str]),
]
Weekdays = Annotated[str | list[str], _plain(one_or_many(_weekday), str | list[str])]
Threshold = Annotated[int | float | str, _plain(_threshold, float | str)]
Duration = Annotated[DurationValue, _plain(_duration(signed=False), DurationValue)]
Offset = Annotated[DurationValue, _plain(_duration(signed=True), DurationValue)]
Texts = Annotated[str | list[str], _plain(one_or_many(lambda v: _text(v, "value")), str | list[str])]
LooseIds = Annotated[str | list[str], _plain(one_or_many(_loose_id), str | list[str])]
TargetEntityIds = Annotated[str | list[str], _plain(one_or_many(_target_entity_id), str | list[str])]
DeviceIds = Annotated[str | list[str], _plain(one_or_many(_device_id), str | list[str])]
TemplateText = Annotated[str, _plain(_template, str)]


def mapping_or_template(value: Any) -> str:
    # A field that takes a mapping or a template rendering one: report errors of the branch written.
    return "template" if isinstance(value, str) else "mapping"


#: A mapping of service data, or a template rendering one.
DataOrTemplate = Annotated[
    Annotated[dict[str, Any], Tag("mapping")] | Annotated[TemplateText, Tag("template")],
    Discriminator(mapping_or_template),
]
Enabled = Annotated[bool | str, _plain(_enabled, bool | str)]


class _Model(BaseModel):
    """Strict model of one mapping (unknown keys are errors); renders what was given, in either syntax."""

    model_config = ConfigDict(
        extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    #: Fields rendered as an explicit YAML null when set to None: HA gives `to: null` a meaning
    #: (state changes only, not attribute changes), distinct from leaving `to` out.
    _explicit_null: ClassVar[frozenset[str]] = frozenset()
    #: Fields rendered even when left at their default (the key that names a step's kind).
    _always: ClassVar[frozenset[str]] = frozenset()
    #: HA's 2024.10+ key → the legacy key it replaced (`trigger` → `platform`).
    _legacy_names: ClassVar[dict[str, str]] = {}
    #: The legacy keys this mapping was written with (presentation only: not part of equality).
    _written_legacy: frozenset[str] = PrivateAttr(default=frozenset())

    @model_validator(mode="wrap")
    @classmethod
    def _read_legacy(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        legacy: set[str] = set()
        if isinstance(data, dict):
            for current, old in cls._legacy_names.items():
                if old in data:
                    if current in data:
                        raise ValueError(f"use {current!r} or the legacy {old!r}, not both")
                    legacy.add(old)
            if legacy:
                renamed = {old: current for current, old in cls._legacy_names.items() if old in legacy}
                data = {renamed.get(key, key): value for key, value in data.items()}
        model = handler(data)
        if legacy and isinstance(model, _Model):
            model._written_legacy = frozenset(legacy)
        return model

    @property
    def written_legacy(self) -> frozenset[str]:
        """The legacy key names this mapping was written with (empty: 2024.10+ syntax)."""
        return self._written_legacy

    def __eq__(self, other: object) -> bool:
        # The same automation whichever syntax it was written in.
        return (
            type(self) is type(other)
            and isinstance(other, BaseModel)
            and self.__dict__ == other.__dict__
            and self.__pydantic_extra__ == other.__pydantic_extra__
        )

    __hash__ = None  # type: ignore[assignment]

    @model_serializer(mode="wrap")
    def _render(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data: dict[str, Any] = handler(self)
        given = self.model_fields_set
        keep_null = self._explicit_null & given
        out: dict[str, Any] = {}
        for name, key in _field_keys(type(self)):
            if key not in data:
                continue
            value = data[key]
            if value is None and name not in keep_null:
                continue
            # A default the author did not write is HA's default too: leave it out, as they did.
            if name not in given and name not in self._always:
                continue
            out[key] = value
        for key, value in (self.__pydantic_extra__ or {}).items():
            out[key] = data.get(key, value)
        syntax: Syntax = (info.context or {}).get("syntax", "current")
        if syntax != "current" and self._legacy_names:
            legacy = {
                current: old
                for current, old in self._legacy_names.items()
                if syntax == "legacy" or old in self._written_legacy
            }
            out = {legacy.get(key, key): value for key, value in out.items()}
        return self._present(out, syntax)

    def _present(self, data: dict[str, Any], syntax: Syntax) -> Any:
        """The rendered mapping as written (a subclass turns it back into a shorthand form)."""
        return data


#: Each model's (field name, rendered key) pairs in field order: read for every mapping rendered.
_FIELD_KEYS: dict[type[BaseModel], tuple[tuple[str, str], ...]] = {}


def _field_keys(model: type[BaseModel]) -> tuple[tuple[str, str], ...]:
    keys = _FIELD_KEYS.get(model)
    if keys is None:
        keys = _FIELD_KEYS[model] = tuple(
            (name, field.alias or name) for name, field in model.model_fields.items()
        )
    return keys


class NumericStateRules(BaseModel):
    """HA's rules for a `numeric_state` trigger or condition (mixed into both): `above`, `below` or both,
    and a numeric `below` greater than a numeric `above`, else it never matches."""

    if TYPE_CHECKING:
        above: Threshold | None
        below: Threshold | None

    @field_validator("below", check_fields=False)  # on `below`, so the error names that key
    @classmethod
    def _below_above(cls, below: Threshold | None, info: ValidationInfo) -> Threshold | None:
        above = info.data.get("above")
        if isinstance(above, int | float) and isinstance(below, int | float) and above >= below:
            raise ValueError(f"'below' {below} must be greater than 'above' {above}, or it never matches")
        return below

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.above is None and self.below is None:
            raise ValueError("numeric_state needs 'above', 'below' or both")
        return self
