"""The HTTP API: jobs over HTTP equal the CLI's results, progress and server-sent events, every CLI capability
reachable, bearer-token auth on every mutating call, no path escaping the workspace, bounded bodies, JSON
errors, jobs surviving a restart.

One small workspace (2 homes × 7 days, inline executor) is generated and simulated over HTTP once per module;
the same config is run through the CLI in a second workspace for the comparison.
"""

from __future__ import annotations

import io
import json
import stat
import sys
import time
import types
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from typer.testing import CliRunner

from homesim.api import create_app, jobs, runners
from homesim.api.jobs import JobContext, JobFailedError
from homesim.api.security import (
    PUBLIC_PATHS,
    SESSION_COOKIE,
    TokenError,
    ensure_token,
    resolve_inside,
    safe_name,
)
from homesim.cli import app as cli_app
from homesim.datasets.cache import HomeCache
from homesim.retraining.registry import ModelRegistry
from homesim.training_data.store import RecordStore
from homesim.workspace import Workspace

# The registry tests' tiny numpy trainer stands in for a real one.
from test_registry import LogisticModel, LogisticTrainer

TOKEN = "test-token-0123456789-0123456789-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: The Host the test clients send: one the service answers to (testclient's default, "testserver", is not).
BASE = "http://localhost"
CONFIG = {"homes": 2, "days": 7, "seed": 11, "start": "2025-05-01"}


