"""Options several commands share (workspace, workers, executor), and how a workspace option resolves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from homesim.settings import Settings
from homesim.workspace import Workspace

WorkspaceOption = Annotated[Path | None, typer.Option(help="workspace root (default HOMESIM_WORKSPACE)")]
WorkersOption = Annotated[int | None, typer.Option(help="worker processes (default HOMESIM_WORKERS)")]
ExecutorOption = Annotated[
    str | None, typer.Option(help="process | inline | dask | dask://host:port (default HOMESIM_EXECUTOR)")
]


def resolve_workspace(workspace: Path | None, settings: Settings | None = None) -> Workspace:
    """The workspace the option names, else the one from settings (HOMESIM_WORKSPACE)."""
    return Workspace(workspace or (settings or Settings()).workspace)
