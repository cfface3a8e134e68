"""Simulation-cycle benchmark: generate N homes × D days, then time one cycle of every stage over them.

Reports the cycle's wall time, records/s, records per stage, seconds per stage (summed over workers) and
the per-stage baseline metrics. Defaults are the acceptance run (100 homes × 90 days on 2 workers); pass
smaller numbers for a quick look, e.g. `python benchmarks/simulation.py --homes 10 --days 30`.
Generation time is reported separately and is not part of the cycle's numbers. Besides wall time, the
CPU seconds of the cycle (parent and workers, user + system) are reported: on a shared machine they are the
steadier figure, and records per CPU second is what one core does.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.simulation.cycle import SimulationCycle
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
    args = parser.parse_args(argv)
    config = GenerationConfig(homes=args.homes, days=args.days, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="homesim-bench-") as tmp:
        workspace = Workspace(args.workspace or Path(tmp))
        started = time.perf_counter()
        with DataGenerationManager(workspace, "process", workers=args.workers) as manager:
            dataset = manager.generate(config).manifest.dataset_id
        generation_s = time.perf_counter() - started
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


def _cpu_s() -> float:
    """User + system CPU seconds of this process and its joined children (the worker processes)."""
    return sum(
        r.ru_utime + r.ru_stime
        for r in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN))
    )


if __name__ == "__main__":
    main()
