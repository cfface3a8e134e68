"""The automation schema: error paths of invalid automations, durations, and the YAML round trip."""

from __future__ import annotations

import string
from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from homesim.ha.automation import (
    Action,
    AndCondition,
    Automation,
    AutomationError,
    CalendarTrigger,
    ChooseAction,
    ChooseOption,
    Condition,
    ConditionAction,
    ConversationTrigger,
    DelayAction,
    DeviceAction,
    DeviceCondition,
    DeviceTrigger,
    EventAction,
    EventTrigger,
    HomeAssistantTrigger,
    IfAction,
    IntegrationTrigger,
    MqttTrigger,
    NotCondition,
    NumericStateCondition,
    NumericStateTrigger,
    OrCondition,
    ParallelAction,
    Repeat,
    RepeatAction,
    SceneAction,
    SequenceAction,
    ServiceAction,
    StateCondition,
    StateTrigger,
    StopAction,
    SunCondition,
    SunTrigger,
    TagTrigger,
    Target,
    TemplateCondition,
    TemplateTrigger,
    TimeCondition,
    TimePatternTrigger,
    TimeTrigger,
    Trigger,
    TriggerCondition,
    VariablesAction,
    WaitForTriggerAction,
    WaitTemplateAction,
    WebhookTrigger,
    ZoneCondition,
    ZoneTrigger,
    duration_to_timedelta,
    join_path,
    load_yaml,
    parse_automation,
    parse_yaml,
    render_yaml,
)
from homesim.ha.automation.normalise import normalise

_STATE = {"trigger": "state", "entity_id": "light.kitchen"}
_CALL = {"action": "light.turn_on", "target": {"entity_id": "light.kitchen"}}


def _automation(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "1", "triggers": [_STATE], "actions": [_CALL]}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


