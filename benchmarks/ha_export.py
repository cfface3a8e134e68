"""Time the Home Assistant exports of one default 90-day home: registries, recorder DB, statistics."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.ha.config_dir import export_config_dir
from homesim.ha.recorder import export_recorder


def main() -> None:
    generated = generate_home(GenerationConfig(days=90, seed=2025), 1)
    rows = generated.events.num_rows
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        export_config_dir(generated.home, root / "registries")
        registries_s = time.perf_counter() - start
        start = time.perf_counter()
        summary = export_recorder(generated.home, generated.events, root / "plain.db", statistics=False)
        recorder_s = time.perf_counter() - start
        start = time.perf_counter()
        with_stats = export_recorder(generated.home, generated.events, root / "stats.db", statistics=True)
        stats_s = time.perf_counter() - start
        size_mb = (root / "stats.db").stat().st_size / 1e6
    header = f"export (90-day home, {rows:,} events, {len(generated.home.entities)} entities)"
    stats_label = f"recorder DB with statistics ({with_stats.statistics:,} hourly rows, {size_mb:.0f} MB)"
    print(f"| {header} | wall time |")
    print("| --- | --- |")
    print(f"| `.storage` registries + configuration.yaml | {registries_s:.2f} s |")
    print(f"| recorder DB, states only ({summary.states:,} rows) | {recorder_s:.1f} s |")
    print(f"| {stats_label} | {stats_s:.1f} s |")


if __name__ == "__main__":
    main()
