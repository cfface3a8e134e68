"""Automations against a home: a corpus of valid automations, one invalid case per check, and the CLI."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from homesim.cli import app
from homesim.ha.automation import Automation, AutomationError, load_yaml, parse_automation, render_yaml
from homesim.ha.automation_validation import (
    automation_notes,
    ensure_valid_for_home,
    structural_issues,
    validate_against_home,
    validate_automation,
    validate_yaml,
)
from homesim.schema.home import Area, Device, Entity, Floor, Home, HomeMetadata, Label, Occupant, Person


def _device_id(n: int) -> str:
    return f"{n:032x}"


def _device(n: int, name: str, area: str | None, device_type: str, labels: tuple[str, ...] = ()) -> Device:
    return Device(
        id=_device_id(n),
        name=name,
        manufacturer="Homesim",
        model=device_type,
        area_id=area,
        labels=labels,
        device_type=device_type,
    )


def _entity(entity_id: str, device: int | None = None, **fields: Any) -> Entity:
    device_id = _device_id(device) if device is not None else None
    return Entity(entity_id=entity_id, unique_id=entity_id, device_id=device_id, **fields)


@pytest.fixture(scope="module")
def home() -> Home:
    metadata = HomeMetadata(
        home_key="test_home",
        home_type="apartment",
        size_m2=80,
        climate_region="temperate",
        grid_region="eu",
        latitude=52.4,
        longitude=4.9,
        timezone="Europe/Amsterdam",
        occupants=(
            Occupant(
                person_id="alice",
                name="Alice",
                role="adult",
                wake_weekday_h=7,
                wake_weekend_h=9,
                leave_h=8.5,
                return_h=18,
                sleep_h=23,
            ),
        ),
        seed=1,
        home_index=0,
        generator_version="test",
        start=date(2025, 1, 1),
        days=7,
    )
    return Home(
        metadata=metadata,
        floors=(
            Floor(floor_id="ground", name="Ground", level=0),
            Floor(floor_id="upstairs", name="Up", level=1),
        ),
        areas=(
            Area(area_id="kitchen", name="Kitchen", floor_id="ground"),
            Area(area_id="living_room", name="Living room", floor_id="ground", labels=("cozy",)),
            Area(area_id="bedroom", name="Bedroom", floor_id="upstairs"),
            Area(area_id="garage", name="Garage"),
        ),
        labels=(Label(label_id="cozy", name="Cozy"), Label(label_id="security", name="Security")),
        devices=(
            _device(1, "Kitchen ceiling", "kitchen", "ceiling_light"),
            _device(2, "Living lamp", "living_room", "lamp"),
            _device(3, "Bedroom blind", "bedroom", "blind"),
            _device(4, "Thermostat", "living_room", "thermostat"),
            _device(5, "Kitchen motion", "kitchen", "motion_sensor"),
            _device(6, "Front door lock", None, "lock", labels=("security",)),
            _device(7, "Bedroom fan", "bedroom", "fan"),
            _device(8, "Heat pump", "garage", "heat_pump"),
        ),
        entities=(
            _entity("light.kitchen_ceiling", 1),
            _entity("light.living_room_lamp", 2),
            _entity("cover.bedroom_blind", 3),
            _entity("climate.thermostat", 4),
            _entity("sensor.thermostat_temperature", 4, device_class="temperature", unit_of_measurement="°C"),
            _entity("binary_sensor.kitchen_motion", 5, device_class="motion"),
            _entity("sensor.kitchen_motion_battery", 5, device_class="battery", unit_of_measurement="%"),
            _entity("lock.front_door", 6),
            _entity("fan.bedroom_fan", 7),
            _entity("select.heat_pump_mode", 8, options=("eco", "comfort", "boost")),
            _entity("water_heater.heat_pump", 8),
            _entity("switch.garage_heater", area_id="garage"),
            _entity("media_player.living_room_tv", area_id="living_room"),
            _entity("vacuum.robot", area_id="living_room"),
            _entity("alarm_control_panel.home_alarm", labels=("security",)),
            _entity("sensor.phone_next_alarm", device_class="timestamp"),
            _entity("person.alice", options=("work",)),
            _entity("device_tracker.alice_phone"),
            _entity("zone.work"),
            _entity("scene.movie_night"),
            _entity("script.goodnight"),
        ),
        people=(
            Person(
                person_id="alice",
                name="Alice",
                entity_id="person.alice",
                device_trackers=("device_tracker.alice_phone",),
            ),
        ),
    )


# ------------------------------------------------------------------------------------ valid corpus

VALID: dict[str, str] = {
    "motion light": """
