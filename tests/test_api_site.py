"""The service's offline docs (Swagger UI, ReDoc and their assets, no CDN) and the dashboard's plot data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from homesim.api import create_app
from homesim.api.routes_docs import ASSETS, ASSETS_URL
from homesim.workspace import Workspace

pytest.importorskip("fastapi_offline")
TOKEN = "t" * 40


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(
        create_app(Workspace(tmp_path), token=TOKEN, executor="inline"),
        headers={"Host": "localhost", "Authorization": f"Bearer {TOKEN}"},
    )


@pytest.mark.parametrize(("page", "marker"), [("/docs", "SwaggerUIBundle"), ("/redoc", "<redoc ")])
def test_docs_pages_load_only_local_assets(client: TestClient, page: str, marker: str) -> None:
    response = client.get(page)
    assert response.status_code == 200 and marker in response.text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)""", response.text) + re.findall(
        r"""url: ?['"]([^'"]+)""", response.text
    )
    assert urls and all(u.startswith(("/", "data:")) for u in urls), urls  # nothing from another host
    assert "googleapis" not in response.text and "cdn." not in response.text
    for url in urls:
        if url.startswith(ASSETS_URL):
            assert client.get(url).status_code == 200, url


def test_docs_assets_are_the_dist_files(client: TestClient) -> None:
    for name, media_type in ASSETS.items():
        response = client.get(f"{ASSETS_URL}/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(media_type)
        assert len(response.content) > 1_000
    assert "SwaggerUIBundle" in client.get(f"{ASSETS_URL}/swagger-ui-bundle.js").text
    redoc = client.get(f"{ASSETS_URL}/redoc.standalone.js").text
    assert "Redoc" in redoc and "cdn.redoc.ly" not in redoc  # its footer logo would be fetched from there
    assert "validatorUrl" in client.get("/docs").text  # the validator badge is off (it asks a remote host)
    for name in ("../core.py", "core.py", "..%2Fcore.py"):
        # not a listed asset: 404, or 401 where the path resolves outside the public docs (`../core.py`)
        assert client.get(f"{ASSETS_URL}/{name}").status_code in (401, 404)
    assert client.get("/openapi.json").json()["paths"].keys().isdisjoint({"/docs", "/redoc", ASSETS_URL})


def test_dashboard_plots_endpoint(client: TestClient) -> None:
    empty = client.get("/v1/dashboard/plots")
    assert empty.status_code == 200 and empty.json() == {"version": "", "plots": []}
    assert "/v1/dashboard/plots" in client.get("/openapi.json").json()["paths"]
