"""Schemathesis against the published OpenAPI spec: generated requests to every operation, valid and
malformed (negative cases), with the token, never get a server error (5xx), and a request answered with an
error never starts a job. Jobs run stub runners here (the HTTP layer is what is under test; the real
runners are covered in test_api.py), over a workspace holding one small home and one simulated cycle.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from homesim.api import create_app
from homesim.api.jobs import JobContext
from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.simulation.cycle import SimulationCycle
from homesim.training_data.collector import TrainingDataCollector
from homesim.workspace import Workspace

TOKEN = "schemathesis-token-0123456789-0123456789"


def stub(ctx: JobContext) -> dict[str, Any]:
    ctx.report(1, 1, {"stub": True})
    return {"stub": True}


@schemathesis.serializer("application/zip")
def zip_body(ctx: Any, value: Any) -> bytes:
    """The `binary` bodies of POST /v1/ha/import go out as they are (they are bytes, or text to encode)."""
    return value if isinstance(value, bytes) else str(value).encode()


# The schema is loaded when pytest collects this module, so the app exists then; its workspace is filled
# (and removed) by the module fixture below, before and after the generated requests.
_WORKSPACE = tempfile.TemporaryDirectory(prefix="homesim-schemathesis-")
_WS = Workspace(Path(_WORKSPACE.name))
_KINDS = ("generation", "cycle", "ground_truth_verify", "retrain", "run", "ab")
# The ASGI client sends Host: testserver; the bound on queued jobs is lifted (the stubs finish at once, but
# a burst of accepted requests may outrun them and 429 would hide what a request did).
app = create_app(
    _WS,
    token=TOKEN,
    executor="inline",
    runners=dict.fromkeys(_KINDS, stub),
    hosts=["testserver"],
    max_jobs=100_000,
)
# The examples and fuzzing phases, 8 cases per operation: well under a minute for all operations.
CONFIG = SchemathesisConfig.from_dict(
    {
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "generation": {"max-examples": 8, "mode": "all"},
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)


@pytest.fixture(scope="module", autouse=True)
def workspace_with_data() -> Iterator[None]:
    with DataGenerationManager(_WS, "inline") as manager:
        result = manager.generate(GenerationConfig(homes=1, days=3, seed=5))
    with (
        TrainingDataCollector(_WS.training_store) as sink,
        SimulationCycle(_WS, sink, executor="inline") as sim,
    ):
        sim.run(result.manifest.dataset_id, 1)
    yield
    _WORKSPACE.cleanup()


@pytest.mark.slow
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors_and_no_job_from_a_malformed_request(case: Any) -> None:
    jobs = app.state.api.jobs
    before = len(jobs.jobs(limit=1_000_000))
    response = case.call(headers={"Authorization": f"Bearer {TOKEN}"})
    case.validate_response(response, checks=[not_a_server_error])
    started = len(jobs.jobs(limit=1_000_000)) - before
    starts = case.method.upper() == "POST" and response.status_code == 202
    assert started == (1 if starts else 0), (case.method, case.path, response.text)
