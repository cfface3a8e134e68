"""Tests of the independent pattern miner (`homesim.ground_truth.verifier`) on planted events."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

from homesim.generation.home import GeneratedHome
from homesim.ground_truth.verifier import (
    HOME_ZONE,
    ExtractedPatterns,
    SequencePattern,
    TruthVerifier,
    VerifierConfig,
    home_zone_changes,
    state_changes,
)
from homesim.simulation.home_view import HomeView
from homesim.simulation.pattern_detection import PatternDetectorConfig, _Mined

US_PER_S = 1_000_000
US_PER_MIN = 60 * US_PER_S
US_PER_DAY = 86_400 * US_PER_S
START = int(datetime(2025, 1, 6, tzinfo=UTC).timestamp()) * US_PER_S  # a Monday, UTC midnight
Row = tuple[int, str, str]


def _events(rows: list[Row]) -> pl.DataFrame:
    times, entities, states = zip(*sorted(rows), strict=True) if rows else ((), (), ())
    return pl.DataFrame(
        {
            "time": pl.Series(times, dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            "entity_id": list(entities),
            "state": list(states),
            "value": np.full(len(rows), np.nan),
        },
        schema={
            "time": pl.Datetime("us", "UTC"),
            "entity_id": pl.Utf8,
            "state": pl.Utf8,
            "value": pl.Float64,
        },
    )


def _toggles(
    entity: str, times: npt.NDArray[np.int64], hold_us: int, on: str = "on", off: str = "off"
) -> list[Row]:
    return [(int(t), entity, on) for t in times] + [(int(t + hold_us), entity, off) for t in times]


def _sequences(found: ExtractedPatterns) -> set[tuple[str, str, str, str]]:
    return {(s.trigger_entity, s.trigger_state, s.action_entity, s.action_state) for s in found.sequences}


def _sequence(
    found: ExtractedPatterns, trigger: str, action: str, states: tuple[str, str] = ("on", "on")
) -> SequencePattern:
    return next(
        s
        for s in found.sequences
        if (s.trigger_entity, s.action_entity, s.trigger_state, s.action_state) == (trigger, action, *states)
    )


def test_finds_a_daily_routine_and_ignores_random_toggles() -> None:
    rng = np.random.default_rng(1)
    days = np.arange(40) * US_PER_DAY
    # 07:00 Berlin (06:00 UTC in winter) ± 3 min on 90% of days; a switch toggled at random once a day.
    routine = START + days + 6 * 60 * US_PER_MIN + (rng.normal(0, 3, 40) * US_PER_MIN).astype(np.int64)
    routine = routine[rng.random(40) < 0.9]
    noise = START + (rng.random(40) * 40 * US_PER_DAY).astype(np.int64)
    rows = _toggles("light.bedroom", routine, 30 * US_PER_MIN) + _toggles(
        "switch.random", noise, 20 * US_PER_MIN
    )
    found = TruthVerifier().extract(_events(rows), "Europe/Berlin")
    on = [p for p in found.time_of_day if (p.entity_id, p.state) == ("light.bedroom", "on")]
    assert len(on) == 1
    assert on[0].frame == "clock"
    assert on[0].center_h == pytest.approx(7.0, abs=0.1)
    assert on[0].confidence >= 0.85
    off = [p for p in found.time_of_day if (p.entity_id, p.state) == ("light.bedroom", "off")]
    assert off and off[0].center_h == pytest.approx(7.5, abs=0.1)
    assert not [p for p in found.time_of_day if p.entity_id == "switch.random" and p.confidence >= 0.5]


def test_weekday_routine_is_scored_on_weekdays() -> None:
    rng = np.random.default_rng(2)
    days = np.array([d for d in range(42) if d % 7 < 5])  # START is a Monday
    times = (
        START
        + days * US_PER_DAY
        + 7 * 60 * US_PER_MIN
        + (rng.normal(0, 2, len(days)) * US_PER_MIN).astype(int)
    )
    found = TruthVerifier().extract(_events(_toggles("switch.coffee", times, 10 * US_PER_MIN)), "UTC")
    on = next(p for p in found.time_of_day if p.state == "on")
    assert on.days == "weekdays"
    assert on.confidence == pytest.approx(1.0)


def test_finds_a_trigger_action_sequence_with_its_delay() -> None:
    rng = np.random.default_rng(3)
    motion = START + np.sort((rng.random(600) * 30 * US_PER_DAY).astype(np.int64))
    acted = motion[rng.random(len(motion)) < 0.9]
    light_on = acted + (rng.lognormal(np.log(1.5), 0.3, len(acted)) * US_PER_S).astype(np.int64)
    rows = _toggles("binary_sensor.hall_motion", motion, 90 * US_PER_S)
    rows += _toggles("light.hall", light_on, 4 * US_PER_MIN)
    found = TruthVerifier().extract(_events(rows), "UTC")
    seq = _sequence(found, "binary_sensor.hall_motion", "light.hall")
    assert seq.delay.median_s == pytest.approx(1.5, rel=0.15)
    assert seq.coverage > 0.95
    assert seq.confidence == pytest.approx(0.9, abs=0.05)
    # The light's returns belong to the sequence: no time-of-day pattern is made of them.
    assert not [p for p in found.time_of_day if p.entity_id == "light.hall"]


def _household(
    rng: np.random.Generator, days: int
) -> tuple[list[Row], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Two people who leave and return on workdays; the door opens at each move. Returns rows and the
    last departures and first arrivals."""
    rows: list[Row] = []
    departures, arrivals = [], []
    for d in range(days):
        base = START + d * US_PER_DAY
        leave = base + (np.array([8.0, 8.0]) * 60 + rng.normal(0, 20, 2)) * US_PER_MIN
        back = base + (np.array([17.5, 17.5]) * 60 + rng.normal(0, 30, 2)) * US_PER_MIN
        for person, out, home in zip(
            ("person.ann", "person.bob"), leave.astype(int), back.astype(int), strict=True
        ):
            rows += [(out, person, "not_home"), (home, person, "home")]
            rows += [
                (out - 30 * US_PER_S, "binary_sensor.front_door", "on"),
                (home, "binary_sensor.front_door", "on"),
            ]
            rows += [
                (out, "binary_sensor.front_door", "off"),
                (home + 20 * US_PER_S, "binary_sensor.front_door", "off"),
            ]
        departures.append(int(leave.max()))
        arrivals.append(int(back.min()))
    return rows, np.array(departures), np.array(arrivals)


