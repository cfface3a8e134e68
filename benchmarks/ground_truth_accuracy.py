"""Ground-truth accuracy benchmark: does the independent TruthVerifier find the ground truth?

Generates N homes × D days (default: the acceptance run, 100 × 90 on 2 processes) at the default noise and
at a raised noise, and for each prints recall of the ground-truth patterns with ≥ 10 occurrences and
precision of the extractor's high-confidence patterns, overall and by pattern type. Writes the reports as
JSON to --out (default workspace/reports/ground_truth_accuracy.json). Quick look:
`python benchmarks/ground_truth_accuracy.py --homes 10 --days 30`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.ground_truth.accuracy import AccuracyReport, HomeAccuracy, aggregate, match_home
from homesim.ground_truth.truth import build_patterns, event_frame
from homesim.ground_truth.verifier import TruthVerifier


def _home(job: tuple[GenerationConfig, int]) -> HomeAccuracy:
    config, index = job
    generated = generate_home(config, index)
    events = event_frame(generated.events)
    patterns = build_patterns(generated.home, generated.plan, events)
    extracted = TruthVerifier().extract(events, generated.home.metadata.timezone)
    return match_home(generated.key, patterns, extracted)


def run(homes: int, days: int, noise: float, seed: int, workers: int) -> AccuracyReport:
    config = GenerationConfig(homes=homes, days=days, seed=seed, noise=noise)
    # Spawned, not forked: a fork of a process whose polars thread pool is running can deadlock.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_home, [(config, i) for i in range(homes)], chunksize=2))
    return aggregate(results)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def render(report: AccuracyReport, noise: float) -> str:
    total = report.total
    lines = [
        f"noise {noise:g}: recall {_pct(total.recall)} ({total.recovered}/{total.eligible}), precision "
        f"{_pct(total.precision)} ({total.matched_high_confidence}/{total.high_confidence} high-confidence), "
        f"{_pct(total.precision_all)} over all {total.extracted} extracted",
        "| type | patterns | recovered | recall | high-conf. | in truth | precision | precision (all) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = [(row.name, row) for row in report.by_type] + [
        (f"({row.name} patterns)", row) for row in report.by_kind
    ]
    for name, row in rows:
        lines.append(
            f"| {name} | {row.eligible} | {row.recovered} | {_pct(row.recall)} | {row.high_confidence} | "
            f"{row.matched_high_confidence} | {_pct(row.precision)} | {_pct(row.precision_all)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, AccuracyReport]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--homes", type=int, default=100)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--noise", type=float, nargs="+", default=[1.0, 5.0], help="noise levels to compare")
    parser.add_argument("--out", type=Path, default=Path("workspace/reports/ground_truth_accuracy.json"))
    args = parser.parse_args(argv)
    reports = {}
    for noise in args.noise:
        started = time.perf_counter()
        reports[f"noise_{noise:g}"] = report = run(args.homes, args.days, noise, args.seed, args.workers)
        print(render(report, noise))
        print(
            f"({args.homes} homes × {args.days} days in {time.perf_counter() - started:.0f} s)\n", flush=True
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({k: r.model_dump(mode="json") for k, r in reports.items()}, indent=2) + "\n"
    )
    return reports


if __name__ == "__main__":
    main()
