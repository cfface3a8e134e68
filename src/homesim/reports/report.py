"""`write_report`: one static, self-contained HTML report of a simulation cycle or of a whole run.

What a report covers:
* per cycle and dataset — home-type and domain mix, events per day by cause, heating/cooling against
  outdoor temperature and the correlations of weather, carbon intensity and price with activity,
  ground-truth item counts, and the per-stage metrics of the cycle report;
* for a run (`reports/runs/<run_id>.json`) — the run's cycles, stage F1 across cycles, a learning curve
  per model type (candidate/champion/baseline values and the gain's confidence interval), the deployment
  decisions, and the A/B results (`reports/ab_<model_type>_<cycle>.json`), then the sections of each cycle;
* when the workspace holds a realism report (`reports/realism/`, from `homesim realism`) — its sections:
  synthetic homes measured against real ones (`reports/realism.py`).

A section whose input is missing says "no data" (and why) instead of failing. Reports are written under
`reports/html/` atomically: `cycle_<n>.html`, `run_<run_id>.html`, or `report.html` when the workspace
has neither a run nor a cycle report yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import structlog

from homesim.io import write_text_atomic
from homesim.reports import data, plots
from homesim.reports.inputs import (
    ABInput,
    ReportInputError,
    RunCycle,
    RunSummary,
    ab_results,
    cycle_reports,
    dataset_homes,
    latest_run,
    read_run,
)
from homesim.reports.live import LEARNING_CAPTION, model_curves
from homesim.reports.markup import figure, key_values, no_data, note, page, slug, subsection, table
from homesim.simulation.cycle import CycleReport
from homesim.workspace import Workspace

log = structlog.get_logger(__name__)

#: Homes read per dataset for the data sections (the first ones in index order); the rest are noted.
MAX_HOMES = 100

#: Subsection titles of every cycle/dataset section, in order (tests and docs refer to them).
CYCLE_SECTIONS = (
    "Home types and devices",
    "Events per day by cause",
    "Weather, carbon and activity",
    "Ground-truth patterns",
    "Stage metrics",
)
#: Section titles of a run report, before its cycles.
RUN_SECTIONS = ("Run overview", "Learning curves", "Deployment decisions", "A/B tests")

#: Called with a short description of each step while a report is rendered (for a CLI status line).
StatusFn = Callable[[str], None]


@dataclass(frozen=True)
class _CycleInput:
    """One cycle of one dataset: the cycle report if there is one, else the run's copy of its metrics."""

    cycle: int
    dataset_id: str | None
    report: CycleReport | None
    run_cycle: RunCycle | None


@dataclass(frozen=True)
class _Plan:
    """What one report covers: a run (or none), its cycle/dataset sections, its title and file name."""

    run: RunSummary | None
    inputs: list[_CycleInput]
    title: str
    name: str


def write_report(
    workspace: Workspace,
    *,
    cycle: int | None = None,
    run_id: str | None = None,
    max_homes: int = MAX_HOMES,
    status: StatusFn | None = None,
) -> Path:
    """Render a report and return its path under `reports/html/`.

    `run_id` ("latest" for the newest run) makes a run report, restricted to `cycle` if given; `cycle`
    alone makes a report of that cycle's datasets. With neither: the latest run if there is one, else the
    newest cycle.
    """
    say = status or (lambda _: None)
    plan = _plan(workspace, cycle, run_id)
    sections: list[tuple[str, str, str]] = []
    if plan.run is not None:
        say(f"run {plan.run.run_id}")
        sections += _run_sections(workspace, plan.run, {c.cycle for c in plan.inputs})
    drawn: dict[str, list[str]] = {}  # dataset id -> its data subsections (cycles of a run may share one)
    for item in plan.inputs:
        say(f"cycle {item.cycle} · {item.dataset_id or 'no dataset'}")
        sections.append(_cycle_section(workspace, item, max_homes, drawn))
    if not plan.inputs:
        if plan.run is None:
            why = no_data("no cycle report under reports/ and no run summary under reports/runs/")
        else:
            why = no_data(f"run {plan.run.run_id} has no cycle" + ("" if cycle is None else f" {cycle}"))
        sections.append(("cycles", "Cycles", "\n".join(subsection(t, why) for t in CYCLE_SECTIONS)))
    if plan.run is None:
        ab = ab_results(workspace, {c.cycle for c in plan.inputs} if plan.inputs else None)
        sections.append(("ab-tests", "A/B tests", _ab_body(ab)))
    # Imported here: the realism package brings scikit-learn and scipy, a second at every CLI start.
    from homesim.reports.realism import load_realism, realism_sections

    realism = load_realism(workspace)  # the latest `homesim realism` of this workspace
    if realism is not None:
        say("realism")
        sections += realism_sections(*realism)
    path = workspace.html_report(plan.name)
    write_text_atomic(path, page(plan.title, f"workspace {workspace.root}", sections))
    log.info("report_written", path=str(path), sections=len(sections))
    return path


