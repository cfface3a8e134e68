"""Restyling: the same automation written the way real Home Assistant users write theirs.

homesim builds automations from a small set of shapes (state/time/sun triggers, state and numeric
conditions, service calls, `choose`). Real users write the same logic with other constructs: `if` where
it says what a `choose` says, notifications, template conditions (`{{ is_state(...) }}`, sometimes as
the bare-string shorthand), other run modes, the legacy `trigger:`/`platform:`/`service:` syntax and
`entity_id` on the call. `restyle` rewrites an automation into an *equivalent* one — the same calls on
the home's entities at the same moments: only rewrites HA and homesim's replay treat alike, plus a
notification step, which changes no entity — choosing each rewrite with the probability measured on the
real corpus (`REAL_SHARES`, checked against `tests/data/real_automations` by a test), deterministically
from a seed.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from homesim.ha.automation.actions import DelayAction, ServiceAction, WaitForTriggerAction, WaitTemplateAction
from homesim.ha.automation.conditions import StateCondition
from homesim.ha.automation.model import Automation
from homesim.ha.automation.walk import walk
from homesim.ha.automation.yaml_io import document, parse_automation

#: Shares measured on the HA-accepted automations of the real corpus (`homesim ha stats`, and
#: `tests/test_ha_real_automations.py::test_restyle_shares_are_the_measured_ones`):
#: - `legacy_syntax`: automations written with `trigger:`/`platform:`/`service:` keys;
#: - `entity_id_on_call`: of automations with a call, those giving `entity_id` on the call;
#: - `if_of_branching`: of automations that branch (`choose` or `if`), those using `if`;
#: - `template_of_conditions`: of automations with a state or template condition, those with a template;
#: - `shorthand_of_templates`: of template conditions, those written as a bare string;
#: - `notify`: automations that send a notification (`notify.*`);
#: - `modes`: the run modes.
REAL_SHARES: dict[str, Any] = {
    "notify": 0.29,
    "legacy_syntax": 0.74,
    "entity_id_on_call": 0.26,
    "if_of_branching": 0.33,
    "template_of_conditions": 0.25,
    "shorthand_of_templates": 0.11,
    "modes": {"single": 0.897, "restart": 0.086, "queued": 0.011, "parallel": 0.005},
}


def _rng(seed: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "little"))


def _is_state_template(condition: StateCondition) -> str | None:
    """`{{ is_state('e', 's') }}` for a plain one-entity, one-state condition (else None)."""
    entity, state = condition.entity_id, condition.state
    if condition.attribute is not None or condition.for_ is not None or condition.match is not None:
        return None
    if not isinstance(entity, str) or not isinstance(state, str) or "'" in state:
        return None
    return f"{{{{ is_state('{entity}', '{state}') }}}}"


def _conditions(items: list[Any], rng: np.random.Generator) -> list[Any]:
    out = []
    for item in items:
        if (
            isinstance(item, dict)
            and item.get("condition") == "state"
            and rng.random() < REAL_SHARES["template_of_conditions"]
        ):
            template = _is_state_template(StateCondition.model_validate(item))
            if template is not None:
                shorthand = rng.random() < REAL_SHARES["shorthand_of_templates"]
                item = template if shorthand else {"condition": "template", "value_template": template}
        elif isinstance(item, dict) and item.get("condition") in ("and", "or", "not"):
            item = {**item, "conditions": _conditions(list(item["conditions"]), rng)}
        out.append(item)
    return out


def _as_if(choose: dict[str, Any], trigger_ids: set[str]) -> tuple[list[Any], list[Any], list[Any]] | None:
    """(if, then, else) that say exactly what a `choose` says: one option (and a default), or two options
    picked by trigger id where the automation has just those two triggers — the second asked first, the
    first's other conditions becoming a nested `if`. Else None."""
    options = choose["choose"]
    if len(options) == 1:
        return options[0]["conditions"], options[0]["sequence"], choose.get("default") or []
    if len(options) != 2 or choose.get("default"):
        return None
    first, second = (option["conditions"] for option in options)
    ids = [
        c[0]["id"] if c and c[0].get("condition") == "trigger" and isinstance(c[0]["id"], str) else None
        for c in (first, second)
    ]
    if None in ids or len(set(ids)) != 2 or set(ids) != trigger_ids or len(second) != 1:
        return None
    then_first = (
        options[0]["sequence"] if len(first) == 1 else [{"if": first[1:], "then": options[0]["sequence"]}]
    )
    return second, options[1]["sequence"], then_first


