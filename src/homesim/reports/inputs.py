"""What a report is made from: finding and reading cycle reports, run summaries, A/B results and datasets.

Everything here is lenient on purpose: a report shows what exists, so a missing or partial file becomes
`None` (the section then says "no data") instead of an exception. Files that exist but do not parse are
still errors, with the file named, because a corrupt input is worth seeing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from homesim.datasets.manifest import read_dataset
from homesim.retraining.ab_testing import ABResult
from homesim.simulation.cycle import CycleReport
from homesim.workspace import LATEST_RUN, Workspace


class ReportInputError(ValueError):
    """An input file exists but cannot be read as what its name says it is."""


class ModelOutcome(BaseModel):
    """One model type's retraining outcome in one cycle of a run (`reports/runs/<run_id>.json`)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    decision: str | None = None
    reason: str | None = None
    candidate: str | None = None
    champion: str | None = None
    primary_metric: str | None = None
    candidate_value: float | None = None
    champion_value: float | None = None
    baseline_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    #: n of the CI: the held-out homes the comparison resampled.
    ci_homes: int | None = None
    train_s: float | None = None
    eval_s: float | None = None


class RunCycle(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    cycle: int
    dataset_id: str | None = None
    homes: int | None = None
    records: int | None = None
    wall_s: float | None = None
    #: stage -> {precision, recall, f1, model_version, ...}
    stage_metrics: dict[str, dict[str, float | str | None]] = {}
    models: dict[str, ModelOutcome] = {}


class RunSummary(BaseModel):
    """The run file the retraining loop writes after every cycle (shape: /tmp/helpers/INTERFACES.md)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    run_id: str
    started: str | None = None
    config: dict[str, Any] = {}
    cycles: list[RunCycle] = []


class ABInput(BaseModel):
    """One A/B result file, as a plain dict plus where its shape came from."""

    model_config = ConfigDict(frozen=True)

    model_type: str
    cycle: int
    path: str
    data: dict[str, Any]
    #: Why the file was read as a plain dict rather than validated as `ABResult` (None when it was).
    note: str | None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ReportInputError(f"cannot read {path}: {exc}") from exc


def cycle_reports(workspace: Workspace, cycle: int | None = None) -> list[CycleReport]:
    """Cycle reports under `reports/` (of one cycle, or all), ordered by cycle then dataset."""
    reports = []
    for path in (f.path for f in workspace.cycle_reports(cycle)):
        try:
            reports.append(CycleReport.model_validate(_read_json(path)))
        except ValidationError as exc:
            raise ReportInputError(f"{path} is not a cycle report: {exc}") from exc
    return reports


def read_run(workspace: Workspace, run_id: str) -> RunSummary:
    """The run summary `reports/runs/<run_id>.json` ("latest" reads `latest.json`)."""
    try:
        path = workspace.run_file(run_id)
    except ValueError as exc:
        raise ReportInputError(str(exc)) from exc
    if not path.is_file():
        raise FileNotFoundError(f"no run {run_id!r}: {path} does not exist")
    try:
        return RunSummary.model_validate(_read_json(path))
    except ValidationError as exc:
        raise ReportInputError(f"{path} is not a run summary: {exc}") from exc


def latest_run(workspace: Workspace) -> RunSummary | None:
    return read_run(workspace, LATEST_RUN) if workspace.latest_run_file.is_file() else None


def ab_results(workspace: Workspace, cycles: set[int] | None = None) -> list[ABInput]:
    """A/B result files `reports/ab_<model_type>_<cycle>.json` (of some cycles, or all)."""
    return [
        _read_ab(f.path, f.model_type, f.cycle)
        for f in workspace.ab_reports()
        if cycles is None or f.cycle in cycles
    ]


def _read_ab(path: Path, model_type: str, cycle: int) -> ABInput:
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ReportInputError(f"{path} is not an A/B result object")
    note: str | None
    try:
        data = ABResult.model_validate(data).model_dump(mode="json")
        note = None
    except ValidationError as exc:
        note = f"does not validate as ABResult ({exc.error_count()} errors): read as a plain dict"
    return ABInput(model_type=model_type, cycle=cycle, path=path.name, data=data, note=note)


class DatasetHomes(BaseModel):
    """The home folders of a dataset that a report reads (at most `max_homes` of them, in index order)."""

    model_config = ConfigDict(frozen=True)

    dataset_id: str
    home_dirs: list[Path]
    total_homes: int


def dataset_homes(workspace: Workspace, dataset_id: str, max_homes: int) -> DatasetHomes | None:
    """The dataset's existing home folders, capped; None when the dataset's manifest is missing."""
    folder = workspace.dataset(dataset_id)
    if not folder.is_dataset():
        return None
    manifest = read_dataset(folder.manifest)
    dirs = [workspace.home_dir(k) for k in manifest.home_keys]
    dirs = [d for d in dirs if d.is_dir()][:max_homes]
    return DatasetHomes(dataset_id=dataset_id, home_dirs=dirs, total_homes=len(manifest.home_keys))