# Each case: the automation, the path of the (first) issue, and a fragment of its message.
INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    ("missing triggers", _automation(triggers=None), "triggers", "required key is missing"),
    ("missing actions", _automation(actions=None), "actions", "required key is missing"),
    (
        "state trigger without entity",
        _automation(triggers=[{"trigger": "state", "to": "on"}]),
        "triggers[0].entity_id",
        "required key is missing",
    ),
    (
        "empty entity list",
        _automation(triggers=[{"trigger": "state", "entity_id": []}]),
        "triggers[0].entity_id",
        "empty list",
    ),
    (
        "bad duration text",
        _automation(triggers=[{**_STATE, "for": "5 minutes"}]),
        "triggers[0].for",
        "duration '5 minutes' must be",
    ),
    (
        "duration with a word",
        _automation(actions=[{"delay": "00:5m:00"}]),
        "actions[0].delay",
        "duration '00:5m:00'",
    ),
    (
        "bad duration key",
        _automation(actions=[_CALL, {"delay": {"mins": 5}}]),
        "actions[1].delay",
        "duration keys must be among",
    ),
    (
        "negative duration",
        _automation(triggers=[{**_STATE, "for": -5}]),
        "triggers[0].for",
        "must not be negative",
    ),
    (
        "negative duration text",
        _automation(triggers=[{**_STATE, "for": "-00:00:05"}]),
        "triggers[0].for",
        "must not be negative",
    ),
    (
        "negative duration part",
        _automation(triggers=[{**_STATE, "for": {"minutes": -1}}]),
        "triggers[0].for",
        "non-negative number",
    ),
    (
        "boolean duration",
        _automation(actions=[{"delay": True}]),
        "actions[0].delay",
        "must be 'HH:MM:SS'",
    ),
    (
        "bad time",
        _automation(triggers=[_STATE, {"trigger": "time", "at": "25:00"}]),
        "triggers[1].at",
        "time '25:00' must be 'HH:MM' or 'HH:MM:SS'",
    ),
    (
        "time read as a base-60 number",
        _automation(triggers=[{"trigger": "time", "at": 1050}]),
        "triggers[0].at",
        "quote times",
    ),
    (
        "bad time in a list",
        _automation(triggers=[{"trigger": "time", "at": ["07:00", "7pm"]}]),
        "triggers[0].at",
        "time '7pm'",
    ),
    (
        "bad service format",
        _automation(actions=[{"action": "light_turn_on"}]),
        "actions[0].action",
        "expected 'domain.service'",
    ),
    (
        "service not a string",
        _automation(actions=[{"action": 5}]),
        "actions[0].action",
        "action must be a string, got 5",
    ),
    (
        "unknown trigger kind",
        _automation(triggers=[{"trigger": "weather"}]),
        "triggers[0].trigger",
        "unknown trigger kind 'weather'",
    ),
    (
        "core domain without triggers, legacy key",
        _automation(triggers=[{"platform": "light", "entity_id": "light.kitchen"}]),
        "triggers[0].trigger",
        "unknown trigger kind 'light'",
    ),
    (
        "mqtt trigger without topic",
        _automation(triggers=[{"platform": "mqtt", "payload": "x"}]),
        "triggers[0].topic",
        "required key is missing",
    ),
    (
        "time trigger with weekday (HA 2025.1 refuses it)",
        _automation(triggers=[{"trigger": "time", "at": "06:00:00", "weekday": ["sat"]}]),
        "triggers[0].weekday",
        "unknown key 'weekday'",
    ),
    (
        "repeat without a kind",
        _automation(actions=[{"repeat": {"sequence": [_CALL]}}]),
        "actions[0].repeat",
        "exactly one of 'count', 'while', 'until' or 'for_each'",
    ),
    (
        "if without then",
        _automation(actions=[{"if": [{"condition": "trigger", "id": "x"}]}]),
        "actions[0].then",
        "required key is missing",
    ),
    (
        "bad call inside if",
        _automation(actions=[{"if": "{{ true }}", "then": [{"service": "turn on"}]}]),
        "actions[0].then[0].action",
        "is not a service",
    ),
    (
        "trigger without kind",
        _automation(triggers=[{"entity_id": "light.kitchen"}]),
        "triggers[0].trigger",
        "required key 'trigger' (or legacy 'platform') is missing",
    ),
    ("trigger not a mapping", _automation(triggers=["state"]), "triggers[0]", "must be a mapping"),
    (
        "both platform and trigger",
        _automation(triggers=[{**_STATE, "platform": "state"}]),
        "triggers[0]",
        "not both",
    ),
    (
        "unknown trigger key",
        _automation(triggers=[{**_STATE, "entity": "light.kitchen"}]),
        "triggers[0].entity",
        "unknown key 'entity'",
    ),
    ("max not a number", _automation(mode="queued", max=2.5), "max", "not a whole number"),
    ("max below two", _automation(mode="queued", max=1), "max", "greater than or equal to 2"),
    ("unknown mode", _automation(mode="sometimes"), "mode", "got 'sometimes'"),
    ("numeric id", _automation(id=1700000000000), "id", "quote ids that look like numbers"),
    (
        "numeric_state without bounds",
        _automation(triggers=[{"trigger": "numeric_state", "entity_id": "sensor.t"}]),
        "triggers[0]",
        "needs 'above', 'below' or both",
    ),
    (
        "numeric_state condition without bounds",
        _automation(conditions=[{"condition": "numeric_state", "entity_id": "sensor.t", "attribute": "x"}]),
        "conditions[0]",
        "needs 'above', 'below' or both",
    ),
    (
        "numeric_state condition bounds crossed",
        _automation(
            conditions=[{"condition": "numeric_state", "entity_id": "sensor.t", "above": 5, "below": 5}]
        ),
        "conditions[0].below",
        "must be greater than 'above'",
    ),
    (
        "numeric_state bounds crossed",
        _automation(
            triggers=[{"trigger": "numeric_state", "entity_id": "sensor.t", "above": 30, "below": 10}]
        ),
        "triggers[0].below",
        "must be greater than 'above'",
    ),
    (
        "numeric_state bound neither number nor entity",
        _automation(triggers=[{"trigger": "numeric_state", "entity_id": "sensor.t", "above": "warm"}]),
        "triggers[0].above",
        "must be a number or an entity id",
    ),
    (
        "sun trigger at noon",
        _automation(triggers=[{"trigger": "sun", "event": "noon"}]),
        "triggers[0].event",
        "got 'noon'",
    ),
    (
        "zone that is no zone",
        _automation(triggers=[{"trigger": "zone", "entity_id": "person.a", "zone": "light.kitchen"}]),
        "triggers[0].zone",
        "is not a zone",
    ),
    (
        "unknown condition kind",
        _automation(conditions=[{"condition": "weather"}]),
        "conditions[0].condition",
        "unknown condition kind 'weather'",
    ),
    (
        "device condition without device",
        _automation(conditions=[{"condition": "device", "domain": "light", "type": "is_on"}]),
        "conditions[0].device_id",
        "required key is missing",
    ),
    (
        "sun condition without anchor",
        _automation(conditions=[{"condition": "sun"}]),
        "conditions[0]",
        "needs 'after', 'before' or both",
    ),
    (
        "sun offset without anchor",
        _automation(conditions=[{"condition": "sun", "before": "sunrise", "after_offset": "-00:10:00"}]),
        "conditions[0].after_offset",
        "'after_offset' needs 'after'",
    ),
    (
        "empty time condition",
        _automation(conditions=[{"condition": "time"}]),
        "conditions[0]",
        "needs 'after', 'before' or 'weekday'",
    ),
    (
        "bad weekday",
        _automation(conditions=[{"condition": "time", "weekday": ["mon", "monday"]}]),
        "conditions[0].weekday",
        "weekday 'monday'",
    ),
    (
        "unquoted on in a nested condition",
        _automation(
            conditions=[
                {
                    "condition": "or",
                    "conditions": [
                        {"condition": "template", "value_template": "{{ true }}"},
                        {"condition": "state", "entity_id": "light.kitchen", "state": True},
                    ],
                }
            ]
        ),
        "conditions[0].conditions[1].state",
        "quote states in YAML",
    ),
    (
        "bad entity id in target",
        _automation(actions=[{"action": "light.turn_on", "target": {"entity_id": "light kitchen"}}]),
        "actions[0].target.entity_id",
        "'light kitchen' is not an entity id",
    ),
    (
        "bad device id in target",
        _automation(actions=[{"action": "light.turn_on", "target": {"device_id": ["abc"]}}]),
        "actions[0].target.device_id",
        "not a device id",
    ),
    (
        "device id read as a number",
        _automation(actions=[{"action": "light.turn_on", "target": {"device_id": 3}}]),
        "actions[0].target.device_id",
        "device id 3 must be a string: quote ids",
    ),
    ("unknown action", _automation(actions=[_CALL, {"wait": 5}]), "actions[1]", "unknown action"),
    ("action not a mapping", _automation(actions=["light.turn_on"]), "actions[0]", "must be a mapping"),
    (
        "bad call inside choose",
        _automation(actions=[{"choose": [{"conditions": [], "sequence": [{"action": "turn on"}]}]}]),
        "actions[0].choose[0].sequence[0].action",
        "is not a service",
    ),
    ("choose without options", _automation(actions=[{"choose": []}]), "actions[0].choose", "at least 1"),
    ("empty alias", _automation(alias=""), "alias", "must not be empty"),
]


