"""Home Assistant's vocabulary, declared once: services per domain, the service that sets each state, the
sun's horizon and homesim's "dark", and the domains whose changes are readings rather than actions.

Every layer that writes, checks or replays automations (generation, ground truth, HA validation, replay,
suggestions) imports these instead of keeping its own copy. The service list is data
(`ha_services.yaml`, HA core's services per domain); a domain it does not list is an integration
homesim does not know, whose services are "not checked" rather than unknown.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import yaml

# ------------------------------------------------------------------------------------------ services


@cache
def _declared() -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    text = files("homesim.schema").joinpath("ha_services.yaml").read_text("utf-8")
    services: dict[str, frozenset[str]] = {}
    open_domains: set[str] = set()
    for domain, entry in yaml.safe_load(text)["domains"].items():
        names = entry["services"] if isinstance(entry, dict) else entry
        services[domain] = frozenset(names or ())
        if isinstance(entry, dict) and entry.get("open"):
            open_domains.add(domain)
    return services, frozenset(open_domains)


#: HA core's services per domain (`ha_services.yaml`).
SERVICES: dict[str, frozenset[str]] = _declared()[0]
#: Domains whose service names are open-ended (`notify.<notifier>`, `script.<id>`, `tts.<engine>_say`).
OPEN_DOMAINS: frozenset[str] = _declared()[1]
#: Domains whose services act on entities of any domain.
ANY_ENTITY_DOMAINS: frozenset[str] = frozenset({"homeassistant"})
#: HA core domains that provide trigger platforms (`platform: sun`, `platform: zone`, …); every other
#: domain of `SERVICES` provides none, so `platform: weather` is an error, not an unknown integration.
TRIGGER_DOMAINS: frozenset[str] = frozenset(
    {
        "homeassistant",
        "sun",
        "zone",
        "geo_location",
        "tag",
        "webhook",
        "mqtt",
        "device",
        "calendar",
        "conversation",
        "persistent_notification",
        "template",
        "event",
        "state",
        "numeric_state",
        "time",
        "time_pattern",
    }
)
CORE_TRIGGERLESS_DOMAINS: frozenset[str] = frozenset(SERVICES) - TRIGGER_DOMAINS

ServiceStatus = Literal["known", "unknown", "not_checked"]


def service_status(domain: str, service: str) -> ServiceStatus:
    """Whether HA core has `domain.service`; "not_checked" for domains homesim does not know."""
    if domain not in SERVICES:
        return "not_checked"
    if domain in OPEN_DOMAINS or service in SERVICES[domain]:
        return "known"
    return "unknown"


#: Data that makes a service call with required data complete when the caller has nothing better to give.
DEFAULT_DATA: dict[str, dict[str, str]] = {
    "camera.record": {
        "filename": "/media/{{ entity_id.entity_id }}_{{ now().strftime('%Y%m%d_%H%M%S') }}.mp4"
    },
}

# ------------------------------------------------------------------------------------ state ↔ service

#: The service that puts an entity of a domain into a state (besides `<domain>.turn_on/turn_off`).
STATE_SERVICES: dict[tuple[str, str], str] = {
    ("cover", "open"): "open_cover",
    ("cover", "closed"): "close_cover",
    ("valve", "open"): "open_valve",
    ("valve", "closed"): "close_valve",
    ("lock", "locked"): "lock",
    ("lock", "unlocked"): "unlock",
    ("lock", "open"): "open",
    ("alarm_control_panel", "armed_away"): "alarm_arm_away",
    ("alarm_control_panel", "armed_home"): "alarm_arm_home",
    ("alarm_control_panel", "armed_night"): "alarm_arm_night",
    ("alarm_control_panel", "armed_vacation"): "alarm_arm_vacation",
    ("alarm_control_panel", "disarmed"): "alarm_disarm",
    ("media_player", "playing"): "media_play",
    ("media_player", "paused"): "media_pause",
    ("media_player", "idle"): "media_stop",
    ("vacuum", "cleaning"): "start",
    ("vacuum", "docked"): "return_to_base",
    ("vacuum", "returning"): "return_to_base",
    ("camera", "recording"): "record",
    ("scene", "on"): "turn_on",
}
#: Domains whose state is set through a data key of one service (`climate.set_hvac_mode: {hvac_mode}`).
MODE_SERVICES: dict[str, tuple[str, str]] = {
    "climate": ("set_hvac_mode", "hvac_mode"),
    "water_heater": ("set_operation_mode", "operation_mode"),
}
#: Domains whose every value is set through one service with the value as data (recorder exports).
VALUE_SERVICES: dict[str, tuple[str, str]] = {
    **MODE_SERVICES,
    "select": ("select_option", "option"),
    "number": ("set_value", "value"),
}
# vacuum "docked" and "returning" both come from return_to_base; the service implies "docked".
_SERVICE_STATES = {
    (domain, service): state
    for (domain, state), service in reversed(list(STATE_SERVICES.items()))
    if (domain, state) != ("vacuum", "returning")
}


def service_for_state(entity_id: str, state: str) -> tuple[str, dict[str, Any]] | None:
    """The HA service call (`domain.service`, data) that puts `entity_id` into `state`; None if none does."""
    domain = entity_id.partition(".")[0]
    if domain in MODE_SERVICES:
        service, key = MODE_SERVICES[domain]
        return f"{domain}.{service}", {key: state}
    if (domain, state) in STATE_SERVICES:
        service = f"{domain}.{STATE_SERVICES[(domain, state)]}"
        return service, dict(DEFAULT_DATA.get(service, {}))
    if state in ("on", "off"):
        return f"{domain}.turn_{state}", {}
    return None


def implied_state(action: str, data: dict[str, Any] | None) -> str | None:
    """The state a service call leaves its targets in (None when it does not say: toggle, notify, …)."""
    domain, _, service = action.partition(".")
    if domain in MODE_SERVICES and service == MODE_SERVICES[domain][0]:
        value = (data or {}).get(MODE_SERVICES[domain][1])
        return value if isinstance(value, str) else None
    if (domain, service) in _SERVICE_STATES:
        return _SERVICE_STATES[(domain, service)]
    if service in ("turn_on", "turn_off"):
        return service.removeprefix("turn_")
    return None


# ----------------------------------------------------------------------------------------------- sun

#: HA's sunrise and sunset (and `sun.sun` above/below_horizon): the sun's upper limb on the horizon,
#: refraction included — an apparent elevation of −0.833°.
SUN_HORIZON_DEG = -0.833
#: Below this sun elevation (degrees) homesim counts it as dark: lights-on routines, the ground truth's
#: `sun.sun` elevation conditions and the automations built from them all use this one threshold.
DARK_ELEVATION_DEG = 3.0


def is_dark(elevation_deg: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Whether it is dark at each sun elevation (degrees)."""
    return np.asarray(elevation_deg, dtype=np.float64) < DARK_ELEVATION_DEG


def sun_crossings(times_us: npt.NDArray[np.int64], elevation_deg: npt.NDArray[np.float64]) -> dict[str, Any]:
    """Sunrise and sunset times (µs) where the elevation crosses `SUN_HORIZON_DEG`, linearly interpolated
    between samples: `{"sunrise": int64 array, "sunset": int64 array}`."""
    shifted = np.asarray(elevation_deg, dtype=np.float64) - SUN_HORIZON_DEG
    up = shifted > 0
    i = np.flatnonzero(up[:-1] != up[1:])
    frac = shifted[i] / (shifted[i] - shifted[i + 1])
    crossing = times_us[i] + (frac * (times_us[i + 1] - times_us[i])).astype(np.int64)
    setting = up[i]
    return {"sunrise": crossing[~setting], "sunset": crossing[setting]}


# ------------------------------------------------------------------------------------------- domains

#: Domains whose state changes are readings, events or presence rather than something a person or an
#: automation does: pattern mining (detection and the ground truth's verifier) skips them as actions.
PASSIVE_DOMAINS: frozenset[str] = frozenset(
    {"sensor", "number", "button", "event", "scene", "input_number", "device_tracker", "sun"}
)
