"""Generated data over HTTP: homes (summary, files, ground truth), datasets (manifest, validation report,
ground-truth checks) and the home cache (stats, verify, prune, clear) — `homesim inspect`, `cache` and
`ground-truth` of the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pyarrow.compute as pc
from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ValidationError

from homesim.api.deps import ApiState, State
from homesim.api.errors import bad_request, not_found
from homesim.api.jobs import Job
from homesim.api.routes_jobs import accepted, dataset_cost, require_dataset
from homesim.api.security import resolve_inside, safe_name
from homesim.datasets.cache import HomeCache
from homesim.datasets.home_folder import read_events, read_home, read_truth
from homesim.datasets.manifest import read_dataset
from homesim.datasets.verification import home_folders
from homesim.ground_truth.truth import write_ground_truth_parquet
from homesim.workspace import GROUND_TRUTH_FILE, VALIDATION_REPORT_FILE, HomeFolder

router = APIRouter()
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]


class HomeSummary(BaseModel):
    home_key: str
    index: int
    generator_version: str
    events: int
    bytes: int


class HomeList(BaseModel):
    total: int
    homes: list[HomeSummary]


class HomeDetail(BaseModel):
    """What `homesim inspect` shows of a home."""

    home_key: str
    home_type: str
    size_m2: float | None
    occupants: int
    climate_region: str
    timezone: str
    start: str
    days: int
    floors: int
    areas: int
    devices: int
    entities: int
    entities_by_domain: dict[str, int]
    events: int
    events_per_day_by_cause: dict[str, float]
    files: list[str]


class DatasetSummary(BaseModel):
    dataset_id: str
    generator_version: str
    homes: int
    failed: int
    events: int
    finished_at: str


class CacheStats(BaseModel):
    homes: int
    events: int
    bytes: int
    generator_versions: dict[str, int]


class CacheProblem(BaseModel):
    home_key: str
    problem: str


class CacheVerify(BaseModel):
    ok: int
    broken: list[CacheProblem]


class CacheCleared(BaseModel):
    removed: int


class Files(BaseModel):
    files: list[str]


def home_directory(state: ApiState, home_key: str) -> Path:
    safe_name(home_key, "home key")
    home = state.workspace.home(home_key)
    if not home.home_json.is_file():
        raise not_found(f"no home {home_key!r} in the cache (GET /v1/homes lists them)")
    return home.path


@router.get("/v1/homes", response_model=HomeList, tags=["homes"])
def list_homes(state: State, offset: Offset = 0, limit: Limit = 100) -> HomeList:
    """Cached homes in key order, a page at a time."""
    cache = HomeCache(state.workspace)
    keys = cache.keys()
    homes = [
        HomeSummary(
            home_key=m.home_key,
            index=m.home_index,
            generator_version=m.generator_version,
            events=m.events,
            bytes=m.total_bytes,
        )
        for key in keys[offset : offset + limit]
        if (m := cache.read_manifest(key)) is not None
    ]
    return HomeList(total=len(keys), homes=homes)


@router.get("/v1/homes/{home_key}", response_model=HomeDetail, tags=["homes"])
def get_home(home_key: str, state: State) -> HomeDetail:
    """A home's summary: structure counts, entities by domain, events per day by cause."""
    directory = home_directory(state, home_key)
    home = read_home(directory)
    events = read_events(directory)
    meta = home.metadata
    domains: dict[str, int] = {}
    for entity in home.entities:
        domains[entity.domain] = domains.get(entity.domain, 0) + 1
    causes = pc.value_counts(pc.cast(events["cause"], "string")).to_pylist() if events.num_rows else []
    return HomeDetail(
        home_key=meta.home_key,
        home_type=meta.home_type,
        size_m2=meta.size_m2,
        occupants=len(meta.occupants),
        climate_region=meta.climate_region,
        timezone=meta.timezone,
        start=meta.start.isoformat(),
        days=meta.days,
        floors=len(home.floors),
        areas=len(home.areas),
        devices=len(home.devices),
        entities=len(home.entities),
        entities_by_domain=dict(sorted(domains.items())),
        events=events.num_rows,
        events_per_day_by_cause={c["values"]: c["counts"] / meta.days for c in causes},
        files=sorted(p.name for p in directory.iterdir() if p.is_file()),
    )


@router.get("/v1/homes/{home_key}/ground-truth", tags=["homes"])
def get_ground_truth(home_key: str, state: State) -> Response:
    """The home's ground_truth.json (patterns, synergies, decoys, faults, baselines)."""
    directory = home_directory(state, home_key)
    if not HomeFolder(directory).ground_truth.is_file():
        raise not_found(f"home {home_key!r} has no {GROUND_TRUTH_FILE}")
    return Response(read_truth(directory).model_dump_json(), media_type="application/json")