@pytest.mark.parametrize(
    ("data", "path", "message"), [case[1:] for case in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_automation_names_the_path(data: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(AutomationError) as error:
        parse_automation(data)
    issue_path, issue_message = error.value.issues[0]
    assert issue_path == path
    assert message in issue_message
    assert isinstance(error.value, ValueError)
    assert f"{path or '<root>'}: " in str(error.value)


def test_every_problem_is_reported_at_once() -> None:
    data = _automation(triggers=[{"trigger": "time", "at": "24:00"}], actions=[{"delay": "soon"}], mode="x")
    with pytest.raises(AutomationError) as error:
        parse_automation(data)
    assert [path for path, _ in error.value.issues] == ["triggers[0].at", "actions[0].delay", "mode"]


def test_non_mapping_automation_is_rejected_at_the_root() -> None:
    with pytest.raises(AutomationError) as error:
        parse_automation(["not", "a", "mapping"])
    assert error.value.issues[0].path == ""
    assert "<root>" in str(error.value)


def test_single_items_and_empty_keys_become_lists() -> None:
    automation = parse_automation({"triggers": _STATE, "conditions": None, "actions": _CALL})
    assert isinstance(automation.triggers[0], StateTrigger)
    assert automation.conditions == []
    assert isinstance(automation.actions[0], ServiceAction)


def test_legacy_keys_parse_to_the_current_model() -> None:
    legacy = {
        "id": "1",
        "trigger": [{"platform": "state", "entity_id": "light.kitchen"}],
        "condition": [{"condition": "state", "entity_id": "light.kitchen", "state": "off"}],
        "action": [{"service": "light.turn_on", "target": {"entity_id": "light.kitchen"}}],
    }
    current = _automation(conditions=[{"condition": "state", "entity_id": "light.kitchen", "state": "off"}])
    assert parse_automation(legacy) == parse_automation(current)


def test_entity_id_on_the_call_stays_on_the_call() -> None:
    # HA accepts it beside or instead of `target`; it joins the target only in the normalised config.
    call = {"service": "light.turn_on", "entity_id": "light.a", "target": {"entity_id": "light.b"}}
    automation = parse_automation(_automation(actions=[call]))
    action = automation.actions[0]
    assert isinstance(action, ServiceAction)
    assert action.entity_ids == ["light.a", "light.b"]
    assert yaml.safe_load(render_yaml([automation]))[0]["actions"] == [call]


def test_service_action_splits_domain_and_service() -> None:
    call = ServiceAction(action="cover.set_cover_position")
    assert (call.domain, call.service) == ("cover", "set_cover_position")


def test_models_accept_field_names_and_keep_states_as_text() -> None:
    trigger = StateTrigger(entity_id="sensor.x", from_=5, to=["on", 2.5], for_={"seconds": 3, "hours": 1})
    assert trigger.from_ == "5"
    assert trigger.to == ["on", "2.5"]
    assert list(trigger.for_) == ["hours", "seconds"]  # type: ignore[arg-type]  # canonical key order
    bounds = NumericStateTrigger(entity_id="sensor.x", above="19.5", below="input_number.max")
    assert (bounds.above, bounds.below) == (19.5, "input_number.max")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("00:05:00", timedelta(minutes=5)),
        ("1:30", timedelta(hours=1, minutes=30)),
        ("-00:30:00", -timedelta(minutes=30)),
        ("00:00:01.5", timedelta(seconds=1.5)),
        ("45", timedelta(seconds=45)),
        (90, timedelta(seconds=90)),
        (0.25, timedelta(seconds=0.25)),
        ({"hours": 1, "milliseconds": 500}, timedelta(hours=1, milliseconds=500)),
        ({"days": 1}, timedelta(days=1)),
        ("0:90", timedelta(minutes=90)),  # HA adds the parts up, whatever their range
        ("-0:15:0", -timedelta(minutes=15)),
    ],
)
def test_duration_to_timedelta(value: Any, expected: timedelta) -> None:
    assert duration_to_timedelta(value) == expected


def test_sun_offsets_may_be_negative_in_every_form() -> None:
    for offset in ("-01:00:00", -3600, {"hours": -1}):
        trigger = SunTrigger(event="sunset", offset=offset)
        assert trigger.offset is not None
        assert duration_to_timedelta(trigger.offset) == -timedelta(hours=1)


def test_join_path() -> None:
    assert join_path("[2]", "triggers[0].at") == "[2].triggers[0].at"
    assert join_path("[2]", "[1]") == "[2][1]"
    assert join_path("", "mode") == "mode"
    assert join_path("[0]", "") == "[0]"


# --------------------------------------------------------------------------------------------- YAML

_MODERN = """\
- id: '0042'
  alias: Hall light at night
  description: ''
  triggers:
  - trigger: state
    entity_id: binary_sensor.hall_motion
    to: 'on'
    id: motion
  - trigger: state
    entity_id: light.hall
    to:
    for:
      minutes: 5
  conditions:
  - condition: sun
    after: sunset
    after_offset: -00:30:00
  actions:
  - action: light.turn_on
    target:
      entity_id: light.hall
    data:
      brightness_pct: 40
  - delay: 00:02:00
  mode: restart
"""


def test_render_matches_home_assistant_layout_and_is_stable() -> None:
    automations = load_yaml(_MODERN)
    text = render_yaml(automations)
    assert text.startswith("- id: '0042'\n  alias: Hall light at night\n  description: ''\n  triggers:\n")
    assert "    to:\n" in text  # explicit null kept, written as HA writes it
    assert "    to: 'on'\n" in text
    assert render_yaml(load_yaml(text)) == text
    assert render_yaml(automations) == text


def test_all_digit_ids_are_quoted_and_come_back_as_strings() -> None:
    automation = Automation(id="1700000000000", triggers=[StateTrigger(entity_id="light.a")], actions=[])
    text = render_yaml([automation])
    assert "id: '1700000000000'" in text
    assert yaml.safe_load(text)[0]["id"] == "1700000000000"
    assert load_yaml(text)[0].id == "1700000000000"


def test_unset_and_explicit_null_to_differ() -> None:
    unset = StateTrigger(entity_id="light.a")
    explicit = StateTrigger(entity_id="light.a", to=None)
    for_unset = render_yaml([Automation(triggers=[unset], actions=[])])
    for_explicit = render_yaml([Automation(triggers=[explicit], actions=[])])
    assert "to:" not in for_unset
    assert "  to:\n" in for_explicit
    assert "to" in load_yaml(for_explicit)[0].triggers[0].model_fields_set


def test_legacy_render_uses_platform_and_service() -> None:
    automations = load_yaml(_MODERN)
    legacy = render_yaml(automations, legacy=True)
    document = yaml.safe_load(legacy)[0]
    assert {"trigger", "condition", "action"} <= document.keys()
    assert not {"triggers", "conditions", "actions"} & document.keys()
    assert document["trigger"][0]["platform"] == "state"
    assert document["action"][0]["service"] == "light.turn_on"
    assert load_yaml(legacy) == automations


def test_legacy_render_renames_calls_inside_choose() -> None:
    inner = ServiceAction(action="light.turn_off")
    choose = ChooseAction(choose=[ChooseOption(conditions=[], sequence=[inner])], default=[inner])
    automation = Automation(triggers=[HomeAssistantTrigger(event="start")], actions=[choose])
    document = yaml.safe_load(render_yaml([automation], legacy=True))[0]
    assert document["action"][0]["choose"][0]["sequence"][0] == {"service": "light.turn_off"}
    assert document["action"][0]["default"][0] == {"service": "light.turn_off"}


def test_load_yaml_accepts_a_single_mapping_and_an_empty_file() -> None:
    single = load_yaml("triggers: {trigger: homeassistant, event: start}\nactions: []\n")
    assert isinstance(single[0].triggers[0], HomeAssistantTrigger)
    assert load_yaml("") == []
    assert load_yaml("[]") == []
    assert render_yaml([]) == "[]\n"


def test_parse_yaml_prefixes_paths_and_keeps_the_valid_automations() -> None:
    text = render_yaml(load_yaml(_MODERN)) + "- triggers: []\n  actions:\n  - delay: later\n"
    parsed = parse_yaml(text)
    assert list(parsed.automations) == ["[0]"]
    assert parsed.issues[0].path == "[1].actions[0].delay"
    with pytest.raises(AutomationError) as error:
        load_yaml(text)
    assert error.value.issues == parsed.issues


def test_single_mapping_errors_have_no_prefix() -> None:
    parsed = parse_yaml("triggers: []\nactions: [{delay: later}]\n")
    assert parsed.issues[0].path == "actions[0].delay"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- triggers: [\n", "invalid YAML"),
        ("- !python/object:os.system x\n", "invalid YAML"),  # safe loading: no Python objects
        ("just text\n", "expected a list of automations, got str"),
    ],
)
def test_load_yaml_reports_unusable_files(text: str, message: str) -> None:
    with pytest.raises(AutomationError) as error:
        load_yaml(text)
    assert error.value.issues[0].path == ""
    assert message in error.value.issues[0].message