def test_explains_away_chains_and_confounders() -> None:
    rng = np.random.default_rng(4)
    rows, departures, arrivals = _household(rng, 40)
    armed = departures + (rng.lognormal(np.log(90), 0.2, len(departures)) * US_PER_S).astype(np.int64)
    locked = armed + (rng.lognormal(np.log(5), 0.25, len(armed)) * US_PER_S).astype(np.int64)
    disarmed = arrivals + (rng.lognormal(np.log(20), 0.3, len(arrivals)) * US_PER_S).astype(np.int64)
    unlocked = arrivals + (rng.lognormal(np.log(8), 0.3, len(arrivals)) * US_PER_S).astype(np.int64)
    rows += [(int(t), "alarm_control_panel.home", "armed_away") for t in armed]
    rows += [(int(t), "alarm_control_panel.home", "disarmed") for t in disarmed]
    rows += [(int(t), "lock.front", "locked") for t in locked] + [
        (int(t), "lock.front", "unlocked") for t in unlocked
    ]
    found = _sequences(TruthVerifier().extract(_events(rows), "UTC"))
    assert (HOME_ZONE, "empty", "alarm_control_panel.home", "armed_away") in found
    assert ("alarm_control_panel.home", "armed_away", "lock.front", "locked") in found
    assert (HOME_ZONE, "occupied", "alarm_control_panel.home", "disarmed") in found
    assert (HOME_ZONE, "occupied", "lock.front", "unlocked") in found
    # Neither the chain's far end nor the door that opens at every arrival is reported as a trigger.
    assert not {s for s in found if s[2] == "lock.front" and s[3] == "locked" and s[0] == HOME_ZONE}
    assert not {s for s in found if s[0] == "binary_sensor.front_door"}


def test_two_effects_of_one_jittered_cause_are_no_sequence() -> None:
    rng = np.random.default_rng(5)
    wake = (
        START
        + np.arange(60) * US_PER_DAY
        + 6 * 60 * US_PER_MIN
        + (rng.normal(0, 20, 60) * US_PER_MIN).astype(int)
    )
    lamp = wake + ((1 + rng.normal(0, 2, 60)) * US_PER_MIN).astype(np.int64)
    disarm = wake + ((3 + rng.normal(0, 1.5, 60)) * US_PER_MIN).astype(np.int64)
    rows = _toggles("light.lamp", lamp, 25 * US_PER_MIN)
    rows += _toggles(
        "alarm_control_panel.home", disarm, 15 * 60 * US_PER_MIN, on="disarmed", off="armed_night"
    )
    found = TruthVerifier().extract(_events(rows), "UTC")
    assert not found.sequences
    assert {(p.entity_id, p.state) for p in found.time_of_day} >= {
        ("light.lamp", "on"),
        ("alarm_control_panel.home", "disarmed"),
    }


