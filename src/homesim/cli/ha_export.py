"""`homesim ha export` and `homesim ha import`: a home folder to an HA config dir, and back to home.json.

Thin: parses arguments, calls `homesim.ha.config_dir` / `homesim.ha.storage`, renders what was written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from homesim.cli.errors import fail
from homesim.cli.options import home_ref, resolve_workspace
from homesim.datasets.home_folder import HomeFiles
from homesim.ha.automation import render_yaml
from homesim.ha.config_dir import (
    RECORDER_DB_NAME,
    ConfigImport,
    export_config_dir,
    import_config,
    truth_automations_yaml,
)
from homesim.ha.recorder import table_counts
from homesim.ha.storage import PASSIVE_DEVICE_TYPE, RegistryImportError, import_home
from homesim.io import write_text_atomic
from homesim.schema.ground_truth import GroundTruth
from homesim.workspace import HomeFolder

_console = Console()


def register_commands(app: typer.Typer) -> None:
    """Add `export` and `import` to the `ha` sub-app."""
    app.command("export")(export_command)
    app.command("import")(import_command)


def export_command(
    home_dir: Annotated[
        Path,
        typer.Argument(
            help="folder with home.json (and events.parquet for --recorder), a home key of the workspace, "
            "or latest (the newest dataset's first home)",
            file_okay=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="HA config dir to write")],
    recorder: Annotated[
        bool, typer.Option(help="also write home-assistant_v2.db from events.parquet")
    ] = False,
    statistics: Annotated[
        bool, typer.Option(help="add long- and short-term statistics to the database")
    ] = False,
    automations: Annotated[
        Path | None,
        typer.Option(
            help="YAML file to use as automations.yaml (default: the home's ground-truth automations)",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Write a Home Assistant 2025.1 config dir (.storage registries, configuration.yaml, recorder DB)."""
    folder = HomeFolder(home_ref(resolve_workspace(None), home_dir))
    home_json = folder.home_json
    if not home_json.is_file():
        raise typer.BadParameter(f"{home_json} not found", param_hint="HOME_DIR")
    events_path = folder.events
    if recorder and not events_path.is_file():
        raise typer.BadParameter(f"--recorder needs {events_path}", param_hint="HOME_DIR")
    if statistics and not recorder:
        raise typer.BadParameter("--statistics needs --recorder", param_hint="--statistics")
    home_files = HomeFiles(folder.path)  # each file checked against the home's manifest as it is read
    try:
        home = home_files.home()
    except ValidationError as exc:
        raise typer.BadParameter(f"{home_json} is not a valid home: {exc}", param_hint="HOME_DIR") from exc
    truth_json = folder.ground_truth
    if automations is not None:
        automations_yaml: str | None = automations.read_text(encoding="utf-8")
    elif truth_json.is_file():
        automations_yaml = truth_automations_yaml(
            GroundTruth.model_validate_json(home_files.read(truth_json))
        )
    else:
        automations_yaml = None
    paths = export_config_dir(
        home,
        out,
        events=home_files.parquet(events_path) if recorder else None,
        recorder=recorder,
        statistics=statistics,
        automations_yaml=automations_yaml,
    )
    files = Table(title=f"Home Assistant config dir {out}")
    files.add_column("file")
    files.add_column("bytes", justify="right")
    for path in paths:
        files.add_row(str(path.relative_to(out)), f"{path.stat().st_size:,}")
    _console.print(files)
    counts = Table(title="Contents")
    counts.add_column("what")
    counts.add_column("rows", justify="right")
    for name, count in (
        ("floors", len(home.floors)),
        ("areas", len(home.areas)),
        ("labels", len(home.labels)),
        ("devices", len(home.devices)),
        ("entities", len(home.entities)),
    ):
        counts.add_row(name, f"{count:,}")
    if recorder:
        for table, count in table_counts(out / RECORDER_DB_NAME).items():
            counts.add_row(f"{RECORDER_DB_NAME}: {table}", f"{count:,}")
    _console.print(counts)


def import_command(
    config_dir: Annotated[
        Path, typer.Argument(help="HA config dir (or a bare .storage folder)", exists=True, file_okay=False)
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="home.json template to write", dir_okay=False)],
    automations_out: Annotated[
        Path | None,
        typer.Option(
            "--automations", help="write the automations kept, as their owner wrote them, to this YAML file"
        ),
    ] = None,
) -> None:
    """Read an HA config dir's registries into a home.json template, and its automations, scripts and
    scenes (through configuration.yaml's includes and secrets); prints what it could not map and, per
    automation, what it kept."""
    try:
        home, warnings = import_home(config_dir)
    except RegistryImportError as exc:
        fail(f"cannot import {config_dir}: {exc}")
    write_text_atomic(out, home.model_dump_json(indent=2) + "\n")
    summary = Table(title=f"Imported {config_dir} → {out}")
    summary.add_column("what")
    summary.add_column("count", justify="right")
    for name, count in (
        ("floors", len(home.floors)),
        ("areas", len(home.areas)),
        ("labels", len(home.labels)),
        ("devices", len(home.devices)),
        ("passive devices", sum(d.device_type == PASSIVE_DEVICE_TYPE for d in home.devices)),
        ("entities", len(home.entities)),
        ("warnings", len(warnings)),
    ):
        summary.add_row(name, str(count))
    _console.print(summary)
    for warning in warnings:
        _console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    _report_automations(import_config(config_dir), automations_out)


def _report_automations(imported: ConfigImport, out: Path | None) -> None:
    """Per automation: kept (with notes on what could not be checked) or refused (with why)."""
    table = Table(title=f"Automations: {len(imported.kept)} of {len(imported.automations)} kept")
    table.add_column("automation")
    table.add_column("kept")
    table.add_column("what")
    for report in imported.automations:
        name = report.alias or report.id or report.prefix
        if report.kept and report.automation is not None:
            a = report.automation
            what = (
                f"{len(a.triggers)} trigger(s), {len(a.conditions)} condition(s), {len(a.actions)} action(s)"
            )
            if report.blueprint:
                what += f"; from blueprint {report.blueprint}"
            what += "".join(f"; note: {note.path}: {note.message}" for note in report.notes)
            table.add_row(name, "yes", what)
        else:
            table.add_row(name, "[red]no[/red]", "; ".join(f"{i.path}: {i.message}" for i in report.issues))
    _console.print(table, highlight=False)
    refused_scripts = [s for s in imported.scripts if s.issues]
    _console.print(
        f"scripts: {len(imported.scripts) - len(refused_scripts)} of {len(imported.scripts)} kept; "
        f"scenes: {imported.scenes}",
        highlight=False,
    )
    for script in refused_scripts:
        issue = script.issues[0]
        _console.print(
            f"[yellow]script {script.key} refused:[/yellow] {issue.path}: {issue.message}", highlight=False
        )
    for problem in imported.problems:
        _console.print(f"[yellow]warning:[/yellow] {problem}", highlight=False)
    if out is not None:
        write_text_atomic(out, render_yaml(imported.kept))
