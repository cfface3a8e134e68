"""The report's key plots for the live dashboard: what `GET /v1/dashboard/plots` returns.

The dashboard shows the same figures as a run report's first sections (F1 per stage across cycles, a
learning curve per model type, the A/B metrics per arm), drawn by the same `plots` functions from the same
inputs; with no run yet, the newest cycle's stage metrics. The inputs are the files the loop rewrites as it
goes (`reports/runs/latest.json`, cycle reports, A/B results), so `version` — a digest of their names,
sizes and modification times — changes whenever a running job writes one, and the page redraws only then.
Rendering is cached per version: polling an unchanged workspace draws nothing.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from homesim.reports import data, plots
from homesim.reports.inputs import ab_results, cycle_reports, latest_run
from homesim.workspace import Workspace


@dataclass(frozen=True)
class Plot:
    """One figure: a stable key (the page updates it in place), its title, caption and PNG data URI."""

    key: str
    title: str
    caption: str
    src: str


def model_curves(models: pl.DataFrame) -> Iterator[tuple[str, str | None]]:
    """(model type, learning-curve figure) per model type of a run's `run_model_curves` frame; the figure
    is None when no candidate of that type was evaluated."""
    for (model_type,), part in models.group_by("model_type", maintain_order=True):
        if part.drop_nulls("candidate_value").is_empty():
            yield str(model_type), None
        else:
            yield str(model_type), plots.learning_curve_figure(part, str(model_type))


LEARNING_CAPTION = "primary metric of candidate, champion and baseline per cycle, with the gain's CI"


def _inputs(workspace: Workspace) -> list[Path]:
    files = [workspace.latest_run_file] if workspace.latest_run_file.is_file() else []
    return files + [f.path for f in workspace.cycle_reports()] + [f.path for f in workspace.ab_reports()]


def inputs_version(workspace: Workspace) -> str:
    """A digest of the plot inputs' names, sizes and modification times ("" when there is none)."""
    digest = hashlib.sha256()
    paths = _inputs(workspace)
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16] if paths else ""


def key_plots(workspace: Workspace) -> list[Plot]:
    """The key plots of the workspace's latest run, or of its newest cycle when there is no run."""
    run = latest_run(workspace)
    if run is None:
        reports = cycle_reports(workspace)
        if not reports:
            return []
        newest = reports[-1]
        return [
            Plot(
                f"stages-{newest.cycle}",
                f"Stage metrics, cycle {newest.cycle}",
                "precision, recall and F1 per stage against ground truth",
                plots.stage_metrics_figure(data.stage_table(newest)),
            )
        ]
    found = []
    stages = data.run_stage_curves(run)
    if stages.drop_nulls("f1").height:
        found.append(
            Plot(
                "stage-curves",
                "F1 per stage",
                "F1 per stage across cycles",
                plots.stage_curves_figure(stages),
            )
        )
    for model_type, uri in model_curves(data.run_model_curves(run)):
        if uri is not None:
            found.append(
                Plot(f"learning-{model_type}", f"Learning curve: {model_type}", LEARNING_CAPTION, uri)
            )
    for result in ab_results(workspace, {c.cycle for c in run.cycles}):
        metrics = data.ab_metric_table(result.data)
        if not metrics.is_empty():
            found.append(
                Plot(
                    f"ab-{result.model_type}-{result.cycle}",
                    f"A/B: {result.model_type}, cycle {result.cycle}",
                    "every metric per arm",
                    plots.ab_figure(metrics),
                )
            )
    return found


class PlotCache:
    """The key plots of one workspace, drawn again only when `inputs_version` changes (thread-safe: the
    API answers requests from a thread pool)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._lock = threading.Lock()
        self._version: str | None = None
        self._plots: list[Plot] = []

    def get(self) -> dict[str, Any]:
        """`{"version": …, "plots": [{key, title, caption, src}, …]}`."""
        with self._lock:
            version = inputs_version(self.workspace)
            if version != self._version:
                self._plots, self._version = key_plots(self.workspace), version
            return {"version": version, "plots": [asdict(p) for p in self._plots]}
