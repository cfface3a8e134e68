"""`homesim ha …`: Home Assistant-native files; `validate` checks automations.yaml, optionally for a home."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from homesim.cli import ha_export
from homesim.ha.automation_validation import validate_yaml
from homesim.schema.home import Home
from homesim.workspace import HomeFolder

app = typer.Typer(
    help="Home Assistant-native formats: automations.yaml, HA config folders.", no_args_is_help=True
)
console = Console()


def register(parent: typer.Typer) -> None:
    ha_export.register_commands(app)
    parent.add_typer(app, name="ha")


def _load_home(path: Path) -> Home:
    """A home from a home.json file, or from a home folder holding one."""
    file = HomeFolder(path).home_json if path.is_dir() else path
    try:
        return Home.model_validate_json(file.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise typer.BadParameter(f"{path} holds no home.json", param_hint="--home") from exc
    except ValidationError as exc:
        raise typer.BadParameter(f"{file} is not a valid home: {exc}", param_hint="--home") from exc


@app.command()
def validate(
    file: Annotated[
        Path,
        typer.Argument(
            help="automations.yaml, in 2024.10+ or legacy syntax", exists=True, dir_okay=False, readable=True
        ),
    ],
    home: Annotated[
        Path | None, typer.Option("--home", help="home.json, or a home folder holding one, to check against")
    ] = None,
) -> None:
    """Validate automations: schema, services and data, and with --home every reference and state.

    Exits 1 when there is any issue, 0 otherwise.
    """
    issues = validate_yaml(file.read_text("utf-8"), _load_home(home) if home is not None else None)
    if not issues:
        console.print(f"[green]{file}: no issues[/green]")
        return
    table = Table(title=f"{len(issues)} issue(s) in {file}")
    table.add_column("path", no_wrap=True)
    table.add_column("message")
    for path, message in issues:
        table.add_row(path or "(file)", message)
    console.print(table)
    raise typer.Exit(1)