id: '1700000000001'
alias: Kitchen motion light
description: Light the kitchen while someone moves there
triggers:
  - trigger: state
    entity_id: binary_sensor.kitchen_motion
    to: "on"
actions:
  - action: light.turn_on
    target: {entity_id: light.kitchen_ceiling}
    data: {brightness_pct: 80, color_temp_kelvin: 2700}
  - delay: "00:05:00"
  - action: light.turn_off
    target: {entity_id: light.kitchen_ceiling}
mode: restart
""",
    "state lists and durations": """
triggers:
  - trigger: state
    entity_id: [cover.bedroom_blind]
    from: [open, opening]
    to: closed
    for: {minutes: 2, seconds: 30}
conditions:
  - condition: state
    entity_id: light.living_room_lamp
    state: "off"
    for: "00:10:00"
actions:
  - action: light.turn_on
    target: {area_id: living_room}
    data: {brightness: 128}
""",
    "numeric threshold to a floor": """
triggers:
  - trigger: numeric_state
    entity_id: sensor.thermostat_temperature
    above: 25
    for: 300
actions:
  - action: fan.turn_on
    target: {floor_id: upstairs}
    data: {percentage: 60}
""",
    "time of day and weekdays": """
triggers:
  - trigger: time
    at: ["07:30", "08:15:00", sensor.phone_next_alarm]
conditions:
  - condition: time
    after: "06:00"
    before: "10:00:00"
    weekday: [mon, tue, wed, thu, fri]
actions:
  - action: cover.set_cover_position
    target: {device_id: "00000000000000000000000000000003"}
    data: {position: 60}
""",
    "sunset with offsets by label": """
triggers:
  - trigger: sun
    event: sunset
    offset: "-00:30:00"
conditions:
  - condition: sun
    after: sunset
    after_offset: "-01:00:00"
    before: sunrise
    before_offset: {minutes: 15}
actions:
  - action: light.turn_on
    target: {label_id: cozy}
""",
    "start-up notification": """
triggers:
  - trigger: homeassistant
    event: start
actions:
  - action: notify.mobile_app_alice_phone
    data: {message: Home Assistant started, title: Home}
""",
    "event to scene": """
triggers:
  - trigger: event
    event_type: [movie_started, tv_on]
    event_data: {room: living_room}
actions:
  - action: scene.turn_on
    target: {entity_id: scene.movie_night}
""",
    "template trigger": """
triggers:
  - trigger: template
    value_template: "{{ states('sensor.thermostat_temperature') | float > 27 }}"
    for: {minutes: 1}
actions:
  - action: media_player.media_pause
    target: {entity_id: media_player.living_room_tv}
  - action: media_player.volume_set
    target: {entity_id: media_player.living_room_tv}
    data: {volume_level: 0.3}
""",
    "leaving home": """
triggers:
  - trigger: zone
    entity_id: [person.alice, device_tracker.alice_phone]
    zone: zone.home
    event: leave
  - trigger: state
    entity_id: person.alice
    to: work
actions:
  - action: lock.lock
    target: {label_id: security}
  - action: alarm_control_panel.alarm_arm_away
    target: {entity_id: alarm_control_panel.home_alarm}
  - action: vacuum.start
    target: {area_id: living_room}
""",
    "nested conditions and choose by trigger id": """
id: evening
triggers:
  - trigger: state
    entity_id: binary_sensor.kitchen_motion
    to: "on"
    id: motion
  - trigger: time
    at: "22:00"
    id: late
conditions:
  - condition: or
    conditions:
      - condition: and
        conditions:
          - condition: state
            entity_id: person.alice
            state: home
          - condition: not
            conditions:
              - condition: state
                entity_id: lock.front_door
                state: unlocked
      - condition: template
        value_template: "{{ is_state('sun.sun', 'below_horizon') }}"
