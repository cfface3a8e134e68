"""The automation: triggers, conditions and actions with HA's automation options, or a blueprint use."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import BeforeValidator, Field

from homesim.ha.automation.actions import Action, Actions
from homesim.ha.automation.conditions import Conditions
from homesim.ha.automation.triggers import Trigger
from homesim.ha.automation.values import Id, LooseText, Text, _Model, ensure_list

Mode: TypeAlias = Literal["single", "restart", "queued", "parallel"]
#: Log levels HA accepts for `max_exceeded` (what to log when a run is dropped), plus `silent`.
MaxExceeded: TypeAlias = Literal[
    "silent", "critical", "fatal", "error", "warning", "warn", "info", "debug", "notset"
]


def _whole_number(value: object) -> object:
    # HA coerces `max` with int(): "5" counts, True and 2.5 do not.
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{value!r} is not a whole number")
    return int(value) if isinstance(value, str) and value.strip().isdigit() else value


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


class Trace(_Model):
    stored_traces: int = Field(ge=0, strict=True)


class _Options(_Model):
    """What every automation may set, whether written out or from a blueprint."""

    id: Id | None = None
    alias: LooseText | None = None
    description: str | None = None
    #: Whether the automation is on after HA starts (HA otherwise restores its last state).
    initial_state: bool | None = None
    trace: Trace | None = None
    variables: dict[str, Any] | None = None


class Automation(_Options):
    """One automation as HA stores it in automations.yaml (2024.10+ key names)."""

    _legacy_names: ClassVar[dict[str, str]] = {
        "triggers": "trigger",
        "conditions": "condition",
        "actions": "action",
    }

    trigger_variables: dict[str, Any] | None = None
    triggers: Annotated[list[Trigger], BeforeValidator(ensure_list)]
    conditions: Conditions = Field(default_factory=list)
    actions: Actions
    mode: Mode = "single"
    #: How many runs may queue or overlap (used by modes queued and parallel; HA accepts it with any mode).
    max: Annotated[int, Field(ge=2), BeforeValidator(_whole_number)] | None = None
    #: What HA logs when a run is dropped; HA upper-cases it, so any case is accepted.
    max_exceeded: Annotated[MaxExceeded, BeforeValidator(_lower)] | None = None


class BlueprintUse(_Model):
    path: Text
    input: dict[str, Any] = Field(default_factory=dict)


class BlueprintAutomation(_Options):
    """An automation made from a blueprint: `use_blueprint: {path, input}`; HA expands it on load."""

    use_blueprint: BlueprintUse


Automation.model_rebuild(_types_namespace={"Action": Action})
