"""Replay: the automation interpreter over event logs, and its scoring against ground-truth patterns."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.ground_truth.truth import build_ground_truth
from homesim.ha.automation import parse_automation
from homesim.schema.ground_truth import GroundTruth
from homesim.schema.vocabulary import implied_state, service_for_state
from homesim.simulation.replay import (
    Replay,
    Replayer,
    ReplayInput,
    agreement,
    match,
    replay,
    score_pattern,
)

US = 1_000_000
T0 = int(datetime(2025, 1, 6, tzinfo=UTC).timestamp()) * US  # a Monday, 00:00 UTC


def _events(
    rows: Sequence[tuple[float, str, str]], attributes: list[str | None] | None = None
) -> pl.DataFrame:
    """Events at `T0 + minutes`: (minutes, entity, state)."""
    return pl.DataFrame(
        {
            "time_us": [T0 + int(m * 60 * US) for m, _, _ in rows],
            "entity_id": [e for _, e, _ in rows],
            "state": [s for _, _, s in rows],
            "value": [float(s) if s.replace(".", "").isdigit() else float("nan") for _, _, s in rows],
            "attributes": attributes or [None] * len(rows),
        },
        schema={
            "time_us": pl.Int64,
            "entity_id": pl.Utf8,
            "state": pl.Utf8,
            "value": pl.Float64,
            "attributes": pl.Utf8,
        },
    )


def _run(automation: dict[str, object], rows: Sequence[tuple[float, str, str]], days: int = 1) -> list[float]:
    data = ReplayInput.build(_events(rows), None, "UTC", span=(T0, T0 + days * 86400 * US))
    result = replay(parse_automation(automation), data)
    return [(t - T0) / 60 / US for t in result.call_times()]


def _auto(
    triggers: Sequence[Mapping[str, object]],
    actions: Sequence[Mapping[str, object]] | None = None,
    **rest: object,
) -> dict[str, object]:
    call = {"action": "light.turn_on", "target": {"entity_id": "light.a"}}
    return {"triggers": triggers, "actions": actions or [call], **rest}


MOTION = [
    (10, "binary_sensor.m", "on"),
    (12, "binary_sensor.m", "off"),
    (30, "binary_sensor.m", "on"),
    (31, "binary_sensor.m", "on"),
    (40, "binary_sensor.m", "off"),
]


def test_state_trigger_fires_on_changes_to_the_state_only() -> None:
    # The repeated "on" at minute 31 is not a change.
    assert _run(_auto([{"trigger": "state", "entity_id": "binary_sensor.m", "to": "on"}]), MOTION) == [10, 30]


def test_state_trigger_for_waits_and_requires_the_state_to_hold() -> None:
    trigger = {"trigger": "state", "entity_id": "binary_sensor.m", "from": "on", "for": "00:05:00"}
    # Off at 12 held until 30 (fires at 17); off at 40 holds to the end of the day (fires at 45).
    assert _run(_auto([trigger]), MOTION) == [17, 45]


def test_state_trigger_not_to_and_not_from_skip_missing_states_as_ha_does() -> None:
    # An attribute that is missing (null) in some events: a change to it matches no `not_to`, and a change
    # from it passes `not_from`.
    attributes = ['{"mode": "eco"}', None, '{"mode": "boost"}', '{"mode": "eco"}']
    rows = [
        (5, "climate.c", "heat"),
        (10, "climate.c", "heat"),
        (20, "climate.c", "heat"),
        (30, "climate.c", "heat"),
    ]
    data = ReplayInput.build(_events(rows, attributes), None, "UTC", span=(T0, T0 + 86400 * US))
    replayer = Replayer(data)

    def fired(trigger: dict[str, object]) -> list[float]:
        automation = _auto([{"trigger": "state", "entity_id": "climate.c", "attribute": "mode", **trigger}])
        return [(t - T0) / 60 / US for t in replayer.run(parse_automation(automation)).call_times()]

    assert fired({"not_to": "eco"}) == [20]  # not the change to null at 10
    # From nothing (the first event, at 5), from null (at 20) and from boost (at 30).
    assert fired({"not_from": "eco"}) == [5, 20, 30]


def test_replays_are_kept_by_behaviour_not_by_id() -> None:
    replayer = Replayer(ReplayInput.build(_events(MOTION), None, "UTC", span=(T0, T0 + 86400 * US)))
    on = _auto([{"trigger": "state", "entity_id": "binary_sensor.m", "to": "on"}])
    first = replayer.run(parse_automation({**on, "id": "a", "alias": "one"}))
    assert replayer.run(parse_automation({**on, "id": "b", "alias": "two"})) is first
    off = _auto([{"trigger": "state", "entity_id": "binary_sensor.m", "to": "off"}])
    other = replayer.run(parse_automation(off))
    assert other is not first and [(t - T0) // (60 * US) for t in other.call_times()] == [12, 40]


def test_numeric_state_fires_when_crossing_into_range() -> None:
    rows = [(m, "sensor.t", v) for m, v in ((0, "20"), (10, "26"), (20, "27"), (30, "22"), (40, "28"))]
    automation = _auto([{"trigger": "numeric_state", "entity_id": "sensor.t", "above": 25}])
    assert _run(automation, rows) == [10, 40]


def test_time_trigger_with_weekday_condition_over_a_week() -> None:
    automation = _auto(
        [{"trigger": "time", "at": "07:30"}], conditions=[{"condition": "time", "weekday": ["sat"]}]
    )
    assert _run(automation, [], days=7) == [5 * 1440 + 450]


def test_time_trigger_follows_local_time_across_dst() -> None:
    start = int(datetime(2025, 3, 29, tzinfo=UTC).timestamp()) * US
    data = ReplayInput.build(_events([]), None, "Europe/Berlin", span=(start, start + 2 * 86400 * US))
    result = replay(parse_automation(_auto([{"trigger": "time", "at": "07:00:00"}])), data)
    hours = [datetime.fromtimestamp(t / US, UTC).hour for t in result.call_times()]
    assert hours == [6, 5]  # CET then CEST


def test_conditions_are_evaluated_as_of_the_trigger_moment() -> None:
    rows = [(0, "person.a", "home"), (20, "person.a", "not_home"), *MOTION]
    someone = {"condition": "state", "entity_id": "person.a", "state": "home"}
    trigger = {"trigger": "state", "entity_id": "binary_sensor.m", "to": "on"}
    assert _run(_auto([trigger], conditions=[someone]), rows) == [10]
    assert _run(_auto([trigger], conditions=[{"condition": "not", "conditions": [someone]}]), rows) == [30]
    either = {"condition": "or", "conditions": [someone, {"condition": "time", "after": "00:25"}]}
    assert _run(_auto([trigger], conditions=[either]), rows) == [10, 30]


def test_choose_with_trigger_ids_and_restart_mode_cancels_pending_calls() -> None:
    on = {"action": "light.turn_on", "target": {"entity_id": "light.a"}}
    off = {"action": "light.turn_off", "target": {"entity_id": "light.a"}}
    automation = _auto(
        [{"trigger": "state", "entity_id": "binary_sensor.m", "to": "on", "id": "go"}],
        actions=[on, {"delay": "00:15:00"}, off],
        mode="restart",
    )
    data = ReplayInput.build(_events(MOTION), None, "UTC", span=(T0, T0 + 86400 * US))
    calls = replay(parse_automation(automation), data).calls
    # The run from minute 10 is restarted at 30 (its off at 25 has already happened); the 30 run ends at 45.
    assert calls.get_column("call_us").to_list() == [T0 + m * 60 * US for m in (10, 25, 30, 45)]
    single = replay(
        parse_automation({**automation, "mode": "single", "actions": [on, {"delay": "00:30:00"}, off]}), data
    )
    assert (single.triggered, single.runs) == (2, 1)  # the trigger at 30 falls inside the first run


def test_state_condition_on_an_entity_without_changes_never_holds() -> None:
    silent = {"condition": "state", "entity_id": "lock.never_changed", "state": "locked"}
    trigger = {"trigger": "state", "entity_id": "binary_sensor.m", "to": "on"}
    assert _run(_auto([trigger], conditions=[silent]), MOTION) == []


def test_sun_trigger_uses_horizon_changes_with_offset() -> None:
    rows = [(400, "sun.sun", "above_horizon"), (1000, "sun.sun", "below_horizon")]
    automation = _auto([{"trigger": "sun", "event": "sunset", "offset": "-00:20:00"}])
    assert _run(automation, rows) == [980]


def test_template_idioms_and_unsupported_parts_are_reported() -> None:
    rows = [
        (0, "person.a", "not_home"),
        (0, "person.b", "not_home"),
        (10, "person.a", "home"),
        (20, "person.b", "home"),
        (30, "person.a", "not_home"),
        (40, "person.b", "not_home"),
        (50, "person.b", "home"),
    ]
    count = "{{ states.person | selectattr('state', 'eq', 'home') | list | count == 1 }}"
    trigger = {"trigger": "state", "entity_id": ["person.a", "person.b"], "to": "home"}
    automation = _auto([trigger], conditions=[{"condition": "template", "value_template": count}])
    assert _run(automation, rows) == [10, 50]  # first arrivals only
    data = ReplayInput.build(_events(rows), None, "UTC", span=(T0, T0 + 86400 * US))
    odd = replay(
        parse_automation(_auto([{"trigger": "template", "value_template": "{{ now().hour > 5 }}"}])),
        data,
    )
    assert odd.runs == 0 and odd.unsupported


def test_match_counts_both_directions_within_tolerance() -> None:
    result = match(np.array([0, 100, 500]) * US, np.array([10, 400, 1000]) * US, tolerance_s=50)
    assert (result.hit_occurrences, result.matched_firings, result.false_firings) == (1, 1, 2)
    assert result.recall == pytest.approx(1 / 3)


def test_service_vocabulary_round_trips() -> None:
    for entity, state in (
        ("cover.x", "closed"),
        ("lock.x", "unlocked"),
        ("climate.x", "cool"),
        ("light.x", "on"),
    ):
        found = service_for_state(entity, state)
        assert found is not None and implied_state(*found) == state
    assert service_for_state("binary_sensor.x", "playing") is None


@pytest.fixture(scope="module")
def homes() -> list[tuple[pl.DataFrame, pl.DataFrame, GroundTruth]]:
    config = GenerationConfig(days=14, seed=7)
    out = []
    for i in range(3):
        generated = generate_home(config, i)
        events = pl.from_arrow(generated.events)
        environment = pl.from_arrow(generated.environment.to_table())
        assert isinstance(events, pl.DataFrame) and isinstance(environment, pl.DataFrame)
        out.append((events, environment, build_ground_truth(generated)))
    return out


def test_ground_truth_automations_fire_on_their_patterns_occurrences(
    homes: list[tuple[pl.DataFrame, pl.DataFrame, GroundTruth]],
) -> None:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for events, environment, truth in homes:
        # Replay sees no provenance; only the scoring reads cause_id.
        replayer = Replayer(ReplayInput.build(events.drop("cause", "cause_id"), environment, truth.timezone))
        for pattern in truth.patterns:
            # Numeric-threshold behaviours act every hour the threshold holds, while their ground-truth
            # automation (an edge-triggered template) fires only on crossings: a known gap of the truth.
            if pattern.trigger.kind == "numeric":
                continue
            found = score_pattern(
                replayer.run(parse_automation(pattern.automation.model_dump(mode="json"))), events, pattern
            )
            totals[pattern.type][0] += found.occurrences
            totals[pattern.type][1] += found.hit_occurrences
    assert set(totals) >= {"synergy", "time_of_day", "environment"}
    for kind, (occurrences, hits) in totals.items():
        assert occurrences > 0 and hits / occurrences >= 0.95, (kind, hits, occurrences)


def test_replay_is_blind_to_cause_and_deterministic(
    homes: list[tuple[pl.DataFrame, pl.DataFrame, GroundTruth]],
) -> None:
    events, environment, truth = homes[0]
    automation = parse_automation(truth.patterns[0].automation.model_dump(mode="json"))
    with_cause = replay(automation, ReplayInput.build(events, environment, truth.timezone))
    without = replay(
        automation, ReplayInput.build(events.drop("cause", "cause_id"), environment, truth.timezone)
    )
    assert with_cause.calls.equals(without.calls) and with_cause.runs > 0
    assert agreement(with_cause, without) == 1.0


def test_sun_condition_reads_after_sunset_before_sunrise_as_the_night() -> None:
    rows = [(420, "sun.sun", "above_horizon"), (1020, "sun.sun", "below_horizon"), *[
        (m, "binary_sensor.m", s) for m, s in ((300, "on"), (301, "off"), (600, "on"), (601, "off"),
                                               (1200, "on"), (1201, "off"))]]  # fmt: skip
    night = {"condition": "sun", "after": "sunset", "before": "sunrise"}
    trigger = {"trigger": "state", "entity_id": "binary_sensor.m", "to": "on"}
    assert _run(_auto([trigger], conditions=[night]), rows) == [300, 1200]
    day = {"condition": "sun", "after": "sunrise", "after_offset": "01:00:00", "before": "sunset"}
    assert _run(_auto([trigger], conditions=[day]), rows) == [600]


def test_zone_trigger_and_environment_backed_sun_elevation() -> None:
    hours = np.arange(0, 25)
    environment = pl.DataFrame(
        {"time_us": T0 + hours * 3600 * US, "sun_elevation_deg": 40 * np.sin((hours - 6) / 24 * 2 * np.pi)}
    )
    rows = [(0, "person.a", "not_home"), (8 * 60, "person.a", "home"), (12 * 60, "person.a", "not_home"),
            (20 * 60, "person.a", "home")]  # fmt: skip
    data = ReplayInput.build(_events(rows), environment, "UTC", span=(T0, T0 + 86400 * US))
    dark = {"condition": "numeric_state", "entity_id": "sun.sun", "attribute": "elevation", "below": 3}
    automation = _auto([{"trigger": "zone", "entity_id": "person.a", "zone": "zone.home", "event": "enter"}],
                       conditions=[dark])  # fmt: skip
    assert [(t - T0) // (3600 * US) for t in replay(parse_automation(automation), data).call_times()] == [20]
    # Without sun.sun events, sunrise and sunset come from the environment's elevation crossing the horizon.
    sunset = replay(parse_automation(_auto([{"trigger": "sun", "event": "sunset"}])), data).call_times()
    assert len(sunset) == 1 and 17 <= (sunset[0] - T0) / 3600 / US <= 19


# ------------------------------------------------------------------------ the rest of the language

MOTION_ON = {"trigger": "state", "entity_id": "binary_sensor.m", "to": "on"}
LIGHT_ON = {"action": "light.turn_on", "target": {"entity_id": "light.a"}}
LIGHT_OFF = {"action": "light.turn_off", "entity_id": "light.a"}  # entity_id on the call (legacy)


def _replay(automation: dict[str, object], rows: Sequence[tuple[float, str, str]]) -> Replay:
    data = ReplayInput.build(_events(rows), None, "UTC", span=(T0, T0 + 86400 * US))
    return replay(parse_automation(automation), data)


def test_if_then_else_and_condition_steps() -> None:
    rows = [(0, "person.a", "home"), (20, "person.a", "not_home"), *MOTION]
    home = {"condition": "state", "entity_id": "person.a", "state": "home"}
    branching = _auto([MOTION_ON], [{"if": [home], "then": [LIGHT_ON], "else": [LIGHT_OFF]}])
    result = _replay(branching, rows)
    assert result.replayable
    assert [
        (int((t - T0) / 60 / US), a) for t, a in result.calls.select("call_us", "action").iter_rows()
    ] == [
        (10, "light.turn_on"),
        (30, "light.turn_off"),
    ]
    # A failing condition step ends that run before its later calls.
    assert _run(_auto([MOTION_ON], [home, LIGHT_ON]), rows) == [10]


def test_wait_template_waits_for_the_template_with_a_timeout() -> None:
    rows = [(m, "sensor.t", v) for m, v in ((0, "20"), (15, "26"))] + MOTION
    wait = {"wait_template": "{{ states('sensor.t') | float(0) > 25 }}", "timeout": "00:10:00"}
    # Motion at 10 waits until the template turns true at 15; at 30 it is already true.
    assert _run(_auto([MOTION_ON], [wait, LIGHT_ON]), rows) == [15, 30]
    short = {**wait, "timeout": "00:02:00", "continue_on_timeout": False}
    assert _run(_auto([MOTION_ON], [short, LIGHT_ON]), rows) == [30]


def test_wait_for_trigger_and_delays_per_run() -> None:
    rows = [*MOTION, (20, "binary_sensor.door", "on")]
    wait = {"wait_for_trigger": [{"trigger": "state", "entity_id": "binary_sensor.door", "to": "on"}]}
    # The run from 10 waits for the door at 20; the run from 30 never sees it (no timeout: it stays waiting).
    assert _run(_auto([MOTION_ON], [wait, {"delay": 60}, LIGHT_ON], mode="parallel"), rows) == [21]


def test_repeat_parallel_sequence_and_stop() -> None:
    repeated = {"repeat": {"count": 3, "sequence": [LIGHT_ON, {"delay": {"minutes": 1}}]}}
    assert _run(_auto([MOTION_ON], [repeated], mode="parallel"), MOTION) == [10, 11, 12, 30, 31, 32]
    both = {"parallel": [{"sequence": [{"delay": 60}, LIGHT_ON]}, LIGHT_OFF]}
    result = _replay(_auto([MOTION_ON], [both]), MOTION)
    assert sorted(
        (int((t - T0) / US), a) for t, a in result.calls.select("call_us", "action").iter_rows()
    ) == [
        (600, "light.turn_off"),
        (660, "light.turn_on"),
        (1800, "light.turn_off"),
        (1860, "light.turn_on"),
    ]
    assert _run(_auto([MOTION_ON], [{"stop": "done"}, LIGHT_ON]), MOTION) == []


def test_disabled_steps_are_skipped() -> None:
    disabled = {**LIGHT_OFF, "enabled": False}
    assert _run(
        _auto([MOTION_ON, {**MOTION_ON, "to": "off", "enabled": False}], [disabled, LIGHT_ON]), MOTION
    ) == [
        10,
        30,
    ]


def test_time_pattern_fires_on_the_clock() -> None:
    every = _auto([{"trigger": "time_pattern", "hours": "/6"}])
    assert _run(every, []) == [0, 360, 720, 1080]


def test_what_cannot_be_replayed_is_reported_not_silently_dropped() -> None:
    odd = _auto(
        [{"trigger": "mqtt", "topic": "doorbell"}, MOTION_ON],
        [{"action": "{{ 'light.turn_' ~ 'on' }}"}, LIGHT_ON],
        conditions=[{"condition": "device", "device_id": "a" * 32, "domain": "hue", "type": "is_on"}],
    )
    result = _replay(odd, MOTION)
    assert not result.replayable
    assert {"trigger 'mqtt'", "condition 'device'"} <= set(result.unsupported)
