"""ULIDs as Home Assistant writes its context and config-entry ids: 48-bit millisecond time + 80 bits of
randomness, 26 Crockford base32 characters; and their 16 bytes, as HA's recorder stores them.

The one ULID codec of homesim, column-wise: generation mints millions of context ids per dataset, so they
are built from numpy arrays straight into an Arrow string array, their randomness drawn from the home's
seeded generator (the same seed gives the same ids). python-ulid draws from the OS and works one id at a
time, so it serves only as the tests' independent reference.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

CROCKFORD = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_LEN = 26

_ALPHABET = np.frombuffer(CROCKFORD, dtype=np.uint8)
_RANDOM_HALF = 1 << 40
_GROUP_WEIGHTS = np.uint64(32) ** np.arange(7, -1, -1, dtype=np.uint64)


def _digit_table() -> npt.NDArray[np.uint8]:
    """Crockford digit of each byte (either case); 255 for bytes that are not one."""
    table = np.full(256, 255, dtype=np.uint8)
    table[_ALPHABET] = np.arange(32, dtype=np.uint8)
    table[np.frombuffer(CROCKFORD.lower(), dtype=np.uint8)] = np.arange(32, dtype=np.uint8)
    return table


_DIGITS = _digit_table()


def _pair_table() -> npt.NDArray[np.uint16]:
    """The two Crockford characters of each 10-bit number, as the little-endian uint16 of their bytes."""
    v = np.arange(1024)
    pairs: npt.NDArray[np.uint16] = _ALPHABET[v >> 5].astype("<u2") | (_ALPHABET[v & 31].astype("<u2") << 8)
    return pairs


_PAIRS = _pair_table()
#: Shifts that cut the 48-bit time into five 10-bit pairs (its top pair's first digit carries 3 bits, the
#: rest are zero as the time is below 2^48), and each 40-bit random half into four.
_TIME_SHIFTS = (40, 30, 20, 10, 0)
_HALF_SHIFTS = (30, 20, 10, 0)
#: Ids cut per block in `_encode`: 8,192 × 13 int64 numbers, 852 KB.
_BLOCK = 8192


def _encode(
    ms: npt.NDArray[np.uint64], hi: npt.NDArray[np.uint64], lo: npt.NDArray[np.uint64]
) -> pa.StringArray:
    """ULID strings of millisecond times and two 40-bit halves of randomness, without a Python loop: each
    id is 13 pairs of characters, each pair one lookup of 10 bits in a 1,024-entry table. The 10-bit
    numbers are cut as int64 (all inputs are below 2^63), so the lookup indexes without a conversion.
    Cut and looked up `_BLOCK` ids at a time: the 13 int64 numbers per id of a whole home (~17 MB) would
    leave the cache and fault in fresh pages; one block's stay in L2 (measured 3× less CPU per home)."""
    n = len(ms)
    chars = np.empty((n, ULID_LEN // 2), dtype=np.uint16)
    block = np.empty((min(n, _BLOCK), ULID_LEN // 2), dtype=np.int64)
    for start in range(0, n, _BLOCK):
        stop = min(n, start + _BLOCK)
        words = block[: stop - start]
        column = 0
        for source, shifts in ((ms, _TIME_SHIFTS), (hi, _HALF_SHIFTS), (lo, _HALF_SHIFTS)):
            signed = source[start:stop].view(np.int64)
            for shift in shifts:
                np.right_shift(signed, shift, out=words[:, column])
                column += 1
        words &= 1023
        np.take(_PAIRS, words, out=chars[start:stop])
    offsets = np.arange(0, (n + 1) * ULID_LEN, ULID_LEN, dtype=np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(chars)])


def ulid_strings(times_us: npt.NDArray[np.int64], rng: np.random.Generator) -> pa.StringArray:
    """One ULID per time (µs since epoch), its randomness drawn from `rng`."""
    n = len(times_us)
    ms = (times_us // 1000).astype(np.uint64)
    hi = rng.integers(0, _RANDOM_HALF, size=n, dtype=np.uint64)
    lo = rng.integers(0, _RANDOM_HALF, size=n, dtype=np.uint64)
    return _encode(ms, hi, lo)


def ulid(millis: int, randomness: int) -> str:
    """The ULID of a millisecond time and 80 given bits of randomness (a stable id: same inputs, same id)."""
    if not 0 <= millis < 1 << 48 or not 0 <= randomness < 1 << 80:
        raise ValueError("a ULID holds a 48-bit millisecond time and 80 bits of randomness")
    parts = (millis, randomness >> 40, randomness & (_RANDOM_HALF - 1))
    ms, hi, lo = (np.array([v], dtype=np.uint64) for v in parts)
    return str(_encode(ms, hi, lo)[0].as_py())


def ulid_bytes(ulids: pa.Array, name: str = "ulid") -> npt.NDArray[np.uint8]:
    """26-character ULIDs (either case) as rows of 16 bytes, decoded with array arithmetic; a value that
    is not a ULID raises ValueError naming `name`."""
    n = len(ulids)
    if n == 0:
        return np.zeros((0, 16), dtype=np.uint8)
    if ulids.null_count or not pc.all(pc.equal(pc.binary_length(ulids), ULID_LEN)).as_py():
        raise ValueError(f"{name}: every ULID must have 26 ASCII characters")
    offsets = np.frombuffer(ulids.buffers()[1], dtype=np.int32)[ulids.offset : ulids.offset + n + 1]
    chars = np.frombuffer(ulids.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(n, ULID_LEN)
    digits = _DIGITS[chars]
    if np.any(digits == 255) or np.any(digits[:, 0] > 7):
        raise ValueError(f"{name}: not a ULID (Crockford base32, first character 0-7)")
    out = np.empty((n, 16), dtype=np.uint8)
    # 26 digits x 5 bits = 130 bits, whose top two are zero: 2 digits give byte 0, each next 8 give 5 bytes.
    out[:, 0] = digits[:, 0].astype(np.uint16) * 32 + digits[:, 1]
    groups = digits[:, 2:].reshape(n, 3, 8).astype(np.uint64) @ _GROUP_WEIGHTS  # three 40-bit numbers
    out[:, 1:] = groups.astype(">u8").view(np.uint8).reshape(n, 3, 8)[:, :, 3:].reshape(n, 15)
    return out


def optional_ulid_bytes(ulids: pa.Array, name: str = "ulid") -> npt.NDArray[np.uint8]:
    """Like `ulid_bytes`, zero rows where the ULID is null (most parent contexts are)."""
    out = np.zeros((len(ulids), 16), dtype=np.uint8)
    valid = ulids.is_valid()
    out[valid.to_numpy(zero_copy_only=False)] = ulid_bytes(ulids.filter(valid), name)
    return out
