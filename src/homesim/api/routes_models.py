"""The model registry over HTTP: versions and their cards, champions, deploy / rollback / reject /
challenger with the reason recorded, the alias history, and A/B results (`reports/ab_<type>_<cycle>.json`).

The registry modules are imported when a route is called, so the service runs (and says why these routes
answer 503) in an installation without them.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from homesim.api.deps import ApiState, RequestBody, State
from homesim.api.errors import ApiError, not_found
from homesim.api.security import resolve_inside
from homesim.schema.records import MAX_CYCLE
from homesim.simulation.model_provider import ModelType

router = APIRouter(tags=["models"])
Reason = Annotated[str, Field(min_length=1, max_length=2000, description="why: kept in the history")]


class Aliases(BaseModel):
    champion: str | None
    challenger: str | None
    previous: str | None


class ModelTypeInfo(BaseModel):
    model_type: str
    aliases: Aliases
    versions: list[dict[str, Any]]


class DeployRequest(RequestBody):
    version: str = Field(min_length=1, max_length=64)
    reason: Reason


class RollbackRequest(RequestBody):
    reason: Reason


class AbSummary(BaseModel):
    model_type: str
    cycle: int
    file: str
    winner: str | None
    decision: str | None
    promoted: bool | None


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise ApiError(
            503, "unavailable", f"the model registry is not installed ({name} is missing)"
        ) from exc


@contextmanager
def _registry(state: ApiState, *, create: bool = False) -> Iterator[Any]:
    """The workspace's ModelRegistry; 404 when none exists yet and reading would have to create one."""
    registry_module = _module("homesim.retraining.registry")
    if not create and not state.workspace.registry_db.is_file():
        raise not_found("no model registry yet: no model has been trained in this workspace")
    registry = registry_module.ModelRegistry(state.workspace)
    try:
        yield registry
    except KeyError as exc:  # the registry's "no version" errors name what is registered
        raise not_found(str(exc.args[0]) if exc.args else str(exc)) from exc
    finally:
        registry.close()


def _dump(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json")
    return data


@router.get("/v1/models", response_model=list[dict[str, Any]])
def list_models(state: State, model_type: ModelType | None = None) -> list[dict[str, Any]]:
    """Every registered version (of one model type), by type then number."""
    if not state.workspace.registry_db.is_file():
        return []
    with _registry(state) as registry:
        return [_dump(v) for v in registry.versions(model_type)]


@router.get("/v1/models/events", response_model=list[dict[str, Any]])
def model_events(state: State, model_type: ModelType | None = None) -> list[dict[str, Any]]:
    """The alias history (deploys, rollbacks, promotions, rejections), oldest first."""
    if not state.workspace.registry_db.is_file():
        return []
    with _registry(state) as registry:
        return [_dump(e) for e in registry.events(model_type)]


@router.get("/v1/models/{model_type}", response_model=ModelTypeInfo)
def model_type_info(model_type: ModelType, state: State) -> ModelTypeInfo:
    """A model type's versions and which of them are champion, challenger and previous."""
    with _registry(state) as registry:
        names = {n: registry.alias(model_type, n) for n in ("champion", "challenger", "previous")}
        return ModelTypeInfo(
            model_type=model_type,
            aliases=Aliases(**{n: v.version if v else None for n, v in names.items()}),
            versions=[_dump(v) for v in registry.versions(model_type)],
        )


@router.get("/v1/models/{model_type}/{version}")
def model_version(model_type: ModelType, version: str, state: State) -> dict[str, Any]:
    """One version with its model card (metrics, data lineage, config)."""
    with _registry(state) as registry:
        found = _dump(registry.get(model_type, version))
        try:
            found["card"] = registry.card(model_type, version)
        except FileNotFoundError:
            found["card"] = None
        return found


def _change(state: ApiState, action: str, *args: str) -> dict[str, Any]:
    """Run `homesim.retraining.deployment.<action>(registry, *args)`; 409 when the move is impossible."""
    deployment = _module("homesim.retraining.deployment")
    with _registry(state, create=True) as registry:
        try:
            return _dump(getattr(deployment, action)(registry, *args))
        except deployment.DeploymentError as exc:
            raise ApiError(409, "conflict", str(exc)) from exc


@router.post("/v1/models/{model_type}/deploy")
def deploy(model_type: ModelType, body: DeployRequest, state: State) -> dict[str, Any]:
    """Make a version the champion (the old champion becomes `previous`); returns the history event."""
    return _change(state, "deploy", model_type, body.version, body.reason)


@router.post("/v1/models/{model_type}/rollback")
def rollback(model_type: ModelType, body: RollbackRequest, state: State) -> dict[str, Any]:
    """Restore the previous champion; the rolled-back one is archived."""
    return _change(state, "rollback", model_type, body.reason)


@router.post("/v1/models/{model_type}/reject")
def reject(model_type: ModelType, body: DeployRequest, state: State) -> dict[str, Any]:
    """Mark a version rejected (it stops being the challenger)."""
    return _change(state, "reject", model_type, body.version, body.reason)


@router.post("/v1/models/{model_type}/challenger")
def challenger(model_type: ModelType, body: DeployRequest, state: State) -> dict[str, Any]:
    """Make a version the challenger an A/B cycle runs against the champion."""
    return _change(state, "set_challenger", model_type, body.version, body.reason)


@router.get("/v1/ab-results", response_model=list[AbSummary], tags=["models"])
def ab_results(state: State, model_type: Annotated[ModelType | None, Query()] = None) -> list[AbSummary]:
    """A/B results found under reports/, by model type and cycle."""
    found = []
    for file in state.workspace.ab_reports():
        if model_type is not None and file.model_type != model_type:
            continue
        data = json.loads(file.path.read_text("utf-8"))
        found.append(
            AbSummary(
                model_type=file.model_type,
                cycle=file.cycle,
                file=str(file.path.relative_to(state.workspace.root)),
                winner=data.get("winner"),
                decision=data.get("decision"),
                promoted=data.get("promoted"),
            )
        )
    return sorted(found, key=lambda a: (a.model_type, a.cycle))


@router.get("/v1/ab-results/{model_type}/{cycle}", tags=["models"])
def ab_result(
    model_type: ModelType, cycle: Annotated[int, PathParam(ge=0, le=MAX_CYCLE)], state: State
) -> Response:
    """One A/B result: per-stage metrics of both arms, p-values, the winner and the decision."""
    path = resolve_inside(state.workspace.reports_dir, state.workspace.ab_report(model_type, cycle).name)
    return Response(path.read_bytes(), media_type="application/json")
