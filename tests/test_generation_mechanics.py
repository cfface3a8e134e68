"""The mechanics of fast generation: one ordering pass equal to the two sorts it replaced, numbers
formatted once per distinct value, a home made alone byte-identical to the same home made in a batch,
the detector's scores on a sample of homes with `ground-truth verify` still checking all, and cached
re-requests that skip hashing only while a home's file stamp is unchanged, and the Parquet options."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homesim.datasets import cache as cache_module
from homesim.datasets.cache import HomeCache
from homesim.datasets.manager import DataGenerationManager, GenerationResult
from homesim.datasets.verification import verify_dataset
from homesim.generation.config import GenerationConfig
from homesim.generation.event_table import (
    FAULT_CODE,
    EventBuffer,
    EventColumns,
    _distinct_numbers,
    _recorded_order,
    format_numbers,
)
from homesim.generation.home import generate_home
from homesim.generation.sensors import _AR_BLOCK, _ar_noise, _sorted_uniform
from homesim.ground_truth.truth import VERIFIED_EVERY, VERIFIED_FIRST, read_ground_truth, verified_home
from homesim.schema.events import EVENTS_SCHEMA, Cause
from homesim.workspace import Workspace

#: Six homes: indices 0-3 are verified at generation, 4 and 5 are not.
CONFIG = GenerationConfig(homes=6, days=3, seed=11)


def _generate(root: Path, indices: list[int] | None = None) -> GenerationResult | None:
    with DataGenerationManager(Workspace(root), "inline") as manager:
        if indices is None:
            return manager.generate(CONFIG)
        list(manager.ensure(CONFIG, indices))
        return None


def _home_bytes(root: Path, index: int) -> dict[str, bytes]:
    folder = Workspace(root).home_dir(CONFIG.home_key(index))
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerationResult]:
    root = tmp_path_factory.mktemp("batch")
    result = _generate(root)
    assert result is not None
    return root, result


def _reference_order(cols: EventColumns, precision: np.ndarray, begin: int, end: int) -> np.ndarray:
    """The order the generator made before the fused pass: window, sort by entity, drop repeats, sort."""
    idx = np.flatnonzero((cols.time >= begin) & (cols.time < end))
    idx = idx[np.lexsort((cols.row[idx], cols.time[idx], cols.entity[idx]))]
    code, value, ent = cols.code[idx], cols.value[idx], cols.entity[idx]
    rounded = np.where(code < 0, np.round(value * 10.0 ** precision[ent]), np.nan)
    same = np.zeros(len(idx), dtype=bool)
    same[1:] = (ent[1:] == ent[:-1]) & np.where(
        code[1:] >= 0, code[1:] == code[:-1], (code[:-1] < 0) & (rounded[1:] == rounded[:-1])
    )
    idx = idx[~(same & (cols.cause[idx] != FAULT_CODE))]
    return idx[np.lexsort((cols.row[idx], cols.entity[idx], cols.time[idx]))]


def _columns(rng: np.random.Generator, n: int, entities: int, span: int, shuffled: bool) -> EventColumns:
    rows = np.arange(n, dtype=np.int64)
    if shuffled:
        rows = rng.permutation(rows)
    code = rng.integers(-1, 3, n).astype(np.int32)
    return EventColumns(
        row=rows,
        time=rng.integers(-span // 10, span + span // 10, n).astype(np.int64) // 7 * 7,  # ties
        entity=rng.integers(0, entities, n).astype(np.int32),
        code=code,
        value=np.where(code < 0, rng.integers(0, 4, n) / 2, np.nan),
        attr=np.full(n, -1, dtype=np.int32),
        cause=rng.choice(np.array([0, FAULT_CODE], dtype=np.int8), n),
        cause_id=np.full(n, -1, dtype=np.int32),
        parent=np.full(n, -1, dtype=np.int64),
    )


@pytest.mark.parametrize(
    ("span", "shuffled"),
    [(1_000, False), (1_000, True), (1 << 60, False)],  # packed keys; rows out of order; a lexsort span
)
def test_the_fused_order_equals_the_two_sorts_it_replaced(span: int, shuffled: bool) -> None:
    rng = np.random.default_rng(span + shuffled)
    cols = _columns(rng, 5_000, 40, span, shuffled)
    precision = rng.integers(0, 3, 40)
    got = _recorded_order(cols, precision, 0, span)
    expected = _reference_order(cols, precision, 0, span)
    assert len(expected) < 5_000  # repeats and out-of-window events were dropped
    np.testing.assert_array_equal(got, expected)


def test_the_order_leaves_out_the_rows_not_kept_as_if_they_were_gone() -> None:
    """Fault injection marks dropped rows instead of copying every column without them: the order over
    the kept rows is the order of the columns with the others removed, in the full columns' positions."""
    rng = np.random.default_rng(3)
    cols = _columns(rng, 5_000, 40, 1_000, False)
    precision = rng.integers(0, 3, 40)
    kept = rng.random(5_000) < 0.7
    got = _recorded_order(cols, precision, 0, 1_000, kept)
    expected = np.flatnonzero(kept)[_reference_order(cols.take(kept), precision, 0, 1_000)]
    np.testing.assert_array_equal(got, expected)