actions:
  - choose:
      - conditions:
          - condition: trigger
            id: motion
          - condition: state
            entity_id: sun.sun
            state: below_horizon
        sequence:
          - action: light.turn_on
            target: {entity_id: light.kitchen_ceiling}
            data: {brightness_pct: "{{ 30 if now().hour > 22 else 80 }}"}
      - conditions:
          - condition: trigger
            id: [late]
        sequence:
          - action: light.turn_off
            target: {floor_id: ground}
    default:
      - delay: 1.5
""",
    "legacy syntax": """
id: legacy_1
alias: Legacy toggle
trigger:
  - platform: state
    entity_id: binary_sensor.kitchen_motion
    to: "off"
    for: "00:03:00"
condition:
  - condition: state
    entity_id: light.kitchen_ceiling
    state: "on"
action:
  - service: light.toggle
    entity_id: light.kitchen_ceiling
  - service: switch.turn_off
    target: {entity_id: switch.garage_heater}
mode: single
""",
    "queued climate": """
triggers:
  - trigger: state
    entity_id: sensor.thermostat_temperature
    to: "17.5"
  - trigger: numeric_state
    entity_id: climate.thermostat
    attribute: current_temperature
    below: 18
conditions:
  - condition: numeric_state
    entity_id: sensor.thermostat_temperature
    above: 5
    below: sensor.kitchen_motion_battery
actions:
  - action: climate.set_hvac_mode
    target: {entity_id: climate.thermostat}
    data: {hvac_mode: heat}
  - action: climate.set_temperature
    target: {entity_id: climate.thermostat}
    data: {temperature: 21.5}
mode: queued
max: 5
""",
    "parallel cross-domain off": """
triggers:
  - trigger: state
    entity_id: alarm_control_panel.home_alarm
    to: armed_away
actions:
  - action: homeassistant.turn_off
    target:
      entity_id: [light.kitchen_ceiling, switch.garage_heater, media_player.living_room_tv]
  - action: light.turn_off
    target: {entity_id: all}
mode: parallel
max: 3
""",
    "select and water heater": """
triggers:
  - trigger: state
    entity_id: select.heat_pump_mode
    to: [eco, boost]
actions:
  - action: select.select_option
    target: {entity_id: select.heat_pump_mode}
    data: {option: comfort}
  - action: select.select_option
    target: {entity_id: select.heat_pump_mode}
    data: {option: "{{ 'eco' if is_state('person.alice', 'not_home') else 'comfort' }}"}
  - action: water_heater.set_operation_mode
    target: {entity_id: water_heater.heat_pump}
    data: {operation_mode: heat_pump}
  - action: water_heater.set_temperature
    target: {entity_id: water_heater.heat_pump}
    data: {temperature: 55}
""",
    "scripts and explicit null": """
triggers:
  - trigger: state
    entity_id: media_player.living_room_tv
    to: null
    from: playing
actions:
  - action: script.goodnight
  - action: script.turn_on
    target: {entity_id: script.goodnight}
  - delay: {hours: 1, milliseconds: 200}
""",
    "device target and attribute state": """
triggers:
  - trigger: state
    entity_id: climate.thermostat
    attribute: hvac_action
    to: heating
actions:
  - action: homeassistant.turn_on
    target: {device_id: ["00000000000000000000000000000004"], area_id: bedroom}
  - action: light.turn_on
    target: {area_id: [kitchen, garage]}
