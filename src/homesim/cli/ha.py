"""`homesim ha …`: Home Assistant-native files; `validate` checks automations.yaml (optionally for a home,
expanding blueprints from a config dir), `stats` measures the construct mix of automation files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from homesim.cli import ha_export
from homesim.cli.options import JsonOption, home_ref, print_json, resolve_workspace
from homesim.datasets.home_folder import read_home
from homesim.ha.automation import Automation, join_path, parse_yaml
from homesim.ha.automation.stats import construct_mix, mix_table
from homesim.ha.automation_validation import automation_notes, validate_yaml
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
    try:  # a home folder's home.json is checked against its manifest
        return read_home(path) if path.is_dir() else Home.model_validate_json(file.read_text("utf-8"))
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
        Path | None,
        typer.Option(
            "--home",
            help="home.json, a home folder holding one, a home key, or latest (the newest dataset's first "
            "home), to check against",
        ),
    ] = None,
    config_dir: Annotated[
        Path | None,
        typer.Option(
            "--config-dir",
            help="HA config dir whose blueprints/automation/ holds the blueprints used",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Validate automations: schema, services and data, and with --home every reference and state.

    Notes say what could not be checked (integrations homesim does not know). Exits 1 when there is any
    issue, 0 otherwise.
    """
    text = file.read_text("utf-8")
    target = None if home is None else _load_home(home_ref(resolve_workspace(None), home))
    issues = validate_yaml(text, target, config_dir)
    parsed = parse_yaml(text)
    for prefix, automation in parsed.automations.items():
        for path, message in automation_notes(automation):
            console.print(f"note: {join_path(prefix, path)}: {message}", highlight=False)
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


@app.command()
def stats(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="automations.yaml files (either syntax)", exists=True, dir_okay=False, readable=True
        ),
    ],
    as_json: JsonOption = False,
) -> None:
    """The construct mix: the share of the files' automations that use each trigger, condition and action
    kind, templates and modes (automations that do not parse are counted apart)."""
    automations: list[Automation] = []
    refused = 0
    for file in files:
        parsed = parse_yaml(file.read_text("utf-8"))
        automations += parsed.automations.values()
        refused += len({issue.path.partition(".")[0] for issue in parsed.issues})
    if as_json:
        mix = construct_mix(automations)
        print_json({"automations": len(automations), "refused": refused, "files": len(files), "share": mix})
        return
    console.print(f"{len(automations)} automations parsed, {refused} refused, {len(files)} file(s)")
    console.print(mix_table({"share": construct_mix(automations)}), highlight=False, markup=False)