def _plan(workspace: Workspace, cycle: int | None, run_id: str | None) -> _Plan:
    run = read_run(workspace, run_id) if run_id is not None else None
    if run is None and cycle is None:
        run = latest_run(workspace)
        if run is None:
            cycles = [r.cycle for r in cycle_reports(workspace)]
            cycle = max(cycles) if cycles else None
    if run is not None:
        title, name = f"homesim run {run.run_id}", f"run_{slug(run.run_id)}"
        if cycle is not None:
            title, name = f"{title}, cycle {cycle}", f"{name}_cycle_{cycle}"
            if cycle not in {c.cycle for c in run.cycles}:  # asked for by name: refuse, write nothing
                known = ", ".join(str(c.cycle) for c in run.cycles) or "none"
                raise ReportInputError(f"run {run.run_id} has no cycle {cycle} (its cycles: {known})")
        return _Plan(run, _run_cycles(workspace, run, cycle), title, name)
    if cycle is not None:
        inputs = [_CycleInput(r.cycle, r.dataset_id, r, None) for r in cycle_reports(workspace, cycle)]
        if not inputs:
            known = ", ".join(str(c) for c in sorted({r.cycle for r in cycle_reports(workspace)})) or "none"
            raise ReportInputError(f"no cycle {cycle} in {workspace.root} (cycles with a report: {known})")
        return _Plan(None, inputs, f"homesim cycle {cycle}", f"cycle_{cycle}")
    return _Plan(None, [], "homesim report", "report")


def _run_cycles(workspace: Workspace, run: RunSummary, cycle: int | None) -> list[_CycleInput]:
    reports = {(r.cycle, r.dataset_id): r for r in cycle_reports(workspace.for_run(run.run_id))}
    return [
        _CycleInput(c.cycle, c.dataset_id, reports.get((c.cycle, c.dataset_id or "")), c)
        for c in run.cycles
        if cycle is None or c.cycle == cycle
    ]


# -- run sections ---------------------------------------------------------------------------------------


def _run_sections(workspace: Workspace, run: RunSummary, cycles: set[int]) -> list[tuple[str, str, str]]:
    overview = key_values(
        [("run id", run.run_id), ("started", run.started), *((k, v) for k, v in run.config.items())]
    )
    cycle_rows = data.run_cycle_table(run)
    overview += table(cycle_rows) if cycle_rows.height else no_data("the run has no completed cycle yet")
    models = data.run_model_curves(run)
    stages = data.run_stage_curves(run)
    return [
        ("run-overview", "Run overview", overview),
        ("learning-curves", "Learning curves", _learning_body(stages, models)),
        ("deployment-decisions", "Deployment decisions", _decisions_body(models)),
        ("ab-tests", "A/B tests", _ab_body(ab_results(workspace, cycles))),
    ]


def _learning_body(stages: pl.DataFrame, models: pl.DataFrame) -> str:
    parts = []
    if stages.drop_nulls("f1").height:
        parts.append(figure(plots.stage_curves_figure(stages), "F1 per stage across cycles"))
    else:
        parts.append(no_data("no stage metrics in the run summary"))
    if models.is_empty():
        parts.append(no_data("no model was retrained in this run"))
    for model_type, uri in model_curves(models):
        body = (
            no_data("no candidate was evaluated")
            if uri is None
            else figure(uri, f"{model_type}: {LEARNING_CAPTION}")
        )
        parts.append(subsection(model_type, body))
    return "\n".join(parts)


def _decisions_body(models: pl.DataFrame) -> str:
    if models.is_empty():
        return no_data("no deployment decision in this run")
    columns = [
        "cycle", "model_type", "decision", "candidate", "champion", "primary_metric",
        "candidate_value", "champion_value", "baseline_value", "ci_low", "ci_high", "ci_homes", "reason",
    ]  # fmt: skip
    return table(models.sort("cycle", "model_type").select(columns), badges=("decision",))


#: A/B result fields shown beside the winner when present.
_AB_FACTS = (
    "champion", "challenger", "target_stage", "decision", "promoted", "alpha", "min_p", "can_be_significant",
    "share", "dataset_id",
)  # fmt: skip