def test_a_replaced_buffer_reads_only_its_kept_rows() -> None:
    home = generate_home(GenerationConfig(homes=1, days=1, seed=1), 0).home
    buffer = EventBuffer(home)
    entity = home.entities[0].entity_id
    buffer.add(entity, np.arange(6, dtype=np.int64), Cause.SENSOR, values=np.arange(6.0))
    kept = np.array([True, False, True, True, False, True])
    buffer.replace(buffer.columns(), kept)
    buffer.add(entity, np.array([9], dtype=np.int64), Cause.SENSOR, values=np.array([9.0]))
    assert buffer.columns_of(entity).value.tolist() == [0.0, 2.0, 3.0, 5.0, 9.0]
    assert buffer.columns().row.tolist() == [0, 2, 3, 5, 6]


def test_ar_noise_in_blocks_follows_the_per_sample_recursion() -> None:
    """The blockwise weighted sums equal x_t = phi * x_(t-1) + e_t, started from the carry drawn after
    the shocks, across block edges and in a last, shorter block."""
    n, scale, phi = 2 * _AR_BLOCK + 77, 0.25, 0.9
    got = _ar_noise(np.random.default_rng(8), n, scale, phi)
    rng = np.random.default_rng(8)
    shocks = rng.normal(0, scale * np.sqrt(1 - phi**2), n)
    x, expected = rng.normal(0, scale), np.empty(n)
    for t in range(n):
        x = phi * x + shocks[t]
        expected[t] = x
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert _ar_noise(np.random.default_rng(8), 0, scale).shape == (0,)


def test_numbers_formatted_once_per_distinct_value_read_as_formatted_each() -> None:
    rng = np.random.default_rng(4)
    values = np.concatenate([rng.integers(-60, 60, 2_000) / 7, [np.nan, np.inf, -0.01, 0.01, -0.0]])
    precision = rng.integers(0, 4, len(values))
    first, inverse = _distinct_numbers(values, precision)
    assert len(first) < len(values) // 2
    distinct = format_numbers(values[first], precision[first]).to_pylist()
    assert [distinct[i] for i in inverse] == format_numbers(values, precision).to_pylist()


def test_a_home_made_alone_is_byte_identical_to_the_same_home_in_a_batch(
    batch: tuple[Path, GenerationResult], tmp_path: Path
) -> None:
    root, _ = batch
    for index in (2, 5):  # a verified home and one that is not
        alone = tmp_path / str(index)
        _generate(alone, [index])
        assert _home_bytes(alone, index) == _home_bytes(root, index)


def test_detector_scores_on_the_sample_and_the_dataset_report_over_it(
    batch: tuple[Path, GenerationResult],
) -> None:
    root, result = batch
    assert [i for i in range(200) if verified_home(i)] == [
        *range(VERIFIED_FIRST),
        *range(VERIFIED_EVERY, 200, VERIFIED_EVERY),
    ]
    workspace = Workspace(root)
    for index in range(CONFIG.homes):
        truth = read_ground_truth(workspace.home_dir(CONFIG.home_key(index)))
        assert (truth.baselines.detector is not None) == (index < VERIFIED_FIRST)
    accuracy = result.manifest.ground_truth_accuracy
    assert accuracy is not None and accuracy["homes"] == VERIFIED_FIRST
    assert accuracy["total"]["eligible"] > 0


