"""Training-data throughput: pattern records through collect → validate → export, with and without lineage,
on the collector's two paths: as record frames (`emit_frame`, what the stages hand over) and as record
objects (`emit_many`).

The pattern records of a real small cycle (2 homes × 14 days) are replicated under new record ids and home
keys (each replica home gets a copy of its home's ground truth, so every validator, the consistency check
included, does its full work) up to `--records` (default 200,000). Each run collects them into a fresh
SQLite store (batches of `--batch-size`: frames of that many rows on the frame path, built before timing),
then exports cycle 1's pattern_detection data (JSON + Parquet, re-read and validated). Reports records/s
over wall time and over CPU time (`time.process_time`: the figure for one core, far less affected than
wall time by other processes on the machine) and the share lineage adds.
`--profile` prints the top functions (by CPU time) of one frame-path run with lineage (cProfile;
`--records-path`: of the per-record path).
`--cycle-of WORKSPACE` instead collects (with lineage, batches of 1,000 as `homesim simulate` does) every
record a `homesim simulate` stored in that workspace, the truths read from it: a real cycle's mix of
stages; it prints CPU seconds and records per CPU second of two runs.
Usage: python benchmarks/training_data.py [--records N] [--batch-size B] [--repeat R]
       python benchmarks/training_data.py [--records N] --profile [--records-path]
       python benchmarks/training_data.py --cycle-of WORKSPACE
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import pstats
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.schema.ground_truth import GroundTruth
from homesim.schema.record_frames import frame_of
from homesim.schema.records import STAGES, PatternRecord, make_record_id
from homesim.simulation.cycle import DEFAULT_STAGES
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import MODEL_TYPES, NoModels
from homesim.training_data.collector import TrainingDataCollector
from homesim.training_data.exporters import Exporter, workspace_truths
from homesim.training_data.lineage_tracker import LineageTracker, Source
from homesim.training_data.store import RECORD_ADAPTER, RecordStore
from homesim.workspace import Workspace


def pattern_corpus(n: int) -> tuple[list[PatternRecord], dict[str, GroundTruth]]:
    """`n` distinct pattern records: a real cycle's, replicated under new ids and home keys."""
    stages = list(DEFAULT_STAGES[:1])
    config = GenerationConfig(homes=2, days=14, seed=7)
    base: list[PatternRecord] = []
    base_truths: dict[str, GroundTruth] = {}
    for index in range(config.homes):
        view = HomeView.from_generated(generate_home(config, index))
        base_truths[view.key] = view.truth
        for _, stage in stages:
            base += [r for r in stage(view, NoModels(), 1) if isinstance(r, PatternRecord)]
    records: list[PatternRecord] = []
    truths: dict[str, GroundTruth] = {}
    replica = 0
    while len(records) < n:
        for key, truth in base_truths.items():
            home = f"{key}-r{replica}"
            truths[home] = truth.model_copy(update={"home_key": home})
        for r in base[: n - len(records)]:
            home = f"{r.home_key}-r{replica}"
            rid = make_record_id("pattern", home, 1, r.record_id)
            records.append(r.model_copy(update={"record_id": rid, "home_key": home}))
        replica += 1
    return records, truths


def run(
    records: list[PatternRecord],
    truths: dict[str, GroundTruth],
    root: Path,
    lineage: bool,
    batch_size: int,
    frames: list[pl.DataFrame] | None = None,
) -> dict[str, float]:
    """Collect (`frames` through `emit_frame` when given, else `records` through `emit_many`) then export
    once into a fresh workspace under `root`; wall and CPU seconds of each phase."""
    workspace = Workspace(root)
    tracker = LineageTracker(workspace.lineage_db) if lineage else None
    times: dict[str, float] = {}

    def timed(name: str, body: Callable[[], object]) -> None:
        wall, cpu = time.perf_counter(), time.process_time()
        body()
        times[f"{name}_wall"] = time.perf_counter() - wall
        times[f"{name}_cpu"] = time.process_time() - cpu

    with RecordStore(workspace.training_store) as store:

        def collect() -> None:
            source = Source("bench", "bench", "bench")
            with TrainingDataCollector(
                store, truth_of=truths, batch_size=batch_size, lineage=tracker, source=source
            ) as collector:
                if frames is None:
                    collector.emit_many(records)
                for frame in frames or ():
                    collector.emit_frame("pattern", frame)
            rejected = collector.stats()["by_outcome"]["rejected"]
            assert rejected == 0, collector.stats()["reject_reasons"]

        def export() -> None:
            result = Exporter(workspace, store, tracker=tracker, truths=truths.get).export(
                "pattern_detection", 1
            )
            assert result.counts["patterns.parquet"] == len(records)

        timed("collect", collect)
        timed("export", export)
    if tracker is not None:
        tracker.close()
    return times


