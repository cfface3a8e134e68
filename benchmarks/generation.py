"""Generation benchmark: N homes × D days on W workers, then the same request again fully cached.

Reports homes/s, events/s, MB written, peak RSS (this process and its largest worker), and the cached
re-request time. Defaults are the acceptance run (1,000 homes × 90 days on 2 workers); pass smaller
numbers for a quick look, e.g. `python benchmarks/generation.py --homes 40`.

`--stages K` instead profiles one worker's path on K homes in this process (CPU seconds per stage of
`build_home`: generation, validation, ground truth, Parquet encoding, writing and hashing; the verifier's
pass, which only the sampled homes run, apart), the table docs/benchmarks.md keeps.

`--worker K --first I` measures CPU per home of homes I..I+K-1 as a pool worker makes them (this process set
up by the executor's worker start: one Arrow thread, its memory pool, glibc's setting), for before/after
pairs of two trees on a loaded machine (run it with each tree's `src` first on PYTHONPATH, alternating, and
with POLARS_MAX_THREADS=1, which a worker gets at spawn and polars reads when imported).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from homesim.datasets.executors import _start_worker
from homesim.datasets.home_folder import parquet_bytes, write_home_files
from homesim.datasets.manager import DataGenerationManager
from homesim.datasets.validation import validate_home
from homesim.generation.config import GenerationConfig
from homesim.generation.home import GeneratedHome, generate_home
from homesim.ground_truth.accuracy import HomeAccuracy, match_home
from homesim.ground_truth.truth import build_ground_truth, event_frame, ground_truth_json, verified_home
from homesim.ground_truth.verifier import TruthVerifier
from homesim.io import write_bytes_atomic
from homesim.schema.ground_truth import GroundTruth
from homesim.workspace import Workspace

T = TypeVar("T")
VERIFIER = "verifier"


def run(homes: int, days: int, workers: int, seed: int, root: Path | None) -> dict[str, object]:
    config = GenerationConfig(homes=homes, days=days, seed=seed)
    with tempfile.TemporaryDirectory(prefix="homesim-bench-") as tmp:
        workspace = Workspace(root or Path(tmp))
        with DataGenerationManager(workspace, "process", workers=workers) as manager:
            first = manager.generate(config)
            started = time.perf_counter()
            again = manager.generate(config)
            cached_s = time.perf_counter() - started
    counts, wall = first.manifest.counts, first.manifest.timings.wall_s
    accuracy = first.manifest.ground_truth_accuracy or {}
    # ru_maxrss is in KiB on Linux; RUSAGE_CHILDREN reports the largest finished worker, and the CPU
    # seconds of all of them (steadier than wall time on a shared machine).
    workers_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    worker_cpu = workers_usage.ru_utime + workers_usage.ru_stime
    return {
        "homes": counts.homes,
        "days": days,
        "workers": workers,
        "generated": counts.generated,
        "failed": counts.failed,
        "wall_s": round(wall, 2),
        "homes_per_s": round(counts.homes / wall, 3),
        "events": counts.events,
        "events_per_s": round(counts.events / wall),
        "mb_written": round(counts.bytes / 1e6, 1),
        "bytes_per_event": round(counts.bytes / max(counts.events, 1), 1),
        "peak_rss_main_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_worker_mb": round(workers_usage.ru_maxrss / 1024, 1),
        "worker_cpu_s": round(worker_cpu, 1),
        "events_per_worker_cpu_s": round(counts.events / worker_cpu) if worker_cpu else None,
        "cached_rerequest_s": round(cached_s, 2),
        "cached_rerequest_all_cached": again.manifest.counts.cached == counts.homes - counts.failed,
        "sampled_recall": accuracy.get("total", {}).get("recall"),
        "sampled_homes": accuracy.get("homes"),
    }


def stages(homes: int, days: int, seed: int) -> dict[str, object]:
    """CPU seconds of each step of a worker's path (`build_home`) over `homes` homes, in this process."""
    config = GenerationConfig(homes=homes, days=days, seed=seed)
    generate_home(GenerationConfig(homes=1, days=1, seed=seed + 1), 0)  # imports and catalog warm
    seconds: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], T]) -> T:
        started = time.process_time()
        out = fn()
        seconds[name] = seconds.get(name, 0.0) + time.process_time() - started
        return out

    events = 0
    with tempfile.TemporaryDirectory(prefix="homesim-stages-") as tmp:
        for i in range(homes):
            g = timed("generate events (generate_home)", lambda i=i: generate_home(config, i))
            events += g.events.num_rows
            timed("validate_home", lambda g=g: validate_home(g.home, g.events))
            truth = timed("ground truth (no verifier)", lambda g=g: build_ground_truth(g, verify=False))
            # The verifier's own pass, which only the sampled homes run: timed on every home, kept apart.
            timed(VERIFIER, lambda g=g, truth=truth: _verify(g, truth))
            blobs = timed(
                "parquet encode",
                lambda g=g: [
                    parquet_bytes(t)
                    for t in (g.events, g.environment.to_table(), g.activities.to_table(g.home))
                ],
            )
            docs = timed(
                "json encode",
                lambda g=g, truth=truth: [
                    g.home.model_dump_json(indent=2).encode(),
                    g.plan.model_dump_json(indent=2).encode(),
                    ground_truth_json(truth),
                ],
            )
            folder = Path(tmp) / str(i)
            folder.mkdir()
            timed(
                "write + sha256 (fsync)",
                lambda folder=folder, blobs=blobs, docs=docs: [
                    write_bytes_atomic(folder / f"f{k}", memoryview(b)) for k, b in enumerate([*blobs, *docs])
                ],
            )
    verifier = seconds.pop(VERIFIER)
    total = sum(seconds.values())
    sampled = sum(map(verified_home, range(1000))) / 1000
    return {
        "homes": homes,
        "days": days,
        "events": events,
        "cpu_s": round(total, 2),
        "events_per_cpu_s": round(events / total),
        # In a 1,000-home dataset the verifier runs on this share of the homes (ground_truth.verified_home).
        "verifier_cpu_s_if_every_home": round(verifier, 3),
        "verifier_sampled_share_of_1000": sampled,
        "stages": {
            name: {"cpu_s": round(s, 3), "share": round(s / total, 3), "events_per_s": round(events / s)}
            for name, s in seconds.items()
        },
    }