def test_ground_truth_verify_still_checks_every_home(batch: tuple[Path, GenerationResult]) -> None:
    _, result = batch
    report = verify_dataset(result.manifest_path.parent)
    assert report.homes == CONFIG.homes
    sampled = result.manifest.ground_truth_accuracy
    assert sampled is not None and report.total.eligible > sampled["total"]["eligible"]


def test_a_cached_rerequest_hashes_only_homes_whose_stamp_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _generate(tmp_path, [0, 4])
    hashed: list[Path] = []
    real = cache_module.sha256_file
    monkeypatch.setattr(cache_module, "sha256_file", lambda p: hashed.append(p) or real(p))
    _generate(tmp_path, [0, 4])
    assert hashed == []  # both homes kept the stamp recorded when they were published
    key = CONFIG.home_key(4)
    events = Workspace(tmp_path).home_dir(key) / "events.parquet"
    time.sleep(0.05)  # past the kernel's coarse timestamp tick, so the rewrite's ctime differs
    stat = events.stat()
    data = bytearray(events.read_bytes())
    data[len(data) // 2] ^= 0xFF
    events.write_bytes(bytes(data))
    os.utime(events, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime: a new ctime only
    assert HomeCache(Workspace(tmp_path)).check(key) is not None
    with DataGenerationManager(Workspace(tmp_path), "inline") as manager:
        statuses = {r.home_key: r.status for r in manager.ensure(CONFIG, [0, 4])}
    assert statuses == {CONFIG.home_key(0): "cached", key: "generated"}
    assert {p.parent.name for p in hashed} == {key}


def test_parquet_options_delta_times_dictionary_text_and_time_statistics(
    batch: tuple[Path, GenerationResult],
) -> None:
    """events.parquet as measured best (docs/benchmarks.md): times delta-encoded with the only min/max
    statistics, dictionaries for text but not for numbers or random ids, ids prefix-encoded; read back with
    its schema (and by polars, whose reader is not Arrow's)."""
    root, _ = batch
    path = Workspace(root).home_dir(CONFIG.home_key(0)) / "events.parquet"
    column = {
        c.path_in_schema: c for c in (pq.ParquetFile(path).metadata.row_group(0).column(i) for i in range(9))
    }
    assert "DELTA_BINARY_PACKED" in column["time"].encodings and column["time"].statistics is not None
    assert all("DELTA_BYTE_ARRAY" in column[c].encodings for c in ("context_id", "parent_context_id"))
    assert [name for name, c in column.items() if c.statistics is not None] == ["time"]
    dictionary = {name for name, c in column.items() if "RLE_DICTIONARY" in c.encodings}
    assert dictionary == {"entity_id", "state", "attributes", "cause", "cause_id"}
    assert pq.read_table(path).schema.equals(EVENTS_SCHEMA, check_metadata=True)
    assert pl.read_parquet(path)["context_id"].to_list() == pq.read_table(path)["context_id"].to_pylist()


@settings(deadline=None, max_examples=40)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 900, 1024, 1500, 13_000, 65_535, 65_536, 70_000]))
def test_sorted_uniform_times_equal_a_sort(seed: int, n: int) -> None:
    """The bucketed sort of sensor report times gives exactly what a sort of the same times gives, ties
    (equal microseconds from close uniforms) included, on both sides of its size limits."""
    rng = np.random.default_rng(seed)
    u = rng.random(n)
    if n > 2:
        u[1] = u[0]  # a tie
    begin, span = 1_735_714_800_000_000, 7_776_000_000_000
    got = _sorted_uniform(begin, span, u)
    assert got.dtype == np.int64
    assert np.array_equal(got, np.sort(begin + (u * span).astype(np.int64)))
