"""Which state strings are valid for each HA domain (and binary-sensor device class)."""

from __future__ import annotations

#: Seconds a motion binary sensor stays on after its last detection (HA's PIR integrations' usual clear
#: time): the generator's motion sensors keep it, and the realism footing gives it to real PIR readings.
MOTION_CLEAR_S = 90.0

#: States every entity may take when its integration cannot read it.
COMMON_STATES: frozenset[str] = frozenset({"unavailable", "unknown"})

#: Domains whose state is a number (formatted as a string, as HA stores it).
NUMERIC_DOMAINS: frozenset[str] = frozenset({"sensor", "number"})

#: Domains whose state is an ISO 8601 timestamp (the time of the last press/event).
TIMESTAMP_DOMAINS: frozenset[str] = frozenset({"button", "event", "scene"})

#: Enumerated states per domain, from HA's own constants.
DOMAIN_STATES: dict[str, frozenset[str]] = {
    "light": frozenset({"on", "off"}),
    "switch": frozenset({"on", "off"}),
    "fan": frozenset({"on", "off"}),
    "humidifier": frozenset({"on", "off"}),
    "input_boolean": frozenset({"on", "off"}),
    "siren": frozenset({"on", "off"}),
    "binary_sensor": frozenset({"on", "off"}),
    "cover": frozenset({"open", "closed", "opening", "closing"}),
    "valve": frozenset({"open", "closed", "opening", "closing"}),
    "lock": frozenset({"locked", "unlocked", "locking", "unlocking", "jammed", "open", "opening"}),
    "climate": frozenset({"off", "heat", "cool", "heat_cool", "auto", "dry", "fan_only"}),
    "media_player": frozenset({"off", "on", "idle", "playing", "paused", "standby", "buffering"}),
    "vacuum": frozenset({"cleaning", "docked", "returning", "idle", "paused", "error"}),
    "camera": frozenset({"idle", "recording", "streaming"}),
    "alarm_control_panel": frozenset(
        {
            "disarmed",
            "armed_home",
            "armed_away",
            "armed_night",
            "armed_vacation",
            "armed_custom_bypass",
            "arming",
            "disarming",
            "pending",
            "triggered",
        }
    ),
    "water_heater": frozenset({"off", "eco", "electric", "performance", "high_demand", "heat_pump", "gas"}),
    "device_tracker": frozenset({"home", "not_home"}),
    "weather": frozenset(
        {
            "clear-night",
            "cloudy",
            "exceptional",
            "fog",
            "hail",
            "lightning",
            "lightning-rainy",
            "partlycloudy",
            "pouring",
            "rainy",
            "snowy",
            "snowy-rainy",
            "sunny",
            "windy",
            "windy-variant",
        }
    ),
    "sun": frozenset({"above_horizon", "below_horizon"}),
}


def allowed_states(domain: str, options: tuple[str, ...] = ()) -> frozenset[str] | None:
    """The finite set of valid states for `domain`, or None where states are numbers or timestamps.

    `person` and `select` take their states from the entity (zones, options) and pass them as `options`.
    """
    if domain in NUMERIC_DOMAINS or domain in TIMESTAMP_DOMAINS:
        return None
    if domain == "person":
        return frozenset({"home", "not_home", *options}) | COMMON_STATES
    if domain == "select":
        return frozenset(options) | COMMON_STATES
    return DOMAIN_STATES.get(domain, frozenset()) | COMMON_STATES
