"""Generation benchmark: N homes × D days on W workers, then the same request again fully cached.

Reports homes/s, events/s, MB written, peak RSS (this process and its largest worker), and the cached
re-request time. Defaults are the acceptance run (1,000 homes × 90 days on 2 workers); pass smaller
numbers for a quick look, e.g. `python benchmarks/generation.py --homes 40`.
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
from homesim.workspace import Workspace


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--homes", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workspace", type=Path, default=None, help="default: a fresh temporary folder")
    args = parser.parse_args(argv)
    config = GenerationConfig(homes=args.homes, days=args.days, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="homesim-bench-") as tmp:
        workspace = Workspace(args.workspace or Path(tmp))
        with DataGenerationManager(workspace, "process", workers=args.workers) as manager:
            first = manager.generate(config)
            started = time.perf_counter()
            again = manager.generate(config)
            cached_s = time.perf_counter() - started
    counts, wall = first.manifest.counts, first.manifest.timings.wall_s
    # ru_maxrss is in KiB on Linux; RUSAGE_CHILDREN reports the largest finished worker.
    report = {
        "homes": counts.homes,
        "days": args.days,
        "workers": args.workers,
        "generated": counts.generated,
        "failed": counts.failed,
        "wall_s": round(wall, 2),
        "homes_per_s": round(counts.homes / wall, 3),
        "events": counts.events,
        "events_per_s": round(counts.events / wall),
        "mb_written": round(counts.bytes / 1e6, 1),
        "peak_rss_main_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_worker_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "cached_rerequest_s": round(cached_s, 2),
        "cached_rerequest_all_cached": again.manifest.counts.cached == counts.homes - counts.failed,
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return report


if __name__ == "__main__":
    main()
