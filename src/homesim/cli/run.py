"""`homesim run`: the full self-improving loop over K cycles, with progress, a per-cycle table and the
learning curves of every model (the run file is `reports/runs/<run_id>.json`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from homesim.cli.errors import fail
from homesim.cli.options import (
    AllowPartialOption,
    ExecutorOption,
    WorkersOption,
    WorkspaceOption,
    start_command,
)
from homesim.retraining.loop import LoopConfig, LoopFailedError, RetrainingLoop, learning_curves
from homesim.retraining.retraining_manager import RetrainingConfig

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def cycles_table(run: dict[str, Any]) -> Table:
    """One row per (cycle, model type): decision, versions, primary metric of each arm, CI, timings."""
    table = Table(title=f"run {run['run_id']}")
    for name in (
        "cycle",
        "model",
        "decision",
        "candidate",
        "champion",
        "metric",
        "baseline",
        "old champion",
        "candidate value",
        "95% CI (vs reference), n homes",
        "train s",
        "eval s",
    ):
        table.add_column(name, justify="left" if name in ("model", "decision", "metric") else "right")
    for entry in run["cycles"]:
        for model_type, m in entry["models"].items():
            ci = (
                "—"
                if m["ci_low"] is None
                else f"[{m['ci_low']:+.3f}, {m['ci_high']:+.3f}] n={m.get('ci_homes', '?')}"
            )
            table.add_row(
                str(entry["cycle"]),
                model_type,
                m["decision"],
                m["candidate"] or "—",
                m["champion"] or "baseline",
                m["primary_metric"],
                _num(m["baseline_value"]),
                _num(m["champion_value"]),
                _num(m["candidate_value"]),
                ci,
                _num(m["train_s"]),
                _num(m["eval_s"]),
            )
    return table


def curves_table(run: dict[str, Any]) -> Table:
    """Learning curves as text: per model, the champion's primary metric after each cycle."""
    curves = learning_curves(run)
    cycles = [entry["cycle"] for entry in run["cycles"]]
    table = Table(title="learning curves: champion primary metric on each cycle's held-out homes")
    table.add_column("model")
    table.add_column("baseline (cycle 1)", justify="right")
    for cycle in cycles:
        table.add_column(f"cycle {cycle}", justify="right")
    for model_type, points in curves.items():
        by_cycle = {p["cycle"]: p for p in points}
        cells = [
            "—"
            if c not in by_cycle
            else f"{_num(by_cycle[c]['value'])} ({by_cycle[c]['champion'] or 'baseline'})"
            for c in cycles
        ]
        table.add_row(model_type, _num(points[0]["baseline"]), *cells)
    return table


def summary_table(run: dict[str, Any]) -> Table:
    """Baseline, first-cycle model and final champion on all held-out homes, with bootstrap CIs."""
    table = Table(title="final: all held-out homes (paired bootstrap by home, 95% CI; n = held-out homes)")
    for name in (
        "model",
        "metric",
        "n homes",
        "baseline",
        "cycle-1 model",
        "champion",
        "vs baseline",
        "vs cycle-1",
    ):
        table.add_column(name, justify="left" if name in ("model", "metric") else "right")
    for model_type, s in run.get("summary", {}).items():
        values = s.get("values", {})

        def versus(key: str, s: dict[str, Any] = s) -> str:
            c = s.get(key)
            if c is None:
                return "—"
            rel = "" if c["relative"] is None else f" ({c['relative']:+.1%})"
            text = f"{c['diff']:+.3f}{rel} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
            if c.get("can_be_significant") is False:  # say it, rather than show a CI that means nothing
                text += f" UNDERPOWERED: smallest p {c['min_p']:.2g}"
            return text

        table.add_row(
            model_type,
            s.get("primary_metric", "—"),
            str(s.get("validation_homes", "—")),
            _num(values.get("baseline")),
            f"{_num(values.get('first'))} ({s.get('first') or '—'})",
            f"{_num(values.get('champion'))} ({s.get('champion') or '—'})",
            versus("champion_vs_baseline"),
            versus("champion_vs_first"),
        )
    return table


def run(
    cycles: Annotated[int, typer.Option(min=1, help="cycles to run (a re-run skips finished ones)")] = 3,
    homes: Annotated[int, typer.Option(min=2, help="fresh homes per cycle")] = 12,
    days: Annotated[int, typer.Option(min=1, help="days of events per home")] = 21,
    seed: Annotated[int, typer.Option(min=0, help="run seed; each cycle's seed derives from it")] = 42,
    config_file: Annotated[
        Path | None, typer.Option("--config", help="YAML or TOML RetrainingConfig (triggers, gates…)")
    ] = None,
    workers: WorkersOption = None,
    executor: ExecutorOption = None,
    workspace: WorkspaceOption = None,
    allow_partial: AllowPartialOption = False,
) -> None:
    """Fresh homes → simulate with the champions → collect → export → retrain → evaluate → deploy, K times."""
    settings, ws = start_command(workspace, workers, executor)
    retraining = (
        RetrainingConfig.from_file(config_file, {"seed": seed})
        if config_file
        else RetrainingConfig(seed=seed)
    )
    config = LoopConfig(
        cycles=cycles,
        homes=homes,
        days=days,
        seed=seed,
        workers=settings.workers,
        executor=settings.executor,
        models=retraining.models,
        retraining=retraining,
        allow_partial=allow_partial,
    )
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not console.is_terminal) as bar:
        tasks: dict[tuple[int, str], TaskID] = {}

        def advance(cycle: int, step: str, done: int, total: int, note: str) -> None:
            key = (cycle, step)
            if key not in tasks:
                tasks[key] = bar.add_task(f"cycle {cycle} {step}", total=total)
            bar.update(tasks[key], completed=done, total=total, description=f"cycle {cycle} {step} {note}")
            if not console.is_terminal and done == total:
                console.print(f"cycle {cycle}: {step} done ({total})", highlight=False)

        try:
            result = RetrainingLoop(ws, config, progress=advance).run()
        except LoopFailedError as exc:
            fail(f"{exc} (run file {ws.run_file(config.run_id)} lists the cycles that finished)", code=1)
    # Piped output has no width to fit: print the wide tables unwrapped.
    out = console if console.is_terminal else Console(width=220)
    out.print(cycles_table(result))
    out.print(curves_table(result))
    out.print(summary_table(result))
    out.print(f"run file {ws.run_file(config.run_id)}", highlight=False)
    for entry in result["cycles"]:
        for warning in entry.get("warnings", []):
            err_console.print(f"homesim: warning: {warning} (accepted with --allow-partial)", highlight=False)