def test_unquoted_yaml_state_is_explained() -> None:
    with pytest.raises(AutomationError, match="quote states"):
        load_yaml("- triggers: [{trigger: state, entity_id: light.a, to: on}]\n  actions: []\n")


def test_unquoted_numeric_id_is_explained() -> None:
    with pytest.raises(AutomationError, match=r"id 83 must be a string"):  # 0123 is octal in YAML 1.1
        load_yaml("- id: 0123\n  triggers: []\n  actions: []\n")


# ------------------------------------------------------------------------------ generated round trip

# Built from parts rather than `from_regex`, which is several times slower to draw from.
_word = st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=5)
_hex32 = st.text("0123456789abcdef", min_size=32, max_size=32)
_slug = st.builds("{}{}".format, st.sampled_from(string.ascii_lowercase), _word) | st.builds(
    "{}_{}".format, st.sampled_from(["kitchen", "hall", "bed"]), _word
)
_entity = st.builds(
    "{}.{}".format, st.sampled_from(["light", "switch", "sensor", "person", "input_datetime"]), _slug
)
# Printable text of any script and newlines; PyYAML cannot round-trip other control characters and the
# Unicode line/paragraph separators.
_chars = st.characters(exclude_categories=("Cc", "Cs", "Cf", "Co", "Cn", "Zl", "Zp"), include_characters="\n")
_text = st.text(_chars, min_size=1, max_size=12)
_number = st.integers(-1000, 1000) | st.floats(-1e4, 1e4, allow_nan=False)
_times = st.builds("{:02d}:{:02d}".format, st.integers(0, 23), st.integers(0, 59)) | st.builds(
    "{:02d}:{:02d}:{:02d}".format, st.integers(0, 23), st.integers(0, 59), st.integers(0, 59)
)