""",
}


@pytest.mark.parametrize("name", list(VALID))
def test_valid_corpus_passes_schema_and_home(name: str, home: Home) -> None:
    automation = parse_automation(yaml.safe_load(VALID[name]))
    assert validate_against_home(automation, home) == []
    ensure_valid_for_home(automation, home)


@pytest.mark.parametrize("name", list(VALID))
def test_valid_corpus_round_trips_in_both_syntaxes(name: str) -> None:
    automation = parse_automation(yaml.safe_load(VALID[name]))
    text = render_yaml([automation])
    assert load_yaml(text) == [automation]
    assert render_yaml(load_yaml(text)) == text
    assert load_yaml(render_yaml([automation], legacy=True)) == [automation]


def test_corpus_covers_every_kind() -> None:
    automations = [parse_automation(yaml.safe_load(text)) for text in VALID.values()]
    dumped = [a.model_dump() for a in automations]
    triggers = {t["trigger"] for a in dumped for t in a["triggers"]}
    assert triggers == {"state", "numeric_state", "time", "sun", "homeassistant", "event", "template", "zone"}
    assert {a.mode for a in automations} == {"single", "restart", "queued", "parallel"}


# ----------------------------------------------------------------------------- one case per check

_MOTION = {"trigger": "state", "entity_id": "binary_sensor.kitchen_motion", "to": "on"}


def _call(action: str, target: dict[str, Any] | None = None, **data: Any) -> dict[str, Any]:
    call: dict[str, Any] = {"action": action}
    if target is not None:
        call["target"] = target
    if data:
        call["data"] = data
    return call


def _with(
    triggers: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    actions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "triggers": triggers or [_MOTION],
        "conditions": conditions or [],
        "actions": actions or [_call("light.turn_on", {"entity_id": "light.kitchen_ceiling"})],
    }


_KITCHEN = {"entity_id": "light.kitchen_ceiling"}

# Each case: the automation, the path of its only issue, and a fragment of the message.
HOME_INVALID: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "brightness_pct 150",
        _with(actions=[_call("light.turn_on", _KITCHEN, brightness_pct=150)]),
        "actions[0].data.brightness_pct",
        "brightness_pct 150 is outside 0–100",
    ),
    (
        "brightness not a number",
        _with(actions=[_call("light.turn_on", _KITCHEN, brightness="bright")]),
        "actions[0].data.brightness",
        "must be a number",
    ),
    (
        "brightness given as a boolean",
        _with(actions=[_call("light.turn_on", _KITCHEN, brightness=True)]),
        "actions[0].data.brightness",
        "must be a number",
    ),
    (
        "volume above 1",
        _with(
            actions=[
                _call(
                    "media_player.volume_set", {"entity_id": "media_player.living_room_tv"}, volume_level=1.5
                )
            ]
        ),
        "actions[0].data.volume_level",
        "outside 0–1",
    ),
    (
        "water heater too cold",
        _with(
            actions=[
                _call("water_heater.set_temperature", {"entity_id": "water_heater.heat_pump"}, temperature=20)
            ]
        ),
        "actions[0].data.temperature",
        "outside 30–80",
    ),
    (
        "unknown trigger entity",
        _with(triggers=[{"trigger": "state", "entity_id": "binary_sensor.kitchen_motoin"}]),
        "triggers[0].entity_id",
        "unknown entity 'binary_sensor.kitchen_motoin' (did you mean 'binary_sensor.kitchen_motion'?)",
    ),
    (
        "unknown target entity",
        _with(actions=[_call("light.turn_on", {"entity_id": ["light.kitchen_ceiling", "light.attic"]})]),
        "actions[0].target.entity_id",
        "unknown entity 'light.attic'",
    ),
    (
        "unknown area",
        _with(actions=[_call("light.turn_on", {"area_id": "attic"})]),
        "actions[0].target.area_id",
        "unknown area 'attic'",
    ),
    (
        "unknown floor",
        _with(actions=[_call("light.turn_on", {"floor_id": "cellar"})]),
        "actions[0].target.floor_id",
        "unknown floor",
    ),
    (
        "unknown label",
        _with(actions=[_call("light.turn_on", {"label_id": "party"})]),
        "actions[0].target.label_id",
        "unknown label",
    ),
    (
        "unknown device",
        _with(actions=[_call("light.turn_on", {"device_id": "f" * 32})]),
        "actions[0].target.device_id",
        "unknown device",
    ),
    (
        "service not valid for domain",
        _with(actions=[_call("light.open_cover", _KITCHEN)]),
        "actions[0].action",
        "light has no service 'open_cover'",
    ),
    (
        "unknown service of a core domain",
        _with(actions=[_call("light.turn_onn", {"entity_id": "light.kitchen_ceiling"})]),
        "actions[0].action",
        "light has no service 'turn_onn' (did you mean 'turn_on'?)",
    ),
    (
        "unknown script",
        _with(actions=[_call("script.good_morning")]),
        "actions[0].action",
        "script has no service 'good_morning'",
    ),
    (
        "target entity of another domain",
        _with(actions=[_call("light.turn_on", {"entity_id": "switch.garage_heater"})]),
        "actions[0].target.entity_id",
        "switch.garage_heater is a switch entity; light.turn_on acts on light entities",
    ),
    (
        "area without entities of the domain",
        _with(actions=[_call("light.turn_on", {"area_id": "garage"})]),
        "actions[0].target",
        "target matches no light entity",
    ),
    (
        "wrong state for domain in a trigger",
        _with(triggers=[{"trigger": "state", "entity_id": "binary_sensor.kitchen_motion", "to": "detected"}]),
        "triggers[0].to",
        "'detected' is not a state of binary_sensor.kitchen_motion",
    ),
    (
        "wrong from state",
        _with(triggers=[{"trigger": "state", "entity_id": "cover.bedroom_blind", "from": "on"}]),
        "triggers[0].from",
        "'on' is not a state of cover.bedroom_blind",
    ),
    (
        "wrong state in a condition",
        _with(conditions=[{"condition": "state", "entity_id": "lock.front_door", "state": "closed"}]),
        "conditions[0].state",
        "lock states are",
    ),
    (
        "person not in a zone",
        _with(conditions=[{"condition": "state", "entity_id": "person.alice", "state": "gym"}]),
        "conditions[0].state",
        "'gym' is not a state of person.alice",
    ),
    (
        "numeric_state on a light",
        _with(triggers=[{"trigger": "numeric_state", "entity_id": "light.kitchen_ceiling", "above": 10}]),
        "triggers[0].entity_id",
        "has no numeric state",
    ),
    (
        "numeric_state bound from an unknown entity",
        _with(
            triggers=[
                {
                    "trigger": "numeric_state",
                    "entity_id": "sensor.thermostat_temperature",
                    "above": "input_number.low",
                }
            ]
        ),
        "triggers[0].above",
        "unknown entity 'input_number.low'",
    ),
    (
        "time from an unknown entity",
        _with(triggers=[{"trigger": "time", "at": "input_datetime.wake_up"}]),
        "triggers[0].at",
        "unknown entity 'input_datetime.wake_up'",
    ),
    (
        "time condition from an unknown entity",
        _with(conditions=[{"condition": "time", "before": "input_datetime.bedtime"}]),
        "conditions[0].before",
        "unknown entity",
    ),
    (
        "zone trigger on a light",
        _with(triggers=[{"trigger": "zone", "entity_id": "light.kitchen_ceiling", "zone": "zone.home"}]),
        "triggers[0].entity_id",
        "cannot enter a zone",
    ),
    (
        "unknown zone",
        _with(triggers=[{"trigger": "zone", "entity_id": "person.alice", "zone": "zone.gym"}]),
        "triggers[0].zone",
        "unknown entity 'zone.gym'",
    ),
    (
        "trigger condition naming no trigger",
        _with(conditions=[{"condition": "trigger", "id": "motion"}]),
        "conditions[0].id",
        "no trigger has id 'motion' (trigger ids: 0)",  # HA numbers triggers without an id
    ),
    (
        "missing required data",
        _with(actions=[_call("cover.set_cover_position", {"entity_id": "cover.bedroom_blind"})]),
        "actions[0].data",
        "cover.set_cover_position needs 'position' in data",
    ),
    (
        "notifier without message",
        _with(actions=[_call("notify.mobile_app_alice_phone", None, title="Hi")]),
        "actions[0].data",
        "needs 'message'",
    ),
    (
        "hvac mode not a climate mode",
        _with(actions=[_call("climate.set_hvac_mode", {"entity_id": "climate.thermostat"}, hvac_mode="eco")]),
        "actions[0].data.hvac_mode",
        "'eco' is not an option of climate hvac_mode",
    ),
    (
        "select option not offered",
        _with(
            actions=[_call("select.select_option", {"entity_id": "select.heat_pump_mode"}, option="turbo")]
        ),
        "actions[0].data.option",
        "'turbo' is not an option of select.heat_pump_mode; options are boost, comfort, eco",
    ),
    (
        "wrong state nested in choose",
        _with(
            actions=[
                {
                    "choose": [
                        {
                            "conditions": [
                                {"condition": "state", "entity_id": "light.kitchen_ceiling", "state": "dim"}
                            ],
                            "sequence": [_call("light.turn_off", _KITCHEN)],
                        }
                    ]
                }
            ]
        ),
        "actions[0].choose[0].conditions[0].state",
        "'dim' is not a state",
    ),
    (
        "unknown entity in choose default",
        _with(
            actions=[
                {
                    "choose": [{"conditions": [], "sequence": [{"delay": 1}]}],
                    "default": [_call("light.turn_on", {"entity_id": "light.nope"})],
                }
            ]
        ),
        "actions[0].default[0].target.entity_id",
        "unknown entity 'light.nope'",
    ),
    (
        "unknown entity in nested condition",
        _with(
            conditions=[
                {
                    "condition": "not",
                    "conditions": [{"condition": "numeric_state", "entity_id": "sensor.x", "below": 3}],
                }
            ]
        ),
        "conditions[0].conditions[0].entity_id",
        "unknown entity 'sensor.x'",
    ),
]


@pytest.mark.parametrize(
    ("data", "path", "message"), [case[1:] for case in HOME_INVALID], ids=[case[0] for case in HOME_INVALID]
)
def test_home_invalid_automation_names_the_path(
    data: dict[str, Any], path: str, message: str, home: Home
) -> None:
    issues = validate_against_home(parse_automation(data), home)
    assert len(issues) == 1, issues
    assert issues[0].path == path
    assert message in issues[0].message


def test_ensure_valid_raises_with_every_issue(home: Home) -> None:
    automation = parse_automation(
        _with(
            triggers=[{"trigger": "state", "entity_id": "light.ghost", "to": "on"}],
            actions=[_call("light.turn_on", _KITCHEN, brightness_pct=101)],
        )
    )
    with pytest.raises(AutomationError) as error:
        ensure_valid_for_home(automation, home)
    assert [issue.path for issue in error.value.issues] == [
        "triggers[0].entity_id",
        "actions[0].data.brightness_pct",
    ]


def test_home_free_checks_skip_references() -> None:
    automation = parse_automation(
        _with(
            triggers=[{"trigger": "state", "entity_id": "light.anything", "to": "whatever"}],
            actions=[
                _call("light.turn_on", {"area_id": "nowhere"}, brightness_pct="{{ level }}"),
                _call("script.any_name"),
            ],
        )
    )
    assert validate_automation(automation) == []
    bad = parse_automation(_with(actions=[_call("light.flash", None, brightness=300)]))
    assert [issue.path for issue in validate_automation(bad)] == [
        "actions[0].action",
        "actions[0].data.brightness",
    ]


def test_generator_built_automation_validates(home: Home) -> None:
    from homesim.ha.automation import DelayAction, ServiceAction, StateTrigger, Target

    automation = Automation(
        id="gt_0001",
        alias="Motion light",
        triggers=[StateTrigger(entity_id="binary_sensor.kitchen_motion", to="on")],
        actions=[
            ServiceAction(
                action="light.turn_on", target=Target(area_id="kitchen"), data={"brightness_pct": 70}
            ),
            DelayAction(delay=120),
        ],
    )
    assert validate_against_home(automation, home) == []


# ------------------------------------------------------------------------------------ files and CLI

_GOOD_FILE = render_yaml([parse_automation(yaml.safe_load(VALID["motion light"]))])
_BAD_FILE = """\
- id: a
  triggers: [{trigger: state, entity_id: binary_sensor.kitchen_motion, to: "on"}]
  actions: [{action: light.turn_on, target: {entity_id: light.kitchen_ceiling}, data: {brightness_pct: 150}}]
