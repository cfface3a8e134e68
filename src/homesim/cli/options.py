"""Options several commands share (workspace, workers, executor, run, json), how a workspace option
resolves, and the references a user may type instead of an id (`latest`, a home key)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from homesim.cli.errors import fail
from homesim.datasets.manifest import read_dataset
from homesim.log import configure_logging
from homesim.settings import Settings
from homesim.workspace import LATEST_RUN, Workspace

#: What a user types for "the newest one": the newest dataset, its first home, the newest run.
LATEST = LATEST_RUN

WorkspaceOption = Annotated[Path | None, typer.Option(help="workspace root (default HOMESIM_WORKSPACE)")]
WorkersOption = Annotated[int | None, typer.Option(help="worker processes (default HOMESIM_WORKERS)")]
AllowPartialOption = Annotated[
    bool,
    typer.Option(help="succeed (with a warning) even when some homes, stages or models failed"),
]
ExecutorOption = Annotated[
    str | None, typer.Option(help="process | inline | dask | dask://host:port (default HOMESIM_EXECUTOR)")
]
RunOption = Annotated[
    str | None,
    typer.Option(
        "--run",
        help="the cycles of this `homesim run` (its id, or latest) instead of the ad-hoc ones of `simulate`",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]


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


def print_json(value: Any) -> None:
    """`--json` output: one JSON document on stdout."""
    typer.echo(json.dumps(value, indent=2, default=str))


def session(ws: Workspace, run: str | None) -> Workspace:
    """The session `--run` names: a run's own cycles (`latest`: the newest run), or the ad-hoc session."""
    if run is None:
        return ws
    if run == LATEST:
        if not ws.latest_run_file.is_file():
            fail(f"no run in {ws.root}; `homesim run` writes one")
        run = str(json.loads(ws.latest_run_file.read_text("utf-8"))["run_id"])
    if run not in ws.run_sessions():
        fail(f"no run {run!r} owns cycles in {ws.root} (runs: {', '.join(ws.run_sessions()) or 'none'})")
    return ws.for_run(run)


def runs_hint(ws: Workspace, cycle: int) -> str:
    """For a cycle the ad-hoc session lacks: which runs own a cycle of that number, as a hint."""
    owners = [r for r in ws.run_sessions() if ws.for_run(r).cycle_reports(cycle)]
    if not owners:
        return ""
    return f"; cycle {cycle} of a run: add --run {owners[-1]}" + (
        f" (runs with one: {', '.join(owners)})" if len(owners) > 1 else ""
    )


def dataset_ref(ws: Workspace, value: str) -> str:
    """A dataset id, folder or manifest path as typed; `latest` is the dataset `generate` wrote last."""
    if value != LATEST:
        return value
    newest = ws.latest_dataset()
    if newest is None:
        fail(f"no dataset in {ws.datasets_dir}; `homesim generate` writes one")
    return newest.dataset_id


def home_ref(ws: Workspace, value: Path) -> Path:
    """A home folder as typed, a home key of the workspace, or `latest` (the newest dataset's first home)."""
    if value.exists() or len(value.parts) != 1:
        return value
    if str(value) == LATEST:
        folder = ws.dataset(dataset_ref(ws, LATEST))
        keys = read_dataset(folder.manifest).home_keys
        if not keys:
            fail(f"dataset {folder.dataset_id} has no home")
        return ws.home_dir(keys[0])
    return ws.home_dir(str(value)) if ws.home_dir(str(value)).is_dir() else value


def dataset_dir_ref(ws: Workspace, value: Path) -> Path:
    """A folder of homes as typed, or a dataset of the workspace by id or `latest`."""
    if value.exists() or len(value.parts) != 1:
        return value
    return ws.dataset_dir(dataset_ref(ws, str(value)))
