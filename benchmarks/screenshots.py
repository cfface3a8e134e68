"""Refresh `docs/screenshots/{report,dashboard}.png` from the headless-Chromium tests.

Runs `tests/test_browser.py` with `HOMESIM_SCREENSHOTS` pointing at the docs folder, so the screenshots are
exactly what the tests saw (the demo workspace's run report; the dashboard against the fixture service
with a job mid-way). Usage: `python benchmarks/screenshots.py [--out docs/screenshots]`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("report.png", "dashboard.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    env = os.environ | {"HOMESIM_SCREENSHOTS": str(out)}
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(ROOT / "tests" / "test_browser.py"),
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, check=False)
    missing = [name for name in NAMES if not (out / name).is_file()]
    if done.returncode != 0 or missing:
        print(
            f"screenshots not refreshed (pytest exit {done.returncode}, missing {missing})", file=sys.stderr
        )
        return 1
    for name in NAMES:
        print(f"{out / name} ({(out / name).stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
