"""`homesim generate` and `homesim inspect`: make homes through the DataGenerationManager; summarize one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from homesim.cli.errors import fail
from homesim.cli.options import (
    AllowPartialOption,
    ExecutorOption,
    JsonOption,
    WorkersOption,
    WorkspaceOption,
    home_ref,
    partial,
    print_json,
    resolve_workspace,
    start_command,
)
from homesim.datasets.home_folder import read_events, read_home
from homesim.datasets.manager import DataGenerationManager
from homesim.datasets.progress import ProgressCallback, ProgressEvent, log_progress
from homesim.generation.config import GenerationConfig
from homesim.workspace import HOME_FILE, HomeFolder

console = Console()
err_console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
    app.command("inspect")(inspect)


def _parse_home_types(values: list[str]) -> dict[str, Any]:
    """`--home-type apartment=0.3` gives a share; bare names split the remaining share equally."""
    shares: dict[str, Any] = {}
    bare = []
    for value in values:
        name, sep, share = value.partition("=")
        if sep:
            try:
                shares[name] = float(share)
            except ValueError:
                shares[name] = share  # left to the config's validation, which names the field
        else:
            bare.append(name)
    if bare:
        rest = 1.0 - sum(v for v in shares.values() if isinstance(v, float))
        shares.update({name: rest / len(bare) for name in bare})
    return shares


def _default(name: str) -> str:
    """A GenerationConfig field's default, shown in `--help` (the flags default to None: a --config file's
    value, else this)."""
    return str(GenerationConfig.model_fields[name].default)


def generate(
    config_file: Annotated[
        Path | None, typer.Option("--config", help="YAML or TOML GenerationConfig; flags override it")
    ] = None,
    homes: Annotated[int | None, typer.Option(help="number of homes", show_default=_default("homes"))] = None,
    days: Annotated[
        int | None, typer.Option(help="days of events per home", show_default=_default("days"))
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(help="seed; the same seed reproduces every file", show_default=_default("seed")),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="first day, YYYY-MM-DD", show_default=_default("start"))
    ] = None,
    home_type: Annotated[
        list[str] | None,
        typer.Option(
            "--home-type", help="home type, or type=share; repeatable", show_default="the catalog's mix"
        ),
    ] = None,
    noise: Annotated[
        float | None,
        typer.Option(help="multiplier on patternless manual toggles", show_default=_default("noise")),
    ] = None,
    fault_rate: Annotated[
        float | None,
        typer.Option(help="probability that an entity has a fault", show_default=_default("fault_rate")),
    ] = None,
    workers: WorkersOption = None,
    executor: ExecutorOption = None,
    workspace: WorkspaceOption = None,
    allow_partial: AllowPartialOption = False,
) -> None:
    """Generate homes into the workspace cache, reusing cached ones, and write a dataset manifest."""
    flags = {
        "homes": homes,
        "days": days,
        "seed": seed,
        "start": start,
        "noise": noise,
        "fault_rate": fault_rate,
        "home_types": _parse_home_types(home_type) if home_type else None,
    }
    overrides = {k: v for k, v in flags.items() if v is not None}
    config = (
        GenerationConfig.from_file(config_file, overrides)
        if config_file
        else GenerationConfig.build(overrides)
    )
    settings, root = start_command(workspace, workers, executor)
    tty = console.is_terminal
    callbacks: list[ProgressCallback] = [] if tty else [log_progress(max(1, config.homes // 20))]
    with Progress(*_columns(), console=console, disable=not tty) as bar:
        task = bar.add_task("homes", total=config.homes)

        def advance(event: ProgressEvent) -> None:
            bar.update(
                task,
                completed=event.done,
                description=f"homes ({event.cached} cached, {event.events:,} events)",
            )

        callbacks.append(advance)
        with DataGenerationManager(
            root,
            settings.executor,
            workers=settings.workers,
            progress=callbacks,
        ) as manager:
            result = manager.generate(config)
    counts = result.manifest.counts
    console.print(
        f"{counts.homes} homes ({counts.generated} generated, {counts.cached} cached, "
        f"{counts.failed} failed), "
        f"{counts.events:,} events, {counts.bytes / 1e6:,.1f} MB in {result.manifest.timings.wall_s:.1f} s; "
        f"manifest {result.manifest_path}",
        highlight=False,
    )
    for home in result.failures:
        err_console.print(f"[red]{home.home_key}[/red]: {home.error}", highlight=False)
    if result.failures:
        first = result.failures[0]
        partial(
            f"{len(result.failures)} of {counts.homes} homes failed (first: {first.home_key})", allow_partial
        )


def _columns() -> tuple[Any, ...]:
    return (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )


def inspect(
    home: Annotated[
        Path,
        typer.Argument(
            help="a home folder (generate, import-history), a home key of the workspace, or latest "
            "(the first home of the newest dataset)"
        ),
    ],
    as_json: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Summarize a home: areas, devices, entities by domain, events per day by cause."""
    home_dir = home_ref(resolve_workspace(workspace), home)
    if not HomeFolder(home_dir).home_json.is_file():
        fail(f"{home_dir} holds no {HOME_FILE}")
    summary = _summary(home_dir)
    if as_json:
        print_json(summary)
        return
    meta = summary["home"]
    console.print(f"[bold]{meta['home_key']}[/bold]: {meta['description']}", highlight=False)
    console.print(
        f"{summary['floors']} floors, {summary['areas']} areas, {summary['devices']} devices, "
        f"{summary['entities']} entities",
        highlight=False,
    )
    by_domain = sorted(summary["entities_by_domain"].items(), key=lambda kv: (-kv[1], kv[0]))
    console.print(
        "  entities by domain: "
        + ", ".join(f"{n} {domain}" for domain, n in by_domain[:5])
        + (f", … {len(by_domain)} domains" if len(by_domain) > 5 else ""),
        highlight=False,
    )
    table = Table(title=f"events per day by cause ({summary['events']:,} events)")
    table.add_column("cause")
    table.add_column("events/day", justify="right")
    for cause, rate in summary["events_per_day_by_cause"].items():
        table.add_row(cause, f"{rate:,.1f}")
    console.print(table)