def _actions(items: list[Any], rng: np.random.Generator, on_call: bool, trigger_ids: set[str]) -> list[Any]:
    out = []
    for item in items:
        branches = _as_if(item, trigger_ids) if "choose" in item else None
        if branches is not None and rng.random() < REAL_SHARES["if_of_branching"]:
            conditions, then, otherwise = branches
            rewritten: dict[str, Any] = {
                "if": _conditions(list(conditions), rng),
                "then": _actions(list(then), rng, on_call, trigger_ids),
            }
            if otherwise:
                rewritten["else"] = _actions(list(otherwise), rng, on_call, trigger_ids)
            item = rewritten
        elif "choose" in item:
            item = {
                **item,
                "choose": [
                    {
                        **o,
                        "conditions": _conditions(list(o["conditions"]), rng),
                        "sequence": _actions(list(o["sequence"]), rng, on_call, trigger_ids),
                    }
                    for o in item["choose"]
                ],
            }
            if item.get("default"):
                item["default"] = _actions(list(item["default"]), rng, on_call, trigger_ids)
        elif on_call and "action" in item and set(item.get("target") or {}) == {"entity_id"}:
            item = {k: v for k, v in item.items() if k != "target"} | {
                "entity_id": item["target"]["entity_id"]
            }
        out.append(item)
    return out


def restyle(automation: Automation, seed: str, legacy: bool = True) -> Automation:
    """`automation` rewritten with real users' constructs, drawn with `REAL_SHARES` from `seed`; it makes
    the same calls on the home's entities at the same moments (a notification may be added).
    `legacy=False` keeps the 2024.10+ syntax (where a format requires it, as the ground truth's does)."""
    rng = _rng(seed)
    data = document(automation, "current")
    data = {**data, "id": str(data["id"])} if "id" in data else data
    waits = any(
        isinstance(node, DelayAction | WaitTemplateAction | WaitForTriggerAction)
        for _, node in walk(automation)
    )
    if not waits and automation.mode == "single":
        # Without delays or waits a run ends at once, so every mode behaves alike; a mode chosen on
        # purpose (restart for a light that follows motion) is kept.
        modes = REAL_SHARES["modes"]
        data["mode"] = str(rng.choice(list(modes), p=np.array(list(modes.values())) / sum(modes.values())))
    calls = any(isinstance(node, ServiceAction) for _, node in walk(automation))
    on_call = calls and rng.random() < REAL_SHARES["entity_id_on_call"]
    data["conditions"] = _conditions(list(data.get("conditions", [])), rng)
    if not data["conditions"] and "conditions" not in automation.model_fields_set:
        del data["conditions"]
    trigger_ids = {t.id if t.id is not None else str(i) for i, t in enumerate(automation.triggers)}
    data["actions"] = _actions(list(data["actions"]), rng, on_call, trigger_ids)
    if rng.random() < REAL_SHARES["notify"]:
        # A notification changes nothing in the home: the same calls on its entities at the same moments.
        message = automation.alias or automation.description or "Automation ran"
        data["actions"].append({"action": "notify.notify", "data": {"message": message}})
    if rng.random() < REAL_SHARES["legacy_syntax"] and legacy:
        # Parsed from the legacy spelling, it renders in it (as written).
        data = document(parse_automation(data), "legacy")
        data = {**data, "id": str(data["id"])} if "id" in data else data
    return parse_automation(data)
