"""The automation: triggers, conditions and actions with HA's automation options, or a blueprint use."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, TypeAlias

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator

from homesim.ha.automation.actions import Action, Actions
from homesim.ha.automation.conditions import Conditions
from homesim.ha.automation.triggers import Trigger
from homesim.ha.automation.values import Id, Text, _Model, ensure_list

Mode: TypeAlias = Literal["single", "restart", "queued", "parallel"]
#: Log levels HA accepts for `max_exceeded` (what to log when a run is dropped), plus `silent`.
MaxExceeded: TypeAlias = Literal[
    "silent", "critical", "fatal", "error", "warning", "warn", "info", "debug", "notset"
]


class Trace(_Model):
    stored_traces: int = Field(ge=0, strict=True)


class _Options(_Model):
    """What every automation may set, whether written out or from a blueprint."""

    id: Id | None = None
    alias: Text | None = None
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
    #: How many runs may queue or overlap; HA allows it only with mode queued or parallel.
    max: int | None = Field(default=None, ge=2, strict=True)
    max_exceeded: MaxExceeded | None = None

    @field_validator("max")
    @classmethod
    def _max_needs_queue(cls, value: int | None, info: ValidationInfo) -> int | None:
        mode = info.data.get("mode")
        if value is not None and mode not in ("queued", "parallel"):
            raise ValueError(f"'max' is only allowed with mode queued or parallel, not {mode!r}")
        return value


class BlueprintUse(_Model):
    path: Text
    input: dict[str, Any] = Field(default_factory=dict)


class BlueprintAutomation(_Options):
    """An automation made from a blueprint: `use_blueprint: {path, input}`; HA expands it on load."""

    use_blueprint: BlueprintUse


Automation.model_rebuild(_types_namespace={"Action": Action})
