"""`create_app`: the FastAPI application over one workspace, with its job manager, token and limits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI

from homesim import __version__
from homesim.api import (
    routes_dashboard,
    routes_data,
    routes_docs,
    routes_ha,
    routes_jobs,
    routes_models,
    routes_real_homes,
    routes_retraining,
    routes_site,
    routes_training,
)
from homesim.api.deps import ApiState
from homesim.api.errors import install_error_handlers
from homesim.api.jobs import JobManager, Runner
from homesim.api.runners import RUNNERS
from homesim.api.security import BodyLimitMiddleware, ensure_token
from homesim.settings import Settings
from homesim.workspace import Workspace

DESCRIPTION = """\
Synthetic Home Assistant homes with exact ground truth, simulation cycles, training data, lineage and the
model registry, over HTTP. Calls that change state (every method but GET) need
`Authorization: Bearer <token>`; errors are JSON `{"error": ..., "detail": ...}`.
"""


def create_app(
    workspace: Workspace,
    *,
    token: str,
    executor: str = "process",
    workers: int = 2,
    max_body_bytes: int = 10_000_000,
    runners: Mapping[str, Runner] | None = None,
    job_concurrency: int = 1,
) -> FastAPI:
    """The service over `workspace`; jobs run through `executor` with `workers` (as the CLI's options)."""
    if not token:
        raise ValueError("the API token must not be empty")
    jobs = JobManager(
        workspace,
        RUNNERS if runners is None else runners,
        executor=executor,
        workers=workers,
        concurrency=job_concurrency,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()

    app = FastAPI(
        title="homesim",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc are served offline by routes_docs (FastAPI's own use a CDN)
        redoc_url=None,
    )
    app.state.api = ApiState(workspace=workspace, jobs=jobs, token=token)
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    routers = (
        routes_site,
        routes_docs,
        routes_dashboard,
        routes_jobs,
        routes_data,
        routes_training,
        routes_ha,
        routes_real_homes,
        routes_models,
        routes_retraining,
    )
    for module in routers:
        app.include_router(module.router)
    return app


def app_from_settings(settings: Settings | None = None) -> tuple[FastAPI, str | None]:
    """The service as the settings describe it, and the token if it was just created (to show once)."""
    settings = settings or Settings()
    workspace = Workspace(settings.workspace)
    configured = settings.api_token.get_secret_value() if settings.api_token is not None else None
    token, created = ensure_token(workspace, configured)
    app = create_app(
        workspace,
        token=token,
        executor=settings.executor,
        workers=settings.workers,
        max_body_bytes=settings.api_max_body_bytes,
    )
    return app, token if created else None
