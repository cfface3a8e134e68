"""`homesim serve`: run the HTTP API (uvicorn) over a workspace; shows a newly created token once."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from homesim.cli.options import ExecutorOption, WorkersOption, WorkspaceOption, start_command

console = Console()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: Annotated[
        str | None,
        typer.Option(help="address to bind (default HOMESIM_API_HOST, 127.0.0.1: this machine only)"),
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="port (default HOMESIM_API_PORT, 8765)")
    ] = None,
    workers: WorkersOption = None,
    executor: ExecutorOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Serve the HTTP API: jobs, homes, datasets, training data, lineage, HA files, models, reports.

    Calls that change state need `Authorization: Bearer <token>`: the token is HOMESIM_API_TOKEN, else the
    one in <workspace>/api_token, created (mode 0600) and printed on the first start.
    """
    import uvicorn

    from homesim.api.app import app_from_settings
    from homesim.api.security import token_path

    settings, ws = start_command(workspace, workers, executor)
    settings = settings.model_copy(update={"workspace": ws.root})
    app, new_token = app_from_settings(settings)
    if new_token is not None:
        console.print(
            f"API token (saved to {token_path(ws)}, shown this once): {new_token}",
            highlight=False,
            soft_wrap=True,
        )
    uvicorn.run(
        app, host=host or settings.api_host, port=port or settings.api_port, log_level=settings.log_level
    )
