"""`homesim simulate`: run a simulation cycle over a generated dataset; show progress and the metric table."""

from __future__ import annotations

from typing import Annotated

import structlog
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from homesim.cli.errors import fail
from homesim.cli.options import (
    AllowPartialOption,
    ExecutorOption,
    WorkersOption,
    WorkspaceOption,
    dataset_ref,
    partial,
    start_command,
)
from homesim.schema.records import MAX_CYCLE
from homesim.simulation.cycle import CycleReport, HomeOutcome, find_dataset
from homesim.training_data.run_and_collect import run_and_collect

console = Console()
err_console = Console(stderr=True)
_log = structlog.get_logger("homesim.simulate")


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)


def _cell(value: float | None) -> str:
    """A metric, or n/a where there is nothing to score it on (no ground truth: a real home)."""
    return "n/a" if value is None else f"{value:.3f}"


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
    dataset: Annotated[
        str,
        typer.Option(help="dataset id (data/datasets/<id>), its folder or manifest path, or latest"),
    ],
    cycle: Annotated[int, typer.Option(min=0, max=MAX_CYCLE, help="cycle number stamped on every record")],
    workers: WorkersOption = None,
    executor: ExecutorOption = None,
    workspace: WorkspaceOption = None,
    allow_partial: AllowPartialOption = False,
) -> None:
    """Run every simulation stage over a dataset's homes and write the cycle report under reports/.

    The records are the workspace's ad-hoc cycle N; `homesim run` keeps its own cycles apart (runs/<id>/).
    """
    settings, ws = start_command(workspace, workers, executor)
    dataset = dataset_ref(ws, dataset)
    try:
        manifest = find_dataset(ws, dataset)
    except FileNotFoundError as exc:
        fail(f"no dataset {dataset!r}: {exc}")
    others = sorted({r.dataset_id for r in ws.cycle_reports(cycle)} - {manifest.dataset_id})
    if others:  # not an error: adding homes to a cycle is allowed, but say that the cycle now mixes datasets
        err_console.print(
            f"note: ad-hoc cycle {cycle} already holds records of {', '.join(others)}; its exports will "
            "hold both (another --cycle keeps them apart)",
            highlight=False,
        )
    emitted = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("homes", total=len(manifest.home_keys))

        def advance(outcome: HomeOutcome) -> None:
            nonlocal emitted
            emitted += outcome.n_records
            bar.update(task, advance=1, description=f"homes ({emitted:,} records)")
            if not console.is_terminal:  # piped: a JSON line per home instead of the bar
                done = int(bar.tasks[0].completed)
                _log.info(
                    "homes_progress",
                    done=done,
                    total=len(manifest.home_keys),
                    records=emitted,
                    home=outcome.home_key,
                )

        # Records go straight into the training-data store, validated and traced as they arrive.
        collected = run_and_collect(
            ws,
            dataset,
            cycle,
            executor=settings.executor,
            workers=settings.workers,
            progress=advance,
        )
    report = collected.report
    console.print(metrics_table(report))
    console.print(
        f"{report.records:,} records in {report.wall_s:.1f} s ({report.records_per_s:,.0f}/s); "
        f"report {ws.cycle_report(report.cycle, report.dataset_id).md}",
        highlight=False,
    )
    console.print(
        "collected into "
        + f"{ws.training_store} (ad-hoc cycle {report.cycle}): "
        + ", ".join(f"{point} {rate:.0%} accepted" for point, rate in collected.pass_rates.items()),
        highlight=False,
    )
    for error in report.errors:
        err_console.print(f"[red]{error.home_key}[/red] {error.stage}: {error.error}", highlight=False)
    if (failure := report.failure()) is not None:
        partial(failure, allow_partial)
