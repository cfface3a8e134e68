"""Training-data acceptance run: a cycle of N homes (default 50 × 14 days) through collect → validate →
export for all five model types in all their formats.

Generates the homes, runs one simulation cycle whose sink is the `TrainingDataCollector` (with lineage, as
`homesim simulate` does), exports the cycle, then checks every export: each file re-read (the exporter
validates it already; here the rows are counted independently) and the counts in `metadata.json` equal to
the rows written. Prints the per-point pass rates (goal: ≥ 90% each), the reject reasons, and the export
table. Usage: python benchmarks/training_acceptance.py [--homes 50] [--days 14] [--workers 2]
"""

from __future__ import annotations

import argparse
import functools
import json
import sqlite3
import tempfile
import time
from pathlib import Path

import polars as pl

from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.simulation.cycle import SimulationCycle
from homesim.simulation.model_provider import MODEL_TYPES, ModelType
from homesim.training_data.collector import TrainingDataCollector
from homesim.training_data.exporters import Exporter, workspace_truths
from homesim.training_data.lineage_tracker import LineageTracker, Source
from homesim.training_data.loading import SUFFIX, read_chat, read_metadata
from homesim.training_data.schemas import FORMATS, TABLES
from homesim.training_data.store import RecordStore
from homesim.workspace import Workspace


def rows_on_disk(path: Path) -> int:
    """Rows of an exported file, counted without the exporter's readers."""
    if path.name.endswith(".chat.jsonl"):
        return len(read_chat(path))
    if path.suffix == ".parquet":
        return pl.read_parquet(path).height
    if path.suffix == ".csv":
        return pl.read_csv(path).height
    if path.suffix == ".sqlite":
        with sqlite3.connect(path) as db:
            (n,) = db.execute(f'SELECT count(*) FROM "{path.stem}"').fetchone()
        return int(n)
    return len(json.loads(path.read_text(encoding="utf-8"))["rows"])


def expected_files(model_type: ModelType) -> set[str]:
    """Every file a model type's export must hold: each table in each format (chat: yaml_pairs only)."""
    formats = FORMATS[model_type]
    files = {f"{spec.name}{SUFFIX[fmt]}" for spec in TABLES[model_type] for fmt in formats if fmt != "chat"}
    return files | ({f"yaml_pairs{SUFFIX['chat']}"} if "chat" in formats else set())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--homes", type=int, default=50)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workspace", type=Path, default=None, help="default: a fresh temporary folder")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="homesim-acceptance-") as tmp:
        ws = Workspace(args.workspace or Path(tmp))
        with DataGenerationManager(ws, "process", workers=args.workers) as manager:
            manifest = manager.generate(
                GenerationConfig(homes=args.homes, days=args.days, seed=args.seed)
            ).manifest
        # Cached: each home's truth is read once (the validators index a truth per object).
        truth_of = functools.cache(workspace_truths(ws))

        started = time.perf_counter()
        source = Source(manifest.dataset_id, manifest.generator_version, manifest.config_hash)
        with LineageTracker(ws.lineage_db) as tracker:
            with (
                TrainingDataCollector(
                    ws.training_store, truth_of=truth_of, lineage=tracker, source=source
                ) as sink,
                SimulationCycle(ws, sink, workers=args.workers) as cycle,
            ):
                report = cycle.run(manifest.dataset_id, 1)
            collected_s = time.perf_counter() - started
            stats = sink.stats()
            started = time.perf_counter()
            with RecordStore(ws.training_store) as store:
                results = Exporter(ws, store, tracker=tracker, truths=truth_of).export_cycle(1)
            export_s = time.perf_counter() - started
        print(
            f"{report.homes} homes × {args.days} days, cycle 1: {report.records:,} records; "
            f"simulate + collect {collected_s:.0f} s, export {export_s:.1f} s; "
            f"{len(report.errors)} stage errors\n"
        )
        print("| point | records | accepted | rejected | pass rate | feeds |")
        print("| --- | --- | --- | --- | --- | --- |")
        for point, c in stats["by_point"].items():
            total = c["accepted"] + c["rejected"]
            feeds = ", ".join(stats["by_point_model_type"].get(point, {}))
            rate = c["accepted"] / total
            print(f"| {point} | {total:,} | {c['accepted']:,} | {c['rejected']:,} | {rate:.1%} | {feeds} |")
        print(f"\nreject reasons (by validator): {stats['reject_reasons'] or 'none'}\n")
        print("| model type | records | files (rows) | metadata counts = rows on disk |")
        print("| --- | --- | --- | --- |")
        for result in results:
            metadata = read_metadata(result.directory)
            on_disk = {name: rows_on_disk(result.directory / name) for name in metadata["counts"]}
            assert set(on_disk) == expected_files(result.model_type), (result.model_type, sorted(on_disk))
            assert metadata["counts"] == on_disk, (result.model_type, metadata["counts"], on_disk)
            files = ", ".join(f"{name} ({rows:,})" for name, rows in on_disk.items())
            print(f"| {result.model_type} | {result.records:,} | {files} | yes |")
        assert [r.model_type for r in results] == list(MODEL_TYPES)
        worst = min(c["accepted"] / (c["accepted"] + c["rejected"]) for c in stats["by_point"].values())
        print(f"\nlowest pass rate {worst:.1%} (goal ≥ 90%)")


if __name__ == "__main__":
    main()
