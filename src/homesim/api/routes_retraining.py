"""Retraining over HTTP: retrain a model type, run the whole self-improving loop, run an A/B cycle (all as
jobs), and read the retraining history and the loop's run files — `homesim retrain|run|ab` of the CLI."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from homesim.api.deps import RequestBody, State
from homesim.api.errors import not_found
from homesim.api.jobs import Job
from homesim.api.routes_jobs import DatasetId, accepted, dataset_cost
from homesim.api.security import safe_name
from homesim.generation.config import MAX_DAYS, MAX_HOMES, MAX_SEED
from homesim.retraining.loop import MAX_RUN_CYCLES
from homesim.retraining.retraining_manager import RetrainingConfig, RetrainingHistory
from homesim.schema.records import MAX_CYCLE
from homesim.simulation.model_provider import ModelType

router = APIRouter(tags=["retraining"])


class RetrainRequest(RequestBody):
    model_type: ModelType
    force: bool = Field(default=False, description="retrain even when no trigger fires")
    config: RetrainingConfig | None = Field(default=None, description="triggers, gates, sufficiency")


class RunRequest(RequestBody):
    """`homesim run`: K cycles of generate → simulate → export → retrain, each on fresh homes."""

    cycles: int = Field(default=3, ge=1, le=MAX_RUN_CYCLES)
    homes: int = Field(default=12, ge=2, le=MAX_HOMES)
    days: int = Field(default=21, ge=1, le=MAX_DAYS)
    seed: int = Field(default=42, ge=0, le=MAX_SEED)
    config: RetrainingConfig | None = None


class AbRequest(RequestBody):
    model_type: ModelType
    dataset_id: DatasetId
    cycle: int = Field(ge=0, le=MAX_CYCLE)
    promote: bool = Field(default=False, description="deploy the challenger if it wins")
    share: float = Field(default=0.5, ge=0.0, le=1.0, description="share of homes running the challenger")
    alpha: float = Field(default=0.05, ge=0.0, le=1.0, description="significance level")


class RunSummary(BaseModel):
    run_id: str
    started: str | None
    cycles: int
    file: str


@router.post("/v1/retraining", status_code=202, response_model=Job)
def start_retrain(body: RetrainRequest, state: State, response: Response) -> Job:
    """Start retraining a model type (`homesim retrain`): sufficiency → train → evaluate → deploy/reject."""
    return accepted(state.jobs.submit("retrain", body.model_dump(mode="json")), response)


@router.get("/v1/retraining/runs")
def retraining_runs(state: State, model_type: ModelType | None = None) -> list[dict[str, Any]]:
    """The recorded retraining runs (trigger, data snapshot, metrics, decision and reason), oldest first."""
    if not state.workspace.registry_db.is_file():
        return []
    with RetrainingHistory(state.workspace) as history:
        return [r.model_dump(mode="json") for r in history.runs(model_type)]


@router.post("/v1/runs", status_code=202, response_model=Job)
def start_run(body: RunRequest, state: State, response: Response) -> Job:
    """Start the self-improving loop (`homesim run`); progress per cycle and step."""
    cost = body.cycles * body.homes * body.days
    return accepted(state.jobs.submit("run", body.model_dump(mode="json"), cost), response)


@router.get("/v1/runs", response_model=list[RunSummary])
def list_runs(state: State) -> list[RunSummary]:
    """The loop's run files (reports/runs/<run_id>.json)."""
    folder = state.workspace.runs_dir
    runs = []
    for path in sorted(folder.glob("run-*.json")) if folder.is_dir() else []:
        data = json.loads(path.read_text("utf-8"))
        runs.append(
            RunSummary(
                run_id=str(data.get("run_id", path.stem)),
                started=data.get("started"),
                cycles=len(data.get("cycles", [])),
                file=str(path.relative_to(state.workspace.root)),
            )
        )
    return runs


@router.get("/v1/runs/{run_id}")
def get_run(run_id: Annotated[str, Field(max_length=128)], state: State) -> Response:
    """One run file: config, and per cycle the stage metrics and each model's decision."""
    path = state.workspace.run_file(safe_name(run_id, "run id"))
    if not path.is_file():
        raise not_found(f"no run {run_id!r} (GET /v1/runs lists them)")
    return Response(path.read_bytes(), media_type="application/json")


@router.post("/v1/ab-tests", status_code=202, response_model=Job, tags=["models"])
def start_ab(body: AbRequest, state: State, response: Response) -> Job:
    """Start an A/B cycle of a dataset: champion vs challenger by home (`homesim ab`); see /v1/ab-results."""
    cost = dataset_cost(state, body.dataset_id)
    return accepted(state.jobs.submit("ab", body.model_dump(mode="json"), cost), response)
