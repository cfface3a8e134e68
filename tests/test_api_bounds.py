"""Every API route with bad values: a 4xx JSON error, never a 500, never a job started, never a huge or
path-leaking error body — and one request's memory within the bound docs/api.md states, whatever its
content (alias bombs, deep nesting, huge numbers, thousands of errors, zip bombs, a million lines).

The table is `ROUTES` (each route with a request that is valid, or nearly so) × `BAD` (values put in one
field, parameter or path segment at a time). The workspace holds one small home and one simulated cycle,
so requests reach past the first checks; jobs run a stub (the HTTP layer is what is under test).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from homesim.api import create_app
from homesim.api.errors import MAX_DETAIL_CHARS, clean
from homesim.api.jobs import JobContext
from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.simulation.cycle import SimulationCycle
from homesim.training_data.collector import TrainingDataCollector
from homesim.workspace import Workspace

TOKEN = "bounds-token-0123456789-0123456789-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
KINDS = ("generation", "cycle", "ground_truth_verify", "retrain", "run", "ab")
#: The bound docs/api.md states for one request's memory (peak RSS above the idle service).
MEMORY_BOUND_MB = 512
#: Largest error body: details are cut to a few hundred characters, twenty items.
MAX_ERROR_BYTES = 16_000

#: Bad values, each put in one field at a time.
BAD: tuple[Any, ...] = (
    -1,
    10**30,
    -(10**30),
    1e308,
    "NaN",
    "x" * 5000,
    None,
    [],
    {},
    {"a": [[[{"b": [[[]]]}]]]},
    "../../../etc/passwd",
    "\u0000",
    True,
    "",
)
#: Values no numeric field accepts.
NOT_A_COUNT: tuple[Any, ...] = (-1, -(10**30), "x" * 5000, [], {}, "\u0000", "")


def stub(ctx: JobContext) -> dict[str, Any]:
    return {}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    workspace = Workspace(tmp_path_factory.mktemp("bounds"))
    with DataGenerationManager(workspace, "inline") as manager:
        result = manager.generate(GenerationConfig(homes=1, days=3, seed=5))
    with (
        TrainingDataCollector(workspace.training_store) as sink,
        SimulationCycle(workspace, sink, executor="inline") as sim,
    ):
        sim.run(result.manifest.dataset_id, 1)
    return workspace


@pytest.fixture(scope="module")
def app(ws: Workspace) -> FastAPI:
    # No bound on queued jobs here: a bad value the models coerce (True for 1) may start a stub job.
    return create_app(ws, token=TOKEN, executor="inline", runners=dict.fromkeys(KINDS, stub), max_jobs=10**6)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://localhost", headers=AUTH) as test_client:
        yield test_client


def routes(ws: Workspace) -> list[tuple[str, str, dict[str, str], dict[str, Any], dict[str, Any]]]:
    """(method, path template, path values, query, JSON body) of a valid-ish request to every route."""
    dataset = next(d.path.name for d in ws.datasets())
    home = next(p.name for p in ws.homes_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    deploy = {"version": "v1", "reason": "why"}
    return [
        ("POST", "/login", {}, {}, {"token": "x" * 40}),
        ("GET", "/reports/{path}", {"path": "cycle_1.md"}, {"download": "false"}, {}),
        ("POST", "/v1/reports", {}, {}, {"cycle": 1, "run_id": None}),
        ("POST", "/v1/generations", {}, {}, {"homes": 1, "days": 1, "seed": 1, "noise": 1.0}),
        ("POST", "/v1/cycles", {}, {}, {"dataset_id": dataset, "cycle": 2}),
        ("GET", "/v1/jobs", {}, {"kind": "run", "status": "failed", "limit": "5"}, {}),
        ("GET", "/v1/jobs/{job_id}", {"job_id": "job-x"}, {}, {}),
        ("DELETE", "/v1/jobs/{job_id}", {"job_id": "job-x"}, {}, {}),
        ("GET", "/v1/homes", {}, {"offset": "0", "limit": "5"}, {}),
        ("GET", "/v1/homes/{home_key}", {"home_key": home}, {}, {}),
        ("GET", "/v1/homes/{home_key}/files/{name}", {"home_key": home, "name": "home.json"}, {}, {}),
        ("GET", "/v1/datasets/{dataset_id}", {"dataset_id": dataset}, {}, {}),
        ("POST", "/v1/datasets/{dataset_id}/ground-truth/verify", {"dataset_id": dataset}, {}, {}),
        ("DELETE", "/v1/cache", {}, {"confirm": "false"}, {}),
        ("POST", "/v1/exports", {}, {}, {"cycle": 1, "model_type": "pattern_detection", "format": "jsonl"}),
        ("GET", "/v1/exports/{scope}/{model_type}/{name}", {"scope": "cycle_1", "model_type": "gnn_synergy",
                                                            "name": "metadata.json"}, {}, {}),
        ("POST", "/v1/exports/prune", {}, {}, {"keep_cycles": 5}),
        ("GET", "/v1/lineage/records", {}, {"cycle": "1"}, {}),
        ("GET", "/v1/lineage/records/{record_id}", {"record_id": "r"}, {}, {}),
        ("POST", "/v1/ha/validate", {}, {}, {"yaml": "- alias: a\n", "home_key": home}),
        ("POST", "/v1/ha/exports", {}, {}, {"home_key": home, "recorder": False, "statistics": False}),
        ("GET", "/v1/models", {}, {"model_type": "gnn_synergy"}, {}),
        ("GET", "/v1/models/{model_type}/{version}", {"model_type": "gnn_synergy", "version": "v1"}, {}, {}),
        ("POST", "/v1/models/{model_type}/deploy", {"model_type": "gnn_synergy"}, {}, deploy),
        ("POST", "/v1/models/{model_type}/rollback", {"model_type": "gnn_synergy"}, {}, {"reason": "why"}),
        ("GET", "/v1/ab-results/{model_type}/{cycle}", {"model_type": "gnn_synergy", "cycle": "1"}, {}, {}),
        ("POST", "/v1/retraining", {}, {}, {"model_type": "pattern_detection", "force": False}),
        ("POST", "/v1/runs", {}, {}, {"cycles": 1, "homes": 2, "days": 1, "seed": 1}),
        ("GET", "/v1/runs/{run_id}", {"run_id": "run-x"}, {}, {}),
        ("POST", "/v1/ab-tests", {}, {}, {"model_type": "pattern_detection", "dataset_id": dataset,
                                         "cycle": 1, "share": 0.5, "alpha": 0.05}),
        ("POST", "/v1/real-homes/imports", {}, {"format": "casas", "home_key": "real-x", "timezone": "UTC"},
         {}),
    ]  # fmt: skip


def _cases(ws: Workspace) -> Iterator[tuple[str, str, dict[str, Any], Any]]:
    """(method, url, request kwargs, the bad value) for every route × place × bad value."""
    for method, template, path, query, body in routes(ws):

        def request(
            path: dict[str, str] = path,
            query: dict[str, Any] = query,
            body: dict[str, Any] = body,
            template: str = template,
        ) -> tuple[str, dict[str, Any]]:
            url = template.format(**path)
            kwargs: dict[str, Any] = {"params": query}
            if body:
                kwargs["content"] = json.dumps(body).encode()
                kwargs["headers"] = {"Content-Type": "application/json"}
            return url, kwargs

        for name in path:
            for value in ("..", "%00", "x" * 5000, "-1", "9" * 40, "%2e%2e%2fapi_token"):
                url, kwargs = request(path={**path, name: value})
                yield method, url, kwargs, value
        for name in query:
            for value in BAD:
                url, kwargs = request(query={**query, name: "" if value is None else str(value)})
                yield method, url, kwargs, value
        for name in body:
            for value in BAD:
                url, kwargs = request(body={**body, name: value})
                yield method, url, kwargs, value
        for junk in ({**body, "unknown_field": 1}, [body], "text", None):
            url, kwargs = request()
            kwargs.update(content=json.dumps(junk).encode(), headers={"Content-Type": "application/json"})
            yield method, url, kwargs, junk


def test_every_route_answers_bad_values_with_a_small_json_4xx(client: TestClient, ws: Workspace) -> None:
    jobs = client.app.state.api.jobs  # type: ignore[attr-defined]
    tried = refused = 0
    for method, url, kwargs, _ in _cases(ws):
        before = len(jobs.jobs(limit=10**9))
        response = client.request(method, url, **kwargs)
        what = f"{method} {url[:80]} {str(kwargs)[:200]}"
        assert response.status_code < 500, (what, response.text[:500])
        started = len(jobs.jobs(limit=10**9)) - before
        assert started == (1 if method == "POST" and response.status_code == 202 else 0), what
        tried += 1
        if response.status_code < 400:
            continue
        refused += 1
        assert len(response.content) <= MAX_ERROR_BYTES, what
        error = response.json()
        assert set(error) == {"error", "detail"}, what
        assert str(ws.root) not in response.text and "/tmp/" not in response.text, (what, response.text)
    assert tried >= 800 and refused >= 0.9 * tried, (tried, refused)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/generations", "homes"),
        ("/v1/generations", "days"),
        ("/v1/generations", "seed"),
        ("/v1/runs", "cycles"),
        ("/v1/runs", "homes"),
        ("/v1/runs", "days"),
        ("/v1/cycles", "cycle"),
        ("/v1/exports/prune", "keep_cycles"),
    ],
)
def test_no_count_takes_a_value_that_is_not_a_count(client: TestClient, path: str, field: str) -> None:
    for value in NOT_A_COUNT:
        response = client.post(path, json={field: value})
        assert response.status_code == 422, (field, value, response.text)
        assert ["body", field] in [e["loc"][:2] for e in response.json()["detail"]], response.text


def test_bounds_are_declared_once() -> None:
    """The API's counts use the config models' bounds, not numbers of their own."""
    from homesim.api import routes_jobs, routes_retraining, routes_site, routes_training
    from homesim.generation.config import MAX_DAYS, MAX_HOMES
    from homesim.retraining.loop import LoopConfig
    from homesim.schema.records import MAX_CYCLE

    def le(model: Any, field: str) -> Any:
        return next(m.le for m in model.model_fields[field].metadata if hasattr(m, "le"))

    assert le(routes_jobs.CycleRequest, "cycle") == le(routes_retraining.AbRequest, "cycle") == MAX_CYCLE
    assert le(routes_site.ReportRequest, "cycle") == le(routes_training.ExportRequest, "cycle") == MAX_CYCLE
    assert le(routes_retraining.RunRequest, "homes") == le(LoopConfig, "homes") == MAX_HOMES
    assert le(routes_retraining.RunRequest, "days") == le(LoopConfig, "days") == MAX_DAYS
    for source in Path(routes_jobs.__file__).parent.glob("routes_*.py"):
        text = source.read_text()
        assert not any(f"le={n}" in text for n in ("1_000_000", "3660", "100_000", "2**63")), source


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _registries_at_the_bound() -> bytes:
    """The test config dir's registries, its entity registry padded with `{}` entries to just under
    MAX_REGISTRY_BYTES: parsed whole (millions of dicts) before its first entry is refused."""
    from homesim.api.routes_ha import MAX_REGISTRY_BYTES

    storage = Path(__file__).parent / "data" / "real_homes" / "ha_config" / ".storage"
    members = {f".storage/{f.name}": f.read_bytes() for f in storage.iterdir()}
    envelope = json.loads(members[".storage/core.entity_registry"])
    envelope["data"]["entities"] = "@"
    head, tail = json.dumps(envelope).encode().split(b'"@"')
    entries = (MAX_REGISTRY_BYTES - len(head) - len(tail) - 4) // 3
    members[".storage/core.entity_registry"] = head + b"[" + b"{}," * entries + b"{}]" + tail
    return _zip(members)


_HOSTILE = textwrap.dedent(
    """
    import io, json, sys, tempfile, zipfile
    from pathlib import Path
    from fastapi.testclient import TestClient
    from homesim.api import create_app
    from homesim.workspace import Workspace

    token = "t" * 43
    app = create_app(Workspace(Path(tempfile.mkdtemp())), token=token, executor="inline", runners={})
    client = TestClient(app, base_url="http://localhost", headers={"Authorization": "Bearer " + token})
    client.get("/healthz")
    # RSS now (kB), and the peak reset to it (Linux: "5" > clear_refs resets VmHWM): neither the imports'
    # transient peak nor anything before the requests counts as a request's growth.
    Path("/proc/self/clear_refs").write_text("5")
    status = Path("/proc/self/status").read_text()
    idle = int(status.split("VmRSS:")[1].split()[0])
    statuses = []
    for method, url, params, content, kind in json.loads(Path(sys.argv[1]).read_text()):
        data = bytes.fromhex(content)
        r = client.request(method, url, params=params, content=data, headers={"Content-Type": kind})
        statuses.append([url, r.status_code, len(r.content)])
    peak = int(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0])
    print(json.dumps({"peak_mb": (peak - idle) / 1024, "statuses": statuses}))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the process's RSS from /proc")