def collect_cycle_of(workspace: Workspace, repeat: int = 2) -> None:
    """Collect the records stored in `workspace` again into fresh stores (see the module docstring)."""
    with RecordStore(workspace.training_store) as stored:
        payloads = [p for model_type in MODEL_TYPES for _, _, p in stored.accepted_rows(model_type)]
    unique = {r.record_id: r for r in map(RECORD_ADAPTER.validate_json, payloads)}.values()
    # As a cycle emits them: home by home, in stage order within a home.
    records = sorted(unique, key=lambda r: (r.home_key, STAGES.index(r.stage), r.record_id))
    truth_of = functools.cache(workspace_truths(workspace))
    for record in records:
        truth_of(record.home_key)  # read every truth before timing: the simulate parent has them cached
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="homesim-bench-") as tmp:
            root = Workspace(Path(tmp))
            cpu = time.process_time()
            with (
                LineageTracker(root.lineage_db) as tracker,
                TrainingDataCollector(
                    root.training_store, truth_of=truth_of, lineage=tracker, source=Source("bench")
                ) as collector,
            ):
                collector.emit_many(records)
            cpu = time.process_time() - cpu
        print(f"{len(records):,} records: {cpu:.2f} CPU s, {len(records) / cpu:,.0f} records per CPU second")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per setting; the fastest counts")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--records-path", action="store_true", help="profile emit_many, not emit_frame")
    parser.add_argument("--cycle-of", type=Path, help="collect the records `homesim simulate` stored here")
    args = parser.parse_args(argv)
    if args.cycle_of is not None:
        collect_cycle_of(Workspace(args.cycle_of))
        return
    records, truths = pattern_corpus(args.records)
    n = len(records)
    with tempfile.TemporaryDirectory(prefix="homesim-bench-") as tmp:
        frames = [
            frame_of(records[i : i + args.batch_size], PatternRecord) for i in range(0, n, args.batch_size)
        ]
        if args.profile:
            profiler = cProfile.Profile(time.process_time)  # CPU time: other processes do not count
            path = None if args.records_path else frames
            profiler.runcall(run, records, truths, Path(tmp) / "profile", True, args.batch_size, path)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
            return
        results: dict[tuple[str, bool], dict[str, float]] = {}
        for n_run in range(args.repeat):
            for path in ("frames", "records"):
                for lineage in (False, True):
                    root = Path(tmp) / f"{path}-{lineage}-{n_run}"
                    given = frames if path == "frames" else None
                    times = run(records, truths, root, lineage, args.batch_size, given)
                    best = results.setdefault((path, lineage), times)
                    results[path, lineage] = {k: min(v, best[k]) for k, v in times.items()}
    header = f"{n:,} pattern records, batches of {args.batch_size:,}"
    print(f"| {header} | collect + validate | records/s collected | export | total | records/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for clock in ("cpu", "wall"):
        for (path, lineage), t in results.items():
            collect, export = t[f"collect_{clock}"], t[f"export_{clock}"]
            label = f"{path} ({'emit_frame' if path == 'frames' else 'emit_many'}), "
            label += f"{'with' if lineage else 'without'} lineage ({clock} time)"
            print(
                f"| {label} | {collect:.2f} s | {n / collect:,.0f} | {export:.2f} s "
                f"| {collect + export:.2f} s | {n / (collect + export):,.0f} |"
            )
    for path in ("frames", "records"):
        plain, traced = (results[path, lineage]["collect_cpu"] for lineage in (False, True))
        print(f"{path}: lineage's share of collecting (CPU time): {1 - plain / traced:.0%}")


if __name__ == "__main__":
    main()
