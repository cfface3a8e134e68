"""Jobs over HTTP: start a generation or a simulation cycle, list jobs (with their cost), read one, follow
its progress as server-sent events (`text/event-stream`: `status` and `progress` events, then `done` with
the job), cancel one (`DELETE /v1/jobs/{id}`).

Request bodies forbid unknown fields: a misspelt field is a 422, never a job run with defaults.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from homesim.api.deps import ApiState, RequestBody, State
from homesim.api.errors import not_found
from homesim.api.jobs import TERMINAL, Job, JobKind, JobStatus
from homesim.api.security import safe_name
from homesim.datasets.manifest import read_dataset
from homesim.generation.config import GenerationConfig
from homesim.schema.records import MAX_CYCLE

router = APIRouter(tags=["jobs"])
#: Seconds between looks at a running job's new events while streaming them.
POLL_S = 0.2
_SEQ = re.compile(r"[0-9]{1,12}")

DatasetId = Annotated[
    str, Field(min_length=1, max_length=128, description="a dataset id (data/datasets/<id>)")
]


class CycleRequest(RequestBody):
    dataset_id: DatasetId
    cycle: int = Field(ge=0, le=MAX_CYCLE, description="cycle number stamped on every record")


class JobList(BaseModel):
    jobs: list[Job]


def accepted(job: Job, response: Response) -> Job:
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job


def require_dataset(state: ApiState, dataset_id: str) -> str:
    safe_name(dataset_id, "dataset id")
    if not state.workspace.dataset(dataset_id).is_dataset():
        raise not_found(f"no dataset {dataset_id!r}: run a generation first (GET /v1/datasets lists them)")
    return dataset_id


def dataset_cost(state: ApiState, dataset_id: str) -> int:
    """Home-days of a dataset (homes × days; a dataset of real homes, which has no config, counts a day a
    home); 404 when there is no such dataset."""
    require_dataset(state, dataset_id)
    try:
        manifest = read_dataset(state.workspace.dataset(dataset_id).manifest)
    except (OSError, ValidationError, ValueError):
        raise not_found(f"dataset {dataset_id!r} has no readable manifest") from None
    return len(manifest.home_keys) * int(manifest.config.get("days") or 1)


@router.post("/v1/generations", status_code=202, response_model=Job)
def start_generation(config: GenerationConfig, state: State, response: Response) -> Job:
    """Start generating the homes of a GenerationConfig (as `homesim generate`); returns the job."""
    cost = config.homes * config.days
    return accepted(state.jobs.submit("generation", config.model_dump(mode="json"), cost), response)


@router.post("/v1/cycles", status_code=202, response_model=Job)
def start_cycle(body: CycleRequest, state: State, response: Response) -> Job:
    """Start a simulation cycle over a dataset, collecting into the training store (as `homesim simulate`)."""
    cost = dataset_cost(state, body.dataset_id)
    return accepted(state.jobs.submit("cycle", body.model_dump(), cost), response)


@router.get("/v1/jobs", response_model=JobList)
def list_jobs(
    state: State,
    kind: JobKind | None = None,
    status: JobStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> JobList:
    """Jobs, newest first (this service's, including those before a restart), each with its cost."""
    return JobList(jobs=state.jobs.jobs(kind=kind, status=status, limit=limit))


def _job(state: ApiState, job_id: str) -> Job:
    job = state.jobs.get(job_id)
    if job is None:
        raise not_found(f"no job {job_id!r}")
    return job


@router.get("/v1/jobs/{job_id}", response_model=Job)
def get_job(job_id: str, state: State) -> Job:
    """One job: status, progress, and its result once finished."""
    return _job(state, job_id)


@router.delete("/v1/jobs/{job_id}", status_code=202, response_model=Job)
def cancel_job(job_id: str, state: State) -> Job:
    """Cancel a job: a queued one at once, a running one at its next progress step (its workers stop with
    it; it then reads `cancelled`). 409 when it already ended."""
    _job(state, job_id)
    return state.jobs.cancel(job_id)


def _sse(event: str, data: str, seq: int | None = None) -> str:
    head = f"id: {seq}\n" if seq is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n"


@router.get(
    "/v1/jobs/{job_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "status/progress events, then done"}
    },
)
async def job_events(
    job_id: str,
    state: State,
    request: Request,
    last_event_id: Annotated[str | None, Header(description="resume after this event id")] = None,
) -> StreamingResponse:
    """Live progress of a job as server-sent events, ending with a `done` event holding the job."""
    _job(state, job_id)
    after = int(last_event_id) if last_event_id and _SEQ.fullmatch(last_event_id) else 0

    async def stream() -> AsyncIterator[str]:
        seq = after
        while True:
            events, job = state.jobs.events_after(job_id, seq)
            for event in events:
                seq = event.seq
                yield _sse(event.event, json.dumps(event.data), event.seq)
            if job.status in TERMINAL:
                yield _sse("done", job.model_dump_json())
                return
            if await request.is_disconnected():
                return
            await asyncio.sleep(POLL_S)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
