"""The fast automations.yaml writer (`ha.automation.yaml_emit.dump`) writes PyYAML's bytes: on every
ground-truth automation of a month of homes, on the real automations (in all three key syntaxes), and on
random documents."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from homesim.generation.home import GeneratedHome
from homesim.ha.automation import AutomationError, parse_automation, parse_config
from homesim.ha.automation.values import Syntax
from homesim.ha.automation.yaml_emit import DUMP_OPTIONS, HaDumper, QuotedStr, dump
from homesim.ha.automation.yaml_io import AnyAutomation, document
from homesim.simulation.home_view import HomeView
from test_ha_real_automations import DATA, _items

SYNTAXES: tuple[Syntax, ...] = ("as_written", "current", "legacy")


def _pyyaml(documents: list[Any]) -> str:
    return yaml.dump(documents, Dumper=HaDumper, **DUMP_OPTIONS)


def _assert_same(automations: list[AnyAutomation]) -> None:
    for syntax in SYNTAXES:
        for automation in automations:
            documents = [document(automation, syntax)]
            assert dump(documents) == _pyyaml(documents), (syntax, automation)
        documents = [document(a, syntax) for a in automations]  # one file of many
        assert dump(documents) == _pyyaml(documents)


def test_ground_truth_automations_render_as_pyyaml_does(month_homes: list[GeneratedHome]) -> None:
    automations: list[AnyAutomation] = [
        parse_automation(p.automation.model_dump(mode="json"))
        for home in month_homes
        for p in HomeView.from_generated(home).truth.patterns
    ]
    assert len(automations) > 50
    _assert_same(automations)


def test_real_automations_render_as_pyyaml_does() -> None:
    automations: list[AnyAutomation] = []
    for file in sorted(DATA.glob("*.yaml")):
        for raw in _items(file.name):
            try:
                automations.append(parse_config(raw))
            except AutomationError:
                continue  # HA rejects these too; nothing to render
    assert len(automations) > 150
    _assert_same(automations)


_KEYS = st.text(min_size=1, max_size=12) | st.sampled_from(["on", "off", "yes", "id", "entity_id", "1", "?"])
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.sampled_from(["on", "off", "", "19:30:00", "07:00", "a: b", "- x", "#", "'", '"', "x\ny", " x", "~"])
    | st.sampled_from(["\x85", "a\u2028b", "x\r", "\u2029", "\t", "a\x85 b"])  # YAML's other line breaks
    | st.text(max_size=8).map(QuotedStr)
)
_TREES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_TREES, max_size=4))
def test_random_documents_render_as_pyyaml_does(documents: list[Any]) -> None:
    assert dump(documents) == _pyyaml(documents)


def test_a_shared_container_is_left_to_pyyaml_and_aliased() -> None:
    shared = {"entity_id": "light.a"}
    documents = [{"target": shared, "data": shared}]
    assert dump(documents) == _pyyaml(documents)
    assert "&id001" in dump(documents)
