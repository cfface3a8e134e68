"""`homesim ground-truth verify|flatten`: check a dataset's ground truth against the independent verifier,
and flatten its ground truth into Parquet tables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from homesim.cli.errors import fail
from homesim.cli.options import JsonOption, WorkspaceOption, dataset_dir_ref, print_json, resolve_workspace
from homesim.datasets.home_folder import read_truth
from homesim.datasets.verification import home_folders, verify_dataset, write_accuracy_report
from homesim.ground_truth.accuracy import MIN_OCCURRENCES, AccuracyReport
from homesim.ground_truth.truth import write_ground_truth_parquet
from homesim.ground_truth.verifier import VerifierConfig
from homesim.workspace import GROUND_TRUTH_FILE, HomeFolder

console = Console()
app = typer.Typer(help="Check and export the ground truth of generated homes.", no_args_is_help=True)

Dataset = Annotated[
    Path, typer.Argument(help="folder of home folders", exists=True, file_okay=False, dir_okay=True)
]


def register(parent: typer.Typer) -> None:
    parent.add_typer(app, name="ground-truth")


@app.command("verify")
def verify(
    dataset: Annotated[
        Path,
        typer.Argument(help="a folder of home folders, or a dataset of the workspace: its id or latest"),
    ],
    workers: Annotated[int, typer.Option(min=1, help="processes mining homes in parallel")] = 1,
    min_occurrences: Annotated[
        int, typer.Option(min=1, help="patterns with fewer firings are not counted in recall")
    ] = MIN_OCCURRENCES,
    high_confidence: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="confidence of the patterns counted in precision")
    ] = 0.5,
    as_json: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Recall and precision of the TruthVerifier against the ground truth, by pattern type.

    Prints the table (`--json`: the report) and writes ground_truth_accuracy.json into DATASET.
    """
    dataset = dataset_dir_ref(resolve_workspace(workspace), dataset)
    if not dataset.is_dir():
        fail(f"no dataset or folder {dataset}")
    if not home_folders(dataset):
        fail(f"no home folders (home.json + events.parquet) in {dataset}")
    config = VerifierConfig(high_confidence=high_confidence)
    report = verify_dataset(dataset, config=config, min_occurrences=min_occurrences, workers=workers)
    path = write_accuracy_report(report, dataset)
    if as_json:
        print_json(report.model_dump(mode="json"))
        return
    console.print(render(report))
    console.print(f"wrote {path}", highlight=False)


@app.command("flatten")
def flatten(
    dataset: Dataset,
    out: Annotated[Path | None, typer.Option(help="output folder (default: DATASET)")] = None,
) -> None:
    """Write the ground truth of every home in DATASET as ground_truth_<table>.parquet files."""
    truths = [
        read_truth(folder)  # verified against the home's manifest
        for folder in home_folders(dataset)
        if HomeFolder(folder).ground_truth.is_file()
    ]
    if not truths:
        fail(f"no {GROUND_TRUTH_FILE} in the home folders of {dataset}")
    target = out or dataset
    target.mkdir(parents=True, exist_ok=True)
    for path in write_ground_truth_parquet(truths, target):
        console.print(f"wrote {path}", highlight=False)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def render(report: AccuracyReport) -> Table:
    """The accuracy report as a Rich table: one row per pattern type, then the totals."""
    eligible = f"patterns firing ≥ {report.min_occurrences} times"
    table = Table(
        title=f"Ground-truth accuracy: {report.homes} homes, {eligible}",
        caption=f"precision: extracted patterns of confidence ≥ {report.high_confidence:g} that are in the "
        "truth, by the type they claim; all: over every extracted pattern",
    )
    columns = ("type", "patterns", "recovered", "recall", "extracted", "in truth", "precision", "all")
    for column in columns:
        table.add_column(column, justify="left" if column == "type" else "right")
    for row in (*report.by_type, report.total):
        if row is report.total:
            table.add_section()
        table.add_row(
            row.name,
            str(row.eligible),
            str(row.recovered),
            _pct(row.recall),
            str(row.high_confidence),
            str(row.matched_high_confidence),
            _pct(row.precision),
            _pct(row.precision_all),
            style="bold" if row is report.total else None,
        )
    return table
