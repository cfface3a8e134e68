"""Training data over HTTP: exports (list, write, download, prune) and lineage queries — `homesim export`,
`training-data prune` and `lineage query|show|export` of the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field, model_validator

from homesim.api.deps import ApiState, RequestBody, State
from homesim.api.errors import bad_request, not_found
from homesim.api.security import resolve_inside, safe_name
from homesim.schema.records import MAX_CYCLE
from homesim.simulation.model_provider import MODEL_TYPES, ModelType
from homesim.training_data.exporters import Exporter, prune
from homesim.training_data.lineage_tracker import LineageTracker
from homesim.training_data.schemas import FORMATS, Format
from homesim.training_data.store import open_store, workspace_store
from homesim.workspace import EXPORT_METADATA_FILE, export_scope_cycle

router = APIRouter()


class ExportRequest(RequestBody):
    """Exactly one of `cycle` and `aggregated`; optionally one model type and one format."""

    cycle: int | None = Field(default=None, ge=0, le=MAX_CYCLE)
    aggregated: bool = False
    model_type: ModelType | None = None
    format: Format | None = None

    @model_validator(mode="after")
    def _one_scope(self) -> ExportRequest:
        if (self.cycle is None) == (not self.aggregated):
            raise ValueError("give exactly one of cycle and aggregated=true")
        return self


class ExportInfo(BaseModel):
    scope: str
    model_type: str
    records: int | None
    source_cycles: list[int]
    files: dict[str, int | None]


class PruneRequest(RequestBody):
    keep_cycles: int = Field(ge=0, le=MAX_CYCLE, description="cycle folders to keep, newest first")


class Pruned(BaseModel):
    removed: list[str]


class RecordIds(BaseModel):
    ids: list[str]


class LineageExport(BaseModel):
    file: str
    tables: dict[str, int]
    openlineage_events: int | None


def _info(directory: Path) -> ExportInfo:
    metadata: dict[str, Any] = json.loads((directory / EXPORT_METADATA_FILE).read_text("utf-8"))
    return ExportInfo(
        scope=directory.parent.name,
        model_type=directory.name,
        records=metadata.get("records"),
        source_cycles=metadata.get("source_cycles", []),
        files={name: entry.get("rows") for name, entry in metadata.get("files", {}).items()},
    )


@router.get("/v1/exports", response_model=list[ExportInfo], tags=["training data"])
def list_exports(state: State) -> list[ExportInfo]:
    """Every export folder (per cycle and aggregated) with its files and row counts."""
    return [_info(folder) for folder in state.workspace.export_dirs()]


@router.post("/v1/exports", response_model=list[ExportInfo], tags=["training data"])
def create_export(body: ExportRequest, state: State) -> list[ExportInfo]:
    """Export accepted records as training data, as `homesim export` (all model types unless one is named)."""
    types = [body.model_type] if body.model_type else list(MODEL_TYPES)
    if body.format is not None:
        types = [t for t in types if body.format in FORMATS[t]]
        if not types:
            raise bad_request(f"{body.model_type} is not exported as {body.format}")
    ws = state.workspace
    path = workspace_store(ws)
    if path is None:
        raise not_found("no collected records: run a simulation cycle first (POST /v1/cycles)")
    formats = None if body.format is None else [body.format]
    with open_store(path) as store, LineageTracker(ws.lineage_db) as tracker:
        exporter = Exporter(ws, store, tracker=tracker)
        results = [exporter.export(t, body.cycle, formats) for t in types]
    return [_info(r.directory) for r in results]


@router.get("/v1/exports/{scope}/{model_type}/{name}", response_class=FileResponse, tags=["training data"])
def download_export(scope: str, model_type: ModelType, name: str, state: State) -> FileResponse:
    """Download one file of an export: scope is `cycle_<n>` or `aggregated`."""
    try:
        cycle = export_scope_cycle(scope)
    except ValueError as exc:
        raise bad_request(str(exc)) from exc
    safe_name(name, "file name")
    return FileResponse(resolve_inside(state.workspace.export_dir(model_type, cycle), name))


@router.post("/v1/exports/prune", response_model=Pruned, tags=["training data"])
def prune_exports(body: PruneRequest, state: State) -> Pruned:
    """Delete all but the newest N `cycle_<n>` export folders (`training-data prune`)."""
    removed = prune(state.workspace, body.keep_cycles)
    return Pruned(removed=[str(p.relative_to(state.workspace.root)) for p in removed])


def _tracker(state: ApiState) -> LineageTracker:
    path = state.workspace.lineage_db
    if not path.is_file():
        raise not_found("no lineage database yet: run a simulation cycle first")
    return LineageTracker(path)


@router.get("/v1/lineage/records", response_model=RecordIds, tags=["lineage"])
def lineage_records(
    state: State,
    cycle: Annotated[int | None, Query(ge=0, le=MAX_CYCLE)] = None,
    model_type: ModelType | None = None,
    model_version: Annotated[str | None, Query(max_length=64)] = None,
) -> RecordIds:
    """Accepted record ids of a cycle, or feeding a model type (and version) — `lineage query`."""
    if (cycle is None) == (model_type is None):
        raise bad_request("give exactly one of cycle and model_type")
    if model_version is not None and model_type is None:
        raise bad_request("model_version needs model_type")
    with _tracker(state) as tracker:
        if cycle is not None:
            return RecordIds(ids=tracker.records_of_cycle(cycle))
        if model_version is not None:
            return RecordIds(ids=tracker.records_of_model_version(str(model_type), model_version))
        return RecordIds(ids=tracker.records_of_model_type(str(model_type)))


@router.get("/v1/lineage/records/{record_id}", tags=["lineage"])
def lineage_show(record_id: str, state: State) -> dict[str, Any]:
    """Everything known about a record: source, validation steps, up/downstream records, export files."""
    with _tracker(state) as tracker:
        info = tracker.show(record_id)
    if info["source"] is None:
        raise not_found(f"unknown record {record_id!r}")
    return info


@router.get("/v1/lineage/records/{record_id}/source", tags=["lineage"])
def lineage_source(record_id: str, state: State) -> dict[str, Any]:
    """A record's source: cycle, dataset, home, stage, versions, config hash (`lineage query --record`)."""
    with _tracker(state) as tracker:
        source = tracker.source(record_id)
    if source is None:
        raise not_found(f"unknown record {record_id!r}")
    return source


@router.post("/v1/lineage/export", response_model=LineageExport, tags=["lineage"])
def lineage_export(
    state: State, openlineage: Annotated[bool, Query(description="also emit OpenLineage run events")] = False
) -> LineageExport:
    """Write the whole lineage as JSON to reports/lineage_audit.json (`lineage export`)."""
    out = state.workspace.lineage_audit
    with _tracker(state) as tracker:
        counts = tracker.export_json(out)
        sent = tracker.emit_openlineage() if openlineage else None
    return LineageExport(
        file=str(out.relative_to(state.workspace.root)), tables=counts, openlineage_events=sent
    )
