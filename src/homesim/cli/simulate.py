"""`homesim simulate`: run a simulation cycle over a generated dataset; show progress and the metric table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from homesim.log import configure_logging
from homesim.settings import Settings
from homesim.simulation.cycle import CycleReport, HomeOutcome, SimulationCycle
from homesim.simulation.sink import InMemorySink
from homesim.workspace import Workspace

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)


def _cell(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def metrics_table(report: CycleReport) -> Table:
    table = Table(title=f"cycle {report.cycle}: {report.records:,} records from {report.homes} homes")
    for name in ("stage", "model", "records", "errors", "precision", "recall", "F1", "rates"):
        text = name in ("stage", "model", "rates")
        table.add_column(name, justify="left" if text else "right", no_wrap=name != "rates")
    for m in report.stages:
        table.add_row(
            m.stage,
            report.model_versions.get(m.stage, "—"),
            f"{m.records:,}",
            str(m.errors),
            _cell(m.precision),
            _cell(m.recall),
            _cell(m.f1),
            ", ".join(f"{k} {_cell(v)}" for k, v in m.rates.items()),
        )
    return table


def simulate(
    dataset: Annotated[str, typer.Option(help="dataset id (data/datasets/<id>) or its folder/manifest path")],
    cycle: Annotated[int, typer.Option(min=0, help="cycle number stamped on every record")],
    workers: Annotated[int | None, typer.Option(help="worker processes (default HOMESIM_WORKERS)")] = None,
    executor: Annotated[
        str | None, typer.Option(help="process | inline | dask | dask://host:port (default HOMESIM_EXECUTOR)")
    ] = None,
    workspace: Annotated[Path | None, typer.Option(help="workspace root (default HOMESIM_WORKSPACE)")] = None,
) -> None:
    """Run every simulation stage over a dataset's homes and write the cycle report under reports/."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json or None)
    ws = Workspace(workspace or settings.workspace)
    # Until the training-data collector provides a persistent sink, records are counted in memory.
    sink = InMemorySink()
    with SimulationCycle(
        ws, sink, executor=executor or settings.executor, workers=workers or settings.workers
    ) as sim:
        try:
            manifest = sim.dataset(dataset)
        except FileNotFoundError as exc:
            err_console.print(f"[red]no dataset {dataset!r}: {exc}[/red]", highlight=False)
            raise typer.Exit(2) from exc
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
            task = bar.add_task("homes", total=len(manifest.home_keys))

            def advance(outcome: HomeOutcome) -> None:
                bar.update(task, advance=1, description=f"homes ({len(sink.records):,} records)")

            report = sim.run(dataset, cycle, progress=advance)
    console.print(metrics_table(report))
    console.print(
        f"{report.records:,} records in {report.wall_s:.1f} s ({report.records_per_s:,.0f}/s); "
        f"report {ws.reports_dir / f'cycle_{report.cycle}_{report.dataset_id}.md'}",
        highlight=False,
    )
    for name, why in report.skipped_stages.items():
        err_console.print(f"[yellow]skipped {name}[/yellow]: {why}", highlight=False)
    for error in report.errors:
        err_console.print(f"[red]{error.home_key}[/red] {error.stage}: {error.error}", highlight=False)
