"""The committed docs match the code: `make docs` output and the README's commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current(tmp_path: Path) -> None:
    out = tmp_path / "cli.md"
    subprocess.run(
        [sys.executable, "-m", "typer", "homesim.cli", "utils", "docs", "--name", "homesim",
         "--title", "homesim CLI reference", "--output", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    assert out.read_text("utf-8") == (ROOT / "docs" / "cli.md").read_text("utf-8"), "run `make docs`"


def test_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "make run" in readme and "make test" in readme
