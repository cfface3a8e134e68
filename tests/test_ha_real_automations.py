"""homesim's automation language on 211 automations real Home Assistant users wrote (tests/data/
real_automations, with HA 2025.1.4's verdict on each): the acceptance floors of issue 13.

Nothing here is special-cased per automation: each figure is computed over every automation of a verdict
class and asserted against its floor; the printed figures (pytest -s) are the ones docs/ha-formats.md quotes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from homesim.ha.automation import Automation, AutomationError, BlueprintAutomation, parse_config, render_yaml
from homesim.ha.automation.normalise import normalise
from homesim.ha.automation.restyle import REAL_SHARES
from homesim.ha.automation.stats import construct_mix, constructs
from homesim.ha.automation_validation import automation_notes, check_items, structural_issues
from homesim.ha.yaml_loader import loads

DATA = Path(__file__).parent / "data" / "real_automations"
_PART = re.compile(r"^# --- file: (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Case:
    name: str
    raw: Any
    ha_ok: bool
    error_class: str
    error: str


def _items(file: str) -> list[Any]:
    text = (DATA / file).read_text("utf-8")
    parts = _PART.split(text)
    # Concatenated include_dir_merge_list files: load each part on its own and merge the lists, as HA does.
    bodies = parts[2::2] if len(parts) > 1 else [text]
    items: list[Any] = []
    for body in bodies:
        data = loads(body)
        items += data if isinstance(data, list) else [data] if data is not None else []
    return items


def _cases() -> Iterator[Case]:
    loaded: dict[str, list[Any]] = {}
    for line in (DATA / "ha_verdicts.jsonl").read_text("utf-8").splitlines():
        verdict = json.loads(line)
        items = loaded.setdefault(verdict["file"], _items(verdict["file"]))
        raw = items[verdict["index"]]
        assert str(raw.get("id")) == verdict["id"], "corpus and verdicts disagree"
        yield Case(
            f"{verdict['file']}[{verdict['index']}]",
            raw,
            verdict["ha_ok"],
            verdict["ha_error_class"],
            verdict["ha_error"],
        )


CASES = list(_cases())
ACCEPTED = [case for case in CASES if case.ha_ok]


def _parse(case: Case) -> Automation | BlueprintAutomation | None:
    try:
        return parse_config(case.raw)
    except AutomationError:
        return None


def _share(hits: int, total: int, what: str) -> float:
    share = hits / total
    print(f"{what}: {hits}/{total} = {100 * share:.1f} %")
    return share


def test_corpus_has_every_verdict_class() -> None:
    assert len(CASES) == 211
    assert {case.error_class for case in CASES} == {"", "schema", "blueprint", "integration"}


def test_accepted_automations_parse() -> None:
    parsed = [case for case in ACCEPTED if isinstance(_parse(case), Automation)]
    assert _share(len(parsed), len(ACCEPTED), "HA-accepted automations parsed") >= 0.99


def test_accepted_automations_pass_structural_checks() -> None:
    passed = 0
    for case in ACCEPTED:
        automation = _parse(case)
        passed += isinstance(automation, Automation) and not structural_issues(automation)
    assert _share(passed, len(ACCEPTED), "HA-accepted automations passing structural checks") >= 0.99


def test_render_keeps_the_ha_normalised_config() -> None:
    equal = 0
    for case in ACCEPTED:
        automation = _parse(case)
        if automation is None:
            continue
        rendered = yaml.safe_load(render_yaml([automation]))[0]
        equal += normalise(rendered) == normalise(case.raw)
    assert _share(equal, len(ACCEPTED), "render → HA-normalised config equal") >= 0.95


def test_render_keeps_the_users_syntax() -> None:
    # Legacy keys, entity_id on the call and shorthand conditions come back as written.
    kept = 0
    for case in ACCEPTED:
        automation = _parse(case)
        if automation is not None:
            kept += yaml.safe_load(render_yaml([automation]))[0].keys() == case.raw.keys()
    assert _share(kept, len(ACCEPTED), "top-level keys kept as written") >= 0.95


def test_schema_errors_are_refused_with_ha_style_paths() -> None:
    refused = [case for case in CASES if case.error_class == "schema"]
    assert refused
    for case in refused:
        with pytest.raises(AutomationError) as error:
            parse_config(case.raw)
        assert all(re.fullmatch(r"[a-z_]+(\[\d+\]|\.[a-z_]+)*", issue.path) for issue in error.value.issues)
        # HA names the offending key; so does homesim.
        key = re.search(r"data\['(\w+)'\]", case.error)
        assert key is None or any(issue.path.endswith(key.group(1)) for issue in error.value.issues)


def test_integration_only_failures_parse_with_a_note() -> None:
    absent = [case for case in CASES if case.error_class == "integration"]
    assert absent
    for case in absent:
        automation = _parse(case)
        assert isinstance(automation, Automation), case.name
        assert not structural_issues(automation), case.name
        assert any("integration not checked" in note.message for note in automation_notes(automation))


def test_blueprint_uses_parse_and_are_refused_without_their_blueprint() -> None:
    uses = [case for case in CASES if case.error_class == "blueprint"]
    assert uses
    for case in uses:
        assert isinstance(_parse(case), BlueprintAutomation), case.name
        (report,) = check_items(case.raw, config_dir=None)
        assert not report.kept
        assert any("blueprint not found" in issue.message for issue in report.issues)


def test_blueprint_present_in_the_config_dir_is_expanded_and_checked(tmp_path: Path) -> None:
    use = next(case.raw for case in CASES if case.error_class == "blueprint")
    folder = tmp_path / "blueprints" / "automation" / Path(use["use_blueprint"]["path"]).parent
    folder.mkdir(parents=True)
    inputs = use["use_blueprint"].get("input", {})
    declared = "\n".join(f"    {name}: {{}}" for name in inputs) or "    {}"
    uses_inputs = "\n".join(f"      {name}: !input {name}" for name in inputs)
    (tmp_path / "blueprints" / "automation" / use["use_blueprint"]["path"]).write_text(
        "blueprint:\n  name: test\n  domain: automation\n  input:\n"
        + declared
        + "\ntriggers:\n  - trigger: homeassistant\n    event: start\nactions:\n"
        + "  - action: persistent_notification.create\n    data:\n      message: started\n"
        + (f"  - variables:\n{uses_inputs}\n" if inputs else "")
    )
    (report,) = check_items(use, config_dir=tmp_path)
    assert report.kept, report.issues
    assert report.automation is not None and report.automation.alias == use["alias"]
    broken = {**use, "use_blueprint": {**use["use_blueprint"], "input": {"not_an_input": 1}}}
    (refused,) = check_items(broken, config_dir=tmp_path)
    assert any("has no input not_an_input" in issue.message for issue in refused.issues)


def test_real_corpus_construct_mix_is_measured() -> None:
    automations = [a for case in ACCEPTED if isinstance(a := _parse(case), Automation)]
    mix = construct_mix(automations)
    print(json.dumps({key: round(share, 3) for key, share in mix.items()}, indent=1))
    # Real users' automations are not the small corner homesim used to generate.
    for construct in ("action:choose", "action:if", "action:delay", "template", "condition:time"):
        assert mix[construct] > 0.02, construct


def test_restyle_shares_are_the_measured_ones() -> None:
    found = [constructs(a) for case in ACCEPTED if isinstance(a := _parse(case), Automation)]

    def share(has: str, among: tuple[str, ...] = ()) -> float:
        base = [c for c in found if not among or any(k in c for k in among)]
        return sum(has in c for c in base) / len(base)

    measured = {
        "legacy_syntax": share("syntax:legacy"),
        "entity_id_on_call": share("syntax:entity_id_on_call", ("action:service",)),
        "if_of_branching": share("action:if", ("action:if", "action:choose")),
        "template_of_conditions": share("condition:template", ("condition:template", "condition:state")),
        "shorthand_of_templates": share("condition:template_shorthand", ("condition:template",)),
        "notify": share("action:notify"),
    }
    for key, value in measured.items():
        assert REAL_SHARES[key] == pytest.approx(value, abs=0.01), key
    for mode, value in REAL_SHARES["modes"].items():
        assert value == pytest.approx(share(f"mode:{mode}"), abs=0.001), mode