def _ab_body(results: list[ABInput]) -> str:
    if not results:
        return no_data("no A/B result (reports/ab_<model_type>_<cycle>.json)")
    parts = []
    for result in results:
        body = []
        metrics = data.ab_metric_table(result.data)
        if metrics.is_empty():
            body.append(no_data("the A/B result has no per-arm metrics"))
        else:
            body.append(table(metrics))
            body.append(
                figure(
                    plots.ab_figure(metrics), f"{result.model_type}, cycle {result.cycle}: metrics per arm"
                )
            )
        facts = [(k, result.data[k]) for k in _AB_FACTS if k in result.data]
        p_values = [(f"p-value {k}", v) for k, v in data.ab_p_values(result.data)]
        body.append(key_values([("winner", result.data.get("winner")), *facts, *p_values]))
        if result.note:
            body.append(note(f"{result.path}: {result.note}"))
        parts.append(subsection(f"{result.model_type}, cycle {result.cycle}", "\n".join(body)))
    return "\n".join(parts)


# -- cycle sections ---------------------------------------------------------------------------------------


def _cycle_section(
    workspace: Workspace, item: _CycleInput, max_homes: int, drawn: dict[str, list[str]]
) -> tuple[str, str, str]:
    title = f"Cycle {item.cycle}" + (f" — dataset {item.dataset_id}" if item.dataset_id else "")
    homes = dataset_homes(workspace, item.dataset_id, max_homes) if item.dataset_id else None
    parts = []
    if homes is None:
        why = f"dataset {item.dataset_id} is not in this workspace" if item.dataset_id else "no cycle report"
        parts += [subsection(t, no_data(why)) for t in CYCLE_SECTIONS[:-1]]
    else:
        if len(homes.home_dirs) < homes.total_homes:
            parts.append(note(f"figures use the first {len(homes.home_dirs)} of {homes.total_homes} homes"))
        if homes.dataset_id not in drawn:
            drawn[homes.dataset_id] = _dataset_parts(homes.home_dirs)
        parts += drawn[homes.dataset_id]
    parts.append(subsection(CYCLE_SECTIONS[-1], _stage_body(item)))
    return f"cycle-{item.cycle}-{slug(item.dataset_id or 'none')}", title, "\n".join(parts)


def _dataset_parts(home_dirs: list[Path]) -> list[str]:
    homes, domains = data.home_mix(home_dirs)
    mix = (
        figure(plots.mix_figure(homes, domains), "homes per home type and entities per domain") + table(homes)
        if homes.height
        else no_data("no home.json")
    )
    per_day = data.events_per_day(home_dirs)
    events = (
        figure(plots.events_per_day_figure(per_day), "mean events per home per UTC day, stacked by cause")
        if per_day.height
        else no_data("no events.parquet")
    )
    hourly = data.hourly_activity(home_dirs)
    if hourly.height:
        correlations = data.activity_correlations(hourly)
        weather = (
            figure(
                plots.temperature_figure(data.temperature_response(hourly)),
                "climate entities switching to heat / cool per home-day, by outdoor temperature",
            )
            + figure(
                plots.correlation_figure(correlations),
                "Pearson correlation over home-hours of weather, carbon intensity and price with activity",
            )
            + table(correlations)
        )
    else:
        weather = no_data("no events.parquet with environment.parquet")
    counts = data.truth_counts(home_dirs)
    truth = (
        figure(
            plots.truth_figure(counts),
            "ground-truth patterns by type, synergies by status, decoys, faults by kind",
        )
        + table(counts)
        if counts.height
        else no_data("no ground_truth.json")
    )
    return [subsection(t, b) for t, b in zip(CYCLE_SECTIONS[:-1], (mix, events, weather, truth), strict=True)]


def _stage_body(item: _CycleInput) -> str:
    if item.report is not None:
        stages = data.stage_table(item.report)
        source = f"cycle report reports/cycle_{item.cycle}_{item.dataset_id}.json"
    elif item.run_cycle is not None and item.run_cycle.stage_metrics:
        stages = data.run_stage_curves(RunSummary(run_id="-", cycles=[item.run_cycle])).select(
            "stage", pl.col("model_version").alias("model"), "precision", "recall", "f1"
        )
        source = "run summary (the cycle report is not in this workspace)"
    else:
        return no_data("no cycle report")
    return (
        figure(plots.stage_metrics_figure(stages), "precision, recall and F1 per stage against ground truth")
        + table(stages)
        + note(f"from the {source}")
    )