def _one_or_many(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str | list[str]]:
    return strategy | st.lists(strategy, min_size=1, max_size=3)


def _duration(signed: bool = False) -> st.SearchStrategy[Any]:
    low = -90000 if signed else 0
    sign = st.sampled_from(["-", ""]) if signed else st.just("")
    return st.one_of(
        st.integers(low, 90000),
        st.floats(low, 90000, allow_nan=False),
        st.builds(
            "{}{:02d}:{:02d}:{:02d}".format, sign, st.integers(0, 48), st.integers(0, 59), st.integers(0, 59)
        ),
        st.dictionaries(
            st.sampled_from(["days", "hours", "minutes", "seconds", "milliseconds"]),
            st.integers(low, 500) | st.floats(low, 500, allow_nan=False),
            min_size=1,
        ),
    )


def _build(model: Any, required: dict[str, Any], optional: dict[str, Any]) -> st.SearchStrategy[Any]:
    """`model` from required and optional fields; an omitted optional field stays unset."""
    return st.fixed_dictionaries(required, optional=optional).map(lambda fields: model(**fields))


@st.composite
def _bounds(draw: st.DrawFn) -> dict[str, Any]:
    above = draw(st.none() | _number | _entity)
    below = draw(st.none() | _number | _entity)
    if above is None and below is None:
        above = draw(_number)
    if isinstance(above, int | float) and isinstance(below, int | float) and below <= above:
        below = above + 1
    return {key: value for key, value in (("above", above), ("below", below)) if value is not None}


