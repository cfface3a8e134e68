"""Blueprints: finding the blueprint an automation uses and expanding it with the automation's inputs.

As HA does (`homeassistant.components.blueprint`): `use_blueprint.path` is relative to
`<config>/blueprints/automation/`; each `!input NAME` in the blueprint is replaced by the automation's
input or the input's `default`; an input with neither is an error; the automation's `id`, `alias` and
`description` take the place of the blueprint's. A missing blueprint file is "blueprint not found".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homesim.ha.automation.model import Automation, BlueprintAutomation
from homesim.ha.automation.values import AutomationError, Issue
from homesim.ha.automation.yaml_io import parse_automation
from homesim.ha.yaml_loader import BlueprintInput, HaYamlError, load_file

#: Where HA keeps automation blueprints, relative to the config dir.
BLUEPRINT_DIR = Path("blueprints") / "automation"


def _declared_inputs(section: object) -> dict[str, dict[str, Any]]:
    """The blueprint's inputs by name, sections (2024.6+: an input holding `input:`) flattened."""
    found: dict[str, dict[str, Any]] = {}
    if not isinstance(section, dict):
        return found
    for name, spec in section.items():
        spec = spec if isinstance(spec, dict) else {}
        if isinstance(spec.get("input"), dict):
            found |= _declared_inputs(spec["input"])
        else:
            found[str(name)] = spec
    return found


def _substitute(value: Any, inputs: dict[str, Any], missing: set[str]) -> Any:
    if isinstance(value, BlueprintInput):
        if value.name not in inputs:
            missing.add(value.name)
            return None
        return inputs[value.name]
    if isinstance(value, dict):
        return {key: _substitute(item, inputs, missing) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, inputs, missing) for item in value]
    return value


def expand(use: BlueprintAutomation, config_dir: Path | None) -> Automation:
    """The automation `use` stands for; `AutomationError` when its blueprint is missing or does not fit."""
    path = use.use_blueprint.path
    where = "use_blueprint.path"
    if config_dir is None:
        raise AutomationError(
            [Issue(where, f"blueprint not found: {path} (no configuration directory given)")]
        )
    root = (config_dir / BLUEPRINT_DIR).resolve()
    file = (root / path).resolve()
    if not file.is_relative_to(root) or not file.is_file():
        raise AutomationError([Issue(where, f"blueprint not found: {path} (looked in {BLUEPRINT_DIR}/)")])
    try:
        blueprint = load_file(file, root)
    except HaYamlError as error:
        raise AutomationError([Issue(where, f"blueprint {path} cannot be read: {error}")]) from None
    meta = blueprint.get("blueprint") if isinstance(blueprint, dict) else None
    if not isinstance(meta, dict) or meta.get("domain") != "automation":
        raise AutomationError([Issue(where, f"{path} is not an automation blueprint")])
    declared = _declared_inputs(meta.get("input"))
    given = use.use_blueprint.input
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise AutomationError([Issue("use_blueprint.input", f"{path} has no input {', '.join(unknown)}")])
    inputs = {name: spec["default"] for name, spec in declared.items() if "default" in spec} | given
    missing: set[str] = set()
    body = _substitute({k: v for k, v in blueprint.items() if k != "blueprint"}, inputs, missing)
    if missing:
        raise AutomationError([Issue("use_blueprint.input", f"missing input {', '.join(sorted(missing))}")])
    options = use.model_dump(include={"id", "alias", "description"}, exclude_none=True)
    try:
        return parse_automation(body | options)
    except AutomationError as error:
        raise AutomationError([Issue(f"blueprint {path}: {p}", m) for p, m in error.issues]) from None
