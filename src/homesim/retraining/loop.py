"""The full loop (`homesim run`): per cycle, fresh homes → simulate with the champions → collect → export →
retrain what is due → evaluate → deploy or keep; and the run file `reports/runs/<run_id>.json`.

Cycle *c* generates `homes` new homes from a seed derived from (run seed, c), so every cycle brings homes no
model has seen; the simulation uses the champions the previous cycle deployed (`RegistryModelProvider`,
pinned before the cycle starts). The run file is rewritten atomically after every cycle (and copied to
`reports/runs/latest.json`); its id is a hash of the run's arguments except the cycle count, so re-running
the same command skips the cycles it lists (and `--cycles` can extend a finished run). Generation of a
half-finished cycle comes back from the home cache and re-collected records are deduplicated by content.
A run owns its cycles (`Workspace.for_run`): it collects, exports and trains only on the records it produced.

Failure is never success: a home that fails to generate or simulate, a stage that raises, a model refused
its training data stop the run with `LoopFailedError` before the cycle is recorded (a re-run redoes it),
unless `allow_partial` accepts it — then the cycle's entry lists each failure under `warnings`. A champion
that fails its integrity check stops the run before its cycle simulates with it.

At the end `final_comparison` scores the baseline, the first cycle's model and the final champion of each
type on the union of all held-out homes with paired bootstrap CIs — the learning-curve summary.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import structlog
from pydantic import BaseModel, ConfigDict, Field

from homesim.datasets.executors import Executor, make_executor
from homesim.datasets.manager import DataGenerationManager
from homesim.datasets.progress import ProgressEvent
from homesim.generation.config import MAX_DAYS, MAX_HOMES, MAX_SEED, GenerationConfig
from homesim.io import IntegrityError, write_json_atomic
from homesim.retraining import models as trainers
from homesim.retraining.model_evaluator import Comparison, paired_bootstrap, split_by_home
from homesim.retraining.predictions import PredictionMemo
from homesim.retraining.provider import RegistryModelProvider
from homesim.retraining.registry import ArtifactIntegrityError, ModelRegistry
from homesim.retraining.retraining_manager import (
    REFUSED,
    RetrainingConfig,
    RetrainingManager,
    RetrainingRun,
)
from homesim.schema.records import StageName
from homesim.simulation.cycle import DEFAULT_STAGES, CycleReport, HomeOutcome, Stage
from homesim.simulation.model_provider import MODEL_TYPES, ModelType
from homesim.training_data.exporters import Exporter, workspace_truths
from homesim.training_data.lineage_tracker import LineageTracker
from homesim.training_data.loading import load_training_data
from homesim.training_data.recheck import Rechecked
from homesim.training_data.run_and_collect import run_and_collect
from homesim.training_data.store import RecordStore
from homesim.workspace import Workspace

_log = structlog.get_logger("homesim.loop")

#: Most cycles one run may ask for.
MAX_RUN_CYCLES = 1000
#: (step, done, total, note): "generate", "simulate", "export", "retrain" progress within a cycle.
LoopProgress = Callable[[int, str, int, int, str], None]


class LoopFailedError(RuntimeError):
    """A cycle's homes, stages or models failed (and partial results were not allowed), or a champion
    failed its integrity check: the run stops, with this one line saying what."""


class LoopConfig(BaseModel):
    """What `homesim run` does; everything but `cycles`, `workers`, `executor` and `exports` names the run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cycles: int = Field(default=3, ge=1, le=MAX_RUN_CYCLES)
    homes: int = Field(default=12, ge=2, le=MAX_HOMES)
    days: int = Field(default=21, ge=1, le=MAX_DAYS)
    seed: int = Field(default=42, ge=0, le=MAX_SEED)
    workers: int = Field(default=2, ge=1)
    executor: str = "process"
    models: tuple[ModelType, ...] = trainers.TRAINED_TYPES
    #: Types exported each cycle besides `models` (yaml_generation's data is for LLM fine-tuning).
    exports: tuple[ModelType, ...] = MODEL_TYPES
    retraining: RetrainingConfig = Field(default_factory=RetrainingConfig)
    #: Record a cycle with failed homes, stages or models (listed under its `warnings`) instead of stopping.
    allow_partial: bool = False

    @property
    def run_id(self) -> str:
        exclude = {"cycles", "workers", "executor", "exports", "allow_partial"}
        named = self.model_dump(mode="json", exclude=exclude)
        digest = hashlib.sha256(json.dumps(named, sort_keys=True).encode()).hexdigest()[:10]
        return f"run-{self.seed}-{digest}"

    def cycle_seed(self, cycle: int) -> int:
        """Generation seed of `cycle`: a SeedSequence of (run seed, cycle), so cycles never share homes."""
        return int(np.random.SeedSequence([self.seed, cycle]).generate_state(1, dtype=np.uint32)[0])

    def generation(self, cycle: int) -> GenerationConfig:
        return GenerationConfig.build(
            {"homes": self.homes, "days": self.days, "seed": self.cycle_seed(cycle)}
        )


