"""bounded_yaml's nesting bound: flow collections up to MAX_FLOW_DEPTH levels load, deeper ones are refused
by the scanner (before PyYAML's read-ahead grows quadratic in the depth)."""

from __future__ import annotations

import pytest

from homesim.bounded_yaml import MAX_FLOW_DEPTH, YamlBoundsError, safe_load


@pytest.mark.parametrize(("open_", "close"), [("[", "]"), ("{a: ", "}")])
def test_flow_nesting_loads_up_to_the_bound(open_: str, close: str) -> None:
    value = safe_load(open_ * MAX_FLOW_DEPTH + close * MAX_FLOW_DEPTH)
    depth = 0
    while isinstance(value, list | dict):
        depth += 1
        value = (value or [None])[0] if isinstance(value, list) else value["a"]
    assert depth == MAX_FLOW_DEPTH


@pytest.mark.parametrize("depth", [MAX_FLOW_DEPTH + 1, 20_000])
@pytest.mark.parametrize("open_", ["[", "{a: "])
def test_deeper_flow_nesting_is_refused(open_: str, depth: int) -> None:
    with pytest.raises(YamlBoundsError, match="nested too deeply"):
        safe_load("a: " + open_ * depth)
