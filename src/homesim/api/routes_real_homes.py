"""Real homes over HTTP — `homesim import-history` of the CLI.

`POST /v1/real-homes/imports?format=…&home_key=real-…` takes the history as a zip (the Ordóñez files, a
CASAS events file, or an HA config dir with `home-assistant_v2.db` and `.storage/`), unpacks it safely
into a temporary folder (the same checks as `/v1/ha/import`), imports it into the workspace as a real
home and a dataset of real homes, and answers the import report: every line imported or skipped, why.
The import runs synchronously: it reads files, it does not simulate.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from homesim.api.deps import ApiState, State
from homesim.api.errors import bad_request
from homesim.api.routes_ha import config_root, unpack_zip
from homesim.api.security import safe_name
from homesim.real_homes.importing import HistoryImportError, ImportReport, import_into_workspace

router = APIRouter(tags=["real homes"])
Format = Literal["ordonez", "casas", "recorder"]


class RealHomeImport(BaseModel):
    home_key: str
    dataset_id: str
    #: Relative to the workspace root.
    folder: str
    report: ImportReport


@router.post(
    "/v1/real-homes/imports",
    response_model=RealHomeImport,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def import_real_home(
    request: Request,
    state: State,
    format: Annotated[Format, Query(description="the history's format")],
    home_key: Annotated[str, Query(min_length=6, max_length=128, description="the home's key, real-…")],
    timezone: Annotated[str | None, Query(max_length=64, description="IANA zone of local times")] = None,
    dataset: Annotated[str | None, Query(max_length=128, description="dataset to add it to")] = None,
) -> RealHomeImport:
    """Import a zipped real history as a home of the workspace (as `homesim import-history`)."""
    safe_name(home_key, "home key")
    if dataset is not None:
        safe_name(dataset, "dataset id")
    body = await request.body()
    return await run_in_threadpool(_import, state, body, format, home_key, timezone, dataset)


def _import(
    state: ApiState, data: bytes, format: str, home_key: str, timezone: str | None, dataset: str | None
) -> RealHomeImport:
    with tempfile.TemporaryDirectory(prefix="homesim-history-") as tmp:
        folder = Path(tmp) / "upload"
        folder.mkdir()
        unpack_zip(data, folder)
        root = config_root(folder)
        files = [p for p in root.iterdir() if p.is_file()]
        # A zip of one file (a CASAS testbed's events) is that file; anything else is a folder to read.
        path = files[0] if len(files) == 1 and not any(p.is_dir() for p in root.iterdir()) else root
        try:
            report, manifest = import_into_workspace(
                format, path, state.workspace, home_key=home_key, timezone=timezone, dataset=dataset
            )
        except (HistoryImportError, ValueError) as exc:
            raise bad_request(f"cannot import the history: {exc}") from exc
    directory = state.workspace.home_dir(report.home_key)
    return RealHomeImport(
        home_key=report.home_key,
        dataset_id=manifest.dataset_id,
        folder=str(directory.relative_to(state.workspace.root)),
        report=report,
    )
