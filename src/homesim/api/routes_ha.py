"""Home Assistant files over HTTP — `homesim ha validate|export|import` of the CLI.

`export` answers a zip of the config dir (built in a temporary folder, nothing kept in the workspace);
`import` takes a zip of a config dir (or of a bare `.storage` folder) as the request body and unpacks it,
member by member, into a temporary folder: absolute names, `..` parts, links and oversized archives
are refused before anything is written. What an archive may unpack to is bounded in bytes, in lines
and, for the JSON registries under `.storage/` (one line each), per file: the importers hold a few hundred
bytes per line and tens of bytes per byte of JSON, so these bounds, not the archive's size, keep one
request's memory within the bound docs/api.md states.
"""

from __future__ import annotations

import io
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, ValidationError

from homesim.api.deps import RequestBody, State
from homesim.api.errors import bad_request, not_found
from homesim.api.routes_data import home_directory
from homesim.datasets.home_folder import read_events, read_home, read_truth
from homesim.ha.automation_validation import validate_yaml
from homesim.ha.config_dir import export_config_dir, truth_automations_yaml
from homesim.ha.storage import import_home
from homesim.workspace import HomeFolder

router = APIRouter(tags=["home assistant"])
#: Bounds on an uploaded archive once unpacked (the request body itself is bounded by the middleware).
MAX_MEMBERS = 2000
MAX_UNPACKED_BYTES = 64_000_000
MAX_UNPACKED_LINES = 500_000
MAX_REGISTRY_BYTES = 8_000_000
#: Most issues one validation answers (each is cut to a few hundred characters by the validator).
MAX_ISSUES = 1000
#: Bytes copied at a time while unpacking (a member is never read into memory whole).
_CHUNK = 1 << 20
HomeKey = Annotated[str, Field(min_length=1, max_length=128)]


class ValidateRequest(RequestBody):
    yaml: str = Field(max_length=5_000_000, description="automations.yaml, 2024.10+ or legacy syntax")
    home_key: HomeKey | None = Field(default=None, description="also check every reference against this home")


class Issue(BaseModel):
    path: str
    message: str


class ValidateResponse(BaseModel):
    ok: bool
    issues: list[Issue]


class HaExportRequest(RequestBody):
    home_key: HomeKey
    recorder: bool = Field(default=False, description="also write home-assistant_v2.db from the events")
    statistics: bool = Field(default=False, description="add statistics to the database (needs recorder)")
    automations_yaml: str | None = Field(
        default=None,
        max_length=5_000_000,
        description="automations.yaml (default: the ground-truth automations)",
    )


class HaImport(BaseModel):
    home: dict[str, object]
    warnings: list[str]


@router.post("/v1/ha/validate", response_model=ValidateResponse)
def validate(body: ValidateRequest, state: State) -> ValidateResponse:
    """Validate automations: schema, services and data, and with `home_key` every reference and state."""
    home = read_home(home_directory(state, body.home_key)) if body.home_key is not None else None
    found = validate_yaml(body.yaml, home)
    issues = [Issue(path=p, message=m) for p, m in found[:MAX_ISSUES]]
    if len(found) > MAX_ISSUES:
        issues.append(Issue(path="", message=f"… and {len(found) - MAX_ISSUES:,} more issues"))
    return ValidateResponse(ok=not found, issues=issues)


@router.post(
    "/v1/ha/exports",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "the HA config dir as a zip"}},
)
def export(body: HaExportRequest, state: State) -> Response:
    """A Home Assistant 2025.1 config dir of a home (.storage registries, configuration.yaml, recorder DB)."""
    if body.statistics and not body.recorder:
        raise bad_request("statistics needs recorder=true")
    directory = home_directory(state, body.home_key)
    files = HomeFolder(directory)
    if body.recorder and not files.events.is_file():
        raise not_found(f"home {body.home_key!r} has no {files.events.name} for the recorder")
    automations = body.automations_yaml
    if automations is None and files.ground_truth.is_file():
        automations = truth_automations_yaml(read_truth(directory))
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="homesim-ha-") as tmp:
        out = Path(tmp) / body.home_key
        paths = export_config_dir(
            read_home(directory),
            out,
            events=read_events(directory) if body.recorder else None,
            recorder=body.recorder,
            statistics=body.statistics,
            automations_yaml=automations,
        )
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in paths:
                archive.write(path, str(path.relative_to(out)))
    headers = {"Content-Disposition": f'attachment; filename="{body.home_key}-ha-config.zip"'}
    return Response(buffer.getvalue(), media_type="application/zip", headers=headers)


def unpack_zip(data: bytes, target: Path) -> None:
    """Unpack a zip into `target`, refusing anything that could land outside it or exhaust the disk."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise bad_request(f"the body is not a zip archive: {exc}") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise bad_request(f"the archive has {len(members)} members; at most {MAX_MEMBERS}")
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise bad_request(f"the archive unpacks to more than {MAX_UNPACKED_BYTES:,} bytes")
        for member in members:
            name = PurePosixPath(member.filename)
            if name.is_absolute() or ".." in name.parts or "\\" in member.filename or ":" in member.filename:
                raise bad_request(f"archive member {member.filename!r} would land outside the upload")
            if stat.S_ISLNK(member.external_attr >> 16):
                raise bad_request(f"archive member {member.filename!r} is a link")
            if ".storage" in name.parts and member.file_size > MAX_REGISTRY_BYTES:
                raise bad_request(
                    f"archive member {member.filename!r} unpacks to {member.file_size:,} bytes; "
                    f"registries are limited to {MAX_REGISTRY_BYTES:,}"
                )
        lines = 0
        for member in members:
            destination = target / PurePosixPath(member.filename)
            if member.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(member) as source, destination.open("wb") as out:
                    while chunk := source.read(_CHUNK):
                        lines += chunk.count(b"\n")
                        if lines > MAX_UNPACKED_LINES:
                            raise bad_request(
                                f"the archive unpacks to more than {MAX_UNPACKED_LINES:,} lines: import a "
                                "history this long with `homesim import-history`"
                            )
                        out.write(chunk)
            except (zipfile.BadZipFile, NotImplementedError, RuntimeError) as exc:  # corrupt or encrypted
                raise bad_request(f"cannot unpack {member.filename!r}: {exc}") from exc


def config_root(folder: Path) -> Path:
    """The unpacked config dir: the folder itself, or its only subfolder when the zip wrapped one."""
    children = list(folder.iterdir())
    if not (folder / ".storage").is_dir() and len(children) == 1 and children[0].is_dir():
        return children[0]
    return folder


@router.post(
    "/v1/ha/import",
    response_model=HaImport,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def import_config(request: Request) -> HaImport:
    """Read a zipped HA config dir's registries into a home.json template, with what could not be mapped."""
    return await run_in_threadpool(_import_archive, await request.body())


def _import_archive(data: bytes) -> HaImport:
    with tempfile.TemporaryDirectory(prefix="homesim-ha-import-") as tmp:
        folder = Path(tmp) / "upload"
        folder.mkdir()
        unpack_zip(data, folder)
        try:
            home, warnings = import_home(config_root(folder))
        except (ValueError, ValidationError, KeyError, TypeError) as exc:
            raise bad_request(f"cannot import the archive: {exc}") from exc
    return HaImport(home=home.model_dump(mode="json"), warnings=list(warnings))
