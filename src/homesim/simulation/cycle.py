"""SimulationCycle: runs every stage over a dataset's homes, streams records, and writes the cycle report.

A dataset is what the generation manager wrote (`data/datasets/<id>/manifest.json`), or a dataset of
imported real homes (`source: "real"`: no config, no ground truth; their records are marked
`home_source="real"` and scored only where no truth is needed, see `metrics`): its homes run in
parallel through the same executors as generation, one task per home (`run_home`). Within a home the
stages run in pipeline order, each seeing the records of the stages before it (`HomeView.upstream`). A
stage that raises on a home is recorded as that home's error and the next stage (and home) goes on.
The stages that produce the bulk of the records (pattern, synergy, device health) hand them over as record
frames (`RecordFrame`): a worker sends them back as frames and the cycle passes each to the sink's
`emit_frame`, so no record object is built on the way unless a later stage reads it.

Every home's stages share the cycle's `ModelProvider`, unless `home_models` gives each home its own (an
A/B test splitting homes between two model versions).

The report (`reports/cycle_<n>_<dataset_id>.json` and `.md`) has the per-stage metrics against ground truth
(precision, recall, F1, approval rate, replay agreement…), errors, and throughput.
"""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeAlias

from pydantic import BaseModel, ConfigDict, SkipValidation

from homesim.datasets.executors import Executor, make_executor
from homesim.datasets.manifest import DatasetManifest, read_dataset
from homesim.generation.config import GenerationConfig
from homesim.io import write_json_atomic, write_text_atomic
from homesim.schema.record_frames import RecordFrame
from homesim.schema.records import STAGES, AnyRecord, StageName
from homesim.simulation.activity_recognition import activity_stage
from homesim.simulation.ask_ai import ask_ai_stage
from homesim.simulation.automation_builder import automation_stage
from homesim.simulation.device_health import device_health_stage
from homesim.simulation.home_view import HomeView, load_home_view
from homesim.simulation.metrics import Counts, StageMetrics, home_counts, stage_metrics, sum_counts
from homesim.simulation.model_provider import ModelProvider, NoModels
from homesim.simulation.pattern_detection import pattern_stage
from homesim.simulation.sink import RecordSink, records_gc_paused
from homesim.simulation.suggestions import suggestion_stage
from homesim.simulation.synergy_detection import synergy_stage
from homesim.workspace import DatasetFolder, Workspace

#: A simulation stage: one home's view, the deployed models and the cycle number → that stage's records.
Stage: TypeAlias = Callable[[HomeView, ModelProvider, int], Sequence[AnyRecord]]

DEFAULT_STAGES: tuple[tuple[StageName, Stage], ...] = (
    ("pattern", pattern_stage),
    ("synergy", synergy_stage),
    ("suggestion", suggestion_stage),
    ("automation", automation_stage),
    ("ask_ai", ask_ai_stage),
    ("device_health", device_health_stage),
    ("activity", activity_stage),
)


@dataclass(frozen=True)
class HomeTask:
    """Everything a worker needs to simulate one home (picklable)."""

    directory: Path
    config: GenerationConfig | None
    cycle: int
    stages: tuple[tuple[StageName, Stage], ...]
    models: ModelProvider


class StageError(BaseModel):
    model_config = ConfigDict(frozen=True)

    home_key: str
    #: The stage that failed, or "load" when the home could not be read.
    stage: str
    error: str


#: One stage's records of one home: a list of records, or a record frame (the stages that build theirs
#: column-wise; carried as the frame to the sink's `emit_frame`, never built into record objects on the way).
StageOutput: TypeAlias = list[AnyRecord] | RecordFrame[Any]


class HomeOutcome(BaseModel):
    """One home's records, per-stage counts against ground truth, errors and timings."""

    # The outputs are our own stages' (not validated again): a record frame is no pydantic type.
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    home_key: str
    #: Each stage's records, in stage order (the stages that failed or did not run: none).
    outputs: SkipValidation[list[tuple[StageName, StageOutput]]]
    counts: dict[str, Counts]
    errors: list[StageError]
    seconds: dict[str, float]

    @property
    def n_records(self) -> int:
        return sum(len(records) for _, records in self.outputs)

    @property
    def records(self) -> list[AnyRecord]:
        """Every record, in stage order (a record frame's records are built: for tests and small runs)."""
        return [record for _, records in self.outputs for record in records]

    def __getstate__(self) -> dict[Any, Any]:
        """Pickled with the outputs as one blob, pickled and unpickled with the cyclic garbage collector
        paused (see `records_gc_paused`): with it on, unpickling cost 4× more (measured: 58 against 14 µs a
        record) and pickling 2.5× more (48 against 19 µs a record of a 90-day home). A record frame goes as
        its frame (Arrow IPC)."""
        state = super().__getstate__()
        with records_gc_paused():
            blob = pickle.dumps(self.outputs, protocol=pickle.HIGHEST_PROTOCOL)
        return {**state, "__dict__": {**state["__dict__"], "outputs": blob}}

    def __setstate__(self, state: dict[Any, Any]) -> None:
        fields = state["__dict__"]
        if isinstance(fields.get("outputs"), bytes):
            with records_gc_paused():
                outputs = pickle.loads(fields["outputs"])  # our own worker's blob, never outside input
            state = {**state, "__dict__": {**fields, "outputs": outputs}}
        super().__setstate__(state)