- id: b
  triggers: [{trigger: time, at: "25:00"}]
  actions: []
- id: a
  triggers: [{trigger: state, entity_id: light.ghost}]
  actions: []
"""


def test_validate_yaml_orders_issues_by_automation(home: Home) -> None:
    issues = validate_yaml(_BAD_FILE, home)
    assert [issue.path for issue in issues] == [
        "[0].actions[0].data.brightness_pct",
        "[1].triggers[0].at",
        "[2].triggers[0].entity_id",
        "[2].id",
    ]
    assert "duplicate id 'a', first used at [0].id" in issues[-1].message
    assert [issue.path for issue in validate_yaml(_BAD_FILE)] == [
        "[0].actions[0].data.brightness_pct",
        "[1].triggers[0].at",
        "[2].id",
    ]


def test_validate_yaml_reports_broken_yaml() -> None:
    assert validate_yaml("- [")[0].path == ""


@pytest.fixture
def home_dir(tmp_path: Path, home: Home) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "home.json").write_text(home.model_dump_json(), "utf-8")
    return folder


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "automations.yaml"
    path.write_text(text, "utf-8")
    return path


def test_cli_validate_passes_a_good_file(tmp_path: Path, home_dir: Path) -> None:
    runner = CliRunner()
    file = _write(tmp_path, _GOOD_FILE)
    for extra in ([], ["--home", str(home_dir)], ["--home", str(home_dir / "home.json")]):
        result = runner.invoke(app, ["ha", "validate", str(file), *extra])
        assert result.exit_code == 0, result.output
        assert "no issues" in result.output


def test_cli_validate_lists_issues_and_fails(tmp_path: Path, home_dir: Path) -> None:
    result = CliRunner().invoke(
        app, ["ha", "validate", str(_write(tmp_path, _BAD_FILE)), "--home", str(home_dir)]
    )
    assert result.exit_code == 1
    assert "4 issue(s)" in result.output
    assert "[0].actions[0].data.brightness_pct" in result.output
    assert "[2].triggers[0].entity_id" in result.output


def test_cli_validate_shows_file_level_issues(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ha", "validate", str(_write(tmp_path, "- ["))])
    assert result.exit_code == 1
    assert "(file)" in result.output


@pytest.mark.parametrize("problem", ["no home.json", "invalid home", "file is a folder", "no such file"])
def test_cli_validate_rejects_bad_arguments(tmp_path: Path, problem: str) -> None:
    file = _write(tmp_path, _GOOD_FILE)
    empty = tmp_path / "empty"
    empty.mkdir()
    invalid = tmp_path / "home.json"
    invalid.write_text('{"floors": []}', "utf-8")
    args = {
        "no home.json": [str(file), "--home", str(empty)],
        "invalid home": [str(file), "--home", str(invalid)],
        "file is a folder": [str(empty)],
        "no such file": [str(tmp_path / "missing.yaml")],
    }[problem]
    result = CliRunner().invoke(app, ["ha", "validate", *args])
    assert result.exit_code == 2


def test_cli_ha_group_is_registered() -> None:
    result = CliRunner().invoke(app, ["ha", "--help"])
    assert result.exit_code == 0
    assert "validate" in result.output


# ------------------------------------------------------------- what is not checked is said, not flagged


def test_unknown_integrations_and_templates_are_notes_not_issues() -> None:
    automation = parse_automation(
        {
            "triggers": [
                {"trigger": "samsungtv.turn_on", "entity_id": "media_player.tv"},
                {
                    "trigger": "device",
                    "device_id": "a" * 32,
                    "domain": "hue",
                    "type": "remote_button_short_press",
                },
            ],
            "actions": [
                {"action": "alexa_media.update_last_called"},
                {"action": "{{ 'light.turn_' ~ 'on' }}"},
                {"action": "notify.mobile_app_phone", "data_template": {"message": "{{ now() }}"}},
            ],
        }
    )
    assert validate_automation(automation) == []
    notes = automation_notes(automation)
    assert [note.path for note in notes] == [
        "triggers[0].trigger",
        "triggers[1].domain",
        "actions[0].action",
        "actions[1].action",
    ]
    assert all("not checked" in note.message for note in notes)


def test_structural_checks_leave_services_to_run_time() -> None:
    automation = parse_automation(
        {
            "triggers": [{"trigger": "state", "entity_id": "light.a"}],
            "conditions": [{"condition": "trigger", "id": "nope"}],
            "actions": [{"service": "climate.set_operation_mode", "entity_id": "climate.a"}],
        }
    )
    assert [i.path for i in structural_issues(automation)] == ["conditions[0].id"]
    assert [i.path for i in validate_automation(automation)] == ["conditions[0].id", "actions[0].action"]


def test_cli_validate_prints_notes_and_stats_prints_the_mix(tmp_path: Path) -> None:
    file = _write(
        tmp_path,
        "- trigger: {platform: mqtt, topic: door}\n  action:\n  - service: alexa_media.speak\n"
        "- triggers: [{trigger: time, at: '07:00'}]\n  actions: [{if: '{{ true }}', then: [{delay: 5}]}]\n",
    )
    result = CliRunner().invoke(app, ["ha", "validate", str(file)])
    assert result.exit_code == 0, result.output
    assert "note: [0].actions[0].action: integration not checked" in result.output
    stats = CliRunner().invoke(app, ["ha", "stats", str(file)])
    assert stats.exit_code == 0, stats.output
    assert "2 automations parsed, 0 refused" in stats.output
    assert "| `action:if` | 50.0 % |" in stats.output
