"""The chaos suite's counts: per category, how many faults were tried and how many were handled (refused
with a clear error, recovered, or proven harmless). `conftest.py` prints them at the end of a session;
`HOMESIM_CHAOS_REPORT=<file>` also writes them as JSON (docs/reliability.md is built from that file).
Under pytest-xdist each worker counts its own faults and `conftest.py` merges them into the main process's."""

from __future__ import annotations

import json
import os
from pathlib import Path

#: category → [tried, handled]
TALLY: dict[str, list[int]] = {}


def record(category: str, handled: bool) -> None:
    counts = TALLY.setdefault(category, [0, 0])
    counts[0] += 1
    counts[1] += int(handled)
    _write()


def merge(counts: dict[str, list[int]]) -> None:
    """Add a worker's counts (pytest-xdist) to these."""
    if not counts:
        return
    for category, (tried, handled) in counts.items():
        mine = TALLY.setdefault(category, [0, 0])
        mine[0] += tried
        mine[1] += handled
    _write()


def _write() -> None:
    target = os.environ.get("HOMESIM_CHAOS_REPORT")
    if target:
        Path(target).write_text(json.dumps(dict(sorted(TALLY.items())), indent=2) + "\n", "utf-8")
