"""HA's normalised automation config: what Home Assistant makes of an automation mapping once validated.

Two configurations that normalise alike mean the same to HA, however they are written. The
normalisation follows HA's validators: legacy keys take their 2024.10+ names (`trigger:` → `triggers:`,
`platform:` → `trigger:`, `service:` → `action:`), `entity_id` given on a service call joins its
`target`, shorthand conditions (a bare template string, `and:`/`or:`/`not:`) become full conditions,
fields that take one item or a list become lists, durations become seconds, times `HH:MM:SS`, numeric
thresholds numbers, empty keys are keys not given, and `mode` defaults to `single`. It works on plain
mappings (YAML as loaded), so it can judge any rendering, homesim's included.
"""

from __future__ import annotations

from typing import Any

from homesim.ha.automation.values import NUMBER_RE, duration_to_timedelta, is_template

#: Fields HA accepts as one item or a list of them (and turns into a list).
_LIST_FIELDS = frozenset(
    {
        "entity_id",
        "device_id",
        "area_id",
        "floor_id",
        "label_id",
        "to",
        "from",
        "not_to",
        "not_from",
        "state",
        "at",
        "event_type",
        "weekday",
        "tag_id",
        "command",
    }
)
_DURATION_FIELDS = frozenset({"for", "delay", "offset", "timeout", "after_offset", "before_offset"})
_THRESHOLDS = frozenset({"above", "below"})


def _listed(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


def _seconds(value: Any) -> Any:
    try:
        return duration_to_timedelta(value).total_seconds()
    except (ValueError, TypeError, AttributeError):
        return value  # a template: only known when it runs


def _time(value: Any) -> Any:
    if isinstance(value, str) and value.count(":") == 1 and value.replace(":", "").isdigit():
        return f"{value}:00"
    return value


def _value(key: str, value: Any) -> Any:
    if key in ("alias", "id") and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # cv.string
    if key in _DURATION_FIELDS and not isinstance(value, list):
        return _seconds(value)
    if key in _THRESHOLDS and isinstance(value, str) and NUMBER_RE.match(value):
        return float(value)
    if key in _THRESHOLDS and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if key in ("at", "after", "before"):
        value = [_time(v) for v in value] if isinstance(value, list) else _time(value)
    if key in _LIST_FIELDS and value is not None:
        value = [
            str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v for v in _listed(value)
        ]
    return value


def _mapping(data: dict[str, Any]) -> dict[str, Any]:
    """Rename legacy keys and normalise the values of one trigger/condition/target mapping."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = "trigger" if key == "platform" else key
        out[name] = _value(name, value)
    return out


def normalise_trigger(trigger: Any) -> Any:
    return _mapping(trigger) if isinstance(trigger, dict) else trigger


def normalise_condition(condition: Any) -> Any:
    if isinstance(condition, str):
        return {"condition": "template", "value_template": condition}
    if not isinstance(condition, dict):
        return condition
    if "condition" not in condition:
        for kind in ("and", "or", "not"):
            if kind in condition:
                rest = {k: v for k, v in condition.items() if k != kind}
                condition = {"condition": kind, "conditions": condition[kind], **rest}
                break
    out = _mapping(condition)
    if "conditions" in out:
        out["conditions"] = [normalise_condition(c) for c in _listed(out["conditions"])]
    return out


def _conditions(value: Any) -> list[Any]:
    return [normalise_condition(c) for c in _listed(value if value is not None else [])]


def _actions(value: Any) -> list[Any]:
    return [normalise_action(a) for a in _listed(value if value is not None else [])]


def normalise_action(action: Any) -> Any:
    if not isinstance(action, dict):
        return action
    if "condition" in action:
        return normalise_condition(action)
    out: dict[str, Any] = {}
    for key, value in action.items():
        name = "action" if key == "service" else key
        out[name] = _value(name, value) if name in _DURATION_FIELDS or name == "alias" else value
    if "action" in out and "entity_id" in out:
        # HA resolves entity_id on the call as part of the target.
        target = out.get("target")
        if isinstance(target, dict) or target is None:
            target = dict(target or {})
            target["entity_id"] = [*_listed(out.pop("entity_id")), *_listed(target.get("entity_id", []))]
            out["target"] = target
    if isinstance(out.get("target"), dict):
        out["target"] = {k: _value(k, v) for k, v in out["target"].items()}
    if "choose" in out:
        out["choose"] = [
            {
                **option,
                "conditions": _conditions(option.get("conditions")),
                "sequence": _actions(option.get("sequence")),
            }
            if isinstance(option, dict)
            else option
            for option in _listed(out["choose"])
        ]
    for key in ("default", "then", "else", "sequence", "parallel"):
        if key in out:
            out[key] = _actions(out[key])
    if "if" in out:
        out["if"] = _conditions(out["if"])
    if isinstance(out.get("repeat"), dict):
        repeat = dict(out["repeat"])
        for key in ("while", "until"):
            if key in repeat:
                repeat[key] = _conditions(repeat[key])
        repeat["sequence"] = _actions(repeat.get("sequence"))
        out["repeat"] = repeat
    if "wait_for_trigger" in out:
        out["wait_for_trigger"] = [normalise_trigger(t) for t in _listed(out["wait_for_trigger"])]
    return out


def normalise(config: Any) -> Any:
    """The automation mapping as HA normalises it (see the module doc); non-mappings come back as given."""
    if not isinstance(config, dict) or "use_blueprint" in config:
        return config
    out: dict[str, Any] = {}
    plural = {"trigger": "triggers", "condition": "conditions", "action": "actions"}
    for key, value in config.items():
        name = plural.get(str(key), str(key))
        out[name] = _value(name, value) if name == "alias" else value
    out["triggers"] = [normalise_trigger(t) for t in _listed(out.get("triggers") or [])]
    if "conditions" in out:
        out["conditions"] = _conditions(out["conditions"])
    out["actions"] = _actions(out.get("actions"))
    out.setdefault("mode", "single")
    return _without_nulls(out)


def _without_nulls(value: Any) -> Any:
    """An empty key (`description:`) is a key not given, except `to:`/`from:` (any state change)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None or k in ("to", "from")}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def is_template_value(value: Any) -> bool:
    """Whether a (possibly nested) value holds a template anywhere."""
    if isinstance(value, dict):
        return any(is_template_value(v) for v in value.values())
    if isinstance(value, list):
        return any(is_template_value(v) for v in value)
    return is_template(value)
