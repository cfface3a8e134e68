"""`make bench`: generation throughput on one process and the behaviour-signal measurements.

Prints a Markdown table (paste into docs/benchmarks.md) and writes it to workspace/reports/bench.md.
Sizes come from the environment so CI-sized and full runs share one script:
HOMESIM_BENCH_HOMES (default 100) and HOMESIM_BENCH_DAYS (default 90).
"""

from __future__ import annotations

import os
import platform
import resource
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from homesim.generation.behaviors import CheapestHourTrigger, NumericTrigger, StateTrigger
from homesim.generation.config import GenerationConfig
from homesim.generation.home import GeneratedHome, generate_home


def throughput(homes: int, days: int) -> dict[str, float]:
    config = GenerationConfig(homes=homes, days=days, seed=2025)
    events = 0
    start = time.perf_counter()
    for index in range(homes):
        events += generate_home(config, index).events.num_rows
    wall = time.perf_counter() - start
    return {
        "homes": homes,
        "days": days,
        "events": events,
        "wall_s": wall,
        "homes_per_s": homes / wall,
        "events_per_s": events / wall,
    }


def _frame(generated: GeneratedHome) -> pl.DataFrame:
    df = pl.from_arrow(generated.events)
    assert isinstance(df, pl.DataFrame)
    return df.with_columns(pl.col("cause_id").cast(pl.String))


def signals(homes: int) -> dict[str, float]:
    """Cooling/temperature correlation, deferrable-load timing and synergy delay fit over `homes` homes."""
    config = GenerationConfig(days=90, seed=4, start=date(2025, 5, 1), climate_regions=("continental_us",))
    corr, cheap, delay_err = [], [], []
    for index in range(homes):
        generated = generate_home(config, index)
        df = _frame(generated)
        env = generated.environment
        for b in generated.plan.behaviors:
            rows = df.filter((pl.col("cause_id") == b.id) & (pl.col("state") == b.actions[0].state))
            t = rows["time"].dt.epoch("us").to_numpy()
            if isinstance(b.trigger, NumericTrigger) and b.actions[0].state == "cool":
                per_day = np.bincount(env.grid.day_of(t), minlength=env.grid.days)
                if per_day.std() > 0:  # an AC that never ran (nobody home on hot days) has no correlation
                    corr.append(np.corrcoef(per_day, env.daily_max_temperature())[0, 1])
            elif isinstance(b.trigger, CheapestHourTrigger):
                column = "carbon_g" if b.trigger.variable == "carbon_intensity" else "price"
                lo, hi = b.trigger.window
                days = env.grid.day_of(t - int(lo * 3_600_000_000))
                window = np.stack(
                    [
                        env.at(column, env.grid.local_time(days, np.full(len(days), h)))
                        for h in np.arange(np.floor(lo), np.ceil(hi))
                    ]
                )
                cheap.append(float(np.mean(env.at(column, t) <= np.median(window, axis=0))))
            elif isinstance(b.trigger, StateTrigger) and b.delay is not None:
                pairs = rows.join(
                    df.select("context_id", pl.col("time").alias("t0")),
                    left_on="parent_context_id",
                    right_on="context_id",
                )
                if pairs.height >= 50:
                    d = (pairs["time"] - pairs["t0"]).dt.total_microseconds().to_numpy() / 1e6
                    delay_err.append(abs(np.median(d) / b.delay.median_s - 1))
    return {
        "cooling_vs_temp_r": float(np.mean(corr)),
        "cooling_homes": len(corr),
        "deferrable_starts_below_median": float(np.mean(cheap)),
        "deferrable_behaviours": len(cheap),
        "synergy_median_delay_rel_err": float(np.mean(delay_err)),
        "synergies_checked": len(delay_err),
    }


def main() -> None:
    homes = int(os.environ.get("HOMESIM_BENCH_HOMES", "100"))
    days = int(os.environ.get("HOMESIM_BENCH_DAYS", "90"))
    t = throughput(homes, days)
    s = signals(int(os.environ.get("HOMESIM_BENCH_SIGNAL_HOMES", "20")))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| homes × days (one process) | {homes} × {days} |",
        f"| events | {t['events']:,} |",
        f"| wall time | {t['wall_s']:.1f} s |",
        f"| homes/s | {t['homes_per_s']:.2f} |",
        f"| events/s | {t['events_per_s']:,.0f} |",
        f"| peak RSS | {rss_mb:,.0f} MB |",
        f"| cooling events/day vs daily max temperature, Pearson r (mean over {s['cooling_homes']} ACs) |"
        f" {s['cooling_vs_temp_r']:.2f} |",
        f"| deferrable starts in the cheaper half of their window ({s['deferrable_behaviours']} loads) |"
        f" {s['deferrable_starts_below_median']:.0%} |",
        f"| synergy median delay vs configured, mean relative error ({s['synergies_checked']} synergies) |"
        f" {s['synergy_median_delay_rel_err']:.1%} |",
    ]
    report = "\n".join(lines)
    print(report)
    out = Path("workspace/reports/bench.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