_state_values = _one_or_many(_text | _slug)
_triggers: st.SearchStrategy[Trigger] = st.one_of(
    _build(
        StateTrigger,
        {"entity_id": _one_or_many(_entity)},
        {
            "attribute": _slug,
            "from_": st.none() | _state_values,
            "to": st.none() | _state_values,
            "for_": _duration(),
            "id": _text,
        },
    ),
    st.tuples(_bounds(), st.fixed_dictionaries({"entity_id": _entity}, optional={"for_": _duration()})).map(
        lambda parts: NumericStateTrigger(**parts[0], **parts[1])
    ),
    _build(TimeTrigger, {"at": _one_or_many(_times | _entity)}, {"id": _text}),
    _build(SunTrigger, {"event": st.sampled_from(["sunrise", "sunset"])}, {"offset": _duration(signed=True)}),
    _build(HomeAssistantTrigger, {"event": st.sampled_from(["start", "shutdown"])}, {}),
    _build(
        EventTrigger,
        {"event_type": _one_or_many(_slug)},
        {"event_data": st.dictionaries(_slug, _text | _number | st.booleans(), max_size=3)},
    ),
    _build(TemplateTrigger, {"value_template": _text}, {"for_": _duration()}),
    _build(
        ZoneTrigger,
        {"entity_id": _one_or_many(_entity), "zone": st.builds("zone.{}".format, _slug)},
        {"event": st.sampled_from(["enter", "leave"])},
    ),
    _build(
        TimePatternTrigger,
        {"minutes": st.sampled_from(["/5", "*", 0, 30])},
        {"hours": st.integers(0, 23) | st.just("/2"), "alias": _text, "enabled": st.booleans()},
    ),
    _build(
        MqttTrigger,
        {"topic": _slug},
        {"payload": _text, "value_template": _text, "qos": st.sampled_from([0, 1])},
    ),
    _build(
        DeviceTrigger,
        {"device_id": _hex32, "domain": _slug, "type": _slug},
        {"subtype": _slug, "entity_id": _entity, "for": _duration()},
    ),
    _build(IntegrationTrigger, {"trigger": st.builds("x{}.{}".format, _slug, _slug)}, {"entity_id": _entity}),
    _build(CalendarTrigger, {"entity_id": _entity}, {"event": st.sampled_from(["start", "end"])}),
    _build(TagTrigger, {"tag_id": _text}, {}),
    _build(WebhookTrigger, {"webhook_id": _slug}, {"local_only": st.booleans()}),
    _build(ConversationTrigger, {"command": _one_or_many(_text)}, {}),
)