def worker(homes: int, days: int, seed: int, first: int) -> dict[str, object]:
    """CPU per home of a worker's path (generate, validate, write the files with the ground truth) over
    homes first..first+homes-1, in this process set up as a pool worker, after one warm-up home."""
    _start_worker(os.getppid())
    config = GenerationConfig(homes=first + homes, days=days, seed=seed)
    with tempfile.TemporaryDirectory(prefix="homesim-worker-") as tmp:
        write_home_files(generate_home(GenerationConfig(homes=1, days=2, seed=seed + 1), 0), Path(tmp) / "w")
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        started = time.process_time()
        for i in range(first, first + homes):
            generated = generate_home(config, i)
            validate_home(generated.home, generated.events)
            write_home_files(generated, Path(tmp) / str(i))
        cpu = time.process_time() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "homes": homes,
        "days": days,
        "first": first,
        "cpu_ms_per_home": round(cpu / homes * 1e3, 1),
        "minor_faults_per_home": (usage.ru_minflt - faults) // homes,
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


def _verify(generated: GeneratedHome, truth: GroundTruth) -> HomeAccuracy:
    meta = generated.home.metadata
    found = TruthVerifier().extract(event_frame(generated.events), meta.timezone)
    return match_home(meta.home_key, truth.patterns, found)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--homes", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workspace", type=Path, default=None, help="default: a fresh temporary folder")
    parser.add_argument("--stages", type=int, default=0, help="profile K homes' worker path instead")
    parser.add_argument(
        "--worker", type=int, default=0, help="CPU per home of K homes as a worker makes them"
    )
    parser.add_argument("--first", type=int, default=100, help="with --worker: the first home's index")
    args = parser.parse_args(argv)
    if args.stages:
        report = stages(args.stages, args.days, args.seed)
    elif args.worker:
        report = worker(args.worker, args.days, args.seed, args.first)
    else:
        report = run(args.homes, args.days, args.workers, args.seed, args.workspace)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return report


if __name__ == "__main__":
    main()
