"""Scale-out: the simulation cycle on a dask.distributed LocalCluster (worker processes, so every task and
result crosses a pickle boundary) gives the same records and metrics as the inline run; generation through
the same cluster gives byte-identical homes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from homesim.datasets.executors import DaskExecutor
from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.simulation.cycle import CycleReport, SimulationCycle
from homesim.simulation.sink import InMemorySink
from homesim.workspace import Workspace

CONFIG = GenerationConfig(homes=2, days=5, seed=21, start="2025-02-03")


@pytest.fixture(scope="module")
def cluster() -> Iterator[DaskExecutor]:
    executor = DaskExecutor(None, 2)  # a LocalCluster of 2 worker processes
    yield executor
    executor.close()


def simulate(
    ws: Workspace, dataset_id: str, executor: DaskExecutor | str
) -> tuple[CycleReport, InMemorySink]:
    sink = InMemorySink()
    with SimulationCycle(ws, sink, executor=executor, workers=1) as sim:
        return sim.run(dataset_id, 1), sink


def test_generation_and_cycle_on_a_local_cluster_equal_the_inline_run(
    tmp_path_factory: pytest.TempPathFactory, cluster: DaskExecutor
) -> None:
    local_ws, dask_ws = (Workspace(tmp_path_factory.mktemp(name)) for name in ("inline", "dask"))
    with DataGenerationManager(local_ws, "inline") as manager:
        local = manager.generate(CONFIG)
    with DataGenerationManager(dask_ws, cluster) as manager:
        remote = manager.generate(CONFIG)
    assert remote.manifest.executor == "dask[local]" and remote.count("generated") == 2
    assert [h.manifest.files for h in remote.homes if h.manifest] == [
        h.manifest.files for h in local.homes if h.manifest
    ]

    dataset = local.manifest.dataset_id
    local_report, local_sink = simulate(local_ws, dataset, "inline")
    dask_report, dask_sink = simulate(dask_ws, dataset, cluster)
    assert dask_report.executor == "dask[local]"
    assert dask_report.errors == local_report.errors  # the same per-home errors, if any, wherever run
    assert dask_report.records == local_report.records > 0
    assert dask_report.stages == local_report.stages
    by_id = {r.record_id: r for r in local_sink.records}
    assert sorted(by_id) == sorted(r.record_id for r in dask_sink.records)
    assert all(r == by_id[r.record_id] for r in dask_sink.records)