def wait_job(client: TestClient, job_id: str, timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root with its size and mtime: what 'nothing touched' is checked against."""
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() and "jobs" not in p.parts and not p.name.endswith(("-wal", "-shm"))
    }


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("api_ws"))


@pytest.fixture(scope="module")
def app(ws: Workspace) -> FastAPI:
    return create_app(
        ws, token=TOKEN, executor="inline", workers=1, max_body_bytes=200_000, max_json_bytes=200_000
    )


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE, headers=AUTH) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def generation(client: TestClient) -> dict[str, Any]:
    response = client.post("/v1/generations", json=CONFIG, headers=AUTH)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/jobs/{response.json()['id']}"
    return wait_job(client, response.json()["id"])


@pytest.fixture(scope="module")
def cycle(client: TestClient, generation: dict[str, Any]) -> dict[str, Any]:
    body = {"dataset_id": generation["result"]["dataset_id"], "cycle": 1}
    response = client.post("/v1/cycles", json=body, headers=AUTH)
    assert response.status_code == 202, response.text
    return wait_job(client, response.json()["id"])


@pytest.fixture(scope="module")
def cli_ws(tmp_path_factory: pytest.TempPathFactory, generation: dict[str, Any]) -> Workspace:
    """The same config through `homesim generate` and `homesim simulate` in a workspace of its own."""
    ws = Workspace(tmp_path_factory.mktemp("cli_ws"))
    common = ["--executor", "inline", "--workspace", str(ws.root)]
    flags = ["--homes", "2", "--days", "7", "--seed", "11", "--start", "2025-05-01"]
    result = CliRunner().invoke(cli_app, ["generate", *flags, *common])
    assert result.exit_code == 0, result.output
    dataset = generation["result"]["dataset_id"]
    result = CliRunner().invoke(cli_app, ["simulate", "--dataset", dataset, "--cycle", "1", *common])
    assert result.exit_code == 0, result.output
    return ws


def test_generation_job_reports_progress_and_matches_the_cli(
    client: TestClient, ws: Workspace, generation: dict[str, Any], cli_ws: Workspace
) -> None:
    assert generation["status"] == "succeeded", generation["error"]
    assert generation["progress"]["done"] == generation["progress"]["total"] == 2
    result = generation["result"]
    assert result["counts"]["generated"] == 2 and result["failures"] == {}
    cli_manifest = json.loads((cli_ws.dataset_dir(result["dataset_id"]) / "manifest.json").read_text())
    assert cli_manifest["home_keys"] == result["home_keys"]
    assert (
        cli_manifest["config_hash"] == json.loads((ws.root / result["manifest"]).read_text())["config_hash"]
    )
    for key in result["home_keys"]:
        http_home, cli_home = HomeCache(ws).read_manifest(key), HomeCache(cli_ws).read_manifest(key)
        assert http_home is not None and cli_home is not None
        assert {n: f.sha256 for n, f in http_home.files.items()} == {
            n: f.sha256 for n, f in cli_home.files.items()
        }


def test_cycle_job_collects_the_same_records_as_the_cli(
    cycle: dict[str, Any], ws: Workspace, cli_ws: Workspace
) -> None:
    assert cycle["status"] == "succeeded", cycle["error"]
    report = cycle["result"]["report"]
    assert report["records"] > 0 and cycle["progress"]["done"] == report["homes"] == 2
    assert set(cycle["result"]["pass_rates"]) >= {"pattern", "synergy"}
    with RecordStore(ws.training_store) as http_store, RecordStore(cli_ws.training_store) as cli_store:
        http_hashes, cli_hashes = http_store.content_hashes(1), cli_store.content_hashes(1)
    assert http_hashes and http_hashes == cli_hashes
    cli_report = json.loads((cli_ws.reports_dir / Path(cycle["result"]["report_files"][0]).name).read_text())
    assert [s["f1"] for s in cli_report["stages"]] == [s["f1"] for s in report["stages"]]


def test_server_sent_events_stream_progress_then_done(client: TestClient, generation: dict[str, Any]) -> None:
    with client.stream("GET", f"/v1/jobs/{generation['id']}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    blocks = [b for b in text.split("\n\n") if b.strip()]
    events = [dict(line.split(": ", 1) for line in b.splitlines()) for b in blocks]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "status" and kinds[-1] == "done"
    progress = [json.loads(e["data"]) for e in events if e["event"] == "progress"]
    assert [p["done"] for p in progress] == [1, 2]
    assert json.loads(events[-1]["data"])["status"] == "succeeded"
    resumed = client.get(f"/v1/jobs/{generation['id']}/events", headers={"Last-Event-ID": events[-2]["id"]})
    assert [line for line in resumed.text.splitlines() if line.startswith("event:")] == ["event: done"]


async def test_events_over_httpx_asgi_transport(
    app: FastAPI, client: TestClient, generation: dict[str, Any]
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, headers=AUTH) as http:
        response = await http.get(f"/v1/jobs/{generation['id']}/events")
        listed = await http.get("/v1/jobs", params={"kind": "generation"})
    assert response.status_code == 200 and "event: done" in response.text
    assert generation["id"] in [j["id"] for j in listed.json()["jobs"]]


def test_every_route_but_the_public_ones_needs_the_token(
    app: FastAPI, ws: Workspace, cycle: dict[str, Any]
) -> None:
    before = snapshot(ws.root)
    bare = TestClient(app, base_url=BASE)
    checked = 0
    for template, operations in app.openapi()["paths"].items():
        for method in operations:
            path = (
                template.replace("{model_type}", "pattern_detection")
                .replace("{dataset_id}", "x")
                .replace("{job_id}", cycle["id"])
            )
            if path in PUBLIC_PATHS:
                assert "security" not in operations[method], path  # documented as public
                continue
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
                response = bare.request(method, path, headers=headers, params={"confirm": "true"}, json={})
                assert response.status_code == 401, (method, path, response.text)
                assert response.json()["error"] == "unauthorized"
                assert response.headers["www-authenticate"] == "Bearer"
            checked += 1
    assert checked >= 40
    assert snapshot(ws.root) == before  # e.g. DELETE /v1/cache?confirm=true removed nothing
    assert bare.get("/healthz").status_code == 200 and bare.get("/openapi.json").status_code == 200


def test_the_dashboard_signs_in_with_a_cookie_that_only_reads(app: FastAPI) -> None:
    bare = TestClient(app, base_url=BASE)
    page = bare.get("/dashboard", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/dashboard"
    assert "API token" in bare.get("/login").text
    assert bare.post("/login", json={"token": "wrong"}).status_code == 401
    assert SESSION_COOKIE not in bare.cookies
    signed = bare.post("/login", json={"token": TOKEN})
    assert signed.status_code == 204
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and TOKEN.lower() not in cookie
    assert bare.get("/v1/jobs").status_code == 200  # reads with the cookie alone
    refused = bare.post("/v1/generations", json={"homes": 1, "days": 1})
    assert refused.status_code == 401  # changes still need the bearer token (no CSRF through the cookie)


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.evil.example", "localhost.", "", "10.0.0.1"])
def test_the_host_header_must_be_an_allowed_name(app: FastAPI, host: str) -> None:
    bare = TestClient(app, base_url=BASE, headers=AUTH)
    response = bare.get("/v1/jobs", headers={"Host": host})
    assert response.status_code == 400 and response.json()["error"] == "bad host"
    for good in ("localhost:8765", "127.0.0.1", "[::1]:8765", "LOCALHOST"):
        assert bare.get("/v1/jobs", headers={"Host": good}).status_code == 200, good
    assert "access-control-allow-origin" not in bare.get("/v1/jobs", headers={"Origin": "http://x"}).headers


@pytest.mark.parametrize(
    "url",
    [
        "/reports/%2e%2e/api_token",
        "/reports/..%2f..%2fetc%2fpasswd",
        "/reports/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/reports/%2fetc%2fpasswd",
        "/reports//etc/passwd",
        "/reports/link_out/passwd",
        "/reports/x%00.json",
        "/v1/homes/%2e%2e",
        "/v1/homes/..%2f..%2fapi_token/ground-truth",
        "/v1/homes/{home}/files/%2e%2e%2fmanifest.json",
        "/v1/homes/{home}/files/%2e%2e",
        "/v1/exports/%2e%2e/pattern_detection/metadata.json",
        "/v1/exports/cycle_1/pattern_detection/%2e%2e%2f%2e%2e%2frecords.sqlite",
        "/v1/datasets/%2e%2e%2f%2e%2e",
        "/v1/runs/..%2f..%2fapi_token",
        "/v1/ab-results/pattern_detection/%2e%2e%2f%2e%2e%2fapi_token",
    ],
)
def test_paths_never_escape_the_workspace(
    client: TestClient, ws: Workspace, generation: dict[str, Any], url: str
) -> None:
    link = ws.reports_dir / "link_out"
    if not link.exists():
        link.symlink_to("/etc", target_is_directory=True)
    (ws.root / "api_token").write_text("secret-not-to-serve")
    before = snapshot(ws.root)
    response = client.get(url.replace("{home}", generation["result"]["home_keys"][0]))
    assert response.status_code in (400, 404, 422), response.text
    assert set(response.json()) == {"error", "detail"}
    assert "secret-not-to-serve" not in response.text and "root:" not in response.text
    assert snapshot(ws.root) == before


def test_resolve_inside_and_safe_name(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "f.txt").write_text("x")
    assert resolve_inside(tmp_path, "a/f.txt") == (tmp_path / "a" / "f.txt").resolve()
    for bad in ("/etc/passwd", "../x", "a/../../x", "a\\f.txt"):
        with pytest.raises(Exception, match=r"absolute|climbs|backslash"):
            resolve_inside(tmp_path, bad)
    assert safe_name("h000001-abc", "home key") == "h000001-abc"
    for bad in ("..", ".hidden", "a/b", "", "a..b"):
        with pytest.raises(Exception, match="not a valid name"):
            safe_name(bad, "name")


def test_request_bodies_are_bounded(client: TestClient, ws: Workspace) -> None:
    jobs_before = len(client.get("/v1/jobs").json()["jobs"])
    big = {"yaml": "x" * 250_000}
    response = client.post("/v1/ha/validate", json=big, headers=AUTH)
    assert response.status_code == 413 and response.json()["error"] == "request too large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it streams
        yield b'{"homes": 1, "noise": "'
        for _ in range(250):
            yield b"1" * 1000
        yield b'"}'

    response = client.post(
        "/v1/generations", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert len(client.get("/v1/jobs").json()["jobs"]) == jobs_before


def test_errors_are_json_with_a_clear_message(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404 and response.json()["error"] == "not found"
    response = client.post("/v1/generations", json={"homes": 0}, headers=AUTH)
    assert response.status_code == 422
    assert (
        response.json()["error"] == "invalid request" and response.json()["detail"][0]["loc"][-1] == "homes"
    )
    response = client.post("/v1/cycles", json={"dataset_id": "ds-missing", "cycle": 1}, headers=AUTH)
    assert response.status_code == 404 and "no dataset 'ds-missing'" in response.json()["detail"]
    assert client.get("/v1/jobs/job-nope").status_code == 404
    assert client.delete("/v1/cache", headers=AUTH).status_code == 400  # needs ?confirm=true


def test_homes_datasets_and_cache(client: TestClient, ws: Workspace, generation: dict[str, Any]) -> None:
    keys = generation["result"]["home_keys"]
    listed = client.get("/v1/homes", params={"limit": 1}).json()
    assert listed["total"] == 2 and [h["home_key"] for h in listed["homes"]] == keys[:1]
    home = client.get(f"/v1/homes/{keys[0]}").json()
    assert home["days"] == 7 and home["entities"] == sum(home["entities_by_domain"].values())
    assert home["events"] > 0 and "home.json" in home["files"]
    truth = client.get(f"/v1/homes/{keys[0]}/ground-truth").json()
    assert "patterns" in truth
    events = client.get(f"/v1/homes/{keys[0]}/files/events.parquet")
    assert events.status_code == 200 and events.content[:4] == b"PAR1"
    dataset = generation["result"]["dataset_id"]
    broken = ws.dataset_dir("ds-broken") / "manifest.json"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("{not json")
    assert [d["dataset_id"] for d in client.get("/v1/datasets").json()] == [dataset]  # the broken one skipped
    assert client.get(f"/v1/datasets/{dataset}").json()["home_keys"] == keys
    assert client.get(f"/v1/datasets/{dataset}/validation").json()["passed"] == 2
    stats = client.get("/v1/cache/stats").json()
    assert stats["homes"] == 2 and stats["events"] == generation["result"]["counts"]["events"]
    assert client.get("/v1/cache/verify").json() == {"ok": 2, "broken": []}
    assert client.post("/v1/cache/prune", headers=AUTH).json() == []


def test_ground_truth_verify_and_flatten(
    client: TestClient, generation: dict[str, Any], ws: Workspace
) -> None:
    dataset = generation["result"]["dataset_id"]
    job = client.post(f"/v1/datasets/{dataset}/ground-truth/verify", headers=AUTH).json()
    done = wait_job(client, job["id"])
    assert done["status"] == "succeeded", done["error"]
    assert (ws.root / done["result"]["file"]).is_file() and done["result"]["report"]["homes"] == 2
    files = client.post(f"/v1/datasets/{dataset}/ground-truth/flatten", headers=AUTH).json()["files"]
    assert any(f.endswith("ground_truth_patterns.parquet") for f in files)
    assert all((ws.root / f).is_file() for f in files)


def test_exports_and_lineage(client: TestClient, cycle: dict[str, Any], ws: Workspace) -> None:
    body = {"cycle": 1, "model_type": "pattern_detection", "format": "parquet"}
    made = client.post("/v1/exports", json=body, headers=AUTH)
    assert made.status_code == 200, made.text
    (export,) = made.json()
    assert export["scope"] == "cycle_1" and export["records"] > 0
    assert {e["scope"] for e in client.get("/v1/exports").json()} == {"cycle_1"}
    name = next(n for n in export["files"] if n.endswith(".parquet"))
    download = client.get(f"/v1/exports/cycle_1/pattern_detection/{name}")
    assert download.status_code == 200 and download.content[:4] == b"PAR1"
    bad = client.post("/v1/exports", json={"cycle": 1, "aggregated": True}, headers=AUTH)
    assert bad.status_code == 422
    wrong = client.post(
        "/v1/exports",
        json={"aggregated": True, "model_type": "soft_prompt", "format": "parquet"},
        headers=AUTH,
    )
    assert wrong.status_code == 400 and "not exported as parquet" in wrong.json()["detail"]
    ids = client.get("/v1/lineage/records", params={"cycle": 1}).json()["ids"]
    assert len(ids) > 0
    shown = client.get(f"/v1/lineage/records/{ids[0]}").json()
    assert shown["source"]["cycle"] == 1
    assert client.get(f"/v1/lineage/records/{ids[0]}/source").json()["record_id"] == ids[0]
    assert client.get("/v1/lineage/records/nope").status_code == 404
    assert (
        client.get("/v1/lineage/records", params={"cycle": 1, "model_type": "gnn_synergy"}).status_code == 400
    )
    feeding = client.get("/v1/lineage/records", params={"model_type": "pattern_detection"}).json()["ids"]
    assert set(feeding) <= set(ids)
    audit = client.post("/v1/lineage/export", headers=AUTH).json()
    assert 1 <= audit["tables"]["record_batches"] < len(ids)  # one row per group of records, not per record
    assert (ws.root / audit["file"]).is_file()
    pruned = client.post("/v1/exports/prune", json={"keep_cycles": 0}, headers=AUTH).json()
    assert pruned == {"removed": ["training_data/cycle_1"]}


def test_home_assistant_export_import_and_validate(client: TestClient, generation: dict[str, Any]) -> None:
    key = generation["result"]["home_keys"][0]
    exported = client.post("/v1/ha/exports", json={"home_key": key}, headers=AUTH)
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(exported.content)).namelist()
    assert ".storage/core.entity_registry" in names and "automations.yaml" in names
    imported = client.post(
        "/v1/ha/import", content=exported.content, headers={**AUTH, "Content-Type": "application/zip"}
    )
    assert imported.status_code == 200, imported.text
    home = client.get(f"/v1/homes/{key}").json()
    assert len(imported.json()["home"]["entities"]) == home["entities"]
    automations = zipfile.ZipFile(io.BytesIO(exported.content)).read("automations.yaml").decode()
    valid = client.post("/v1/ha/validate", json={"yaml": automations, "home_key": key}, headers=AUTH).json()
    assert valid == {"ok": True, "issues": []}
    broken = client.post("/v1/ha/validate", json={"yaml": "- alias: x\n  triggers: 3\n"}, headers=AUTH).json()
    assert not broken["ok"] and broken["issues"]
    assert (
        client.post("/v1/ha/exports", json={"home_key": key, "statistics": True}, headers=AUTH).status_code
        == 400
    )


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"../evil.json": "{}"}, "outside the upload"),
        ({"/etc/evil.json": "{}"}, "outside the upload"),
        ({"ok/.storage/core.device_registry": "not json"}, "cannot import"),
    ],
)
def test_ha_import_refuses_unsafe_or_broken_archives(
    client: TestClient, tmp_path: Path, members: dict[str, str], message: str
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    response = client.post(
        "/v1/ha/import", content=buffer.getvalue(), headers={**AUTH, "Content-Type": "application/zip"}
    )
    assert response.status_code == 400 and message in response.json()["detail"]
    assert not Path("/etc/evil.json").exists() and not (tmp_path / "evil.json").exists()
    not_zip = client.post("/v1/ha/import", content=b"plain", headers=AUTH)
    assert not_zip.status_code == 400 and "not a zip" in not_zip.json()["detail"]


def test_reports_dashboard_and_health(
    client: TestClient, ws: Workspace, cycle: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    markdown = Path(cycle["result"]["report_files"][1]).name
    served = client.get(f"/reports/{markdown}")
    assert served.status_code == 200 and "Simulation cycle 1" in served.text
    assert client.get("/reports/jobs").status_code == 404  # a folder
    listed = [r["name"] for r in client.get("/v1/reports").json()]
    assert markdown in listed and not any(name.startswith("jobs/") for name in listed)
    written = client.post("/v1/reports", json={"cycle": 1}, headers=AUTH)
    assert written.status_code == 200, written.text
    assert written.json()["file"].startswith("reports/html/") and (ws.root / written.json()["file"]).is_file()
    assert client.get(written.json()["url"]).headers["content-type"].startswith("text/html")
    assert client.post("/v1/reports", json={"run_id": "../x"}, headers=AUTH).status_code == 400
    dashboard = types.ModuleType("homesim.reports.dashboard")
    dashboard.dashboard_html = lambda: "<html>dash</html>"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "homesim.reports.dashboard", dashboard)
    page = client.get("/dashboard")
    assert page.status_code == 200 and page.text == "<html>dash</html>"


def test_retraining_ab_and_loop_jobs(
    client: TestClient, ws: Workspace, cycle: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = cycle["request"]["dataset_id"]
    ab = client.post(
        "/v1/ab-tests",
        json={"model_type": "pattern_detection", "dataset_id": dataset, "cycle": 2},
        headers=AUTH,
    )
    failed = wait_job(client, ab.json()["id"])
    assert failed["status"] == "failed" and "challenger" in failed["error"]

    class Outcome(BaseModel):
        model_type: str
        force: bool
        resamples: int

    class FakeManager:  # the manager is tested with the retraining code; here, the job's glue around it
        def __init__(self, workspace: Workspace, config: Any, progress: Any) -> None:
            self.config, self.progress = config, progress

        def __enter__(self) -> FakeManager:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def run(self, model_type: str, force: bool) -> Outcome:
            self.progress("training")
            return Outcome(model_type=model_type, force=force, resamples=self.config.resamples)

    monkeypatch.setattr(runners, "RetrainingManager", FakeManager)
    body = {"model_type": "pattern_detection", "force": True, "config": {"resamples": 10}}
    done = wait_job(client, client.post("/v1/retraining", json=body, headers=AUTH).json()["id"])
    assert done["status"] == "succeeded", done["error"]
    assert done["result"] == {"model_type": "pattern_detection", "force": True, "resamples": 10}
    assert done["progress"]["detail"] == {"step": "training"}
    bad = client.post(
        "/v1/retraining", json={"model_type": "pattern_detection", "config": {"nope": 1}}, headers=AUTH
    )
    assert bad.status_code == 422

    class FakeLoop:  # the loop itself is tested elsewhere; here, what the job hands it and reports
        def __init__(self, workspace: Workspace, config: Any, progress: Any) -> None:
            self.config, self.progress = config, progress

        def run(self) -> dict[str, Any]:
            self.progress(1, "generate", 2, 2, "2 homes")
            return {"cycles": [{"cycle": 1}], "executor": self.config.executor}

    monkeypatch.setattr(runners, "RetrainingLoop", FakeLoop)
    body = {"cycles": 1, "homes": 2, "days": 3, "seed": 4}
    loop = wait_job(client, client.post("/v1/runs", json=body, headers=AUTH).json()["id"])
    assert loop["status"] == "succeeded" and loop["result"]["executor"] == "inline"
    assert loop["progress"]["detail"] == {"cycle": 1, "step": "generate", "note": "2 homes"}
    run_file = ws.root / loop["result"]["run_file"]
    run_file.parent.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps({"run_id": loop["result"]["run_id"], "started": "now", "cycles": [{}]}))
    assert client.get("/v1/runs").json()[0]["cycles"] == 1
    assert client.get(f"/v1/runs/{loop['result']['run_id']}").json()["started"] == "now"
    assert client.get("/v1/runs/run-none").status_code == 404


def test_registry_routes_deploy_and_roll_back(client: TestClient, ws: Workspace) -> None:
    # device_intelligence: a type no other test here registers (the versions are the tiny logistic model)
    kind = "device_intelligence"
    with ModelRegistry(ws) as registry:
        for _ in range(2):
            model = LogisticModel(["x"], np.array([1.0]), 0.0, "unsaved")
            registry.register(
                kind,
                LogisticTrainer(),
                model,
                params={},
                metrics={"accuracy": 0.9},
                training_cycles=[1],
                lineage_ids=[],
            )
    listed = client.get("/v1/models", params={"model_type": kind}).json()
    assert [v["version"] for v in listed] == ["v1", "v2"]
    assert client.get(f"/v1/models/{kind}/v1").json()["card"] is not None
    assert client.get(f"/v1/models/{kind}/v9").status_code == 404
    for version in ("v1", "v2"):
        deployed = client.post(
            f"/v1/models/{kind}/deploy", json={"version": version, "reason": "test"}, headers=AUTH
        )
        assert deployed.status_code == 200 and deployed.json()["version"] == version
    again = client.post(f"/v1/models/{kind}/deploy", json={"version": "v2", "reason": "again"}, headers=AUTH)
    assert again.status_code == 409 and "already the champion" in again.json()["detail"]
    info = client.get(f"/v1/models/{kind}").json()
    assert info["aliases"] == {"champion": "v2", "challenger": None, "previous": "v1"}
    rolled = client.post(f"/v1/models/{kind}/rollback", json={"reason": "worse"}, headers=AUTH).json()
    assert rolled["action"] == "rollback" and rolled["version"] == "v1"
    history = client.get("/v1/models/events", params={"model_type": kind}).json()
    assert [e["action"] for e in history] == ["deploy", "deploy", "rollback"]
    assert (
        client.post(
            f"/v1/models/{kind}/challenger", json={"version": "v2", "reason": "ab"}, headers=AUTH
        ).json()["action"]
        == "challenger"
    )
    assert (
        client.post(f"/v1/models/{kind}/reject", json={"version": "v2", "reason": "no"}, headers=AUTH).json()[
            "action"
        ]
        == "reject"
    )
    (ws.reports_dir / "ab_pattern_detection_3.json").write_text(
        json.dumps({"winner": None, "decision": "tie", "promoted": False})
    )
    assert client.get("/v1/ab-results").json()[0]["cycle"] == 3
    assert client.get("/v1/ab-results/pattern_detection/3").json()["decision"] == "tie"
    assert client.get("/v1/retraining/runs").json() == []  # the registry exists, no retraining ran


def test_jobs_survive_a_restart_and_interrupted_ones_fail(ws: Workspace, generation: dict[str, Any]) -> None:
    stale = {**generation, "id": "job-stale", "status": "running", "finished": None, "result": None}
    (ws.reports_dir / "jobs" / "job-stale.json").write_text(json.dumps(stale))
    with TestClient(
        create_app(ws, token=TOKEN, executor="inline", workers=1), base_url=BASE, headers=AUTH
    ) as restarted:
        again = restarted.get(f"/v1/jobs/{generation['id']}").json()
        assert again["status"] == "succeeded" and again["result"] == generation["result"]
        interrupted = restarted.get("/v1/jobs/job-stale").json()
        assert interrupted["status"] == "failed" and "interrupted" in interrupted["error"]
        assert "event: done" in restarted.get("/v1/jobs/job-stale/events").text


def test_a_failing_job_keeps_its_error_and_partial_result(tmp_path: Path) -> None:
    def fails(ctx: JobContext) -> dict[str, Any]:
        ctx.report(1, 2, {"step": "half"})
        raise JobFailedError("1 of 2 homes failed", {"done": 1})

    def crashes(ctx: JobContext) -> dict[str, Any]:
        raise RuntimeError("boom")

    app = create_app(Workspace(tmp_path), token=TOKEN, runners={"generation": fails, "cycle": crashes})
    with TestClient(app, base_url=BASE, headers=AUTH) as client:
        job = wait_job(client, client.post("/v1/generations", json={}, headers=AUTH).json()["id"])
        assert (job["status"], job["error"], job["result"]) == ("failed", "1 of 2 homes failed", {"done": 1})
        assert job["progress"]["detail"] == {"step": "half"}
        assert (
            json.loads((tmp_path / "reports" / "jobs" / f"{job['id']}.json").read_text())["status"]
            == "failed"
        )
        assert client.get("/v1/jobs", params={"status": "failed"}).json()["jobs"][0]["id"] == job["id"]
        assert client.get("/v1/models").json() == [] and client.get("/v1/models/events").json() == []
        assert client.get("/v1/models/pattern_detection").status_code == 404  # no registry yet
        assert client.get("/v1/retraining/runs").json() == [] and client.get("/v1/runs").json() == []


def test_only_the_newest_events_of_a_job_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "MAX_EVENTS", 4)

    def steps(ctx: JobContext) -> dict[str, Any]:
        for i in range(10):
            ctx.report(i + 1, 10, {})
        return {}

    manager = jobs.JobManager(Workspace(tmp_path), {"generation": steps}, executor="inline")
    job = manager.submit("generation", {})
    deadline = time.monotonic() + 30
    while manager.get(job.id).status != "succeeded":  # type: ignore[union-attr]
        assert time.monotonic() < deadline
        time.sleep(0.01)
    events, _ = manager.events_after(job.id, 0)
    assert [e.seq for e in events] == [10, 11, 12, 13]  # queued, running, 10 progress, succeeded
    assert events[-1].data["status"] == "succeeded" and events[0].data["done"] == 8
    manager.close()


def test_token_is_generated_once_with_owner_only_permissions(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    token, created = ensure_token(ws, None)
    assert created and len(token) >= 43  # secrets.token_urlsafe(32): 32 random bytes
    assert stat.S_IMODE((tmp_path / "api_token").stat().st_mode) == 0o600
    assert ensure_token(ws, None) == (token, False)
    assert ensure_token(ws, TOKEN) == (TOKEN, False)
    for short in ("", "configured", "x" * 31):
        with pytest.raises(TokenError, match="at least 32"):
            create_app(ws, token=short)


@pytest.mark.parametrize(
    ("text", "mode", "message"),
    [
        ("", 0o600, "is empty"),
        ("\n", 0o600, "is empty"),
        ("abc", 0o600, "has 3 characters; at least 32"),
        ("x" * 43, 0o644, "readable by group or others"),
        ("x" * 43, 0o640, "readable by group or others"),
    ],
)
def test_serve_refuses_a_bad_token_file_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, mode: int, message: str
) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: pytest.fail("served with a bad token"))
    monkeypatch.delenv("HOMESIM_API_TOKEN", raising=False)
    path = tmp_path / "api_token"
    path.write_text(text)
    path.chmod(mode)
    result = CliRunner().invoke(cli_app, ["serve", "--workspace", str(tmp_path)])
    assert result.exit_code == 2 and message in result.output, result.output
    assert result.output.startswith("homesim: error:") and len(result.output.strip().splitlines()) == 1
    assert path.read_text() == text  # never replaced


def test_serve_refuses_a_short_token_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: pytest.fail("served with a bad token"))
    monkeypatch.setenv("HOMESIM_API_TOKEN", "abc")
    result = CliRunner().invoke(cli_app, ["serve", "--workspace", str(tmp_path)])
    assert result.exit_code == 2 and "HOMESIM_API_TOKEN has 3 characters" in result.output


def test_serve_prints_a_new_token_once_and_binds_localhost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    monkeypatch.delenv("HOMESIM_API_TOKEN", raising=False)
    first = CliRunner().invoke(cli_app, ["serve", "--workspace", str(tmp_path)])
    second = CliRunner().invoke(cli_app, ["serve", "--workspace", str(tmp_path), "--port", "9000"])
    assert first.exit_code == second.exit_code == 0, first.output
    token = (tmp_path / "api_token").read_text().strip()
    assert token in first.output and token not in second.output
    assert calls[0]["host"] == "127.0.0.1" and calls[0]["port"] == 8765 and calls[1]["port"] == 9000
    assert f"/login#{token}" in first.output and "WARNING" not in first.output + second.output


def test_serve_warns_loudly_on_a_non_loopback_bind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    monkeypatch.setenv("HOMESIM_API_TOKEN", TOKEN)
    result = CliRunner().invoke(cli_app, ["serve", "--workspace", str(tmp_path), "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert "WARNING: serving on 0.0.0.0" in result.output and "HOMESIM_API_ALLOWED_HOSTS" in result.output
    assert calls[0]["host"] == "0.0.0.0" and calls[0]["timeout_graceful_shutdown"] > 0
