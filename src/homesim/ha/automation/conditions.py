"""Conditions: every condition HA core ships, the shorthand forms, and the union that tells them apart.

Besides `condition: <kind>` mappings HA accepts two shorthands, kept as written: a bare template string
(`- "{{ is_state('sun.sun', 'below_horizon') }}"`, a `TemplateCondition` with `shorthand=True`) and
`and:`/`or:`/`not:` keys holding the nested conditions.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from homesim.ha.automation.triggers import UNIONS, _Kinds, discriminator, tagger
from homesim.ha.automation.values import (
    Duration,
    DurationValue,
    Enabled,
    EntityIds,
    Id,
    LooseIds,
    NumericStateRules,
    Offset,
    StateValues,
    Syntax,
    TemplateText,
    Text,
    Threshold,
    TimeOrEntity,
    Weekdays,
    ZoneId,
    _Model,
    ensure_list,
)


class ConditionBase(_Model):
    _always = frozenset({"condition"})

    condition: str
    alias: Text | None = None
    enabled: Enabled | None = None


class StateCondition(ConditionBase):
    condition: Literal["state"] = "state"
    entity_id: EntityIds
    attribute: Text | None = None
    state: StateValues
    for_: Duration | None = Field(default=None, alias="for")
    match: Literal["all", "any"] | None = None


class NumericStateCondition(ConditionBase, NumericStateRules):
    condition: Literal["numeric_state"] = "numeric_state"
    entity_id: EntityIds
    attribute: Text | None = None
    value_template: TemplateText | None = None
    above: Threshold | None = None
    below: Threshold | None = None


class TimeCondition(ConditionBase):
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


class SunCondition(ConditionBase):
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


class _Logic(ConditionBase):
    """and / or / not; written either as `condition: and` + `conditions:` or as the shorthand `and: [...]`."""

    conditions: Annotated[list[Condition], BeforeValidator(ensure_list)]
    _shorthand: bool = PrivateAttr(default=False)

    @model_validator(mode="wrap")
    @classmethod
    def _read_shorthand(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        kind = cls.model_fields["condition"].default
        shorthand = isinstance(data, dict) and kind in data and "condition" not in data
        if shorthand:
            data = {"condition": kind, **{"conditions" if k == kind else k: v for k, v in data.items()}}
        model = handler(data)
        if shorthand:
            model._shorthand = True
        return model

    def _present(self, data: dict[str, Any], syntax: Syntax) -> Any:
        if not self._shorthand or syntax == "current":
            return data
        return {self.condition if k == "conditions" else k: v for k, v in data.items() if k != "condition"}


class AndCondition(_Logic):
    condition: Literal["and"] = "and"


class OrCondition(_Logic):
    condition: Literal["or"] = "or"


class NotCondition(_Logic):
    condition: Literal["not"] = "not"


class TemplateCondition(ConditionBase):
    condition: Literal["template"] = "template"
    value_template: TemplateText
    #: Written as a bare template string (the shorthand); presentation only.
    _shorthand: bool = PrivateAttr(default=False)

    @property
    def shorthand(self) -> bool:
        """Whether it was written as a bare template string."""
        return self._shorthand

    def write_in_full(self) -> None:
        """Render as `condition: template` even if written as the shorthand (where a mapping is needed)."""
        self._shorthand = False

    @model_validator(mode="wrap")
    @classmethod
    def _read_shorthand(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        if isinstance(data, str):
            model = handler({"condition": "template", "value_template": data})
            model._shorthand = True
            return model
        return handler(data)

    def _present(self, data: dict[str, Any], syntax: Syntax) -> Any:
        if self._shorthand and syntax != "current" and set(data) == {"condition", "value_template"}:
            return self.value_template
        return data


class TriggerCondition(ConditionBase):
    """True when the automation was started by the trigger(s) with this `id`."""

    condition: Literal["trigger"] = "trigger"
    id: LooseIds


class ZoneCondition(ConditionBase):
    condition: Literal["zone"] = "zone"
    entity_id: EntityIds
    zone: ZoneId | list[ZoneId]


class DeviceCondition(ConditionBase):
    """A device condition: `device_id` + `domain` + `type`, with whatever else the integration defines."""

    model_config = ConfigDict(extra="allow")

    condition: Literal["device"] = "device"
    device_id: Id
    domain: Text
    type: Text | None = None


_CONDITIONS: tuple[str, ...] = (
    "state",
    "numeric_state",
    "time",
    "sun",
    "and",
    "or",
    "not",
    "template",
    "trigger",
    "zone",
    "device",
)
UNIONS["condition"] = _Kinds("condition", "", _CONDITIONS)
_condition_kind = tagger("condition", _CONDITIONS, lambda kind: None)


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return "condition:template"  # the shorthand template condition
    if isinstance(value, dict) and "condition" not in value:
        shorthand = [kind for kind in ("and", "or", "not") if kind in value]
        if len(shorthand) == 1:
            return f"condition:{shorthand[0]}"
    return _condition_kind(value)


Condition: TypeAlias = Annotated[
    Annotated[StateCondition, Tag("condition:state")]
    | Annotated[NumericStateCondition, Tag("condition:numeric_state")]
    | Annotated[TimeCondition, Tag("condition:time")]
    | Annotated[SunCondition, Tag("condition:sun")]
    | Annotated[AndCondition, Tag("condition:and")]
    | Annotated[OrCondition, Tag("condition:or")]
    | Annotated[NotCondition, Tag("condition:not")]
    | Annotated[TemplateCondition, Tag("condition:template")]
    | Annotated[TriggerCondition, Tag("condition:trigger")]
    | Annotated[ZoneCondition, Tag("condition:zone")]
    | Annotated[DeviceCondition, Tag("condition:device")],
    discriminator("condition", _condition_tag),
]

Conditions: TypeAlias = Annotated[list[Condition], BeforeValidator(ensure_list)]

for _model in (AndCondition, OrCondition, NotCondition):
    _model.model_rebuild()
