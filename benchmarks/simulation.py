"""Simulation-cycle benchmark: generate N homes × D days, then time one cycle of every stage over them.

Reports the cycle's wall time, records/s, records per stage, seconds per stage (summed over workers) and
the per-stage baseline metrics. Defaults are the acceptance run (100 homes × 90 days on 2 workers); pass
smaller numbers for a quick look, e.g. `python benchmarks/simulation.py --homes 10 --days 30`.
Generation time is reported separately and is not part of the cycle's numbers. Besides wall time, the
CPU seconds of the cycle (parent and workers, user + system) are reported: on a shared machine they are the
steadier figure, and records per CPU second is what one core does.

`--warm K` instead runs one worker's path over the dataset's first K homes in this process, after one warm-up
home (no worker start-up or imports): CPU seconds per stage, the rest of `run_home` (loading the home,
scoring), and pickling the outcome as a worker sends it (`--profile` adds cProfile's top functions). That is
the per-home cost a large run pays, which a small run's start-up hides; docs/benchmarks.md keeps its table.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pickle
import pstats
import resource
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.schema.records import AnyRecord
from homesim.simulation.cycle import DEFAULT_STAGES, HomeTask, SimulationCycle, Stage, run_home
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import ModelProvider, NoModels
from homesim.simulation.sink import InMemorySink
from homesim.workspace import Workspace


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--homes", type=int, default=100)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--executor", default="process")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workspace", type=Path, default=None, help="default: a fresh temporary folder")
    parser.add_argument(
        "--warm", type=int, default=0, help="run K homes' worker path in this process instead"
    )
    parser.add_argument("--profile", action="store_true", help="with --warm: print cProfile's top functions")
    args = parser.parse_args(argv)
    config = GenerationConfig(homes=args.homes, days=args.days, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="homesim-bench-") as tmp:
        workspace = Workspace(args.workspace or Path(tmp))
        started = time.perf_counter()
        with DataGenerationManager(workspace, "process", workers=args.workers) as manager:
            manifest = manager.generate(config).manifest
        dataset = manifest.dataset_id
        generation_s = time.perf_counter() - started
        if args.warm:
            keys = list(manifest.home_keys)[: args.warm]
            tasks = [HomeTask(workspace.home_dir(key), config, 0, DEFAULT_STAGES, NoModels()) for key in keys]
            warm_row = warm(tasks, args.profile)
            json.dump({"homes": len(tasks), "days": args.days, **warm_row}, sys.stdout, indent=2)
            print()
            return warm_row
        sink = InMemorySink()
        before = _cpu_s()
        with SimulationCycle(workspace, sink, executor=args.executor, workers=args.workers) as cycle:
            report = cycle.run(dataset, 0)
        cpu_s = _cpu_s() - before  # the workers are joined when the cycle closes: their time is counted
    report_row = {
        "homes": report.homes,
        "days": args.days,
        "workers": args.workers,
        "executor": report.executor,
        "generation_s": round(generation_s, 1),
        "cycle_wall_s": round(report.wall_s, 1),
        "records": report.records,
        "records_per_s": round(report.records_per_s),
        "cycle_cpu_s": round(cpu_s, 1),
        "records_per_cpu_s": round(report.records / cpu_s),
        "errors": len(report.errors),
        "stage_seconds": {k: round(v, 1) for k, v in report.stage_seconds.items()},
        "stages": {
            m.stage: {"records": m.records, "precision": m.precision, "recall": m.recall, "f1": m.f1}
            for m in report.stages
        },
    }
    json.dump(report_row, sys.stdout, indent=2)
    print()
    return report_row


def warm(tasks: Sequence[HomeTask], profile: bool) -> dict[str, object]:
    """One worker's path over `tasks` in this process, after a warm-up home: CPU seconds per stage, the rest
    of `run_home`, and pickling each outcome (as the worker sends it back)."""
    spent: dict[str, float] = {}

    def timed(name: str, stage: Stage) -> Stage:
        def run(view: HomeView, models: ModelProvider, cycle: int) -> Sequence[AnyRecord]:
            started = time.process_time()
            try:
                return stage(view, models, cycle)
            finally:
                spent[name] = spent.get(name, 0.0) + time.process_time() - started

        return run

    run_home(tasks[-1])  # imports, caches and first-call costs out of the figures
    stages = tuple((name, timed(name, stage)) for name, stage in DEFAULT_STAGES)
    profiler = cProfile.Profile(time.process_time) if profile else None
    records = 0
    pickle_s = 0.0
    started = time.process_time()
    for task in tasks:
        timed_task = HomeTask(task.directory, task.config, task.cycle, stages, task.models)
        outcome = profiler.runcall(run_home, timed_task) if profiler else run_home(timed_task)
        records += outcome.n_records
        begun = time.process_time()
        pickle.dumps(outcome)
        pickle_s += time.process_time() - begun
    total = time.process_time() - started
    if profiler is not None:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
    home_s = total - pickle_s
    return {
        "records": records,
        "cpu_s": round(total, 2),
        "records_per_cpu_s": round(records / total),
        "stage_cpu_s": {name: round(s, 3) for name, s in spent.items()},
        "load_and_scoring_cpu_s": round(home_s - sum(spent.values()), 3),
        "pickle_cpu_s": round(pickle_s, 3),
        "us_per_record": {
            "stages and load": round(home_s / records * 1e6, 1),
            "pickling": round(pickle_s / records * 1e6, 1),
        },
    }


def _cpu_s() -> float:
    """User + system CPU seconds of this process and its joined children (the worker processes)."""
    return sum(
        r.ru_utime + r.ru_stime
        for r in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


if __name__ == "__main__":
    main()
