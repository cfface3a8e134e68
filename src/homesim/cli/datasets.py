"""`homesim datasets list`: the workspace's datasets, newest last, so nobody has to copy an id by hand."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from homesim.cli.options import LATEST, JsonOption, WorkspaceOption, print_json, resolve_workspace
from homesim.datasets.manifest import read_dataset

console = Console()
datasets_app = typer.Typer(help="The datasets `generate` and `import-history` wrote.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(datasets_app, name="datasets")


@datasets_app.command("list")
def list_datasets(as_json: JsonOption = False, workspace: WorkspaceOption = None) -> None:
    """Every dataset, oldest first; the last one is what `latest` names (`--dataset latest`)."""
    ws = resolve_workspace(workspace)
    newest = ws.latest_dataset()
    folders = sorted(ws.datasets(), key=lambda d: d.manifest.stat().st_mtime_ns)
    rows: list[dict[str, Any]] = []
    for folder in folders:
        m = read_dataset(folder.manifest)
        rows.append(
            {
                "dataset_id": m.dataset_id,
                "latest": folder == newest,
                "source": m.source,
                "homes": m.counts.homes - m.counts.failed,
                "days": m.config.get("days"),
                "seed": m.config.get("seed"),
                "events": m.counts.events,
                "generator_version": m.generator_version,
                "created": m.timings.finished_at.isoformat(),
                "path": str(folder.path),
            }
        )
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"datasets in {ws.root}", caption=f"`{LATEST}` names the last one")
    for name in ("dataset", "source", "homes", "days", "seed", "events", "generator"):
        table.add_column(name, justify="left" if name in ("dataset", "source", "generator") else "right")
    for r in rows:
        table.add_row(
            r["dataset_id"] + (f" ({LATEST})" if r["latest"] else ""),
            r["source"],
            str(r["homes"]),
            "—" if r["days"] is None else str(r["days"]),
            "—" if r["seed"] is None else str(r["seed"]),
            f"{r['events']:,}",
            r["generator_version"],
        )
    console.print(table)
