"""The `homesim` command: a thin Typer app that parses, calls the library, and renders progress and tables.

Each command group lives in its own module of this package and is registered here.
"""

from __future__ import annotations

import signal
from types import FrameType

import typer

from homesim.cli import (
    cache,
    calibrate,
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
generate.register(app)
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
