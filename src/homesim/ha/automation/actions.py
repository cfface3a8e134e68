"""Script actions: service calls and every other step of HA's script language, and their union.

Actions have no common kind key: the kind is whichever of its keys a mapping has, tried in HA's own
order (`homeassistant.helpers.config_validation.determine_script_action`). Every step takes the common
options `alias`, `enabled` and `continue_on_error`. A service call keeps `entity_id` given on the call
(legacy) apart from `target`, and `data_template`/`service_template` apart from `data`/`action`, so a
rendering reproduces what the user wrote; `entity_ids` merges them for whoever needs the targets.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, TypeAlias

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    RootModel,
    Tag,
    TypeAdapter,
    model_validator,
)

from homesim.ha.automation.conditions import Condition, Conditions, TemplateCondition
from homesim.ha.automation.triggers import UNIONS, Trigger, _Kinds, discriminator
from homesim.ha.automation.values import (
    DataOrTemplate,
    DeviceIds,
    Duration,
    Enabled,
    EntityId,
    Id,
    LooseText,
    ServiceName,
    TargetEntityIds,
    TemplateText,
    Text,
    Texts,
    _Model,
    ensure_list,
    is_template,
    mapping_or_template,
)


class StepBase(_Model):
    alias: LooseText | None = None
    enabled: Enabled | None = None
    continue_on_error: bool | None = None


class Target(_Model):
    """What a service call acts on; HA resolves areas, floors, devices and labels to their entities."""

    entity_id: TargetEntityIds | None = None
    device_id: DeviceIds | None = None
    area_id: Texts | None = None
    floor_id: Texts | None = None
    label_id: Texts | None = None


def _listed(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class ServiceAction(StepBase):
    """A service call, `action: domain.service` (legacy `service:`, or a `service_template`)."""

    _legacy_names: ClassVar[dict[str, str]] = {"action": "service"}

    action: ServiceName | None = None
    service_template: TemplateText | None = None
    #: The call's target, or a template rendering one.
    target: (
        Annotated[
            Annotated[Target, Tag("mapping")] | Annotated[TemplateText, Tag("template")],
            Discriminator(mapping_or_template),
        ]
        | None
    ) = None
    #: `entity_id` given on the call itself rather than in `target` (legacy, still accepted by HA).
    entity_id: TargetEntityIds | None = None
    data: DataOrTemplate | None = None
    data_template: DataOrTemplate | None = None
    metadata: dict[str, Any] | None = None
    response_variable: Text | None = None

    @model_validator(mode="after")
    def _named(self) -> ServiceAction:
        if (self.action is None) == (self.service_template is None):
            raise ValueError("a service call needs 'action' (or legacy 'service') or 'service_template'")
        return self

    @property
    def service_name(self) -> str:
        """`domain.service`, or the template that renders it."""
        return self.action if self.action is not None else str(self.service_template)

    @property
    def templated(self) -> bool:
        """Whether the service itself is only known when the automation runs."""
        return self.action is None or is_template(self.action)

    @property
    def domain(self) -> str:
        return self.service_name.partition(".")[0]

    @property
    def service(self) -> str:
        return self.service_name.partition(".")[2]

    @property
    def entity_ids(self) -> list[str]:
        """The entities named on the call and in its target (templates included as written)."""
        target = self.target.entity_id if isinstance(self.target, Target) else None
        return [*_listed(self.entity_id), *_listed(target)]

    @property
    def all_data(self) -> dict[str, Any]:
        """`data` and `data_template` merged as HA merges them; {} where either is a whole template."""
        merged: dict[str, Any] = {}
        for part in (self.data, self.data_template):
            if isinstance(part, dict):
                merged |= part
        return merged


class DelayAction(StepBase):
    delay: Duration


class WaitTemplateAction(StepBase):
    wait_template: TemplateText
    timeout: Duration | None = None
    continue_on_timeout: bool | None = None


class WaitForTriggerAction(StepBase):
    wait_for_trigger: Annotated[list[Trigger], BeforeValidator(ensure_list)]
    timeout: Duration | None = None
    continue_on_timeout: bool | None = None


class EventAction(StepBase):
    event: Text
    event_data: dict[str, Any] | None = None
    event_data_template: dict[str, Any] | None = None


class SceneAction(StepBase):
    scene: EntityId


class DeviceAction(StepBase):
    """A device action: `device_id` + `domain` (+ `type`, …, whatever the integration defines)."""

    model_config = ConfigDict(extra="allow")

    device_id: Id
    domain: Text
    type: Text | None = None


class ConditionAction(RootModel[Condition]):
    """A condition as a step: the rest of the sequence runs only when it holds."""

    @model_validator(mode="after")
    def _full_form(self) -> ConditionAction:
        # A step is a mapping: a bare template string is a condition only in condition lists.
        if isinstance(self.root, TemplateCondition):
            self.root.write_in_full()
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConditionAction) and self.root == other.root

    __hash__ = None  # type: ignore[assignment]


Actions: TypeAlias = Annotated[list["Action"], BeforeValidator(ensure_list)]


class ChooseOption(_Model):
    alias: Text | None = None
    conditions: Conditions
    sequence: Actions


class ChooseAction(StepBase):
    """Runs the sequence of the first option whose conditions all hold, else `default`."""

    choose: Annotated[list[ChooseOption], BeforeValidator(ensure_list), Field(min_length=1)]
    default: Actions | None = None


class IfAction(StepBase):
    if_: Conditions = Field(alias="if")
    then: Actions
    else_: Actions | None = Field(default=None, alias="else")


class Repeat(_Model):
    """One of `count`, `while`, `until` or `for_each`, and the sequence to repeat."""

    count: int | TemplateText | None = None
    while_: Conditions | None = Field(default=None, alias="while")
    until: Conditions | None = None
    for_each: list[Any] | TemplateText | None = None
    sequence: Actions

    @model_validator(mode="after")
    def _one_kind(self) -> Repeat:
        kinds = [k for k in ("count", "while_", "until", "for_each") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("repeat needs exactly one of 'count', 'while', 'until' or 'for_each'")
        return self


class RepeatAction(StepBase):
    repeat: Repeat


class ParallelAction(StepBase):
    parallel: Actions


class SequenceAction(StepBase):
    sequence: Actions


class VariablesAction(StepBase):
    variables: dict[str, Any]


class StopAction(StepBase):
    stop: str
    error: bool | None = None
    response_variable: Text | None = None


class SetConversationResponseAction(StepBase):
    set_conversation_response: TemplateText | None


#: The keys that name an action's kind, in the order HA tries them.
_ACTION_KEYS: tuple[tuple[str, str], ...] = (
    ("delay", "delay"),
    ("wait_template", "wait_template"),
    ("condition", "condition"),
    ("event", "event"),
    ("action", "service"),
    ("service", "service"),
    ("service_template", "service"),
    ("device_id", "device"),
    ("scene", "scene"),
    ("repeat", "repeat"),
    ("choose", "choose"),
    ("wait_for_trigger", "wait_for_trigger"),
    ("variables", "variables"),
    ("if", "if"),
    ("parallel", "parallel"),
    ("sequence", "sequence"),
    ("stop", "stop"),
    ("set_conversation_response", "set_conversation_response"),
)
_BY_MODEL: dict[type, str] = {}
UNIONS["action"] = _Kinds("", "", tuple(dict.fromkeys(key for key, _ in _ACTION_KEYS)))


def _action_tag(value: Any) -> str | None:
    if isinstance(value, StepBase | ConditionAction):
        return _BY_MODEL.get(type(value))
    if isinstance(value, dict):
        for key, kind in _ACTION_KEYS:
            if key in value:
                return f"action:{kind}"
    return None


Action: TypeAlias = Annotated[
    Annotated[ServiceAction, Tag("action:service")]
    | Annotated[DelayAction, Tag("action:delay")]
    | Annotated[WaitTemplateAction, Tag("action:wait_template")]
    | Annotated[WaitForTriggerAction, Tag("action:wait_for_trigger")]
    | Annotated[EventAction, Tag("action:event")]
    | Annotated[SceneAction, Tag("action:scene")]
    | Annotated[DeviceAction, Tag("action:device")]
    | Annotated[ConditionAction, Tag("action:condition")]
    | Annotated[ChooseAction, Tag("action:choose")]
    | Annotated[IfAction, Tag("action:if")]
    | Annotated[RepeatAction, Tag("action:repeat")]
    | Annotated[ParallelAction, Tag("action:parallel")]
    | Annotated[SequenceAction, Tag("action:sequence")]
    | Annotated[VariablesAction, Tag("action:variables")]
    | Annotated[StopAction, Tag("action:stop")]
    | Annotated[SetConversationResponseAction, Tag("action:set_conversation_response")],
    discriminator("action", _action_tag),
]

_BY_MODEL.update(
    {
        ServiceAction: "action:service",
        DelayAction: "action:delay",
        WaitTemplateAction: "action:wait_template",
        WaitForTriggerAction: "action:wait_for_trigger",
        EventAction: "action:event",
        SceneAction: "action:scene",
        DeviceAction: "action:device",
        ConditionAction: "action:condition",
        ChooseAction: "action:choose",
        IfAction: "action:if",
        RepeatAction: "action:repeat",
        ParallelAction: "action:parallel",
        SequenceAction: "action:sequence",
        VariablesAction: "action:variables",
        StopAction: "action:stop",
        SetConversationResponseAction: "action:set_conversation_response",
    }
)

for _model in (ChooseOption, ChooseAction, IfAction, Repeat, RepeatAction, ParallelAction, SequenceAction):
    _model.model_rebuild()

#: A script's `sequence` (scripts.yaml): a list of actions, or one.
SEQUENCE = TypeAdapter[list[Action]](Annotated[list[Action], BeforeValidator(ensure_list)])