@router.get("/v1/homes/{home_key}/files/{name}", tags=["homes"], response_class=FileResponse)
def get_home_file(home_key: str, name: str, state: State) -> FileResponse:
    """Download one of a home's files (home.json, events.parquet, environment.parquet, …)."""
    directory = home_directory(state, home_key)
    return FileResponse(resolve_inside(directory, safe_name(name, "file name")))


@router.get("/v1/datasets", response_model=list[DatasetSummary], tags=["datasets"])
def list_datasets(state: State) -> list[DatasetSummary]:
    """Datasets the generations wrote, oldest first."""
    manifests = []
    for dataset in state.workspace.datasets():
        try:
            manifests.append(read_dataset(dataset.manifest))
        except (OSError, ValidationError):  # one unreadable manifest hides only its own dataset
            continue
    return [
        DatasetSummary(
            dataset_id=m.dataset_id,
            generator_version=m.generator_version,
            homes=m.counts.homes,
            failed=m.counts.failed,
            events=m.counts.events,
            finished_at=m.timings.finished_at.isoformat(),
        )
        for m in sorted(manifests, key=lambda m: m.timings.finished_at)
    ]


@router.get("/v1/datasets/{dataset_id}", tags=["datasets"])
def get_dataset(dataset_id: str, state: State) -> Response:
    """A dataset's manifest: config, home keys, counts, timings, validation and truth accuracy."""
    require_dataset(state, dataset_id)
    path = state.workspace.dataset(dataset_id).manifest
    return Response(path.read_bytes(), media_type="application/json")


@router.get("/v1/datasets/{dataset_id}/validation", tags=["datasets"])
def get_validation(dataset_id: str, state: State) -> Response:
    """A dataset's validation report, per rule and per home."""
    require_dataset(state, dataset_id)
    path = state.workspace.dataset(dataset_id).validation_report
    if not path.is_file():
        raise not_found(f"dataset {dataset_id!r} has no {VALIDATION_REPORT_FILE}")
    return Response(path.read_bytes(), media_type="application/json")


@router.post(
    "/v1/datasets/{dataset_id}/ground-truth/verify",
    status_code=202,
    response_model=Job,
    tags=["datasets"],
)
def verify_ground_truth(dataset_id: str, state: State, response: Response) -> Job:
    """Start a job scoring the independent extractor against the dataset's truth (`ground-truth verify`)."""
    cost = dataset_cost(state, dataset_id)
    return accepted(state.jobs.submit("ground_truth_verify", {"dataset_id": dataset_id}, cost), response)


@router.post(
    "/v1/datasets/{dataset_id}/ground-truth/flatten",
    response_model=Files,
    tags=["datasets"],
)
def flatten_ground_truth(dataset_id: str, state: State) -> Files:
    """Write the dataset's truth as ground_truth_<table>.parquet in its folder (`ground-truth flatten`)."""
    require_dataset(state, dataset_id)
    directory = state.workspace.dataset_dir(dataset_id)
    truths = [read_truth(f) for f in home_folders(directory) if HomeFolder(f).ground_truth.is_file()]
    if not truths:
        raise bad_request(f"no {GROUND_TRUTH_FILE} in the homes of dataset {dataset_id!r}")
    paths = write_ground_truth_parquet(truths, directory)
    return Files(files=[str(p.relative_to(state.workspace.root)) for p in paths])


@router.get("/v1/cache/stats", response_model=CacheStats, tags=["cache"])
def cache_stats(state: State) -> CacheStats:
    """Homes, events and bytes in the cache, by generator version (`cache stats`)."""
    cache = HomeCache(state.workspace)
    cache.rebuild_index()
    return CacheStats.model_validate(cache.index().stats())


@router.get("/v1/cache/verify", response_model=CacheVerify, tags=["cache"])
def cache_verify(state: State) -> CacheVerify:
    """Hash every cached file against its manifest (`cache verify`)."""
    cache = HomeCache(state.workspace)
    problems = cache.verify()
    broken = [CacheProblem(home_key=p.home_key, problem=p.problem) for p in problems]
    return CacheVerify(ok=len(cache.keys()) - len(problems), broken=broken)


@router.post("/v1/cache/prune", response_model=list[CacheProblem], tags=["cache"])
def cache_prune(state: State) -> list[CacheProblem]:
    """Remove broken entries, other generator versions and stale staging (`cache prune`)."""
    cache = HomeCache(state.workspace)
    removed = cache.prune()
    cache.rebuild_index()
    return [CacheProblem(home_key=p.home_key, problem=p.problem) for p in removed]


@router.delete("/v1/cache", response_model=CacheCleared, tags=["cache"])
def cache_clear(
    state: State, confirm: Annotated[bool, Query(description="must be true")] = False
) -> CacheCleared:
    """Remove every cached home (`cache clear --yes`); needs `?confirm=true`."""
    if not confirm:
        raise bad_request("clearing the cache removes every home: repeat with ?confirm=true")
    return CacheCleared(removed=HomeCache(state.workspace).clear())
