"""`homesim report`: render the static HTML report of a cycle or a run, with a status line meanwhile."""

from __future__ import annotations

import webbrowser
from typing import Annotated

import typer
from rich.console import Console

from homesim.cli.errors import fail
from homesim.cli.options import WorkspaceOption, runs_hint, start_command
from homesim.schema.records import MAX_CYCLE

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    cycle: Annotated[
        int | None, typer.Option(min=0, max=MAX_CYCLE, help="report this cycle (with --run: only this cycle)")
    ] = None,
    run: Annotated[
        str | None,
        typer.Option("--run", help="report this run: reports/runs/ID.json, or latest for the newest"),
    ] = None,
    open_browser: Annotated[
        bool, typer.Option("--open/--no-open", help="open the report in a browser")
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Write a self-contained HTML report under reports/html/ (default: latest run, else newest cycle).

    `--cycle N` alone reports the ad-hoc cycle N of `homesim simulate`; a run's cycle: `--run ID --cycle N`.
    """
    # Imported here: matplotlib would add seconds to every other command's start.
    from homesim.reports.inputs import ReportInputError
    from homesim.reports.report import write_report

    _, ws = start_command(workspace)
    try:
        with console.status("rendering report…") as status:
            path = write_report(
                ws, cycle=cycle, run_id=run, status=lambda step: status.update(f"rendering {step}…")
            )
    except (FileNotFoundError, ReportInputError) as exc:
        hint = runs_hint(ws, cycle) if cycle is not None and run is None else ""
        fail(f"cannot write the report: {exc}{hint}")
    console.print(str(path), highlight=False, soft_wrap=True)
    if open_browser:
        webbrowser.open(path.resolve().as_uri())
