"""The `homesim` command: a thin Typer app that parses, calls the library, and renders progress and tables.

Each command group lives in its own module of this package and is registered here.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Annotated

import typer

from homesim import __version__
from homesim.cli import (
    cache,
    calibrate,
    datasets,
    export,
    generate,
    ground_truth,
    ha,
    import_history,
    lineage,
    models,
    realism,
    report,
    retrain,
    run,
    serve,
    simulate,
)
from homesim.cli.errors import HomesimGroup

app = typer.Typer(
    name="homesim",
    cls=HomesimGroup,
    help="Training-data factory for smart-home AI: synthetic Home Assistant homes with exact ground truth.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"homesim {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_version, help="print the version and exit"),
    ] = False,
) -> None:
    """Training-data factory for smart-home AI: synthetic Home Assistant homes with exact ground truth."""


generate.register(app)
datasets.register(app)
cache.register(app)
ground_truth.register(app)
ha.register(app)
import_history.register(app)
simulate.register(app)
export.register(app)
lineage.register(app)
models.register(app)
serve.register(app)
report.register(app)
retrain.register(app)
run.register(app)
realism.register(app)
calibrate.register(app)


def _terminated(signum: int, frame: FrameType | None) -> None:
    """SIGTERM unwinds like Ctrl-C does, so pools are shut down and their workers stopped on the way out."""
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminated)
    app()
