"""`POST /v1/real-homes/imports`: a zipped history in, a real home and dataset of the workspace out, with
the import report; bearer token required; bad input is a 400 with a reason; a cycle then runs over it."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from homesim.api import create_app
from homesim.workspace import Workspace

TOKEN = "test-token-real-homes-0123456789-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/zip"}
DATA = Path(__file__).parent / "data" / "real_homes"


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


ORDONEZ_ZIP = _zip(
    {
        f"OrdonezA/{name}": (DATA / "uci_adl_ordonez" / name).read_bytes()
        for name in ("OrdonezA_Sensors.txt", "OrdonezA_ADLs.txt")
    }
)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("api_real"))


@pytest.fixture(scope="module")
def client(ws: Workspace) -> Iterator[TestClient]:
    app = create_app(ws, token=TOKEN, executor="inline", workers=1, max_body_bytes=2_000_000)
    bearer = {"Authorization": AUTH["Authorization"]}
    with TestClient(app, base_url="http://localhost", headers=bearer) as test_client:
        yield test_client


def test_import_then_simulate(client: TestClient, ws: Workspace) -> None:
    params = {"format": "ordonez", "home_key": "real-ordonez-a", "dataset": "real-api"}
    response = client.post("/v1/real-homes/imports", params=params, content=ORDONEZ_ZIP, headers=AUTH)
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["home_key"], body["dataset_id"]) == ("real-ordonez-a", "real-api")
    assert body["folder"] == "data/real_homes/real-ordonez-a"
    files = {f["file"]: f for f in body["report"]["files"]}
    assert files["OrdonezA_ADLs.txt"]["skipped"]["end before start"]["count"] == 3
    assert (ws.root / body["folder"] / "events.parquet").is_file()
    assert client.get("/v1/homes/real-ordonez-a").json()["home_key"] == "real-ordonez-a"

    casas = _zip({"aruba.txt": (DATA / "casas" / "aruba_sample.txt").read_bytes()})
    params = {"format": "casas", "home_key": "real-aruba", "dataset": "real-api"}
    added = client.post("/v1/real-homes/imports", params=params, content=casas, headers=AUTH)
    assert added.status_code == 201, added.text
    assert added.json()["report"]["events"] == 45

    bearer = {"Authorization": AUTH["Authorization"]}
    started = client.post("/v1/cycles", json={"dataset_id": "real-api", "cycle": 0}, headers=bearer)
    assert started.status_code == 202, started.text
    job = _wait(client, started.json()["id"])
    assert job["status"] == "succeeded", job
    stages = {s["stage"]: s for s in job["result"]["report"]["stages"]}
    assert stages["device_health"]["records"] > 0 and stages["device_health"]["precision"] is None


@pytest.mark.parametrize(
    ("params", "content", "headers", "status", "detail"),
    [
        (
            {"format": "ordonez", "home_key": "real-x"},
            ORDONEZ_ZIP,
            {**AUTH, "Authorization": "Bearer x"},
            401,
            "Bearer",
        ),
        ({"format": "ordonez", "home_key": "h000001-abc"}, ORDONEZ_ZIP, AUTH, 400, "starts with 'real-'"),
        ({"format": "ordonez", "home_key": "real-x"}, b"not a zip", AUTH, 400, "not a zip"),
        ({"format": "casas", "home_key": "real-x"}, ORDONEZ_ZIP, AUTH, 400, "cannot import the history"),
        ({"format": "tsv", "home_key": "real-x"}, ORDONEZ_ZIP, AUTH, 422, ""),
        ({"format": "ordonez", "home_key": "real-../x"}, ORDONEZ_ZIP, AUTH, 400, "not a valid name"),
    ],
)
def test_bad_requests(
    client: TestClient,
    params: dict[str, str],
    content: bytes,
    headers: dict[str, str],
    status: int,
    detail: str,
) -> None:
    response = client.post("/v1/real-homes/imports", params=params, content=content, headers=headers)
    assert response.status_code == status, response.text
    assert detail in str(response.json()["detail"])


def _wait(client: TestClient, job_id: str, timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")