def read_run(workspace: Workspace, run_id: str) -> dict[str, Any] | None:
    path = workspace.run_file(run_id)
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return data


def write_run(workspace: Workspace, run: Mapping[str, Any]) -> Path:
    path = workspace.run_file(str(run["run_id"]))
    write_json_atomic(path, run)
    write_json_atomic(workspace.latest_run_file, run)
    return path


def stage_metrics(report: CycleReport) -> dict[str, dict[str, Any]]:
    """Per stage: precision, recall, F1 against ground truth and the model version that ran."""
    return {
        m.stage: {
            "precision": m.precision,
            "recall": m.recall,
            "f1": m.f1,
            "model_version": report.model_versions.get(m.stage, "baseline"),
        }
        for m in report.stages
    }


def model_entry(run: RetrainingRun) -> dict[str, Any]:
    """One model type's line of a cycle in the run file."""
    evaluation = run.evaluation
    reference = evaluation.vs_reference if evaluation else None
    return {
        "decision": run.decision,
        "reason": run.reason,
        "trigger": run.trigger,
        "candidate": run.candidate,
        "champion": run.champion,
        "primary_metric": run.primary_metric,
        "candidate_value": evaluation.value("candidate") if evaluation else None,
        "champion_value": evaluation.value("champion") if evaluation else None,
        "baseline_value": evaluation.value("baseline") if evaluation else None,
        "ci_low": reference.ci_low if reference else None,
        "ci_high": reference.ci_high if reference else None,
        "ci_homes": reference.homes if reference else None,
        "mde": reference.mde if reference else None,
        "train_s": run.train_s,
        "eval_s": run.eval_s,
        "evaluation": run.evaluation_report,
    }


