"""The one HA vocabulary: services per domain, state ↔ service, sunrise/sunset and dark, passive domains."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest

from homesim.schema.vocabulary import (
    DARK_ELEVATION_DEG,
    PASSIVE_DOMAINS,
    SERVICES,
    STATE_SERVICES,
    SUN_HORIZON_DEG,
    implied_state,
    is_dark,
    service_for_state,
    service_status,
    sun_crossings,
)
from homesim.simulation import pattern_detection

US = 1_000_000


def test_dark_threshold_and_horizon_are_pinned() -> None:
    assert DARK_ELEVATION_DEG == 3.0
    assert SUN_HORIZON_DEG == -0.833  # HA's sunrise/sunset: upper limb on the horizon, refraction included
    assert is_dark([2.99, 3.0, -10.0]).tolist() == [True, False, True]


def test_sunset_is_where_the_elevation_crosses_has_horizon() -> None:
    times = np.array([0, 3600, 7200, 10800], dtype=np.int64) * US
    elevation = np.array([5.0, 0.0, -1.666, -5.0])
    events = sun_crossings(times, elevation)
    # −0.833° lies halfway between 0° (1 h) and −1.666° (2 h): sunset at 1.5 h, not at 0° (1 h).
    assert events["sunset"].tolist() == [5400 * US]
    assert events["sunrise"].tolist() == []
    rising = sun_crossings(times, elevation[::-1].copy())
    assert rising["sunrise"].tolist() == [5400 * US]


def test_pattern_detection_uses_the_same_sunset() -> None:
    start = datetime(2025, 6, 1, tzinfo=UTC)
    env = pl.DataFrame(
        {"time": [start.replace(hour=h) for h in range(4)], "sun_elevation_deg": [5.0, 0.0, -1.666, -5.0]}
    )
    times = env.get_column("time").dt.epoch("us").to_numpy().astype(np.int64)
    expected = sun_crossings(times, env.get_column("sun_elevation_deg").to_numpy())
    found = pattern_detection.sun_events(env)
    assert found["sunset"].tolist() == expected["sunset"].tolist()


def test_services_come_from_the_packaged_list() -> None:
    assert {"turn_on", "turn_off", "toggle"} <= SERVICES["light"]
    assert "set_hvac_mode" in SERVICES["climate"] and "set_operation_mode" not in SERVICES["climate"]
    assert len(SERVICES) > 50


@pytest.mark.parametrize(
    ("domain", "service", "status"),
    [
        ("light", "turn_on", "known"),
        ("input_select", "select_option", "known"),
        ("notify", "mobile_app_pixel_7", "known"),  # one service per notifier
        ("tts", "google_translate_say", "known"),
        ("light", "turn_onn", "unknown"),
        ("climate", "set_operation_mode", "unknown"),  # removed from HA in 0.96
        ("alexa_media", "update_last_called", "not_checked"),  # a custom integration
    ],
)
def test_service_status(domain: str, service: str, status: str) -> None:
    assert service_status(domain, service) == status


@pytest.mark.parametrize(("domain", "state"), sorted(STATE_SERVICES))
def test_every_state_service_sets_its_state(domain: str, state: str) -> None:
    found = service_for_state(f"{domain}.x", state)
    assert found is not None
    service, data = found
    assert service.partition(".")[2] in SERVICES[domain]
    # return_to_base leaves a vacuum docked, whether it was asked to be "returning" or "docked".
    assert implied_state(service, data) == ("docked" if (domain, state) == ("vacuum", "returning") else state)


def test_mode_services_carry_the_state_as_data() -> None:
    assert service_for_state("climate.x", "heat") == ("climate.set_hvac_mode", {"hvac_mode": "heat"})
    assert implied_state("climate.set_hvac_mode", {"hvac_mode": "heat"}) == "heat"
    assert implied_state("light.toggle", None) is None


def test_passive_domains_are_one_set() -> None:
    assert {"sensor", "number", "button", "event", "scene", "input_number", "device_tracker", "sun"} == set(
        PASSIVE_DOMAINS
    )
    assert not hasattr(pattern_detection, "_SKIPPED_DOMAINS")
