"""Home Assistant naming rules: slugs, entity ids, and HA's `_2` collision suffixes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from slugify import slugify as unicode_slug

#: Domains homesim generates or imports; an entity id outside these is rejected.
HA_DOMAINS: frozenset[str] = frozenset(
    {
        "alarm_control_panel",
        "binary_sensor",
        "button",
        "camera",
        "climate",
        "cover",
        "device_tracker",
        "event",
        "fan",
        "humidifier",
        "input_boolean",
        "light",
        "lock",
        "media_player",
        "number",
        "person",
        "scene",
        "script",
        "select",
        "sensor",
        "siren",
        "sun",
        "switch",
        "vacuum",
        "valve",
        "water_heater",
        "weather",
        "zone",
    }
)

# The same expression HA uses in `homeassistant.core.valid_entity_id`.
_ENTITY_ID_RE = re.compile(r"^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$")
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")


@lru_cache(maxsize=1 << 14)
def slugify(text: str, default: str = "unknown") -> str:
    """Slug as HA makes object ids (`homeassistant.util.slugify`: python-slugify with `_` as separator, so
    non-ASCII text is transliterated: "Straße" → `strasse`, "北京" → `bei_jing`); `default` when nothing
    is left. HA returns "" for empty text; an id here is never empty, so that gives `default` too.
    Memoised: a worker slugs the same catalogue names for every home (structure, then validation)."""
    return unicode_slug(text, separator="_") or default


def is_slug(value: str) -> bool:
    return bool(_SLUG_RE.match(value))


def is_valid_entity_id(entity_id: str) -> bool:
    """True when `entity_id` is `domain.object_id` with HA's character rules and a known domain."""
    if not _ENTITY_ID_RE.match(entity_id):
        return False
    return split_entity_id(entity_id)[0] in HA_DOMAINS


def split_entity_id(entity_id: str) -> tuple[str, str]:
    domain, _, object_id = entity_id.partition(".")
    return domain, object_id


def unique_slug(base: str, taken: Iterable[str] | set[str]) -> str:
    """`base`, or `base_2`, `base_3`, … — the first not in `taken` (HA's rule for clashing ids)."""
    used = taken if isinstance(taken, set) else set(taken)
    if base not in used:
        return base
    n = 2
    while f"{base}_{n}" in used:
        n += 1
    return f"{base}_{n}"


def entity_object_id(device_name: str | None, entity_name: str | None) -> str:
    """HA 2024 naming: the object id is the slug of the device name followed by the entity name."""
    parts = [p for p in (device_name, entity_name) if p]
    return slugify(" ".join(parts))
