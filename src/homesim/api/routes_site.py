"""The service's pages: the dashboard (`homesim.reports.dashboard`), the files
under the workspace's `reports/` (`/reports/{path}`), and writing an HTML report (`homesim report`)."""

from __future__ import annotations

import importlib
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel, Field

from homesim.api.deps import RequestBody, State
from homesim.api.errors import ApiError
from homesim.api.security import resolve_inside, safe_name
from homesim.schema.records import MAX_CYCLE

router = APIRouter(tags=["site"])


class ReportRequest(RequestBody):
    cycle: int | None = Field(default=None, ge=0, le=MAX_CYCLE, description="a report of this cycle")
    run_id: str | None = Field(
        default=None, max_length=128, description="a report of this run (reports/runs/)"
    )


class ReportWritten(BaseModel):
    file: str
    url: str


class ReportFile(BaseModel):
    name: str
    url: str
    bytes: int


def _reports_module(name: str) -> Any:
    try:
        return importlib.import_module(f"homesim.reports.{name}")
    except ModuleNotFoundError as exc:
        raise ApiError(503, "unavailable", f"homesim.reports.{name} is not installed") from exc


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard() -> HTMLResponse:
    """The dashboard page: jobs with live progress, models and their champions."""
    return HTMLResponse(_reports_module("dashboard").dashboard_html())


@router.get("/reports/{path:path}", response_class=FileResponse)
def report_file(path: str, state: State, download: Annotated[bool, Query()] = False) -> FileResponse:
    """A file under the workspace's reports/ (HTML reports, cycle reports, run summaries, A/B results)."""
    target = resolve_inside(state.workspace.reports_dir, path)
    if not target.is_file():
        raise ApiError(404, "not found", f"{path!r} is a folder, not a file")
    return FileResponse(target, content_disposition_type="attachment" if download else "inline")


@router.get("/v1/reports", response_model=list[ReportFile])
def list_reports(state: State) -> list[ReportFile]:
    """The files under reports/ (HTML reports, cycle reports, run files, A/B results), job records aside."""
    root, jobs = state.workspace.reports_dir, state.workspace.jobs_dir
    found = root.rglob("*") if root.is_dir() else iter(())
    files = sorted(p for p in found if p.is_file() and not p.is_relative_to(jobs))
    names = [(path.relative_to(root).as_posix(), path) for path in files]
    return [ReportFile(name=name, url=f"/reports/{name}", bytes=path.stat().st_size) for name, path in names]


@router.post("/v1/reports", response_model=ReportWritten)
def write_report(body: ReportRequest, state: State) -> ReportWritten:
    """Write a static HTML report (of a cycle, of a run, or of everything) under reports/html/."""
    if body.run_id is not None:
        safe_name(body.run_id, "run id")
    report, inputs = _reports_module("report"), _reports_module("inputs")
    try:
        path = report.write_report(state.workspace, cycle=body.cycle, run_id=body.run_id)
    except (FileNotFoundError, inputs.ReportInputError) as exc:
        raise ApiError(404, "not found", f"cannot write the report: {exc}") from exc
    relative = path.relative_to(state.workspace.reports_dir)
    return ReportWritten(
        file=str(path.relative_to(state.workspace.root)), url=f"/reports/{relative.as_posix()}"
    )
