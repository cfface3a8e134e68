"""Durable file writes and checked reads: everything homesim writes goes to a temp name in the same folder,
then is renamed; a file with a recorded sha256 is read through `read_verified`, which hashes the bytes it
returns, so a file changed after it was recorded (even under the same size and mtime) is never used."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temp path beside `target`; on success it is fsynced and renamed over `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(target: Path, writer: Callable[[Path], None]) -> None:
    with atomic_path(target) as tmp:
        writer(tmp)


def write_bytes_atomic(target: Path, data: bytes | memoryview) -> str:
    """Write `data` atomically; returns its sha256, taken of the bytes in memory (no second read)."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def write_text_atomic(target: Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(target: Path, data: Any) -> None:
    write_text_atomic(target, json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n")


class IntegrityError(ValueError):
    """A file's content no longer matches the sha256 recorded for it (or it has no recorded hash)."""


def read_verified(path: Path, sha256: str | None, recorded_in: Path) -> bytes:
    """`path`'s bytes, after checking their sha256 equals `sha256` as recorded in `recorded_in`.

    The digest is taken of the very bytes returned (not of a second read), so what the caller parses is
    what was checked. Raises IntegrityError naming the file on a mismatch or when no hash was recorded.
    """
    if sha256 is None:
        raise IntegrityError(f"{path}: no sha256 recorded for it in {recorded_in}; refusing to use it")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise IntegrityError(
            f"{path}: sha256 differs from the one recorded in {recorded_in} (changed or corrupted since it "
            "was written); refusing to use it"
        )
    return data


def process_alive(pid: int | None) -> bool:
    """Whether process `pid` still exists on this machine (a writer's leftovers are stale once it is gone)."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
