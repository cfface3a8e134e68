from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homesim.generation.event_table import format_numbers
from homesim.generation.faults import Fault
from homesim.generation.home import GeneratedHome


@settings(deadline=None)  # no timing in tests: the first call loads Arrow kernels (seconds under load)
@given(
    st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=30),
    st.integers(min_value=0, max_value=4),
)
def test_format_numbers_matches_python_formatting(values: list[float], precision: int) -> None:
    arr = np.array(values)
    got = format_numbers(arr, np.full(len(arr), precision)).to_pylist()
    expected = []
    for v in arr:
        scaled = round(abs(float(v)) * 10**precision)
        text = f"{scaled // 10**precision}" + (
            f".{scaled % 10**precision:0{precision}d}" if precision else ""
        )
        expected.append(("-" if v < 0 and scaled > 0 else "") + text)
    assert got == expected


def test_format_numbers_marks_nan_unknown() -> None:
    assert format_numbers(np.array([np.nan, 1.26]), np.array([1, 1])).to_pylist() == ["unknown", "1.3"]


def test_each_fault_window_holds_its_anomaly(month_homes: list[GeneratedHome]) -> None:
    faults: list[tuple[GeneratedHome, Fault]] = [(g, f) for g in month_homes for f in g.faults]
    assert faults, "the default fault rate gives some faults in four homes"
    kinds = set()
    for generated, fault in faults:
        df = pl.from_arrow(generated.events)
        assert isinstance(df, pl.DataFrame)
        mine = df.filter(pl.col("cause_id").cast(pl.String) == fault.id)
        t = mine["time"].dt.epoch("us").to_numpy()
        assert np.all((t >= fault.start_us) & (t <= fault.end_us + 5_000_000)), fault
        if fault.kind in ("unavailable", "battery_drain"):
            assert "unavailable" in mine["state"].to_list()
        if fault.kind in ("drift", "duplicated", "unavailable", "battery_drain") and mine.height == 0:
            pytest.fail(f"fault {fault.id} left no events in its window")
        kinds.add(fault.kind)
    assert len(kinds) >= 2


def test_parent_context_ids_exist(month_homes: list[GeneratedHome]) -> None:
    df = pl.from_arrow(month_homes[0].events)
    assert isinstance(df, pl.DataFrame)
    parents = df.filter(pl.col("parent_context_id").is_not_null())["parent_context_id"]
    assert parents.len() > 0
    assert parents.is_in(df["context_id"].implode()).all()
    assert df["context_id"].n_unique() == df.height
