"""`homesim realism`: how real synthetic homes look — the classifier two-sample test against real homes,
its floor, per-feature distances, an HTML report, and (with `--transfer`) train-synthetic-test-real."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from homesim.cli.options import WorkspaceOption, dataset_dir_ref, start_command

if TYPE_CHECKING:
    from homesim.real_homes.realism import RealismSummary
    from homesim.real_homes.realism.statistics import C2ST
    from homesim.real_homes.realism.transfer import TransferResult

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command("realism")(realism_command)


def realism_command(
    real: Annotated[
        list[Path],
        typer.Option(help="real home folder, or a folder/dataset of them (repeat for more)"),
    ],
    dataset: Annotated[
        str | None, typer.Option(help="synthetic homes: a workspace dataset id, its folder, or latest")
    ] = None,
    homes: Annotated[
        list[Path] | None,
        typer.Option(help="synthetic homes: a home folder, or a folder of them (repeat for more)"),
    ] = None,
    residents: Annotated[
        int | None, typer.Option(min=1, help="compare only synthetic homes with this many residents")
    ] = None,
    resamples: Annotated[
        int | None,
        typer.Option(min=1, help="bootstrap resamples behind each AUC's CI (each refits; default 200)"),
    ] = None,
    transfer: Annotated[
        bool, typer.Option(help="also train an activity classifier on the synthetic homes, test on the real")
    ] = False,
    json_out: Annotated[
        bool, typer.Option("--json", help="print the summary as JSON instead of tables")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="write an HTML report to this file")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Measure how far synthetic homes' behaviour is from real homes' (docs/realism.md)."""
    # Imported here: scikit-learn and scipy would add a second to every other command's start.
    from homesim.real_homes.realism import FootingError, RealismError, compare, resolve_homes
    from homesim.real_homes.realism.statistics import BOOTSTRAP_RESAMPLES
    from homesim.real_homes.realism.transfer import TransferError, activity_transfer
    from homesim.reports.realism import save_realism, write_realism_report

    _, ws = start_command(workspace)
    if (dataset is None) == (not homes):
        _fail("give the synthetic homes with exactly one of --dataset or --homes")
    try:
        real_dirs = [d for p in real for d in resolve_homes(p)]
        if dataset is not None:
            path = dataset_dir_ref(ws, Path(dataset))
            synthetic_dirs = resolve_homes(path)
        else:
            synthetic_dirs = [d for p in homes or [] for d in resolve_homes(p)]
        report = compare(
            real_dirs, synthetic_dirs, residents=residents, resamples=resamples or BOOTSTRAP_RESAMPLES
        )
        result = activity_transfer(synthetic_dirs, real_dirs, residents=residents) if transfer else None
    except (FootingError, RealismError, TransferError) as exc:
        _fail(str(exc))
    try:
        saved = save_realism(ws, report, result)
        if out is not None:
            write_realism_report(report, out, transfer=result)
    except OSError as exc:
        _fail(f"cannot write the report: {exc}")
    if json_out:
        payload = report.summary.model_dump(mode="json")
        if result is not None:
            payload["transfer"] = result.model_dump(mode="json")
        console.print_json(data=payload)
        return
    _print(report.summary)
    if result is not None:
        console.print(transfer_table(result))
        if result.note:
            console.print(result.note, highlight=False)
    console.print(
        f"saved in {saved} (homesim report adds it)" + (f"; report {out}" if out else ""), highlight=False
    )


def _fail(message: str) -> None:
    err_console.print(f"[red]{message}[/red]", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def c2st_table(tests: list[C2ST], title: str) -> Table:
    table = Table(title=title)
    for name in ("test", "AUC", "95% CI", "p", "days (+/−)", "groups (+/−)", "folds", "note"):
        table.add_column(name, justify="left" if name in ("test", "note") else "right")
    for t in tests:
        table.add_row(
            t.name,
            _num(t.auc),
            "—" if t.ci_low is None else f"{t.ci_low:.2f}–{t.ci_high:.2f}",
            _num(t.p_value, 4),
            f"{t.n_positive}/{t.n_negative}",
            f"{t.groups_positive}/{t.groups_negative} {t.grouped_by}s",
            str(t.folds),
            t.note,
        )
    return table


def feature_table(summary: RealismSummary) -> Table:
    from homesim.real_homes.realism.compare import OUTSIDE_LIMIT

    table = Table(title="features (median over days; real range = 5–95 % of real days)")
    for name in ("feature", "real", "synthetic", "real range", "KS", "n real/syn", "homes outside"):
        table.add_column(name, justify="left" if name == "feature" else "right")
    for f in summary.features:
        outside = "—" if f.outside_share is None else f"{f.outside_share:.0%} of {f.synthetic_homes}"
        style = "red" if (f.outside_share or 0.0) > OUTSIDE_LIMIT else None
        table.add_row(
            f.feature,
            _num(f.median_real, 2),
            _num(f.median_synthetic, 2),
            f"{_num(f.real_p05, 2)}–{_num(f.real_p95, 2)}",
            _num(f.ks, 2),
            f"{f.n_real}/{f.n_synthetic}",
            outside,
            style=style,
        )
    return table


def transfer_table(result: TransferResult) -> Table:
    table = Table(title=f"activity recognition, macro-F1 over {len(result.labels)} activities")
    for name in ("test home", "train", "homes", "windows (train/test)", "macro-F1"):
        table.add_column(name, justify="left" if name in ("test home", "train") else "right")
    for s in result.scores:
        table.add_row(
            s.test_home, s.train, str(s.train_homes), f"{s.train_windows}/{s.test_windows}", _num(s.macro_f1)
        )
    table.caption = (
        f"synthetic→real {_num(result.synthetic_to_real)} vs real→real {_num(result.real_to_real)}: "
        f"ratio {_num(result.ratio, 2)}"
    )
    return table


def _print(summary: RealismSummary) -> None:
    from homesim.real_homes.realism.compare import OUTSIDE_LIMIT

    homes = Table(
        title=f"homes on the footing (sensor kinds compared: {', '.join(summary.kinds)}; "
        f"room classes: {', '.join(summary.rooms)})"
    )
    for name in ("home", "side", "residents", "sensors", "days kept", "dropped"):
        homes.add_column(name, justify="left" if name in ("home", "side", "sensors", "dropped") else "right")
    for h in summary.homes:
        homes.add_row(
            h.home,
            "real" if h.real else "synthetic",
            "?" if h.residents is None else str(h.residents),
            ", ".join(f"{k} {v}" for k, v in h.sensors.items()),
            f"{h.kept_days}/{h.days}",
            ", ".join(f"{k} {v}" for k, v in h.dropped.items()),
        )
    console.print(homes)
    console.print(c2st_table([summary.c2st], "classifier two-sample test (0.5 = indistinguishable)"))
    console.print(c2st_table(summary.floor, "floor: the same test between real samples"))
    top = ", ".join(f"{k} {v:+.3f}" for k, v in summary.c2st.importance[:8])
    if top:
        console.print(f"what gives the synthetic days away (permutation importance, AUC drop): {top}")
    apart = sorted((f for f in summary.features if f.ks is not None), key=lambda f: -(f.ks or 0.0))[:8]
    if apart:
        console.print(
            "largest KS distances: " + ", ".join(f"{f.feature} {f.ks:.2f}" for f in apart), highlight=False
        )
    console.print(feature_table(summary))
    console.print(
        f"{summary.features_outside} of {summary.features_compared} features have more than "
        f"{OUTSIDE_LIMIT:.0%} of synthetic homes with their median outside the real range",
        highlight=False,
    )
