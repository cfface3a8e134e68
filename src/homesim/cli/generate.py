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
    WorkersOption,
    WorkspaceOption,
    partial,
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


def generate(
    config_file: Annotated[
        Path | None, typer.Option("--config", help="YAML or TOML GenerationConfig")
    ] = None,
    homes: Annotated[int | None, typer.Option(help="number of homes")] = None,
    days: Annotated[int | None, typer.Option(help="days of events per home")] = None,
    seed: Annotated[int | None, typer.Option(help="seed; the same seed reproduces every file")] = None,
    start: Annotated[str | None, typer.Option(help="first day, YYYY-MM-DD")] = None,
    home_type: Annotated[
        list[str] | None, typer.Option("--home-type", help="home type, or type=share; repeatable")
    ] = None,
    noise: Annotated[float | None, typer.Option(help="multiplier on patternless manual toggles")] = None,
    fault_rate: Annotated[float | None, typer.Option(help="probability that an entity has a fault")] = None,
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
    home_dir: Annotated[Path, typer.Argument(help="a home folder written by generate or import-history")],
) -> None:
    """Summarize a home: areas, devices, entities by domain, events per day by cause."""
    if not HomeFolder(home_dir).home_json.is_file():
        fail(f"{home_dir} holds no {HOME_FILE}")
    home = read_home(home_dir)
    meta = home.metadata
    if meta.real_source is not None:
        origin = meta.real_source.dataset or meta.real_source.format
        console.print(
            f"[bold]{meta.home_key}[/bold]: real home ({origin}, {meta.real_source.original_name or '—'}), "
            f"{meta.timezone}, {meta.days} days from {meta.start}",
            highlight=False,
        )
    else:
        console.print(
            f"[bold]{meta.home_key}[/bold]: {meta.home_type}, {meta.size_m2} m², "
            f"{len(meta.occupants)} occupants, "
            f"{meta.climate_region} ({meta.timezone}), {meta.days} days from {meta.start}"
        )
    console.print(
        f"{len(home.floors)} floors, {len(home.areas)} areas, {len(home.devices)} devices, "
        f"{len(home.entities)} entities"
    )
    by_domain = (
        pl.DataFrame({"domain": [e.domain for e in home.entities]}).group_by("domain").len().sort("domain")
    )
    table = Table(title="entities by domain")
    table.add_column("domain")
    table.add_column("entities", justify="right")
    for domain, count in by_domain.iter_rows():
        table.add_row(domain, str(count))
    console.print(table)
    events = pl.from_arrow(read_events(home_dir))
    assert isinstance(events, pl.DataFrame)
    per_day = (
        events.group_by(pl.col("cause").cast(pl.String))
        .len()
        .with_columns((pl.col("len") / meta.days).alias("per_day"))
    ).sort("len", descending=True)
    table = Table(title=f"events per day by cause ({events.height:,} events)")
    table.add_column("cause")
    table.add_column("events/day", justify="right")
    for cause, _, rate in per_day.iter_rows():
        table.add_row(cause, f"{rate:,.1f}")
    console.print(table)
