"""The job queue's limits and cancel: a bounded queue (429), a bounded cost per job (422), jobs listed with
their cost, `DELETE /v1/jobs/{id}` (a queued job at once, a running one at its next step, its worker pool
with it), and the service's shutdown cancelling what runs. Stub runners, except one real generation on
worker processes whose workers must be gone once it is cancelled."""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from homesim.api import create_app
from homesim.api.jobs import JobContext, JobManager
from homesim.api.runners import RUNNERS
from homesim.workspace import Workspace

TOKEN = "jobs-token-0123456789-0123456789-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
WAIT_S = 60.0


def wait_status(client: TestClient, job_id: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached {statuses}")


class Gate:
    """A runner that reports progress until released or cancelled (it stops at the report after a cancel)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.stopped = threading.Event()

    def __call__(self, ctx: JobContext) -> dict[str, Any]:
        try:
            step = 0
            while not self.release.wait(0.02):
                step += 1
                ctx.report(step, None, {"step": step})
            return {"steps": step}
        finally:
            self.stopped.set()


@pytest.fixture
def gate() -> Iterator[Gate]:
    runner = Gate()
    yield runner
    runner.release.set()


@pytest.fixture
def app(tmp_path: Path, gate: Gate) -> FastAPI:
    return create_app(
        Workspace(tmp_path),
        token=TOKEN,
        executor="inline",
        runners={"generation": gate, "run": gate},
        max_jobs=2,
        max_job_cost=1000,
    )


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://localhost", headers=AUTH) as test_client:
        yield test_client


def test_the_queue_is_bounded_and_each_job_has_a_cost(client: TestClient, gate: Gate) -> None:
    first = client.post("/v1/generations", json={"homes": 10, "days": 7})
    second = client.post("/v1/runs", json={"cycles": 2, "homes": 5, "days": 10})
    assert first.status_code == second.status_code == 202
    assert (first.json()["cost"], second.json()["cost"]) == (70, 100)
    full = client.post("/v1/generations", json={"homes": 1, "days": 1})
    assert full.status_code == 429 and full.json()["error"] == "too many jobs"
    assert full.headers["retry-after"] == "30" and "DELETE /v1/jobs/" in full.json()["detail"]
    listed = client.get("/v1/jobs").json()["jobs"]
    assert {j["id"]: j["cost"] for j in listed} == {first.json()["id"]: 70, second.json()["id"]: 100}
    gate.release.set()
    for job in listed:
        assert wait_status(client, job["id"], {"succeeded"})["status"] == "succeeded"
    assert client.post("/v1/generations", json={"homes": 1, "days": 1}).status_code == 202  # room again


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/generations", {"homes": 1_000_000, "days": 3660}),  # the audit's 7.5 GB request
        ("/v1/generations", {"homes": 101, "days": 10}),
        ("/v1/runs", {"cycles": 11, "homes": 10, "days": 10}),
    ],
)
def test_a_job_over_the_cost_bound_is_refused_and_never_starts(
    client: TestClient, path: str, body: dict[str, int]
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == 422 and response.json()["error"] == "job too large"
    assert "HOMESIM_API_MAX_JOB_COST" in response.json()["detail"]
    assert client.get("/v1/jobs").json()["jobs"] == []


def test_delete_cancels_a_running_job_and_a_queued_one(client: TestClient, gate: Gate) -> None:
    running = client.post("/v1/generations", json={"homes": 1, "days": 1}).json()["id"]
    wait_status(client, running, {"running"})
    queued = client.post("/v1/generations", json={"homes": 1, "days": 2}).json()["id"]
    assert client.get(f"/v1/jobs/{queued}").json()["status"] == "queued"  # one job runs at a time

    dropped = client.delete(f"/v1/jobs/{queued}")
    assert dropped.status_code == 202 and dropped.json()["status"] == "cancelled"
    asked = client.delete(f"/v1/jobs/{running}")
    assert asked.status_code == 202 and asked.json()["cancel_requested"] is True
    done = wait_status(client, running, {"cancelled", "succeeded", "failed"})
    assert done["status"] == "cancelled" and done["error"] == "cancelled: cancelled by a DELETE request"
    assert gate.stopped.wait(WAIT_S) and not gate.release.is_set()  # stopped by the cancel, not released
    assert client.get(f"/v1/jobs/{queued}").json()["status"] == "cancelled"  # and it never ran
    again = client.delete(f"/v1/jobs/{running}")
    assert again.status_code == 409 and "already ended (cancelled)" in again.json()["detail"]
    assert client.delete("/v1/jobs/job-none").status_code == 404
    assert client.get("/v1/jobs", params={"status": "cancelled"}).json()["jobs"][0]["id"] in (queued, running)


def test_the_service_cancels_running_jobs_when_it_stops(tmp_path: Path, gate: Gate) -> None:
    app = create_app(Workspace(tmp_path), token=TOKEN, executor="inline", runners={"generation": gate})
    with TestClient(app, base_url="http://localhost", headers=AUTH) as client:
        job_id = client.post("/v1/generations", json={"homes": 1, "days": 1}).json()["id"]
        wait_status(client, job_id, {"running"})
    # leaving the block ran the app's shutdown: the job was cancelled and stopped, not left running
    assert gate.stopped.is_set() and not gate.release.is_set()
    saved = (tmp_path / "reports" / "jobs" / f"{job_id}.json").read_text()
    assert '"status":"cancelled"' in saved.replace(" ", "") and "the service is stopping" in saved


def test_cancelling_a_generation_stops_its_worker_processes(tmp_path: Path) -> None:
    """A real generation on a process pool: cancelled after its first home, it ends `cancelled` with no
    worker process left (the pool is shut down as the cancel unwinds the runner)."""
    manager = JobManager(Workspace(tmp_path), RUNNERS, executor="process", workers=1)
    job = manager.submit("generation", {"homes": 6, "days": 3, "seed": 3}, cost=18)
    deadline = time.monotonic() + 120
    while (current := manager.get(job.id)) is not None and current.progress.done < 1:
        assert time.monotonic() < deadline and current.status in ("queued", "running"), current
        time.sleep(0.05)
    manager.cancel(job.id)
    manager.close(grace_s=120)
    final = manager.get(job.id)
    assert final is not None and final.status == "cancelled", final
    assert final.progress.done < 6
    assert multiprocessing.active_children() == []


def _descendants(pid: int) -> set[int]:
    """Every process below `pid` (from /proc: each process's parent is field 4 of its stat line)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_sigterm_of_serve_cancels_its_job_and_leaves_no_worker(tmp_path: Path) -> None:
    """`homesim serve` with a generation running on worker processes: SIGTERM ends the service, the job
    reads `cancelled`, and no worker outlives it (the audit found one blocked on a pipe)."""
    import json
    import os
    import signal
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HOMESIM_API_TOKEN": TOKEN, "HOMESIM_LOG_LEVEL": "warning"}
    command = [sys.executable, "-c", "from homesim.cli import main; main()", "serve", "--port", str(port)]
    flags = ["--workspace", str(tmp_path), "--executor", "process", "--workers", "2"]
    server = subprocess.Popen([*command, *flags], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def call(path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {**AUTH, "Content-Type": "application/json"}
        with urllib.request.urlopen(urllib.request.Request(base + path, data, headers), timeout=10) as r:
            answer: dict[str, Any] = json.loads(r.read())
            return answer

    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                call("/healthz")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "serve did not start"
                time.sleep(0.2)
        job_id = call("/v1/generations", {"homes": 40, "days": 5, "seed": 9})["id"]
        while call(f"/v1/jobs/{job_id}")["progress"]["done"] < 1:
            assert time.monotonic() < deadline + WAIT_S, "the generation made no progress"
            time.sleep(0.1)
        workers = _descendants(server.pid)
        assert workers, "the generation runs on worker processes"
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal: the exit status says SIGTERM
        assert server.wait(WAIT_S) in (0, -signal.SIGTERM, 128 + signal.SIGTERM)  # (or as SystemExit(143))
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    gone_by = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < gone_by:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
    job = json.loads((tmp_path / "reports" / "jobs" / f"{job_id}.json").read_text())
    assert job["status"] == "cancelled" and job["progress"]["done"] < 40, job
