"""`homesim retrain MODEL`: run the RetrainingManager for one model type (triggers, or `--force`) and show
the decision; `homesim retrain --history` lists the recorded retraining runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from homesim.cli.errors import fail
from homesim.cli.options import WorkspaceOption, start_command
from homesim.retraining.models import TRAINED_TYPES
from homesim.retraining.retraining_manager import (
    RetrainingConfig,
    RetrainingHistory,
    RetrainingManager,
    RetrainingRun,
)
from homesim.simulation.model_provider import ModelType

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command("retrain")(retrain)


def _model_type(value: str) -> ModelType:
    if value not in TRAINED_TYPES:
        hint = " (its data is exported for LLM fine-tuning)" if value == "yaml_generation" else ""
        fail(f"{value!r} is not a trained model type{hint}; choose from {', '.join(TRAINED_TYPES)}")
    return {t: t for t in TRAINED_TYPES}[value]


def run_table(runs: list[RetrainingRun]) -> Table:
    table = Table(title="retraining runs")
    for name in ("#", "started", "model", "trigger", "decision", "candidate", "champion", "seconds"):
        table.add_column(name, justify="right" if name in ("#", "seconds") else "left")
    for n, r in enumerate(runs, 1):
        table.add_row(
            str(n),
            r.started.isoformat(timespec="seconds"),
            r.model_type,
            r.trigger,
            r.decision,
            r.candidate or "—",
            r.champion or "baseline",
            f"{r.duration_s:.1f}",
        )
    return table


def show_runs(runs: list[RetrainingRun]) -> None:
    """The runs' table, then each run's reason (too long for a table cell)."""
    console.print(run_table(runs))
    for n, r in enumerate(runs, 1):
        console.print(f"{n}. {r.model_type} {r.decision}: {r.reason}", highlight=False)


def retrain(
    model: Annotated[str | None, typer.Argument(help=f"one of {', '.join(TRAINED_TYPES)}")] = None,
    force: Annotated[bool, typer.Option(help="retrain even when no trigger fires (manual trigger)")] = False,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="YAML or TOML RetrainingConfig (triggers, gates, force)")
    ] = None,
    history: Annotated[bool, typer.Option(help="list the recorded retraining runs instead")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Retrain a model type when a trigger fires (or --force): sufficiency, train, evaluate, deploy."""
    _, ws = start_command(workspace)
    if history:
        with RetrainingHistory(ws) as runs:
            show_runs(runs.runs(None if model is None else _model_type(model)))
        return
    if model is None:
        fail("name a model type to retrain (or pass --history)")
    model_type = _model_type(model)
    config = RetrainingConfig.from_file(config_file) if config_file else RetrainingConfig()
    with RetrainingManager(ws, config, progress=lambda line: console.print(line, highlight=False)) as manager:
        result = manager.run(model_type, force=force)
    show_runs([result])
    if result.evaluation_report:
        console.print(f"evaluation report {ws.root / result.evaluation_report}", highlight=False)
    if result.decision == "skipped" and result.trigger != "none":
        raise typer.Exit(1)
