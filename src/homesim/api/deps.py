"""What every route depends on: the service's state (workspace, jobs, token) and the token check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from homesim.api.jobs import JobManager
from homesim.api.security import bearer_scheme, require_token
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


def authorized(
    state: State, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> None:
    require_token(state.token, credentials)


#: `dependencies=AUTH` on every route that changes state.
AUTH = [Depends(authorized)]