def run_home(task: HomeTask) -> HomeOutcome:
    """Run every stage over one home. Never raises: failures become `StageError`s of that home."""
    with records_gc_paused():  # the stages build thousands of records each (measured: 10–25 % faster)
        return _run_home(task)


def _run_home(task: HomeTask) -> HomeOutcome:
    key = task.directory.name
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    try:
        view = load_home_view(task.directory, task.config)
    except Exception as exc:  # an unreadable home is that home's error, never the cycle's
        return HomeOutcome(
            home_key=key,
            outputs=[],
            counts={},
            errors=[StageError(home_key=key, stage="load", error=_describe(exc))],
            seconds={"load": time.perf_counter() - started},
        )
    seconds["load"] = time.perf_counter() - started
    outputs: list[tuple[StageName, StageOutput]] = []
    counts: dict[str, Counts] = {}
    errors: list[StageError] = []
    for name, stage in task.stages:
        started = time.perf_counter()
        try:
            produced = _output(stage(view, task.models, task.cycle), view.is_real)
            counts[name] = home_counts(name, produced, view.truth)
        except Exception as exc:  # one stage failing on one home: recorded, and the pipeline goes on
            errors.append(StageError(home_key=key, stage=name, error=_describe(exc)))
            produced = []
        view.upstream[name] = produced
        if produced:
            outputs.append((name, produced))
        seconds[name] = time.perf_counter() - started
    return HomeOutcome(home_key=key, outputs=outputs, counts=counts, errors=errors, seconds=seconds)


