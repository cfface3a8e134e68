"""Walking an automation: every trigger, condition and action, nested ones too, with its HA-style path."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeAlias

from homesim.ha.automation.actions import (
    Action,
    ChooseAction,
    ConditionAction,
    IfAction,
    ParallelAction,
    RepeatAction,
    SequenceAction,
    WaitForTriggerAction,
)
from homesim.ha.automation.conditions import AndCondition, Condition, NotCondition, OrCondition
from homesim.ha.automation.model import Automation
from homesim.ha.automation.triggers import Trigger

Node: TypeAlias = Trigger | Condition | Action


def conditions(items: Sequence[Condition], path: str) -> Iterator[tuple[str, Condition]]:
    """Each condition with its path, and the conditions nested in and/or/not after it."""
    for index, condition in enumerate(items):
        yield from _tree(condition, f"{path}[{index}]")


def _tree(condition: Condition, where: str) -> Iterator[tuple[str, Condition]]:
    yield where, condition
    if isinstance(condition, AndCondition | OrCondition | NotCondition):
        yield from conditions(condition.conditions, f"{where}.conditions")


def actions(items: Sequence[Action], path: str) -> Iterator[tuple[str, Node]]:
    """Each action with its path, then what it nests: conditions, triggers (waits) and sequences."""
    for index, action in enumerate(items):
        where = f"{path}[{index}]"
        yield where, action
        if isinstance(action, ConditionAction):
            yield from _tree(action.root, where)
        elif isinstance(action, ChooseAction):
            for number, option in enumerate(action.choose):
                yield from conditions(option.conditions, f"{where}.choose[{number}].conditions")
                yield from actions(option.sequence, f"{where}.choose[{number}].sequence")
            if action.default is not None:
                yield from actions(action.default, f"{where}.default")
        elif isinstance(action, IfAction):
            yield from conditions(action.if_, f"{where}.if")
            yield from actions(action.then, f"{where}.then")
            if action.else_ is not None:
                yield from actions(action.else_, f"{where}.else")
        elif isinstance(action, RepeatAction):
            for key, nested in (("while", action.repeat.while_), ("until", action.repeat.until)):
                if nested is not None:
                    yield from conditions(nested, f"{where}.repeat.{key}")
            yield from actions(action.repeat.sequence, f"{where}.repeat.sequence")
        elif isinstance(action, ParallelAction):
            yield from actions(action.parallel, f"{where}.parallel")
        elif isinstance(action, SequenceAction):
            yield from actions(action.sequence, f"{where}.sequence")
        elif isinstance(action, WaitForTriggerAction):
            for number, trigger in enumerate(action.wait_for_trigger):
                yield f"{where}.wait_for_trigger[{number}]", trigger


def walk(automation: Automation) -> Iterator[tuple[str, Node]]:
    """Every trigger, condition and action of `automation`, depth first, with its path."""
    for index, trigger in enumerate(automation.triggers):
        yield f"triggers[{index}]", trigger
    yield from conditions(automation.conditions, "conditions")
    yield from actions(automation.actions, "actions")
