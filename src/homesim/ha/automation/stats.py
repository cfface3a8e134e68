"""The construct mix of a set of automations: which share of them uses each trigger, condition and action
kind, templates, modes and options — to compare what homesim generates with what real users write."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from homesim.ha.automation.actions import ServiceAction, StepBase
from homesim.ha.automation.conditions import ConditionBase, TemplateCondition
from homesim.ha.automation.model import Automation
from homesim.ha.automation.normalise import is_template_value
from homesim.ha.automation.triggers import TRIGGER_PLATFORMS, TriggerBase
from homesim.ha.automation.walk import walk


def constructs(automation: Automation) -> set[str]:
    """The constructs one automation uses: `trigger:state`, `condition:time`, `action:choose`,
    `action:notify` (a notify call), `template`, `mode:restart`, `option:variables`, …"""
    found: set[str] = {f"mode:{automation.mode}"}
    if automation.written_legacy:
        found.add("syntax:legacy")
    for option in ("variables", "initial_state", "max_exceeded", "trace", "description"):
        if getattr(automation, option) is not None:
            found.add(f"option:{option}")
    for path, node in walk(automation):
        nested = path.startswith("actions") and ".wait_for_trigger[" in path
        if isinstance(node, TriggerBase) and not nested:
            found.add(f"trigger:{node.trigger if node.trigger in TRIGGER_PLATFORMS else 'integration'}")
        elif isinstance(node, ConditionBase):
            found.add(f"condition:{node.condition}")
        elif isinstance(node, StepBase):
            kind = re.sub(r"(?<!^)(?=[A-Z])", "_", type(node).__name__.removesuffix("Action")).lower()
            found.add(f"action:{kind}")
            if isinstance(node, ServiceAction) and node.domain == "notify":
                found.add("action:notify")
            if isinstance(node, ServiceAction) and node.entity_id is not None:
                found.add("syntax:entity_id_on_call")
        if isinstance(node, TemplateCondition) and node.shorthand:
            found.add("condition:template_shorthand")
    if is_template_value(automation.model_dump(mode="json")):
        found.add("template")
    return found


def construct_mix(automations: Iterable[Automation]) -> dict[str, float]:
    """Share of `automations` (0–1) that use each construct, keys sorted."""
    counts: Counter[str] = Counter()
    total = 0
    for automation in automations:
        counts.update(constructs(automation))
        total += 1
    return {key: counts[key] / total for key in sorted(counts)} if total else {}


def mix_table(mixes: dict[str, dict[str, float]], keys: Sequence[str] | None = None) -> str:
    """A Markdown table of construct shares, one column per named mix (percent, one decimal)."""
    rows = sorted({key for mix in mixes.values() for key in mix}) if keys is None else list(keys)
    lines = ["| construct | " + " | ".join(mixes) + " |", "| --- |" + " ---: |" * len(mixes)]
    for key in rows:
        lines.append(
            f"| `{key}` | " + " | ".join(f"{100 * mix.get(key, 0.0):.1f} %" for mix in mixes.values()) + " |"
        )
    return "\n".join(lines) + "\n"
