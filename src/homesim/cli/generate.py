"""`homesim generate` and `homesim inspect`: make homes, and summarize one."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from homesim.data_generation.config import GenerationConfig
from homesim.data_generation.pipeline import generate_home, read_events, read_home, write_home

console = Console()


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)
    app.command("inspect")(inspect)


def generate(
    homes: Annotated[int, typer.Option(help="number of homes")] = 10,
    days: Annotated[int, typer.Option(help="days of events per home")] = 90,
    seed: Annotated[int, typer.Option(help="seed; the same seed reproduces every file")] = 0,
    start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD")] = "2025-01-01",
    home_type: Annotated[list[str] | None, typer.Option("--home-type", help="only these home types")] = None,
    noise: Annotated[float, typer.Option(help="multiplier on patternless manual toggles")] = 1.0,
    out: Annotated[Path, typer.Option(help="folder that receives one folder per home")] = Path("workspace/data/homes"),
) -> None:
    """Generate homes: home.json, events.parquet, environment.parquet per home."""
    try:
        config = GenerationConfig(
            homes=homes,
            days=days,
            seed=seed,
            start=date.fromisoformat(start),
            noise=noise,
            home_types={t: 1 / len(home_type) for t in home_type} if home_type else None,
        )
    except (ValidationError, ValueError) as exc:
        console.print(f"[red]invalid configuration:[/red] {exc}")
        raise typer.Exit(2) from exc
    total_events = 0
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("generating homes", total=config.homes)
        for index in range(config.homes):
            generated = generate_home(config, index)
            write_home(generated, out / generated.key)
            total_events += generated.events.num_rows
            progress.update(task, advance=1, description=f"generating homes ({total_events:,} events)")
    console.print(f"wrote {config.homes} homes, {total_events:,} events to {out}")


def inspect(home_dir: Annotated[Path, typer.Argument(help="a home folder written by generate")]) -> None:
    """Summarize a home: areas, devices, entities by domain, events per day by cause."""
    if not (home_dir / "home.json").is_file():
        console.print(f"[red]{home_dir} holds no home.json[/red]")
        raise typer.Exit(2)
    home = read_home(home_dir)
    meta = home.metadata
    console.print(
        f"[bold]{meta.home_key}[/bold]: {meta.home_type}, {meta.size_m2} m², {len(meta.occupants)} occupants, "
        f"{meta.climate_region} ({meta.timezone}), {meta.days} days from {meta.start}"
    )
    console.print(f"{len(home.floors)} floors, {len(home.areas)} areas, {len(home.devices)} devices, "
                  f"{len(home.entities)} entities")  # fmt: skip
    by_domain = pl.DataFrame({"domain": [e.domain for e in home.entities]}).group_by("domain").len().sort("domain")
    table = Table(title="entities by domain")
    table.add_column("domain")
    table.add_column("entities", justify="right")
    for domain, count in by_domain.iter_rows():
        table.add_row(domain, str(count))
    console.print(table)
    events = pl.from_arrow(read_events(home_dir))
    assert isinstance(events, pl.DataFrame)
    per_day = (
        events.group_by(pl.col("cause").cast(pl.String)).len().with_columns((pl.col("len") / meta.days).alias("per_day"))
    ).sort("len", descending=True)
    table = Table(title=f"events per day by cause ({events.height:,} events)")
    table.add_column("cause")
    table.add_column("events/day", justify="right")
    for cause, _, rate in per_day.iter_rows():
        table.add_row(cause, f"{rate:,.1f}")
    console.print(table)
