"""What every route depends on: the service's state (workspace, jobs, token); the base of request bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict

from homesim.api.jobs import JobManager
from homesim.workspace import Workspace


@dataclass(frozen=True)
class ApiState:
    workspace: Workspace
    jobs: JobManager
    token: str


def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


State = Annotated[ApiState, Depends(get_state)]


class RequestBody(BaseModel):
    """A request body: unknown fields are an error (422), never ignored, so a misspelt field cannot start
    a job with its default."""

    model_config = ConfigDict(extra="forbid")
