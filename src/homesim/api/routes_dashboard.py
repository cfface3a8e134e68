"""The dashboard's data: `GET /v1/dashboard/plots`, the report's key plots of the workspace as PNG data URIs
(`homesim.reports.live`), with a version the page polls to redraw only when a job has written new inputs."""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from homesim.api.deps import State
from homesim.api.errors import ApiError

router = APIRouter(tags=["site"])


class DashboardPlot(BaseModel):
    key: str
    title: str
    caption: str
    #: `data:image/png;base64,…`
    src: str


class DashboardPlots(BaseModel):
    #: Changes whenever the plots' input files change ("" while there are none).
    version: str
    plots: list[DashboardPlot]


def _cache(request: Request, state: State) -> Any:
    """The app's `PlotCache` (one per service, made on first use: the reports extra is optional)."""
    cache = getattr(request.app.state, "dashboard_plots", None)
    if cache is None:
        try:
            live = importlib.import_module("homesim.reports.live")
        except ModuleNotFoundError as exc:
            raise ApiError(503, "unavailable", f"the reports extra is not installed: {exc}") from exc
        cache = request.app.state.dashboard_plots = live.PlotCache(state.workspace)
    return cache


@router.get("/v1/dashboard/plots", response_model=DashboardPlots)
def dashboard_plots(request: Request, state: State) -> DashboardPlots:
    """The key plots of the latest run (F1 per stage, learning curves, A/B metrics), else of the newest
    cycle; drawn again only when a run summary, cycle report or A/B result changed."""
    return DashboardPlots.model_validate(_cache(request, state).get())