@st.composite
def _sun_condition(draw: st.DrawFn) -> SunCondition:
    fields: dict[str, Any] = {}
    for anchor in draw(st.sampled_from([("after",), ("before",), ("after", "before")])):
        fields[anchor] = draw(st.sampled_from(["sunrise", "sunset"]))
        if draw(st.booleans()):
            fields[f"{anchor}_offset"] = draw(_duration(signed=True))
    return SunCondition(**fields)


_leaf_conditions: st.SearchStrategy[Condition] = st.one_of(
    _build(
        StateCondition,
        {"entity_id": _one_or_many(_entity), "state": _state_values},
        {"attribute": _slug, "for_": _duration()},
    ),
    st.tuples(_bounds(), st.fixed_dictionaries({"entity_id": _entity}, optional={"attribute": _slug})).map(
        lambda parts: NumericStateCondition(**parts[0], **parts[1])
    ),
    _build(
        TimeCondition,
        {"weekday": _one_or_many(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]))},
        {"after": _times | _entity, "before": _times},
    ),
    _sun_condition(),
    _build(TemplateCondition, {"value_template": _text}, {"alias": _text, "enabled": st.booleans()}),
    _text.map(TemplateCondition.model_validate),  # the shorthand: a bare template string
    _build(TriggerCondition, {"id": _one_or_many(_text)}, {}),
    _build(
        ZoneCondition, {"entity_id": _one_or_many(_entity), "zone": st.builds("zone.{}".format, _slug)}, {}
    ),
    _build(DeviceCondition, {"device_id": _hex32, "domain": _slug, "type": _slug}, {"entity_id": _entity}),
)
_conditions: st.SearchStrategy[Condition] = st.recursive(
    _leaf_conditions,
    lambda inner: st.one_of(
        *(
            st.builds(kind, conditions=st.lists(inner, max_size=3))
            for kind in (AndCondition, OrCondition, NotCondition)
        )
    ),
    max_leaves=3,
)
_json = st.recursive(
    st.none() | st.booleans() | _number | _text,
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(_slug, inner, max_size=2),
    max_leaves=3,
)
_targets = _build(
    Target,
    {},
    {
        "entity_id": _one_or_many(_entity) | st.sampled_from(["all", "none"]),
        "device_id": _one_or_many(st.text("0123456789abcdef", min_size=32, max_size=32)),
        "area_id": _one_or_many(_slug),
        "floor_id": _one_or_many(_slug),
        "label_id": _one_or_many(_slug),
    },
)
_step_options = {"alias": _text, "enabled": st.booleans(), "continue_on_error": st.booleans()}
_leaf_actions: st.SearchStrategy[Action] = st.one_of(
    _build(
        ServiceAction,
        {"action": st.builds("{}.{}".format, _slug, _slug)},
        {
            "target": _targets,
            "data": st.dictionaries(_slug, _json, max_size=3),
            "entity_id": _one_or_many(_entity),
            "data_template": st.dictionaries(_slug, _text, max_size=2),
            "metadata": st.just({}),
            "response_variable": _slug,
            **_step_options,
        },
    ),
    st.builds(DelayAction, delay=_duration()),
    _build(
        WaitTemplateAction,
        {"wait_template": _text},
        {"timeout": _duration(), "continue_on_timeout": st.booleans()},
    ),
    _build(
        WaitForTriggerAction,
        {"wait_for_trigger": st.lists(_triggers, min_size=1, max_size=2)},
        {"timeout": _duration()},
    ),
    _build(EventAction, {"event": _slug}, {"event_data": st.dictionaries(_slug, _text, max_size=2)}),
    _build(SceneAction, {"scene": st.builds("scene.{}".format, _slug)}, _step_options),
    _build(DeviceAction, {"device_id": _hex32, "domain": _slug}, {"type": _slug, "entity_id": _entity}),
    _build(VariablesAction, {"variables": st.dictionaries(_slug, _json, min_size=1, max_size=2)}, {}),
    _build(StopAction, {"stop": _text}, {"error": st.booleans()}),
    _leaf_conditions.map(ConditionAction),
)
_actions: st.SearchStrategy[Action] = st.recursive(
    _leaf_actions,
    lambda inner: (
        _build(
            IfAction,
            {
                "if_": st.lists(_leaf_conditions, min_size=1, max_size=2),
                "then": st.lists(inner, min_size=1, max_size=2),
            },
            {"else_": st.lists(inner, min_size=1, max_size=2)},
        )
        | st.builds(
            RepeatAction,
            repeat=st.builds(
                Repeat, count=st.integers(1, 5), sequence=st.lists(inner, min_size=1, max_size=2)
            ),
        )
        | st.builds(
            RepeatAction,
            repeat=st.builds(
                Repeat,
                until=st.lists(_leaf_conditions, min_size=1, max_size=1),
                sequence=st.lists(inner, min_size=1, max_size=1),
            ),
        )
        | st.builds(ParallelAction, parallel=st.lists(inner, min_size=1, max_size=2))
        | st.builds(SequenceAction, sequence=st.lists(inner, min_size=1, max_size=2))
        | _build(
            ChooseAction,
            {
                "choose": st.lists(
                    st.builds(
                        ChooseOption,
                        conditions=st.lists(_leaf_conditions, max_size=2),
                        sequence=st.lists(inner, min_size=1, max_size=2),
                    ),
                    min_size=1,
                    max_size=2,
                )
            },
            {"default": st.lists(inner, max_size=2)},
        )
    ),
    max_leaves=3,
)