def test_sunset_routine_is_found_relative_to_sunset() -> None:
    rng = np.random.default_rng(6)
    days = np.arange(60) * US_PER_DAY
    # Sunset drifts by 2.5 minutes a day (2.5 h over the period); the light follows it by 10 minutes.
    sunset = START + days + ((16 * 60 + 2.5 * np.arange(60)) * US_PER_MIN).astype(np.int64)
    sunrise = START + days + 7 * 60 * US_PER_MIN
    light = sunset + ((10 + rng.normal(0, 1, 60)) * US_PER_MIN).astype(np.int64)
    rows = [(int(t), "sun.sun", "below_horizon") for t in sunset] + [
        (int(t), "sun.sun", "above_horizon") for t in sunrise
    ]
    rows += _toggles("light.porch", light, 4 * 60 * US_PER_MIN)
    found = TruthVerifier().extract(_events(rows), "UTC")
    on = next(p for p in found.time_of_day if (p.entity_id, p.state) == ("light.porch", "on"))
    assert on.frame == "sunset"
    assert on.center_h == pytest.approx(10 / 60, abs=0.05)


def test_home_zone_follows_the_first_arrival_and_last_departure() -> None:
    h = 3600 * US_PER_S
    rows = [
        (1 * h, "person.ann", "not_home"),  # Ann was home before her first change, Bob away: empty
        (2 * h, "person.bob", "home"),
        (3 * h, "person.bob", "not_home"),
        (4 * h, "person.ann", "home"),  # first arrival
        (5 * h, "person.bob", "home"),
        (6 * h, "person.ann", "not_home"),
        (7 * h, "person.bob", "not_home"),  # last departure
    ]
    frame = _events(rows).select(pl.col("time").dt.epoch("us"), "entity_id", "state")
    zone = home_zone_changes(frame)
    assert zone.get_column("time").to_list() == [1 * h, 2 * h, 3 * h, 4 * h, 7 * h]
    assert zone.get_column("state").to_list() == ["empty", "occupied", "empty", "occupied", "empty"]
    assert home_zone_changes(frame.filter(pl.col("entity_id") == "nobody.here")).height == 0


def test_provenance_and_numbers_do_not_change_the_result(month_homes: list[GeneratedHome]) -> None:
    generated = month_homes[0]
    frame = pl.from_arrow(generated.events)
    assert isinstance(frame, pl.DataFrame)
    tz = generated.home.metadata.timezone
    extractor = TruthVerifier()
    found = extractor.extract(generated.events, tz)
    stripped = frame.drop("cause", "cause_id", "context_id", "parent_context_id")
    assert extractor.extract(stripped, tz) == found
    assert found.time_of_day and found.sequences
    assert all(p.confidence <= 1 for p in found.all)


def test_nothing_to_mine() -> None:
    numeric = _events([(START, "sensor.temperature", "21.5")]).with_columns(pl.lit(21.5).alias("value"))
    empty = TruthVerifier().extract(numeric, "UTC")
    assert empty == ExtractedPatterns(time_of_day=(), sequences=())
    assert TruthVerifier().extract(_events([(START, "light.a", "on")]), "UTC").all == ()


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="high_confidence"):
        VerifierConfig(high_confidence=1.5)
    assert TruthVerifier(VerifierConfig(min_support=3)).config.min_support == 3


def test_state_changes_are_what_both_miners_see() -> None:
    """One preparation for the verifier and the pipeline's pattern stage: categorical changes only (no
    numbers, nothing of a skipped domain, no unavailable/unknown), `zone.home` derived from every change of
    the people (a person going unknown is not at home, as HA counts), all sorted by time."""
    h = 3600 * US_PER_S
    rows = [
        (5 * h, "light.a", "on"),
        (1 * h, "person.ann", "home"),
        (2 * h, "light.a", "unavailable"),
        (3 * h, "person.ann", "unknown"),
        (4 * h, "sensor.t", "21.5"),
        (4 * h, "sun.sun", "below_horizon"),
    ]
    events = _events(rows).with_columns(
        pl.when(pl.col("entity_id") == "sensor.t").then(21.5).otherwise(pl.col("value")).alias("value")
    )
    seen = state_changes(events, {"sun"})
    assert seen.columns == ["time", "entity_id", "state"]
    assert seen.rows() == [
        (1 * h, "person.ann", "home"),
        (1 * h, HOME_ZONE, "occupied"),
        (3 * h, HOME_ZONE, "empty"),
        (5 * h, "light.a", "on"),
    ]
    with_sun = state_changes(events, set())
    assert (4 * h, "sun.sun", "below_horizon") in with_sun.rows()
    assert state_changes(events.head(0), set()).height == 0


def test_the_pattern_stage_prepares_events_as_the_verifier_does(month_homes: list[GeneratedHome]) -> None:
    generated = month_homes[0]
    view = HomeView.from_generated(generated)
    seen = _Mined(view, PatternDetectorConfig()).table.select("time_us", "entity_id", "state")

    def domains(frame: pl.DataFrame) -> set[str]:
        return set(frame.get_column("entity_id").cast(pl.Utf8).str.split(".").list.first())

    skipped = domains(view.events) - domains(seen)
    assert skipped >= {"sensor", "sun"}  # the stage skips numbers and the sun (whichever others it skips)
    assert seen.equals(state_changes(view.events, skipped).rename({"time": "time_us"}))