class RetrainingLoop:
    """Runs the cycles of one `LoopConfig` in a workspace, resuming a run file that already lists some."""

    def __init__(
        self,
        workspace: Workspace,
        config: LoopConfig,
        *,
        stages: Sequence[tuple[StageName, Stage]] = DEFAULT_STAGES,
        progress: LoopProgress | None = None,
    ) -> None:
        # The run owns its cycles: records, lineage, exports and cycle reports under runs/<run_id>/, so
        # an ad-hoc `simulate --cycle 1` (or another run) is never adopted, overwritten or trained on.
        self.workspace = workspace.for_run(config.run_id)
        self.config = config
        self.stages = list(stages)
        self.progress = progress
        # Each cycle exports its records and then the aggregate of all cycles: the records and homes
        # re-validated and read by one export are not re-validated and re-read by the next.
        self._rechecked = Rechecked()
        self._truths = functools.cache(workspace_truths(self.workspace))
        # Each cycle's gate scores baseline and champion on every held-out home so far, and the final
        # comparison the same homes again: each version predicts each home once.
        self.memo = PredictionMemo()
        #: The run's one pool: its workers import torch and load each champion once, not every cycle.
        self._executor: Executor | str = config.executor

    def _note(self, cycle: int, step: str, done: int, total: int, note: str = "") -> None:
        if self.progress is not None:
            self.progress(cycle, step, done, total, note)

    def run(self) -> dict[str, Any]:
        """Run every cycle not yet in the run file; return the run file's content."""
        cfg = self.config
        run = read_run(self.workspace, cfg.run_id) or {
            "run_id": cfg.run_id,
            "started": datetime.now(UTC).isoformat(),
            "config": {},
            "cycles": [],
        }
        run["config"] = {"cycles": cfg.cycles, "homes": cfg.homes, "days": cfg.days, "seed": cfg.seed}
        done = {int(c["cycle"]) for c in run["cycles"]}
        executor = self._executor = make_executor(cfg.executor, cfg.workers)
        try:
            for cycle in range(1, cfg.cycles + 1):
                if cycle in done:
                    _log.info("cycle already finished", run_id=cfg.run_id, cycle=cycle)
                    continue
                entry = self.run_cycle(cycle)
                run["cycles"] = sorted([*run["cycles"], entry], key=lambda c: int(c["cycle"]))
                write_run(self.workspace, run)
        finally:
            self._executor = cfg.executor
            executor.close()
        run["summary"] = self.summary(run)
        write_run(self.workspace, run)
        return run

    def run_cycle(self, cycle: int) -> dict[str, Any]:
        """One cycle end to end; its entry of the run file."""
        cfg, ws = self.config, self.workspace
        started = time.perf_counter()
        generation = cfg.generation(cycle)

        def generated(event: ProgressEvent) -> None:
            self._note(cycle, "generate", event.done, event.total, f"{event.cached} cached")

        phases: dict[str, float] = {}
        clock = time.perf_counter()

        def lap(phase: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            phases[phase] = round(now - clock, 2)
            clock = now

        with DataGenerationManager(ws, self._executor, workers=cfg.workers, progress=[generated]) as manager:
            result = manager.generate(generation)
        manifest = result.manifest
        lap("generate")
        warnings: list[str] = []
        if result.failures:
            first = result.failures[0]
            self._partial(
                warnings,
                f"cycle {cycle}: {len(result.failures)} of {generation.homes} homes failed to generate "
                f"(first: {first.home_key}: {first.error})",
            )
        report = self._simulate(cycle, manifest.dataset_id)
        lap("simulate")
        if (failure := report.failure()) is not None:
            self._partial(warnings, failure)
        self._note(cycle, "export", 0, 2, "")
        with RecordStore(ws.training_store) as store, LineageTracker(ws.lineage_db) as tracker:
            exporter = Exporter(ws, store, tracker=tracker, truths=self._truths, rechecked=self._rechecked)
            types = [t for t in MODEL_TYPES if t in cfg.models or t in cfg.exports]
            exporter.export_cycle(cycle, types)
            self._note(cycle, "export", 1, 2, "cycle")
            exporter.export_aggregated(types)
        self._note(cycle, "export", 2, 2, "aggregated")
        lap("export")
        models: dict[str, dict[str, Any]] = {}
        config = cfg.retraining.model_copy(update={"models": cfg.models})
        with RetrainingManager(ws, config, memo=self.memo) as retrainer:
            for n, model_type in enumerate(cfg.models):
                self._note(cycle, "retrain", n, len(cfg.models), model_type)
                models[model_type] = model_entry(
                    retrainer.run(model_type, loop_run_id=cfg.run_id, cycle=cycle)
                )
        self._note(cycle, "retrain", len(cfg.models), len(cfg.models), "")
        lap("retrain")
        for name, m in models.items():
            if REFUSED in str(m["reason"]):
                self._partial(warnings, f"cycle {cycle}: {name}: {m['reason']}")
        return {
            "cycle": cycle,
            "dataset_id": manifest.dataset_id,
            "seed": generation.seed,
            "homes": manifest.counts.homes - manifest.counts.failed,
            "records": report.records,
            "wall_s": round(time.perf_counter() - started, 2),
            # Seconds per phase (generate, simulate, export, retrain): where a cycle's time goes.
            "phases_s": phases,
            "stage_metrics": stage_metrics(report),
            "models": models,
            **({"warnings": warnings} if warnings else {}),
        }

    def _partial(self, warnings: list[str], message: str) -> None:
        """A failure inside a cycle: stop the run, or (allow_partial) note it loudly and go on."""
        if not self.config.allow_partial:
            raise LoopFailedError(message)
        _log.warning("partial cycle", problem=message)
        warnings.append(message)

    def _simulate(self, cycle: int, dataset_id: str) -> CycleReport:
        ws = self.workspace
        provider = RegistryModelProvider(ws)
        for model_type, version in provider.resolve().items():  # pin this cycle's champions, and check them
            if version is not None:
                try:
                    provider.get(model_type)
                except ArtifactIntegrityError as exc:
                    raise LoopFailedError(
                        f"champion {model_type} {version} fails its integrity check, so cycle {cycle} will "
                        f"not run with it ({exc}); `homesim models rollback {model_type}` deploys the "
                        "previous version"
                    ) from exc
        homes = self.config.homes
        finished = 0

        def simulated(outcome: HomeOutcome) -> None:
            nonlocal finished
            finished += 1
            self._note(cycle, "simulate", finished, homes, outcome.home_key)

        return run_and_collect(
            ws,
            dataset_id,
            cycle,
            executor=self._executor,
            workers=self.config.workers,
            models=provider,
            stages=self.stages,
            progress=simulated,
        ).report

    def summary(self, run: Mapping[str, Any]) -> dict[str, Any]:
        """Per model type: baseline, the run's first model and final champion on all held-out homes."""
        out: dict[str, Any] = {}
        with ModelRegistry(self.workspace) as registry:
            for model_type in self.config.models:
                champion = registry.alias(model_type, "champion")
                # The run's first model: the candidate of the first cycle that trained one.
                first_version = next(
                    (
                        c["models"][model_type]["candidate"]
                        for c in run["cycles"]
                        if c["models"].get(model_type, {}).get("candidate")
                    ),
                    None,
                )
                try:
                    out[model_type] = final_comparison(
                        self.workspace,
                        model_type,
                        first_version,
                        None if champion is None else champion.version,
                        share=self.config.retraining.validation_share,
                        resamples=self.config.retraining.resamples,
                        seed=self.config.seed,
                        memo=self.memo,
                    )
                except FileNotFoundError as exc:
                    out[model_type] = {"error": f"no training data: {exc}"}
                except (IntegrityError, ArtifactIntegrityError) as exc:  # never scored on corrupted data
                    out[model_type] = {"error": f"refused: {exc}"}
        return out


def final_comparison(
    workspace: Workspace,
    model_type: ModelType,
    first_version: str | None,
    champion_version: str | None,
    *,
    share: float,
    resamples: int = 1000,
    seed: int = 0,
    memo: PredictionMemo | None = None,
) -> dict[str, Any]:
    """Baseline, `first_version` and `champion_version` on every held-out home of the aggregated export;
    paired bootstrap CIs of champion − baseline and champion − first (relative gains too)."""
    trainer = trainers.get_trainer(model_type)
    _, held_out = split_by_home(trainer.examples(load_training_data(model_type, workspace, None)), share)
    result: dict[str, Any] = {
        "primary_metric": trainer.primary_metric,
        "examples": held_out.height,
        "validation_homes": held_out.get_column("home_key").n_unique(),
        "first": first_version,
        "champion": champion_version,
    }
    if held_out.is_empty():
        return result
    memo = memo or PredictionMemo()  # the loop's: the last cycle's gate scored these homes already
    with ModelRegistry(workspace) as registry:
        predictions = {
            version: memo.predict(trainer, registry.load(model_type, version), version, held_out)
            for version in dict.fromkeys((first_version, champion_version))
            if version is not None
        }
    arms = {
        "baseline": memo.predict(trainer, None, None, held_out),
        **{
            name: predictions[version]
            for name, version in (("first", first_version), ("champion", champion_version))
            if version is not None
        },
    }
    result["values"] = {name: trainer.score(p)[trainer.primary_metric] for name, p in arms.items()}
    if "champion" in arms:
        for reference in ("baseline", "first"):
            if reference in arms:
                c = paired_bootstrap(
                    trainer,
                    arms["champion"],
                    arms[reference],
                    reference_name=reference,
                    resamples=resamples,
                    seed=seed,
                )
                result[f"champion_vs_{reference}"] = _comparison(c)
    return result


def _comparison(c: Comparison) -> dict[str, float | int | bool | None]:
    return {
        "diff": c.diff,
        "relative": c.relative,
        "ci_low": c.ci_low,
        "ci_high": c.ci_high,
        "homes": c.homes,
        "p_not_better": c.p_not_better,
        "p_permutation": c.p_permutation,
        "min_p": c.min_p,
        "mde": c.mde,
        "can_be_significant": c.can_be_significant,
    }


def learning_curves(run: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per model type, one point per cycle: the champion after the cycle and its primary-metric value on
    that cycle's held-out homes (the candidate's when deployed, else the kept champion's), and the
    baseline."""
    curves: dict[str, list[dict[str, Any]]] = {}
    for entry in run["cycles"]:
        for model_type, m in entry["models"].items():
            value = m["candidate_value"] if m["decision"] == "deployed" else m["champion_value"]
            curves.setdefault(model_type, []).append(
                {
                    "cycle": entry["cycle"],
                    "champion": m["champion"],
                    "value": value,
                    "baseline": m["baseline_value"],
                    "decision": m["decision"],
                }
            )
    return curves
