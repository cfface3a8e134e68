"""Options several commands share (workspace, workers, executor), and how a workspace option resolves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from homesim.log import configure_logging
from homesim.settings import Settings
from homesim.workspace import Workspace

WorkspaceOption = Annotated[Path | None, typer.Option(help="workspace root (default HOMESIM_WORKSPACE)")]
WorkersOption = Annotated[int | None, typer.Option(help="worker processes (default HOMESIM_WORKERS)")]
AllowPartialOption = Annotated[
    bool,
    typer.Option(help="succeed (with a warning) even when some homes, stages or models failed"),
]
ExecutorOption = Annotated[
    str | None, typer.Option(help="process | inline | dask | dask://host:port (default HOMESIM_EXECUTOR)")
]


def partial(message: str, allow: bool) -> None:
    """A partial result: a warning with `--allow-partial`, else the command fails (exit 1): failure is never
    reported as success."""
    if allow:
        typer.echo(f"homesim: warning: {message} (accepted with --allow-partial)", err=True)
        return
    typer.echo(f"homesim: error: {message}; rerun it, or pass --allow-partial to accept it", err=True)
    raise typer.Exit(1)


def resolve_workspace(workspace: Path | None, settings: Settings | None = None) -> Workspace:
    """The workspace the option names, else the one from settings (HOMESIM_WORKSPACE)."""
    return Workspace(workspace or (settings or Settings()).workspace)


def start_command(
    workspace: Path | None, workers: int | None = None, executor: str | None = None
) -> tuple[Settings, Workspace]:
    """What every command does first: read settings, configure logging, resolve the workspace.

    `--workers`/`--executor` are validated by the settings model, so a flag and `HOMESIM_*` share one bound.
    """
    overrides: dict[str, Any] = {
        name: value for name, value in (("workers", workers), ("executor", executor)) if value is not None
    }
    settings = Settings(**overrides)
    configure_logging(settings.log_level, settings.log_json or None)
    return settings, resolve_workspace(workspace, settings)
