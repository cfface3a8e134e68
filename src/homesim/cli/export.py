"""`homesim export` and `homesim training-data prune`: write training-data exports, apply retention."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from homesim.cli.errors import fail
from homesim.cli.options import (
    AllowPartialOption,
    RunOption,
    WorkspaceOption,
    partial,
    resolve_workspace,
    runs_hint,
    session,
)
from homesim.schema.records import MAX_CYCLE
from homesim.simulation.cycle import incomplete_cycle
from homesim.simulation.model_provider import MODEL_TYPES
from homesim.training_data.exporters import Exporter, ExportResult, prune
from homesim.training_data.lineage_tracker import LineageTracker
from homesim.training_data.schemas import FORMATS
from homesim.training_data.store import open_store, workspace_store

console = Console()
err_console = Console(stderr=True)

_ALL_FORMATS = sorted({f for fs in FORMATS.values() for f in fs})

training_data_app = typer.Typer(
    name="training-data", help="Manage exported training data.", no_args_is_help=True
)


def register(parent: typer.Typer) -> None:
    parent.command("export")(export)
    training_data_app.command("prune")(prune_cycles)
    parent.add_typer(training_data_app)


def _table(results: list[ExportResult], root: Path) -> Table:
    """Per model type: the folder, the collected records it was built from and each file's rows (one
    yaml_generation pair joins an automation and its suggestion, so it has fewer rows than records)."""
    table = Table(title=f"exports under {root}")
    for name in ("model type", "folder", "source records", "files (rows)"):
        table.add_column(name, justify="right" if name == "source records" else "left", overflow="fold")
    for r in results:
        files = ", ".join(f"{name} ({rows:,})" for name, rows in r.counts.items())
        table.add_row(r.model_type, str(r.directory.relative_to(root)), f"{r.records:,}", files)
    return table


def _listing(cycles: list[int]) -> str:
    return ", ".join(map(str, cycles)) or "none"


def export(
    cycle: Annotated[
        int | None, typer.Option(min=0, max=MAX_CYCLE, help="export this cycle's records")
    ] = None,
    aggregated: Annotated[bool, typer.Option(help="export all cycles, deduplicated (newest wins)")] = False,
    model_type: Annotated[
        str | None, typer.Option(help=f"one of {', '.join(MODEL_TYPES)} (default: all)")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help=f"only this format: {', '.join(_ALL_FORMATS)} (default: all)"),
    ] = None,
    run: RunOption = None,
    workspace: WorkspaceOption = None,
    allow_partial: AllowPartialOption = False,
) -> None:
    """Export accepted records as training data: `--cycle N` (a cycle whose simulation completed) or
    `--aggregated`.

    Without --run: the ad-hoc cycles of `homesim simulate`; a run's cycles are its own (`--run ID|latest`).
    """
    if (cycle is None) == (not aggregated):
        fail("give exactly one of --cycle N and --aggregated")
    if model_type is not None and model_type not in MODEL_TYPES:
        fail(f"unknown model type {model_type!r}; choose from {', '.join(MODEL_TYPES)}")
    types = [model_type] if model_type else list(MODEL_TYPES)
    if fmt is not None:
        if fmt not in _ALL_FORMATS:
            fail(f"unknown format {fmt!r}; choose from {', '.join(_ALL_FORMATS)}")
        types = [t for t in types if fmt in FORMATS[t]]
        if not types:
            fail(f"{model_type} is not exported as {fmt}")
    formats = None if fmt is None else [fmt]
    root = resolve_workspace(workspace)
    ws = session(root, run)
    hint = "" if cycle is None or run is not None else runs_hint(root, cycle)
    staged = workspace_store(ws)
    if staged is None:
        fail(
            f"no collected records at {ws.training_store} (nor Parquet staging beside it); "
            f"run a simulation cycle first{hint}"
        )
    with open_store(staged) as store:
        if cycle is not None and cycle not in (known := store.cycles()):  # never write an empty export
            fail(f"no records of cycle {cycle} in {staged} (cycles with records: {_listing(known)}){hint}")
        if cycle is not None and (problem := incomplete_cycle(ws, cycle)) is not None:
            partial(problem, allow_partial)  # a killed or failed cycle is not exported as if whole
        with LineageTracker(ws.lineage_db) as tracker:
            exporter = Exporter(ws, store, tracker=tracker)
            results = [exporter.export(t, cycle, formats) for t in types]
    console.print(_table(results, root.root))


def prune_cycles(
    keep_cycles: Annotated[int, typer.Option(min=0, help="cycle folders to keep, newest first")],
    run: RunOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Delete all but the newest N `cycle_<n>` export folders; the aggregated export is kept."""
    removed = prune(session(resolve_workspace(workspace), run), keep_cycles)
    for folder in removed:
        console.print(f"removed {folder}")
    console.print(f"{len(removed)} cycle folder(s) removed")
