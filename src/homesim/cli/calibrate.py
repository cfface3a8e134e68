"""`homesim calibrate`: fit one imported real home, generate homes like it, score them on its held-out
days (classifier two-sample test; docs/realism.md, "Calibrating from a real home")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from homesim.cli.options import ExecutorOption, WorkersOption, WorkspaceOption, start_command
from homesim.cli.realism import c2st_table

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command("calibrate")(calibrate_command)


def calibrate_command(
    real: Annotated[Path, typer.Option(help="an imported real home folder (homesim import-history)")],
    homes: Annotated[int, typer.Option(min=1, max=10_000, help="calibrated homes to generate")],
    seed: Annotated[int, typer.Option(min=0, help="seed; home i is reproducible from (seed, i)")] = 0,
    days: Annotated[int, typer.Option(min=2, max=3660, help="days per calibrated home")] = 28,
    folds: Annotated[
        int,
        typer.Option(
            min=1,
            max=20,
            help="cross-fitted score: hold out each of this many blocks of the real home's days in turn "
            "(1: hold out the last --holdout-share)",
        ),
    ] = 3,
    holdout_share: Annotated[
        float,
        typer.Option(min=0.05, max=0.95, help="with --folds 1: share of the real home's kept days held out"),
    ] = 0.3,
    resamples: Annotated[
        int | None, typer.Option(min=1, help="bootstrap resamples behind each AUC's CI (default 200)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    workers: WorkersOption = None,
    executor: ExecutorOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Calibrate synthetic homes from one real home and score them on its held-out days."""
    # Imported here: scikit-learn and scipy would add a second to every other command's start.
    from homesim.real_homes.calibration import CalibrationError
    from homesim.real_homes.calibration.run import calibrate
    from homesim.real_homes.realism import FootingError
    from homesim.real_homes.realism.statistics import BOOTSTRAP_RESAMPLES

    settings, ws = start_command(workspace, workers, executor)
    try:
        fits, report, out = calibrate(
            real,
            ws,
            homes=homes,
            days=days,
            seed=seed,
            folds=folds,
            holdout_share=holdout_share,
            executor=settings.executor,
            workers=settings.workers,
            resamples=resamples or BOOTSTRAP_RESAMPLES,
        )
    except (CalibrationError, FootingError) as exc:
        err_console.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    if json_out:
        console.print_json(report.model_dump_json())
        return
    cal = fits[0].calibration
    console.print(
        f"{report.real_home}: {report.held_out_days} days scored in {report.folds} fold(s), each fitted on "
        f"{report.fit_days}+ days; "
        f"{cal.residents} resident(s), {len(cal.layout)} rooms, "
        f"{sum(len(r.sensors) for r in cal.layout)} sensors, "
        f"wake {cal.wake_h:.2f} h, bed {cal.bedtime_h:.2f} h",
        highlight=False,
    )
    by_fold = [] if report.folds == 1 else [t for f in report.by_fold for t in (f.c2st, f.floor, f.matched)]
    console.print(
        c2st_table(
            [report.c2st, report.floor, report.matched, *by_fold],
            "calibrated homes vs held-out days (0.5 = indistinguishable)",
        )
    )
    verdict = "—" if report.met is None else ("met" if report.met else "NOT met")
    like = "—" if report.matched_met is None else ("met" if report.matched_met else "NOT met")
    console.print(
        f"target AUC ≤ {report.target_auc:.2f}: {verdict} (like-for-like: {like}); "
        f"dataset(s) {', '.join(f.dataset_id for f in report.by_fold)}; saved in {out}",
        highlight=False,
    )
