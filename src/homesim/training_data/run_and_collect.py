"""`run_and_collect`: one simulation cycle over a dataset with its records collected into the workspace's
training-data store, validated and traced as they arrive.

The one wiring of `SimulationCycle` to `TrainingDataCollector` that `homesim simulate`, the API's cycle job
and the retraining loop all use: the store, the lineage database and the truth of each home come from the
workspace, and the lineage source from the dataset's manifest.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from homesim.datasets.executors import Executor
from homesim.schema.records import StageName
from homesim.simulation.cycle import (
    DEFAULT_STAGES,
    CycleReport,
    ProgressFn,
    SimulationCycle,
    Stage,
    find_dataset,
    write_cycle_report,
)
from homesim.simulation.model_provider import ModelProvider
from homesim.training_data.collector import TrainingDataCollector
from homesim.training_data.exporters import workspace_truths
from homesim.training_data.lineage_tracker import LineageTracker, Source
from homesim.workspace import Workspace


@dataclass(frozen=True)
class CollectedCycle:
    report: CycleReport
    #: Per collection point, the share of its records accepted in this run.
    pass_rates: dict[str, float]


def run_and_collect(
    workspace: Workspace,
    dataset: str | Path,
    cycle: int,
    *,
    executor: Executor | str,
    workers: int,
    models: ModelProvider | None = None,
    stages: Sequence[tuple[StageName, Stage]] = DEFAULT_STAGES,
    progress: ProgressFn | None = None,
) -> CollectedCycle:
    """Simulate every home of `dataset` as cycle `cycle` (writing the cycle report) and collect its records.

    Raises FileNotFoundError when the dataset has no manifest.
    """
    manifest = find_dataset(workspace, dataset)
    source = Source(manifest.dataset_id, manifest.generator_version, manifest.config_hash)
    # The tracker is closed (its WAL checkpointed) when the cycle ends, not whenever it is garbage-collected.
    with (
        LineageTracker(workspace.lineage_db) as lineage,
        TrainingDataCollector(
            workspace.training_store,
            truth_of=functools.cache(workspace_truths(workspace)),
            lineage=lineage,
            source=source,
        ) as sink,
        SimulationCycle(
            workspace, sink, models=models, executor=executor, workers=workers, stages=stages
        ) as sim,
    ):
        report = sim.run(dataset, cycle, progress=progress, write=False)
        pass_rates = sink.pass_rates()
    # Only now is every record committed (the collector flushes on close): the report marks the cycle done.
    write_cycle_report(workspace, report)
    return CollectedCycle(report, pass_rates)