@st.composite
def _automations(draw: st.DrawFn) -> Automation:
    fields: dict[str, Any] = {
        "triggers": draw(st.lists(_triggers, max_size=3)),
        "conditions": draw(st.lists(_conditions, max_size=2)),
        "actions": draw(st.lists(_actions, min_size=1, max_size=2)),
    }
    optional = {
        "id": st.text(string.digits, min_size=1, max_size=13)
        | st.text(string.ascii_letters + "_-", min_size=1),
        "alias": _text,
        "description": st.text(_chars, max_size=30),
    }
    fields |= draw(st.fixed_dictionaries({}, optional=optional))
    fields |= draw(
        st.fixed_dictionaries(
            {},
            optional={
                "initial_state": st.booleans(),
                "variables": st.dictionaries(_slug, _json, min_size=1, max_size=2),
                "max_exceeded": st.sampled_from(["silent", "warning"]),
            },
        )
    )
    mode = draw(st.sampled_from(["single", "restart", "queued", "parallel"]))
    fields["mode"] = mode
    if mode in ("queued", "parallel") and draw(st.booleans()):
        fields["max"] = draw(st.integers(2, 50))
    return Automation(**fields)


@settings(max_examples=40, deadline=None)
@given(st.lists(_automations(), min_size=1, max_size=2))
def test_yaml_round_trip_is_exact(automations: list[Automation]) -> None:
    text = render_yaml(automations)
    loaded = load_yaml(text)
    assert loaded == automations
    assert render_yaml(loaded) == text


@settings(max_examples=25, deadline=None)
@given(_automations())
def test_legacy_yaml_parses_to_the_same_model(automation: Automation) -> None:
    assert load_yaml(render_yaml([automation], legacy=True)) == [automation]


@settings(max_examples=25, deadline=None)
@given(_automations())
def test_legacy_syntax_survives_a_round_trip(automation: Automation) -> None:
    # Parsed from legacy syntax, rendered as written: the legacy keys come back, and again after a reparse.
    legacy = render_yaml([automation], legacy=True)
    (parsed,) = load_yaml(legacy)
    assert render_yaml([parsed]) == legacy
    assert render_yaml([parsed], syntax="current") == render_yaml([automation], syntax="current")


@settings(max_examples=25, deadline=None)
@given(_automations())
def test_rendering_keeps_the_ha_normalised_config(automation: Automation) -> None:
    current = yaml.safe_load(render_yaml([automation]))[0]
    legacy = yaml.safe_load(render_yaml([automation], legacy=True))[0]
    assert normalise(legacy) == normalise(current)
