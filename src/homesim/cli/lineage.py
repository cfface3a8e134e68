"""`homesim lineage query|show|export`: ask the workspace's lineage database where training data came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from homesim.cli.errors import fail
from homesim.cli.options import (
    JsonOption,
    RunOption,
    WorkspaceOption,
    print_json,
    resolve_workspace,
    runs_hint,
    session,
)
from homesim.schema.records import MAX_CYCLE
from homesim.training_data.lineage_tracker import LineageTracker

console = Console()
lineage_app = typer.Typer(help="Query and export the lineage of training records.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(lineage_app, name="lineage")


def _tracker(workspace: Path | None, run: str | None, hint: str = "") -> LineageTracker:
    path = session(resolve_workspace(workspace), run).lineage_db
    if not path.exists():
        fail(f"no lineage database at {path}{hint}")
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
    ids: Annotated[bool, typer.Option("--ids", help="print the record ids, one per line")] = False,
    as_json: JsonOption = False,
    run: RunOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Where records came from, by cycle, model type (and version): records per cycle, home and stage
    (`--ids`: the ids); or one record's source."""
    if sum(x is not None for x in (cycle, model_type, record)) != 1:
        raise typer.BadParameter("give exactly one of --cycle, --model-type, --record")
    # Asked for an ad-hoc cycle that only a run has: say which run to ask instead.
    hint = runs_hint(resolve_workspace(workspace), cycle) if cycle is not None and run is None else ""
    with _tracker(workspace, run, hint) as tracker:
        if record is not None:
            source = tracker.source(record)
            if source is None:
                fail(f"unknown record {record}")
            typer.echo(json.dumps(source, indent=2))
            return
        if cycle is not None:
            found, what = tracker.records_of_cycle(cycle), f"of cycle {cycle}"
        elif model_version is not None:
            found = tracker.records_of_model_version(str(model_type), model_version)
            what = f"{model_type} {model_version} was trained on"
        else:
            found, what = tracker.records_of_model_type(str(model_type)), f"feeding {model_type}"
        if not found and hint:
            fail(f"no records of ad-hoc cycle {cycle}{hint}")
        groups = [] if ids else tracker.summarize(found)
    if ids:
        typer.echo("\n".join(found))
    elif as_json:
        print_json({"records": len(found), "by_source": groups})
    else:
        console.print(_sources(groups, f"{len(found):,} accepted records {what}"))


def _sources(groups: list[dict[str, object]], title: str) -> Table:
    table = Table(title=title, caption="--ids lists them; lineage show ID tells one record's story")
    for name in ("cycle", "dataset", "home", "stage", "records"):
        table.add_column(name, justify="right" if name in ("cycle", "records") else "left")
    for g in groups:
        cells = (g["cycle"], g["dataset_id"], g["home_key"], g["stage"])
        table.add_row(*map(str, cells), f"{g['records']:,}")
    return table


@lineage_app.command("show")
def show(record_id: str, run: RunOption = None, workspace: WorkspaceOption = None) -> None:
    """Everything known about a record: source, validation, up/downstream records, export files."""
    with _tracker(workspace, run) as tracker:
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
    run: RunOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """Write the whole lineage as JSON for audit, and optionally as OpenLineage run events."""
    with _tracker(workspace, run) as tracker:
        counts = tracker.export_json(out)
        console.print(f"wrote {out}: " + ", ".join(f"{t} {n}" for t, n in counts.items()), highlight=False)
        if openlineage:
            sent = tracker.emit_openlineage()
            console.print(f"emitted {sent} OpenLineage events", highlight=False)