def _summary(home_dir: Path) -> dict[str, Any]:
    """What `inspect` shows, as plain data (`--json`)."""
    home = read_home(home_dir)
    meta = home.metadata
    if meta.real_source is not None:
        origin = meta.real_source.dataset or meta.real_source.format
        description = (
            f"real home ({origin}, {meta.real_source.original_name or '—'}), "
            f"{meta.timezone}, {meta.days} days from {meta.start}"
        )
    else:
        description = (
            f"{meta.home_type}, {meta.size_m2} m², {len(meta.occupants)} occupants, "
            f"{meta.climate_region} ({meta.timezone}), {meta.days} days from {meta.start}"
        )
    by_domain = (
        pl.DataFrame({"domain": [e.domain for e in home.entities]}).group_by("domain").len().sort("domain")
    )
    events = pl.from_arrow(read_events(home_dir))
    assert isinstance(events, pl.DataFrame)
    per_day = (
        events.group_by(pl.col("cause").cast(pl.String))
        .len()
        .with_columns((pl.col("len") / meta.days).alias("per_day"))
    ).sort("len", descending=True)
    return {
        "home": {
            "home_key": meta.home_key,
            "description": description,
            "days": meta.days,
            "start": str(meta.start),
            "timezone": meta.timezone,
        },
        "path": str(home_dir),
        "floors": len(home.floors),
        "areas": len(home.areas),
        "devices": len(home.devices),
        "entities": len(home.entities),
        "entities_by_domain": dict(by_domain.iter_rows()),
        "events": events.height,
        "events_per_day_by_cause": {cause: rate for cause, _, rate in per_day.iter_rows()},
    }
