"""The chaos suite's counts: per category, how many faults were tried and how many were handled (refused
with a clear error, recovered, or proven harmless). `conftest.py` prints them at the end of a session;
`HOMESIM_CHAOS_REPORT=<file>` also writes them as JSON (docs/reliability.md is built from that file)."""

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
    target = os.environ.get("HOMESIM_CHAOS_REPORT")
    if target:
        Path(target).write_text(json.dumps(dict(sorted(TALLY.items())), indent=2) + "\n", "utf-8")
