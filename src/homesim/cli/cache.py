"""`homesim cache stats|verify|prune|clear`: look after the per-home cache of a workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from homesim.cli.options import JsonOption, WorkspaceOption, print_json, resolve_workspace
from homesim.datasets.cache import HomeCache

console = Console()
cache_app = typer.Typer(help="Inspect and maintain the home cache.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")


def _cache(workspace: Path | None) -> HomeCache:
    return HomeCache(resolve_workspace(workspace))


@cache_app.command("stats")
def stats(as_json: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """Homes, events and bytes in the cache, by generator version (index rebuilt from the manifests)."""
    cache = _cache(workspace)
    cache.rebuild_index()
    summary = cache.index().stats()
    if as_json:
        print_json(summary)
        return
    console.print(f"{summary['homes']} homes, {summary['events']:,} events, {summary['bytes'] / 1e6:,.1f} MB")
    for version, count in sorted(summary["generator_versions"].items()):
        console.print(f"  generator {version}: {count} homes", highlight=False)


@cache_app.command("verify")
def verify(as_json: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """Check every cached home's files against its manifest's sha256; exit 1 if any is broken."""
    cache = _cache(workspace)
    problems = cache.verify()
    ok = len(cache.keys()) - len(problems)
    if as_json:
        print_json({"ok": ok, "broken": {p.home_key: p.problem for p in problems}})
    else:
        for problem in problems:
            console.print(f"[red]{problem.home_key}[/red]: {problem.problem}", highlight=False)
        console.print(f"{ok} ok, {len(problems)} broken")
    if problems:
        raise typer.Exit(1)


@cache_app.command("prune")
def prune(workspace: WorkspaceOption = None) -> None:
    """Remove broken entries, entries of other generator versions, and leftovers of stopped processes."""
    cache = _cache(workspace)
    removed = cache.prune()
    for problem in removed:
        console.print(f"removed {problem.home_key}: {problem.problem}", highlight=False)
    cache.rebuild_index()
    console.print(f"pruned {len(removed)}")


@cache_app.command("clear")
def clear(
    workspace: WorkspaceOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Remove every cached home."""
    if not yes:
        typer.confirm("remove every cached home?", abort=True)
    console.print(f"removed {_cache(workspace).clear()} homes")
