"""The one ULID codec (`homesim.ids`), checked against python-ulid as an independent reference."""

from __future__ import annotations

import hashlib
from datetime import date

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from ulid import ULID

from homesim import ids as ids_module
from homesim.generation.home import GeneratedHome
from homesim.ha.storage import config_entry_id
from homesim.ids import optional_ulid_bytes, ulid, ulid_bytes, ulid_strings

_MILLIS = st.integers(min_value=0, max_value=(1 << 48) - 1)
_RANDOM = st.integers(min_value=0, max_value=(1 << 80) - 1)


def test_ulids_encode_their_millisecond_and_are_unique() -> None:
    times = np.array([1_735_689_600_123_456, 1_735_689_600_123_999, 1_800_000_000_000_000], dtype=np.int64)
    ids = ulid_strings(times, np.random.default_rng(1)).to_pylist()
    assert len(set(ids)) == 3
    assert all(len(i) == 26 for i in ids)
    for text, t in zip(ids, times, strict=True):
        assert ULID.from_str(text).milliseconds == t // 1000
    assert ids[0][:10] == ids[1][:10]  # same millisecond, same time prefix


def test_ulid_strings_cut_in_blocks_equal_each_id_made_alone() -> None:
    """`ulid_strings` encodes a home's ids in blocks; ids on both sides of each block edge are the ones
    `ulid` makes from the same time and the same draws of randomness."""
    n = 2 * ids_module._BLOCK + 5
    times = np.arange(n, dtype=np.int64) * 997_003 + 1_700_000_000_000_000
    got = ulid_strings(times, np.random.default_rng(11)).to_pylist()
    rng = np.random.default_rng(11)
    hi, lo = (rng.integers(0, 1 << 40, size=n, dtype=np.uint64) for _ in range(2))
    edges = [0, ids_module._BLOCK - 1, ids_module._BLOCK, 2 * ids_module._BLOCK, n - 1]
    for i in edges:
        assert got[i] == ulid(int(times[i]) // 1000, (int(hi[i]) << 40) | int(lo[i]))
    assert len(set(got)) == n


def test_ulid_strings_are_seeded() -> None:
    times = np.arange(0, 5_000_000, 1000, dtype=np.int64) + 1_700_000_000_000_000
    first = ulid_strings(times, np.random.default_rng(42))
    assert first.equals(ulid_strings(times, np.random.default_rng(42)))
    assert not first.equals(ulid_strings(times, np.random.default_rng(43)))
    assert ulid_strings(np.zeros(0, dtype=np.int64), np.random.default_rng(0)).to_pylist() == []


@given(_MILLIS, _RANDOM)
def test_ulid_matches_python_ulid(millis: int, randomness: int) -> None:
    text = ulid(millis, randomness)
    assert text == str(ULID.from_int((millis << 80) | randomness))
    assert ulid_bytes(pa.array([text, text.lower()])).tolist() == [list(ULID.from_str(text).bytes)] * 2


@given(st.lists(st.tuples(_MILLIS, _RANDOM), min_size=1, max_size=20))
def test_ulid_bytes_decodes_columns(values: list[tuple[int, int]]) -> None:
    texts = [str(ULID.from_int((m << 80) | r)) for m, r in values]
    assert [bytes(row) for row in ulid_bytes(pa.array(texts))] == [ULID.from_str(t).bytes for t in texts]
    sliced = pa.array(["X", *texts]).slice(1)  # an array with an offset decodes the same
    assert ulid_bytes(sliced).tolist() == ulid_bytes(pa.array(texts)).tolist()


def test_ulid_bytes_refuses_what_is_not_a_ulid() -> None:
    with pytest.raises(ValueError, match="context_id: every ULID must have 26"):
        ulid_bytes(pa.array(["0" * 25]), "context_id")
    with pytest.raises(ValueError, match="not a ULID"):
        ulid_bytes(pa.array(["8" + "0" * 25]))  # over 128 bits
    with pytest.raises(ValueError, match="not a ULID"):
        ulid_bytes(pa.array(["0" * 25 + "U"]))  # not a Crockford digit
    with pytest.raises(ValueError, match="26 ASCII"):
        ulid_bytes(pa.array(["0" * 26, None]))
    both = optional_ulid_bytes(pa.array([None, "0" * 25 + "1"]))
    assert both.tolist() == [[0] * 16, [0] * 15 + [1]]
    with pytest.raises(ValueError, match="48-bit"):
        ulid(1 << 48, 0)


def test_config_entry_id_is_the_ulid_of_the_start_and_home_key(month_homes: list[GeneratedHome]) -> None:
    home = month_homes[0].home
    parsed = ULID.from_str(config_entry_id(home))
    assert parsed.milliseconds == (home.metadata.start - date(1970, 1, 1)).days * 86_400_000
    key_bits = int.from_bytes(hashlib.sha256(home.metadata.home_key.encode()).digest()[:10], "big")
    assert int(parsed) & ((1 << 80) - 1) == key_bits
