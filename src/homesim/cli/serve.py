"""`homesim serve`: run the HTTP API (uvicorn) over a workspace; shows a newly created token once, and
warns loudly when bound beyond this machine."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from homesim.cli.options import ExecutorOption, WorkersOption, WorkspaceOption, start_command

console = Console()
err_console = Console(stderr=True)
#: Seconds a stop (SIGTERM, Ctrl-C) waits for open requests (event streams) before the jobs are cancelled.
GRACEFUL_S = 5


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

    Every call but /healthz needs `Authorization: Bearer <token>`: the token is HOMESIM_API_TOKEN, else
    the one in <workspace>/api_token, created (mode 0600) and printed on the first start. The dashboard
    signs in at /login. Stopping the service (SIGTERM, Ctrl-C) cancels its running jobs.
    """
    import uvicorn

    from homesim.api.app import app_from_settings
    from homesim.api.security import is_loopback, token_path

    settings, ws = start_command(workspace, workers, executor)
    bind = host or settings.api_host
    settings = settings.model_copy(update={"workspace": ws.root, "api_host": bind})
    port = port or settings.api_port
    app, new_token = app_from_settings(settings)
    if not is_loopback(bind):
        err_console.print(
            f"[bold red]WARNING: serving on {bind}, not only this machine.[/] Anyone who can reach port "
            f"{port} can try the token, and traffic is plain HTTP: put a TLS proxy in front, and list the "
            "names clients use in HOMESIM_API_ALLOWED_HOSTS (other Host headers get 400).",
            highlight=False,
            soft_wrap=True,
        )
    shown = bind if is_loopback(bind) else "127.0.0.1"
    url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}/login"
    if new_token is not None:
        console.print(
            f"API token (saved to {token_path(ws)}, shown this once): {new_token}\n"
            f"Dashboard: {url}#{new_token}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(f"Dashboard: {url} (sign in with the API token)", highlight=False, soft_wrap=True)
    uvicorn.run(app, host=bind, port=port, log_level=settings.log_level, timeout_graceful_shutdown=GRACEFUL_S)
