"""`homesim lineage query|show|export`: ask the workspace's lineage database where training data came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from homesim.cli.errors import fail
from homesim.cli.options import WorkspaceOption, resolve_workspace
from homesim.schema.records import MAX_CYCLE
from homesim.training_data.lineage_tracker import LineageTracker

console = Console()
lineage_app = typer.Typer(help="Query and export the lineage of training records.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(lineage_app, name="lineage")


def _tracker(workspace: Path | None) -> LineageTracker:
    path = resolve_workspace(workspace).lineage_db
    if not path.exists():
        fail(f"no lineage database at {path}")
    return LineageTracker(path)


@lineage_app.command("query")
def query(
    cycle: Annotated[
        int | None, typer.Option(min=0, max=MAX_CYCLE, help="accepted records of this cycle")
    ] = None,
    model_type: Annotated[str | None, typer.Option(help="accepted records feeding this model type")] = None,
    model_version: Annotated[
        str | None, typer.Option(help="with --model-type: records the model version was trained on")
    ] = None,
    record: Annotated[str | None, typer.Option(help="the source of one record")] = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Record ids by cycle, model type (and version), or one record's source; one per line."""
    if sum(x is not None for x in (cycle, model_type, record)) != 1:
        raise typer.BadParameter("give exactly one of --cycle, --model-type, --record")
    with _tracker(workspace) as tracker:
        if record is not None:
            source = tracker.source(record)
            if source is None:
                fail(f"unknown record {record}")
            typer.echo(json.dumps(source, indent=2))
            return
        if cycle is not None:
            ids = tracker.records_of_cycle(cycle)
        elif model_version is not None:
            ids = tracker.records_of_model_version(str(model_type), model_version)
        else:
            ids = tracker.records_of_model_type(str(model_type))
    typer.echo("\n".join(ids))


@lineage_app.command("show")
def show(record_id: str, workspace: WorkspaceOption = None) -> None:
    """Everything known about a record: source, validation, up/downstream records, export files."""
    with _tracker(workspace) as tracker:
        info = tracker.show(record_id)
    if info["source"] is None:
        fail(f"unknown record {record_id}")
    typer.echo(json.dumps(info, indent=2))


@lineage_app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="JSON audit file to write")],
    openlineage: Annotated[
        bool,
        typer.Option(help="also emit OpenLineage run events (lineage/openlineage.jsonl, or OPENLINEAGE_URL)"),
    ] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Write the whole lineage as JSON for audit, and optionally as OpenLineage run events."""
    with _tracker(workspace) as tracker:
        counts = tracker.export_json(out)
        console.print(f"wrote {out}: " + ", ".join(f"{t} {n}" for t, n in counts.items()), highlight=False)
        if openlineage:
            sent = tracker.emit_openlineage()
            console.print(f"emitted {sent} OpenLineage events", highlight=False)
