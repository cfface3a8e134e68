"""The README tour as a program: its `$ homesim …` lines, run in order in a fresh workspace with the real CLI,
and the output the README shows compared with what they print now.

Ids are normalized (a dataset, home or run id is whatever this run made), timings and sizes are ignored,
every other number must agree within `REL`/`ABS`, and a shown line `…` stands for lines left out. Commands
that cannot run in a test (`homesim serve`, and blocks after a `<!-- tour: parse only … -->` comment, which
says why) are only parsed by the Typer app: their command and options must exist and their values convert.

    python tests/readme_tour.py --write     # run the tour and rewrite the README's shown output from it
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import typer

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TOUR = "## A 5-minute tour"
PARSE_ONLY = "<!-- tour: parse only"
#: Commands that never end by themselves: parsed, not run.
NOT_RUN = ("serve",)
FENCE = "```"
ELISION = "…"
#: Relative and absolute tolerance of a shown number (0.990 shown, 0.959 printed: fails).
REL, ABS = 0.02, 0.011
#: Rich's width for the tour (the README's blocks are at most this wide).
COLUMNS = "120"

_IDS = re.compile(r"\b(?:ds-[0-9a-f]{16}|h\d{6}-[0-9a-f]{12}|run-[0-9]+-[0-9a-f]{10}|real-[\w-]+)\b")
#: Timings, throughput, sizes, dates and clock times: they differ between any two runs.
_VARYING = re.compile(r"[\d,.]+ ?(?:s|MB|/s)\b|\d{4}-\d\d-\d\d|\d\d:\d\d(?::\d\d)?")
_BOX = re.compile(r"[─━│┃┏┓┗┛┡┩╇┳┻╋┼├┤┬┴└┘┌┐╭╮╰╯]+")
_TOKEN = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?|[^\s\d]+")


@dataclass
class Step:
    """One `$ homesim …` line of the tour and the output the README shows under it."""

    command: list[str]
    line: int
    parse_only: bool
    shown: list[str] = field(default_factory=list)


def tour_lines(text: str) -> tuple[int, list[str]]:
    """The tour section's first line number and its lines."""
    lines = text.splitlines()
    start = lines.index(TOUR)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return start, lines[start:end]


def steps(text: str) -> list[Step]:
    """The tour's `$ homesim` commands in order, each with the lines shown under it in its block."""
    offset, lines = tour_lines(text)
    found: list[Step] = []
    inside = parse_only = False
    current: Step | None = None
    for i, line in enumerate(lines):
        if line.startswith(PARSE_ONLY):
            parse_only = True
        if line.startswith(FENCE):
            inside, current = not inside, None
            parse_only = parse_only and inside
            continue
        if not inside:
            continue
        if line.startswith("$ "):
            current = None
            if line.startswith("$ homesim "):
                words = shlex.split(line[2:], comments=True)
                current = Step(words[1:], offset + i, parse_only or words[1] in NOT_RUN)
                found.append(current)
        elif current is not None:
            current.shown.append(line)
    return found


def tokens(lines: list[str]) -> list[str | float]:
    """Words and numbers of `lines`, with ids, timings and table borders taken out."""
    out: list[str | float] = []
    for line in lines:
        text = _BOX.sub(" ", _VARYING.sub(" ", _IDS.sub("ID", line)))
        for token in _TOKEN.findall(text):
            number = token.replace(",", "")
            out.append(float(number) if re.fullmatch(r"[-+]?\d+(?:\.\d+)?", number) else token)
    return out


def _same(a: str | float, b: str | float) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= max(ABS, REL * max(abs(a), abs(b)))
    return a == b


def _find(segment: list[str | float], actual: list[str | float], start: int) -> int | None:
    """Where `segment` occurs in `actual` at or after `start` (its end), or None."""
    for i in range(start, len(actual) - len(segment) + 1):
        if all(_same(s, a) for s, a in zip(segment, actual[i : i + len(segment)], strict=False)):
            return i + len(segment)
    return None


def segments(shown: list[str]) -> list[list[str]]:
    """The shown lines split at `…` lines."""
    parts: list[list[str]] = [[]]
    for line in shown:
        if line.strip() == ELISION:
            parts.append([])
        else:
            parts[-1].append(line)
    return parts


def mismatch(shown: list[str], printed: str) -> str | None:
    """Why `printed` does not match the `shown` lines (None when it does)."""
    actual = tokens(printed.splitlines())
    cursor = 0
    for part in segments(shown):
        if not part:
            continue
        end = _find(tokens(part), actual, cursor)
        if end is None:
            return "shown:\n" + "\n".join(part) + "\nprinted:\n" + printed
        cursor = end
    return None


def parse(args: list[str]) -> None:
    """Resolve `homesim ARGS` through the Typer app without running it; click raises on a bad command,
    unknown option or unconvertible value."""
    from homesim.cli import app

    command = typer.main.get_command(app)
    ctx = command.make_context("homesim", list(args))
    while hasattr(command, "resolve_command"):
        rest = [*ctx._protected_args, *ctx.args]
        name, command, rest = command.resolve_command(ctx, rest)  # type: ignore[attr-defined]
        assert command is not None and name is not None
        ctx = command.make_context(name, rest, parent=ctx)


def run(step: Step, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`homesim …` of `step` in `cwd`, as a user's shell would run it (workspace `./workspace`)."""
    env = {**os.environ, "HOMESIM_WORKSPACE": "workspace", "COLUMNS": COLUMNS, "TERM": "dumb"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-c", "from homesim.cli import main; main()", *step.command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def rewrite(text: str, outputs: dict[int, str]) -> str:
    """`text` with each run command's shown lines replaced by what it printed, keeping the same lines
    around a `…` (the first lines before it, the last lines after it)."""
    lines = text.splitlines()
    by_line = {s.line: s for s in steps(text)}
    for number in sorted(outputs, reverse=True):
        step, printed = by_line[number], outputs[number].rstrip("\n").splitlines()
        printed = [line.rstrip() for line in printed]
        parts = segments(step.shown)
        if len(parts) > 1:
            head, tail = len(parts[0]), len(parts[-1])
            printed = printed[:head] + [ELISION] + (printed[-tail:] if tail else [])
        lines[number + 1 : number + 1 + len(step.shown)] = printed
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--write", action="store_true", help="rewrite README.md's shown output")
    options = parser.parse_args()
    text = README.read_text("utf-8")
    outputs: dict[int, str] = {}
    with tempfile.TemporaryDirectory(prefix="homesim-tour-") as tmp:
        for step in steps(text):
            if step.parse_only:
                parse(step.command)
                continue
            started = time.perf_counter()
            done = run(step, Path(tmp))
            print(f"$ homesim {shlex.join(step.command)}  ({time.perf_counter() - started:.1f} s)")
            if done.returncode != 0:
                sys.exit(f"exit {done.returncode}:\n{done.stdout}\n{done.stderr}")
            outputs[step.line] = done.stdout
            if not options.write and (why := mismatch(step.shown, done.stdout)):
                print(why)
    if options.write:
        README.write_text(rewrite(text, outputs), "utf-8")
        print(f"rewrote {len(outputs)} outputs in {README}")


if __name__ == "__main__":
    main()
