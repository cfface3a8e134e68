"""The README tour, pasted command by command into a fresh workspace, works and prints what the README
shows (`readme_tour` says how it compares); every command shown in docs/*.md at least parses."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import readme_tour
from readme_tour import README, ROOT, Step, mismatch, parse, run, steps, tokens

#: Ids homesim makes up (hashes): a user cannot know them before the command that makes them has run.
_GENERATED = re.compile(r"\b(?:ds-[0-9a-f]{16}|h\d{6}-[0-9a-f]{12}|run-[0-9]+-[0-9a-f]{10})\b")
#: Lines in docs that give a synopsis (`[--flag]`, `FILE...`) or a diagram rather than a command to paste.
_SYNOPSIS = re.compile(r"\[--|\.\.\.|…$|[─►]")


@pytest.mark.slow
def test_the_readme_tour_runs_in_a_fresh_workspace_and_matches(tmp_path: Path) -> None:
    tour = steps(README.read_text("utf-8"))
    assert sum(not s.parse_only for s in tour) >= 10
    for step in tour:
        if step.parse_only:
            parse(step.command)
            continue
        done = run(step, tmp_path)
        assert done.returncode == 0, f"$ homesim {shlex.join(step.command)}\n{done.stdout}\n{done.stderr}"
        assert (why := mismatch(step.shown, done.stdout)) is None, (
            f"$ homesim {shlex.join(step.command)}\n{why}"
        )


def test_no_command_in_the_readme_or_docs_hard_codes_an_id() -> None:
    text = README.read_text("utf-8")
    commands = [line for line in text.splitlines() if line.startswith("$ homesim")]
    commands += [where for where, _ in _doc_commands()]
    assert commands and [c for c in commands if _GENERATED.search(c)] == []


def test_the_comparison_catches_drift_and_ignores_ids_and_timings() -> None:
    shown = ["│ automation │ 51 │ 0.990 │", "h000000-5f967f9811ec in 5.1 s"]
    assert mismatch(shown, "│ automation │ 51 │ 0.992 │\nh000000-aaaaaaaaaaaa in 14.6 s") is None
    assert mismatch(shown, "│ automation │ 51 │ 0.959 │\nh000000-aaaaaaaaaaaa in 5.1 s") is not None
    assert mismatch(["a 1", "…", "z 2"], "a 1\nb\nc\nz 2\n") is None
    assert mismatch(["a 1", "…", "z 2"], "a 1\nb\n") is not None
    assert tokens(["┃ F1 ┃ 1,093.2 │"]) == ["F", 1.0, 1093.2]


def test_rewrite_keeps_elisions_and_fills_bare_commands() -> None:
    text = "## A 5-minute tour\n```\n$ homesim a\nold\n…\nold tail\n$ homesim b\n```\n"
    a, b = steps(text)
    assert (a.command, a.shown, b.shown) == (["a"], ["old", "…", "old tail"], [])
    new = readme_tour.rewrite(text, {a.line: "1\n2\n3\n", b.line: "x\n"})
    assert new == "## A 5-minute tour\n```\n$ homesim a\n1\n…\n3\n$ homesim b\nx\n```\n"


def _doc_commands() -> list[tuple[str, list[str]]]:
    found = []
    for doc in sorted((ROOT / "docs").glob("*.md")):
        if doc.name == "cli.md":  # generated from the app itself (test_docs)
            continue
        inside = False
        for line in doc.read_text("utf-8").splitlines():
            if line.startswith("```"):
                inside = not inside
                continue
            command = line.removeprefix("$ ").strip()
            if inside and command.startswith("homesim ") and not _SYNOPSIS.search(command.split("#")[0]):
                found.append((f"{doc.name}: {command}", shlex.split(command, comments=True)[1:]))
    return found


@pytest.mark.parametrize(("where", "args"), _doc_commands(), ids=lambda v: str(v)[:60])
def test_every_command_in_the_docs_parses(
    where: str, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    parse(args)


def test_steps_are_in_readme_order() -> None:
    tour = steps(README.read_text("utf-8"))
    assert [s.line for s in tour] == sorted(s.line for s in tour)
    assert all(isinstance(s, Step) for s in tour)
