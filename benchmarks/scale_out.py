"""Scale-out benchmark: the same generation (N homes × D days) and simulation cycle on 1 local worker
process, 2 local worker processes, and a 2-worker dask.distributed LocalCluster (worker processes).

Each executor gets a fresh workspace, so every home is generated (nothing cached) and every cycle
simulates the same homes. Start-up (worker processes, their imports, the cluster) is timed apart from the
work. Prints JSON; the results must be identical across executors (same home keys, same record count),
which the script checks.
`python benchmarks/scale_out.py --homes 20 --days 14`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from homesim.datasets.executors import DaskExecutor, Executor, ProcessExecutor
from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.simulation.cycle import SimulationCycle
from homesim.simulation.sink import InMemorySink
from homesim.workspace import Workspace


def _warm(_: int) -> int:
    """Import what the tasks need, so start-up (processes, imports) is timed apart from the work."""
    import homesim.datasets.manager
    import homesim.simulation.cycle  # noqa: F401

    return os.getpid()


def run_one(name: str, make: Any, config: GenerationConfig, root: Path) -> dict[str, Any]:
    started = time.perf_counter()
    executor: Executor = make()
    workers = set(executor.map_unordered(_warm, range(8)))
    start_s = time.perf_counter() - started
    workspace = Workspace(root / name)
    try:
        with DataGenerationManager(workspace, executor) as manager:
            generated = manager.generate(config)
        sink = InMemorySink()
        with SimulationCycle(workspace, sink, executor=executor) as sim:
            report = sim.run(generated.manifest.dataset_id, 1)
    finally:
        executor.close()
    wall = generated.manifest.timings.wall_s
    return {
        "executor": name,
        "worker_processes": len(workers),
        "startup_s": round(start_s, 2),
        "generation_s": round(wall, 2),
        "homes_per_s": round(config.homes / wall, 3),
        "events": generated.manifest.counts.events,
        "cycle_s": round(report.wall_s, 2),
        "records": report.records,
        "records_per_s": round(report.records_per_s),
        "home_keys": list(generated.manifest.home_keys),
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--homes", type=int, default=20)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    config = GenerationConfig(homes=args.homes, days=args.days, seed=args.seed)
    executors = {
        "process[1]": lambda: ProcessExecutor(1),
        "process[2]": lambda: ProcessExecutor(2),
        "dask LocalCluster[2]": lambda: DaskExecutor(None, 2),
    }
    with tempfile.TemporaryDirectory(prefix="homesim-scale-out-") as tmp:
        results = [run_one(name, make, config, Path(tmp)) for name, make in executors.items()]
    keys = {tuple(r.pop("home_keys")) for r in results}
    json.dump(
        {"homes": args.homes, "days": args.days, "cpus": os.cpu_count(), "runs": results},
        sys.stdout,
        indent=2,
    )
    sys.stdout.write("\n")
    if len(keys) != 1 or len({r["records"] for r in results}) != 1:
        raise SystemExit("executors disagree on the homes or the records: see the JSON above")
    return results


if __name__ == "__main__":
    main()
