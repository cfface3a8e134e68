"""`create_app`: the FastAPI application over one workspace, with its job manager, token and limits."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI, Security

from homesim import __version__
from homesim.api import (
    routes_dashboard,
    routes_data,
    routes_docs,
    routes_ha,
    routes_jobs,
    routes_models,
    routes_public,
    routes_real_homes,
    routes_retraining,
    routes_site,
    routes_training,
)
from homesim.api.deps import ApiState
from homesim.api.errors import install_error_handlers
from homesim.api.jobs import JobManager, Runner
from homesim.api.runners import RUNNERS
from homesim.api.security import (
    AuthMiddleware,
    BodyLimitMiddleware,
    HostCheckMiddleware,
    allowed_hosts,
    bearer_scheme,
    check_token,
    ensure_token,
)
from homesim.settings import Settings
from homesim.workspace import Workspace

DESCRIPTION = """\
Synthetic Home Assistant homes with exact ground truth, simulation cycles, training data, lineage and the
model registry, over HTTP. Every call but `/healthz`, `/login` and these docs needs
`Authorization: Bearer <token>` (the dashboard signs in at `/login` and reads with a session cookie);
the Host header must name this machine or a configured host. Errors are JSON `{"error": ..., "detail": ...}`.
"""


def create_app(
    workspace: Workspace,
    *,
    token: str,
    executor: str = "process",
    workers: int = 2,
    max_body_bytes: int = 10_000_000,
    max_json_bytes: int = 1_000_000,
    runners: Mapping[str, Runner] | None = None,
    job_concurrency: int = 1,
    max_jobs: int = 8,
    max_job_cost: int = 100_000,
    hosts: Iterable[str] = (),
) -> FastAPI:
    """The service over `workspace`; jobs run through `executor` with `workers` (as the CLI's options).

    `hosts` are the names (besides loopback ones) the Host header may carry; `max_jobs` bounds the jobs
    queued or running, `max_job_cost` each job's home-days.
    """
    check_token(token, "the service's configuration")
    jobs = JobManager(
        workspace,
        RUNNERS if runners is None else runners,
        executor=executor,
        workers=workers,
        concurrency=job_concurrency,
        max_jobs=max_jobs,
        max_cost=max_job_cost,
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
    # Added innermost first: a request meets the Host check, then the token, then the body bound.
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes, max_json_bytes=max_json_bytes)
    app.add_middleware(AuthMiddleware, token=token)
    app.add_middleware(HostCheckMiddleware, allowed=allowed_hosts(None, hosts))
    app.include_router(routes_public.router)  # /healthz and /login: the routes without a token
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
        # Declares the token in the OpenAPI document; AuthMiddleware is what enforces it.
        app.include_router(module.router, dependencies=[Security(bearer_scheme)])
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
        max_json_bytes=settings.api_max_json_bytes,
        max_jobs=settings.api_max_jobs,
        max_job_cost=settings.api_max_job_cost,
        hosts=allowed_hosts(settings.api_host, settings.api_allowed_hosts),
    )
    return app, token if created else None
