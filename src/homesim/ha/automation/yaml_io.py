"""Parsing automations (pydantic errors → HA-style paths) and rendering automations.yaml in either syntax."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from homesim.ha.automation.model import Automation, BlueprintAutomation
from homesim.ha.automation.triggers import UNIONS
from homesim.ha.automation.values import AutomationError, Issue, Syntax
from homesim.ha.automation.yaml_emit import QuotedStr, dump
from homesim.ha.yaml_loader import HaYamlError, loads

AnyAutomation = Automation | BlueprintAutomation
_ANY = TypeAdapter[AnyAutomation](AnyAutomation)


def _path(loc: Sequence[int | str]) -> str:
    """pydantic's loc as an HA-style path, `actions[0].target.entity_id`, without union tags."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif ":" not in part and "[" not in part and part not in ("mapping", "template"):
            path += f".{part}" if path else part
    return path


def _issue(error: ErrorDetails) -> Issue:
    path = _path(error["loc"])
    kind, value = error["type"], error["input"]
    if kind in UNIONS:
        if not isinstance(value, dict):
            return Issue(path, f"each {kind} must be a mapping, got {value!r}")
        key, legacy, kinds = UNIONS[kind]
        if not key:
            return Issue(path, f"unknown {kind}: expected a mapping with one of the keys {', '.join(kinds)}")
        where = f"{path}.{key}"
        given = value.get(key, value.get(legacy) if legacy else None)
        if given is None:
            also = f" (or legacy {legacy!r})" if legacy else ""
            return Issue(where, f"required key {key!r}{also} is missing")
        return Issue(where, f"unknown {kind} kind {given!r}; expected one of {', '.join(kinds)}")
    if kind == "missing":
        return Issue(path, "required key is missing")
    if kind == "extra_forbidden":
        return Issue(path, f"unknown key {path.rpartition('.')[2]!r}")
    if kind == "value_error":
        return Issue(path, str(error.get("ctx", {})["error"]))
    if isinstance(value, dict | list):
        return Issue(path, error["msg"])
    return Issue(path, f"{error['msg']}, got {value!r}")


def validation_issues(error: ValidationError) -> list[Issue]:
    # A target or data given as a template fails the mapping branch and the template branch: report once.
    return list(dict.fromkeys(_issue(e) for e in error.errors(include_url=False)))


def parse_automation(data: object) -> Automation:
    """Validate one automation mapping (either syntax); raise `AutomationError` listing every problem."""
    if isinstance(data, dict) and "use_blueprint" in data:
        raise AutomationError(
            [Issue("use_blueprint", "a blueprint automation: expand it with its blueprint")]
        )
    try:
        return Automation.model_validate(data)
    except ValidationError as error:
        raise AutomationError(validation_issues(error)) from None


def parse_config(data: object) -> AnyAutomation:
    """An automation or a blueprint use (`use_blueprint:`), as HA's automation config accepts them."""
    if isinstance(data, dict) and "use_blueprint" in data:
        try:
            return BlueprintAutomation.model_validate(data)
        except ValidationError as error:
            raise AutomationError(validation_issues(error)) from None
    return parse_automation(data)


# ---------------------------------------------------------------------------------------------- YAML


def document(automation: AnyAutomation, syntax: Syntax = "as_written") -> dict[str, Any]:
    """The mapping HA reads for `automation`, keys named per `syntax`."""
    data: dict[str, Any] = automation.model_dump(context={"syntax": syntax}, warnings=False)
    if "id" in data:
        data["id"] = QuotedStr(data["id"])
    return data


def render_yaml(
    automations: Sequence[AnyAutomation], legacy: bool = False, syntax: Syntax = "as_written"
) -> str:
    """automations.yaml text, keys named as each automation was written (`syntax="as_written"`, the
    default: a parsed file keeps its legacy keys and `entity_id` on the call), in 2024.10+ syntax
    (`"current"`) or in the legacy `platform:`/`service:` syntax (`"legacy"`, or `legacy=True`).

    The same automations always give the same text (model field order, no sorting, no line folding).
    """
    return dump([document(automation, "legacy" if legacy else syntax) for automation in automations])


@dataclass(frozen=True)
class ParsedFile:
    """The automations of a YAML file that parsed, keyed by their path prefix (`[3]`), and the others' issues.

    The prefix is "" when the file holds a single automation mapping rather than a list. Blueprint uses
    are kept apart: they become automations only once expanded with their blueprint.
    """

    automations: dict[str, Automation]
    issues: list[Issue]
    blueprints: dict[str, BlueprintAutomation] = field(default_factory=dict)


def join_path(prefix: str, path: str) -> str:
    """`prefix` and `path` joined as one HA-style path: `[2]` + `triggers[0]` → `[2].triggers[0]`."""
    if not prefix or not path:
        return prefix or path
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def parse_items(data: object) -> ParsedFile:
    """Parse loaded YAML (a list of automations or one mapping), keeping going past bad automations."""
    if data is None:
        return ParsedFile({}, [])
    if isinstance(data, dict):
        items = {"": data}
    elif isinstance(data, list):
        items = {f"[{index}]": item for index, item in enumerate(data)}
    else:
        return ParsedFile({}, [Issue("", f"expected a list of automations, got {type(data).__name__}")])
    automations: dict[str, Automation] = {}
    blueprints: dict[str, BlueprintAutomation] = {}
    issues: list[Issue] = []
    for prefix, item in items.items():
        try:
            parsed = parse_config(item)
        except AutomationError as error:
            issues += [Issue(join_path(prefix, path), message) for path, message in error.issues]
            continue
        if isinstance(parsed, BlueprintAutomation):
            blueprints[prefix] = parsed
        else:
            automations[prefix] = parsed
    return ParsedFile(automations, issues, blueprints)


def parse_yaml(text: str) -> ParsedFile:
    """Parse automations.yaml text (either syntax), keeping going past bad automations.

    Read with HA's YAML dialect; without the config dir `!secret`/`!include` stay unresolved.
    """
    try:
        data = loads(text)
    except HaYamlError as error:
        return ParsedFile({}, [Issue("", str(error))])
    return parse_items(data)


def load_yaml(text: str) -> list[Automation]:
    """The automations of automations.yaml text (either syntax); `AutomationError` if any is invalid."""
    parsed = parse_yaml(text)
    if parsed.issues:
        raise AutomationError(parsed.issues)
    if parsed.blueprints:
        where = ", ".join(parsed.blueprints)
        raise AutomationError([Issue(where, "blueprint automations need their blueprint to be expanded")])
    return list(parsed.automations.values())
