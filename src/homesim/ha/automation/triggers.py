"""Triggers: every platform HA core ships, integration triggers, and the union that tells them apart.

A trigger names its platform with `trigger:` (legacy `platform:`). Core platforms are checked as HA
checks them; a platform HA core does not ship (`platform: samsungtv.turn_on`, a custom integration's)
parses as an `IntegrationTrigger` that keeps its keys verbatim — it is valid where that integration is
installed, and homesim notes it as "integration not checked". Device triggers keep their
integration-specific keys (`type`, `subtype`, …) the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, NamedTuple, TypeAlias

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    model_validator,
)

from homesim.ha.automation.values import (
    Duration,
    Enabled,
    EntityIds,
    Id,
    LooseId,
    LooseIds,
    NumericStateRules,
    Offset,
    StateValues,
    TemplateText,
    Text,
    Texts,
    Threshold,
    TimesOrEntities,
    ZoneId,
    _Model,
)
from homesim.schema.vocabulary import CORE_TRIGGERLESS_DOMAINS


class TriggerBase(_Model):
    _always = frozenset({"trigger"})
    _legacy_names: ClassVar[dict[str, str]] = {"trigger": "platform"}

    #: The trigger's kind; each subclass narrows it to one literal.
    trigger: str
    #: Names the trigger for `condition: trigger` and `trigger.id` in templates.
    id: LooseId | None = None
    alias: Text | None = None
    enabled: Enabled | None = None
    variables: dict[str, Any] | None = None


class StateTrigger(TriggerBase):
    _explicit_null = frozenset({"from_", "to"})

    trigger: Literal["state"] = "state"
    entity_id: EntityIds
    attribute: Text | None = None
    #: Set to None explicitly for `from: null` (any state change, ignoring attribute changes).
    from_: StateValues | None = Field(default=None, alias="from")
    #: Set to None explicitly for `to: null` (any state change, ignoring attribute changes).
    to: StateValues | None = None
    not_from: StateValues | None = None
    not_to: StateValues | None = None
    for_: Duration | None = Field(default=None, alias="for")

    @model_validator(mode="after")
    def _exclusive(self) -> StateTrigger:
        for key in ("from", "to"):
            if getattr(self, f"{key}_" if key == "from" else key) is not None and getattr(self, f"not_{key}"):
                raise ValueError(f"use '{key}' or 'not_{key}', not both")
        return self


class NumericStateTrigger(TriggerBase, NumericStateRules):
    trigger: Literal["numeric_state"] = "numeric_state"
    entity_id: EntityIds
    attribute: Text | None = None
    value_template: TemplateText | None = None
    above: Threshold | None = None
    below: Threshold | None = None
    for_: Duration | None = Field(default=None, alias="for")


class TimeTrigger(TriggerBase):
    trigger: Literal["time"] = "time"
    at: TimesOrEntities


def _pattern_value(value: object) -> int | str:
    # time_pattern fields: a number, "*" or "/n" (every n-th).
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and (value == "*" or value.lstrip("/").isdigit()):
        return value
    raise ValueError(f"{value!r} must be a number, '*' or '/n' (every n)")


PatternValue = Annotated[int | str, PlainValidator(_pattern_value, json_schema_input_type=int | str)]


class TimePatternTrigger(TriggerBase):
    trigger: Literal["time_pattern"] = "time_pattern"
    hours: PatternValue | None = None
    minutes: PatternValue | None = None
    seconds: PatternValue | None = None

    @model_validator(mode="after")
    def _some(self) -> TimePatternTrigger:
        if self.hours is None and self.minutes is None and self.seconds is None:
            raise ValueError("time_pattern needs 'hours', 'minutes' or 'seconds'")
        return self


class SunTrigger(TriggerBase):
    trigger: Literal["sun"] = "sun"
    event: Literal["sunrise", "sunset"]
    offset: Offset | None = None


class HomeAssistantTrigger(TriggerBase):
    trigger: Literal["homeassistant"] = "homeassistant"
    event: Literal["start", "shutdown"]


class EventTrigger(TriggerBase):
    trigger: Literal["event"] = "event"
    event_type: Texts
    event_data: dict[str, Any] | None = None
    context: dict[str, Any] | None = None


class TemplateTrigger(TriggerBase):
    trigger: Literal["template"] = "template"
    value_template: TemplateText
    for_: Duration | None = Field(default=None, alias="for")


class ZoneTrigger(TriggerBase):
    trigger: Literal["zone"] = "zone"
    entity_id: EntityIds
    zone: ZoneId
    event: Literal["enter", "leave"] = "enter"


class GeoLocationTrigger(TriggerBase):
    trigger: Literal["geo_location"] = "geo_location"
    source: Text
    zone: ZoneId
    event: Literal["enter", "leave"] = "enter"


class TagTrigger(TriggerBase):
    trigger: Literal["tag"] = "tag"
    tag_id: LooseIds
    device_id: LooseIds | None = None


class WebhookTrigger(TriggerBase):
    trigger: Literal["webhook"] = "webhook"
    webhook_id: Text
    allowed_methods: list[Literal["GET", "HEAD", "POST", "PUT"]] | None = None
    local_only: bool | None = None


class MqttTrigger(TriggerBase):
    trigger: Literal["mqtt"] = "mqtt"
    topic: Text
    payload: Any = None
    value_template: TemplateText | None = None
    encoding: str | None = None
    qos: Literal[0, 1, 2] | None = None


class CalendarTrigger(TriggerBase):
    trigger: Literal["calendar"] = "calendar"
    entity_id: EntityIds
    event: Literal["start", "end"] = "start"
    offset: Offset | None = None


class ConversationTrigger(TriggerBase):
    trigger: Literal["conversation"] = "conversation"
    command: Texts


class PersistentNotificationTrigger(TriggerBase):
    trigger: Literal["persistent_notification"] = "persistent_notification"
    notification_id: Text | None = None
    update_type: list[Literal["added", "removed", "current", "updated"]] | None = None


class DeviceTrigger(TriggerBase):
    """A device trigger: `device_id` + `domain` + `type`, with whatever else the integration defines."""

    model_config = ConfigDict(extra="allow")

    trigger: Literal["device"] = "device"
    device_id: Id
    domain: Text
    type: Text | None = None


class IntegrationTrigger(TriggerBase):
    """A platform HA core does not ship (custom integrations): kept verbatim, not checked."""

    model_config = ConfigDict(extra="allow")

    trigger: Text


class _Kinds(NamedTuple):
    """How the members of a union of kinds are told apart, for messages about a missing or unknown kind."""

    key: str  # "" where the kind is whichever of `kinds` is a key of the mapping (actions)
    legacy: str
    kinds: tuple[str, ...]


_TRIGGERS: dict[str, type[TriggerBase]] = {
    "state": StateTrigger,
    "numeric_state": NumericStateTrigger,
    "time": TimeTrigger,
    "time_pattern": TimePatternTrigger,
    "sun": SunTrigger,
    "homeassistant": HomeAssistantTrigger,
    "event": EventTrigger,
    "template": TemplateTrigger,
    "zone": ZoneTrigger,
    "geo_location": GeoLocationTrigger,
    "tag": TagTrigger,
    "webhook": WebhookTrigger,
    "mqtt": MqttTrigger,
    "calendar": CalendarTrigger,
    "conversation": ConversationTrigger,
    "persistent_notification": PersistentNotificationTrigger,
    "device": DeviceTrigger,
}
TRIGGER_PLATFORMS: tuple[str, ...] = tuple(_TRIGGERS)

#: The discriminated unions, keyed by the custom error type their discriminator reports.
UNIONS: dict[str, _Kinds] = {"trigger": _Kinds("trigger", "platform", TRIGGER_PLATFORMS)}


def tagger(
    noun: str, known: tuple[str, ...], fallback: Callable[[str], str | None]
) -> Callable[[Any], str | None]:
    """Discriminator: the union member for a mapping's kind key (or its legacy name), or a model's kind.

    Tags are `key:kind`: a colon never occurs in a field name, so error paths can drop tags. Kinds not in
    `known` go to `fallback(kind)` (None: an unknown kind).
    """
    key, legacy, _ = UNIONS[noun]

    def tag(value: Any) -> str | None:
        if isinstance(value, BaseModel):
            kind = getattr(value, key)
            return f"{key}:{kind}" if kind in known else fallback(kind)
        if isinstance(value, dict):
            kind = value.get(key, value.get(legacy))
            if not isinstance(kind, str):
                return None
            return f"{key}:{kind}" if kind in known else fallback(kind)
        return None

    return tag


def discriminator(noun: str, tag: Callable[[Any], str | None]) -> Discriminator:
    return Discriminator(tag, custom_error_type=noun, custom_error_message=f"unknown {noun} kind")


def _integration_platform(kind: str) -> str | None:
    # A core domain that ships no trigger platform (`weather`, `light`) is an error, as in HA; any other
    # name is an integration this home may have installed.
    domain = kind.partition(".")[0]
    return None if domain in CORE_TRIGGERLESS_DOMAINS or not domain else "trigger:integration"


Trigger: TypeAlias = Annotated[
    Annotated[StateTrigger, Tag("trigger:state")]
    | Annotated[NumericStateTrigger, Tag("trigger:numeric_state")]
    | Annotated[TimeTrigger, Tag("trigger:time")]
    | Annotated[TimePatternTrigger, Tag("trigger:time_pattern")]
    | Annotated[SunTrigger, Tag("trigger:sun")]
    | Annotated[HomeAssistantTrigger, Tag("trigger:homeassistant")]
    | Annotated[EventTrigger, Tag("trigger:event")]
    | Annotated[TemplateTrigger, Tag("trigger:template")]
    | Annotated[ZoneTrigger, Tag("trigger:zone")]
    | Annotated[GeoLocationTrigger, Tag("trigger:geo_location")]
    | Annotated[TagTrigger, Tag("trigger:tag")]
    | Annotated[WebhookTrigger, Tag("trigger:webhook")]
    | Annotated[MqttTrigger, Tag("trigger:mqtt")]
    | Annotated[CalendarTrigger, Tag("trigger:calendar")]
    | Annotated[ConversationTrigger, Tag("trigger:conversation")]
    | Annotated[PersistentNotificationTrigger, Tag("trigger:persistent_notification")]
    | Annotated[DeviceTrigger, Tag("trigger:device")]
    | Annotated[IntegrationTrigger, Tag("trigger:integration")],
    discriminator("trigger", tagger("trigger", TRIGGER_PLATFORMS, _integration_platform)),
]
