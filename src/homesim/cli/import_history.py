"""`homesim import-history FORMAT PATH [--out DIR]`: read a real home's history into a home folder.

With `--out` the folder is written there; without it the home goes into the workspace
(`data/real_homes/<key>/`) and into a dataset of real homes that `homesim simulate --dataset` runs over.
Prints what became of every input line (imported, or skipped and why, with the first line numbers) and
what was written. Input that cannot be imported at all is one red line and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from homesim.cli.errors import fail
from homesim.cli.options import WorkspaceOption, start_command
from homesim.real_homes.importing import (
    FORMATS,
    HistoryImportError,
    ImportReport,
    import_history,
    import_into_workspace,
)

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command("import-history")(import_history_command)


def import_history_command(
    format: Annotated[str, typer.Argument(help=f"input format: {', '.join(sorted(FORMATS))}")],
    path: Annotated[Path, typer.Argument(help="a dataset file or folder, or a recorder database")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="home folder to write (empty, or an earlier import); default: the workspace"
        ),
    ] = None,
    home_key: Annotated[
        str | None, typer.Option(help="home key (default: real-<the dataset's name of the home>)")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option(help="IANA time zone of the history's local times (default: the format's)")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option(help="workspace dataset of real homes to add the home to (default: its key)")
    ] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Import a real home's history (a public dataset or an HA recorder database) as a home folder."""
    if out is not None and dataset is not None:
        fail("--dataset needs the workspace: leave out --out")
    written = ""
    try:
        if out is not None:
            report = import_history(format, path, out, home_key=home_key, timezone=timezone)
            written = str(out)
        else:
            _, ws = start_command(workspace)
            report, manifest = import_into_workspace(
                format, path, ws, home_key=home_key, timezone=timezone, dataset=dataset
            )
            written = f"{ws.home_dir(report.home_key)}, dataset {manifest.dataset_id}"
    except (HistoryImportError, ValueError) as exc:
        fail(f"cannot import {path}: {exc}")
    console.print(lines_table(report))
    console.print(
        f"{report.home_key}: {report.entities} entities, {report.events:,} events, "
        f"{report.activities:,} activities; {report.imported:,} of {report.lines:,} lines imported, "
        f"{report.skipped:,} skipped; written to {written}",
        highlight=False,
        soft_wrap=True,
    )
    for what, count in report.notes.items():
        console.print(f"{what}: {count:,}", highlight=False)
    for warning in report.warnings:
        err_console.print(f"[yellow]{warning}[/yellow]", highlight=False)


def lines_table(report: ImportReport) -> Table:
    """Per input file: lines, imported, and each skip reason with its count and first line numbers."""
    table = Table(title=f"{report.format} import: every line accounted for")
    for name in ("file", "lines", "imported", "skipped", "why (first lines)"):
        table.add_column(name, justify="right" if name in ("lines", "imported", "skipped") else "left")
    for tally in report.files:
        why = "; ".join(
            f"{reason} ×{s.count} ({', '.join(map(str, s.first_lines))})"
            for reason, s in tally.skipped.items()
        )
        table.add_row(tally.file, f"{tally.lines:,}", f"{tally.imported:,}", f"{tally.skipped_lines:,}", why)
    return table