def test_one_request_stays_within_the_memory_bound_whatever_its_content(tmp_path: Path) -> None:
    """Hostile bodies at the limits, in a fresh process: the peak RSS above the idle service stays under
    MEMORY_BOUND_MB, and each is refused (or, for the history at the line bound, imported)."""
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefg", "bcdefgh", strict=True)
    )
    casas_line = b"2010-11-04 00:03:50.209589 M003 ON\n"
    # 187 kB of YAML whose alias repeats a 100 kB string in 4,000 issues (once 400 MB of messages)
    echo = f"- alias: a\n  triggers: &s '{'x' * 100_000}'\n" + "".join(
        f"- alias: b{i}\n  triggers: *s\n  actions: *s\n" for i in range(2000)
    )
    json_kind, zip_kind = "application/json", "application/zip"
    requests = [
        ("POST", "/v1/ha/validate", {}, json.dumps({"yaml": bomb}).encode(), json_kind),
        ("POST", "/v1/ha/validate", {}, json.dumps({"yaml": "[" * 300_000}).encode(), json_kind),
        ("POST", "/v1/ha/validate", {}, json.dumps({"yaml": echo}).encode(), json_kind),
        ("POST", "/v1/generations", {}, b"[" * 999_000, json_kind),
        ("POST", "/v1/generations", {}, b'{"homes": ' + b"9" * 999_000 + b"}", json_kind),
        ("POST", "/v1/generations", {}, b"[" + b"{}," * 333_000 + b"{}]", json_kind),
        ("POST", "/v1/generations", {}, json.dumps({"home_types": {str(i): "x" for i in range(80_000)}})
         .encode()[:999_000], json_kind),
        ("POST", "/v1/ha/import", {}, _registries_at_the_bound(), zip_kind),
        ("POST", "/v1/ha/import", {}, _zip({f"f{i}": b"\n" * 2_000_000 for i in range(4)}), zip_kind),
        ("POST", "/v1/real-homes/imports", {"format": "casas", "home_key": "real-a"},
         _zip({"a.txt": b"\n" * 499_999}), zip_kind),
        ("POST", "/v1/real-homes/imports", {"format": "casas", "home_key": "real-b"},
         _zip({"a.txt": casas_line * 499_999}), zip_kind),
    ]  # fmt: skip
    # The light requests share one fresh process; each heavy one (the last four) gets its own, so every
    # peak is one request's, as the bound is stated (requests in one process add up their heap growth).
    groups = [requests[:-4], *([r] for r in requests[-4:])]
    result: dict[str, Any] = {"peak_mb": 0.0, "statuses": []}
    for n, group in enumerate(groups):
        table = tmp_path / f"requests-{n}.json"
        table.write_text(json.dumps([[m, u, p, c.hex(), k] for m, u, p, c, k in group]))
        done = subprocess.run(
            [sys.executable, "-c", _HOSTILE, str(table)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        one = json.loads(done.stdout.strip().splitlines()[-1])
        result = {
            "peak_mb": max(result["peak_mb"], one["peak_mb"]),
            "statuses": result["statuses"] + one["statuses"],
        }
    codes = [status for _, status, _ in result["statuses"]]
    assert codes[:-1] == [200, 200, 200, 400, 400, 422, 422, 400, 400, 400] and codes[-1] == 201, result
    assert all(size < MAX_ERROR_BYTES for _, status, size in result["statuses"] if status >= 400)
    assert result["statuses"][2][2] < 1_000_000  # the echoing YAML's answer: 1,001 short issues
    assert result["peak_mb"] < MEMORY_BOUND_MB, result


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=50)
)
def test_error_details_are_bounded(detail: Any) -> None:
    cleaned = clean(detail)
    text = json.dumps(cleaned)

    def strings(value: Any) -> Iterator[str]:
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            for item in value:
                yield from strings(item)
        elif isinstance(value, dict):
            for key, item in value.items():
                yield key
                yield from strings(item)

    assert all(len(s) <= MAX_DETAIL_CHARS for s in strings(cleaned)), text[:300]


@pytest.mark.parametrize(
    ("detail", "shown"),
    [
        (
            "cannot read /tmp/homesim-x/upload/.storage/core.device_registry: bad",
            "cannot read …/core.device_registry: bad",
        ),
        ("run a simulation cycle first (POST /v1/cycles)", "run a simulation cycle first (POST /v1/cycles)"),
        (
            f"{Path.home()}/ws/data/homes/h1/ground_truth.json: sha256 differs",
            "…/ground_truth.json: sha256 differs",
        ),
        ("x" * 10_000, "x" * (MAX_DETAIL_CHARS - 1) + "…"),
    ],
)
def test_error_details_lose_absolute_paths(detail: str, shown: str) -> None:
    assert clean(detail) == shown
    assert clean({"k": [detail] * 30})["k"][-1] == "… and 10 more"