def _output(produced: Sequence[AnyRecord], real: bool) -> StageOutput:
    """A stage's records as carried on: a record frame as it is, anything else as a list; those of an
    imported real home marked as such."""
    if isinstance(produced, RecordFrame):
        return produced.with_columns(home_source="real") if real else produced
    if real:
        return [r.model_copy(update={"home_source": "real"}) for r in produced]
    return list(produced)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class CycleReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    cycle: int
    dataset_id: str
    executor: str
    started_at: datetime
    wall_s: float
    homes: int
    records: int
    records_per_s: float
    stages: list[StageMetrics]
    errors: list[StageError]
    #: Total seconds spent per stage over all homes (summed across workers).
    stage_seconds: dict[str, float]
    #: Model version that produced each stage's records ("baseline" for the baselines).
    model_versions: dict[str, str]

    def failure(self) -> str | None:
        """One line on what failed (homes that did not load, stages that raised), or None when nothing did."""
        if not self.errors:
            return None
        homes = len({e.home_key for e in self.errors})
        first = self.errors[0]
        return (
            f"cycle {self.cycle} of {self.dataset_id} is partial: {homes} of {self.homes} homes had "
            f"{len(self.errors)} failure(s) (first: {first.home_key} {first.stage}: {first.error})"
        )

    def markdown(self) -> str:
        def cell(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.3f}"

        lines = [
            f"# Simulation cycle {self.cycle} — dataset `{self.dataset_id}`",
            "",
            f"{self.homes} homes, {self.records} records in {self.wall_s:.1f} s "
            f"({self.records_per_s:.0f} records/s), executor `{self.executor}`.",
            "",
            "| stage | model | homes | errors | records | precision | recall | F1 | rates |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for m in self.stages:
            rates = ", ".join(f"{k} {cell(v)}" for k, v in m.rates.items())
            lines.append(
                f"| {m.stage} | {self.model_versions.get(m.stage, '—')} | {m.homes} | {m.errors} | "
                f"{m.records} | {cell(m.precision)} | {cell(m.recall)} | {cell(m.f1)} | {rates} |"
            )
        if self.errors:
            lines += ["", "Errors:", *(f"- `{e.home_key}` {e.stage}: {e.error}" for e in self.errors)]
        return "\n".join(lines) + "\n"


ProgressFn = Callable[[HomeOutcome], None]


class SimulationCycle:
    """Runs the stages over a dataset's homes through an executor, streaming records into `sink`."""

    def __init__(
        self,
        workspace: Workspace,
        sink: RecordSink,
        *,
        models: ModelProvider | None = None,
        home_models: Callable[[str], ModelProvider] | None = None,
        executor: Executor | str = "process",
        workers: int = 2,
        stages: Sequence[tuple[StageName, Stage]] = DEFAULT_STAGES,
    ) -> None:
        self.workspace = workspace
        self.sink = sink
        self.models = models or NoModels()
        # Per-home providers (an A/B split by home key); called in this process, so any callable will do.
        self.home_models = home_models
        self._owns_executor = isinstance(executor, str)
        self.executor = make_executor(executor, workers) if isinstance(executor, str) else executor
        self.stages = list(stages)

    def __enter__(self) -> SimulationCycle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_executor:
            self.executor.close()

    def models_for(self, home_key: str) -> ModelProvider:
        """The provider of one home: `home_models(key)` when given, else the cycle's `models`."""
        return self.models if self.home_models is None else self.home_models(home_key)

    def dataset(self, dataset: str | Path) -> DatasetManifest:
        """A dataset by id, by folder, or by manifest path."""
        return find_dataset(self.workspace, dataset)

    def run(
        self, dataset: str | Path, cycle: int, progress: ProgressFn | None = None, *, write: bool = True
    ) -> CycleReport:
        """Simulate every home of `dataset` as cycle `cycle`; write (unless not `write`: the caller writes
        it once its records are committed) and return the report."""
        started_at, started = datetime.now(UTC), time.perf_counter()
        manifest = self.dataset(dataset)
        stages = self.stages
        # A dataset of real homes has no generation config (and its homes no ground truth to rebuild).
        config = GenerationConfig.model_validate(manifest.config) if manifest.source == "synthetic" else None
        tasks = [
            HomeTask(self.workspace.home_dir(key), config, cycle, tuple(stages), self.models_for(key))
            for key in manifest.home_keys
        ]
        counts: dict[StageName, list[Counts]] = {name: [] for name, _ in stages}
        n_records: dict[str, int] = dict.fromkeys(counts, 0)
        versions: dict[str, str] = {}
        errors: list[StageError] = []
        stage_seconds: dict[str, float] = {}
        total = 0
        for outcome in self.executor.map_unordered(run_home, tasks):
            for name, records in outcome.outputs:
                if isinstance(records, RecordFrame):
                    self.sink.emit_frame(name, records.frame)
                    version = records.frame["model_version"][0]
                else:
                    self.sink.emit_many(records)
                    version = records[0].model_version
                n_records[name] += len(records)
                total += len(records)
                versions.setdefault(name, version or "—")
            for name in counts:
                if name in outcome.counts:
                    counts[name].append(outcome.counts[name])
            errors.extend(outcome.errors)
            for step, s in outcome.seconds.items():
                stage_seconds[step] = stage_seconds.get(step, 0.0) + s
            if progress is not None:
                progress(outcome)
        wall = time.perf_counter() - started
        errors.sort(key=lambda e: (e.home_key, e.stage))
        ordered = sorted(counts, key=STAGES.index)
        report = CycleReport(
            cycle=cycle,
            dataset_id=manifest.dataset_id,
            executor=self.executor.name,
            started_at=started_at,
            wall_s=wall,
            homes=len(tasks),
            records=total,
            records_per_s=total / wall if wall else 0.0,
            stages=[
                stage_metrics(
                    name,
                    sum_counts(counts[name]),
                    homes=len(counts[name]),
                    errors=sum(e.stage == name for e in errors),
                    records=n_records[name],
                )
                for name in ordered
            ],
            errors=errors,
            stage_seconds=dict(sorted(stage_seconds.items())),
            model_versions=versions,
        )
        if write:
            self.write_report(report)
        return report

    def write_report(self, report: CycleReport) -> tuple[Path, Path]:
        return write_cycle_report(self.workspace, report)


def write_cycle_report(workspace: Workspace, report: CycleReport) -> tuple[Path, Path]:
    """The cycle report's JSON and Markdown; written last, it is what marks a cycle as simulated."""
    files = workspace.cycle_report(report.cycle, report.dataset_id)
    write_json_atomic(files.json, report.model_dump(mode="json"))
    write_text_atomic(files.md, report.markdown())
    return files.json, files.md


def incomplete_cycle(workspace: Workspace, cycle: int) -> str | None:
    """Why cycle `cycle`'s records are not a complete cycle (no cycle report: its simulation never finished,
    e.g. it was killed; or a report listing failed homes or stages), or None when every report is clean."""
    files = workspace.cycle_reports(cycle)
    if not files:
        return (
            f"cycle {cycle} has no cycle report under {workspace.reports_dir}: its simulation did not finish"
        )
    for file in files:
        failure = CycleReport.model_validate_json(file.path.read_bytes()).failure()
        if failure is not None:
            return failure
    return None


def find_dataset(workspace: Workspace, dataset: str | Path) -> DatasetManifest:
    """A dataset's manifest by id (`data/datasets/<id>`), by folder, or by manifest path."""
    path = Path(dataset)
    if not path.exists():
        path = workspace.dataset_dir(str(dataset))
    return read_dataset(DatasetFolder(path).manifest if path.is_dir() else path)
