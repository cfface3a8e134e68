"""RetrainingManager: decides when a model type is retrained, runs sufficiency → train → evaluate → deploy or
reject, and keeps the history of every run (table `retraining_runs` in `registry.sqlite`).

Triggers, checked in this order:
* `manual` — asked for (`homesim retrain MODEL --force`); the new-data requirement is waived.
* `config` — the type is listed in the config file's `force` (a scheduled, reviewed retrain).
* `degradation` — the champion's primary metric on the newest cycle's labelled records (fresh homes it
  never saw) falls below its validation score by more than `degradation_tolerance`.
* `new_data` — at least `new_data_threshold` records arrived in cycles after the last trained version's.
A type with no trigger is not trained; the run is still recorded (`skipped`, "not due: …").

Training uses the training homes only (`is_validation_home` false); the evaluator scores candidate, champion
and baseline on the held-out homes of the same aggregated export. Every candidate is registered (so a
rejected one can be inspected); the gate's verdict deploys it (`deployment.deploy`) or rejects it.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from homesim.generation.config import ConfigError, describe_errors, read_config_file
from homesim.io import IntegrityError
from homesim.retraining import models as trainers
from homesim.retraining.data_sufficiency import (
    DEFAULT_REQUIREMENTS,
    Requirements,
    SufficiencyReport,
    check_sufficiency,
)
from homesim.retraining.deployment import deploy, reject
from homesim.retraining.model_evaluator import (
    Evaluation,
    GateConfig,
    ModelEvaluator,
    split_by_home,
    write_evaluation,
)
from homesim.retraining.models.base import ProgressFn, Trainer
from homesim.retraining.predictions import PredictionMemo
from homesim.retraining.registry import ModelRegistry, ModelVersion
from homesim.simulation.model_provider import Model, ModelType
from homesim.splits import VALIDATION_SHARE, is_validation_home
from homesim.training_data.lineage_tracker import LineageTracker
from homesim.training_data.loading import ExportFormatError, TrainingData, load_training_data
from homesim.training_data.store import connect, transaction
from homesim.workspace import Workspace

Trigger = Literal["manual", "config", "degradation", "new_data", "none"]
Decision = Literal["deployed", "rejected", "skipped"]
#: Loads a model type's export: of a cycle, or aggregated when the cycle is None.
DataLoader = Callable[[ModelType, Workspace, int | None], TrainingData]

_log = structlog.get_logger("homesim.retraining")
#: Errors of an export that exists but must not be trained on (bytes differ from metadata.json, bad schema).
UNUSABLE_DATA: Final = (IntegrityError, ExportFormatError)
REFUSED: Final = "refusing to train on unusable training data"


class RetrainingConfig(BaseModel):
    """When and how model types are retrained (`homesim retrain --config FILE`, YAML or TOML)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: tuple[ModelType, ...] = Field(default=trainers.TRAINED_TYPES, description="types to consider")
    seed: int = Field(default=0, ge=0, description="training seed (and the bootstrap's)")
    validation_share: float = Field(default=VALIDATION_SHARE, gt=0, lt=1, description="held-out homes")
    new_data_threshold: int = Field(default=100, ge=0, description="new records that trigger a retrain")
    degradation_tolerance: float = Field(
        default=0.05, ge=0, description="absolute drop below the validation score that triggers a retrain"
    )
    force: tuple[ModelType, ...] = Field(default=(), description="types retrained regardless of triggers")
    resamples: int = Field(default=1000, ge=10, description="bootstrap resamples of validation homes")
    gate: GateConfig = Field(default_factory=GateConfig, description="the gate of every type…")
    gates: dict[ModelType, GateConfig] = Field(default_factory=dict, description="…unless overridden here")
    sufficiency: dict[ModelType, Requirements] = Field(
        default_factory=dict, description="requirements overriding DEFAULT_REQUIREMENTS per type"
    )
    trainers: dict[ModelType, dict[str, Any]] = Field(
        default_factory=dict,
        description="hyper-parameter overrides per type (e.g. fewer soft_prompt epochs in a quick loop)",
    )

    @model_validator(mode="after")
    def _trainers_accept_their_parameters(self) -> RetrainingConfig:
        for model_type, params in self.trainers.items():
            trainers.get_trainer(model_type, **params)  # ValueError names the type and the parameter
        return self

    def gate_for(self, model_type: ModelType) -> GateConfig:
        return self.gates.get(model_type, self.gate)

    def requirements_for(self, model_type: ModelType) -> Requirements:
        return self.sufficiency.get(model_type, DEFAULT_REQUIREMENTS[model_type])

    @classmethod
    def from_file(cls, path: Path, overrides: Mapping[str, Any] | None = None) -> RetrainingConfig:
        """A YAML (`.yaml`/`.yml`) or TOML config; `overrides` win. ConfigError names each bad field."""
        data = read_config_file(path)
        try:
            return cls.model_validate({**data, **(overrides or {})})
        except ValidationError as exc:
            raise ConfigError(describe_errors(exc)) from exc


class TriggerDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_type: ModelType
    trigger: Trigger
    reason: str

    @property
    def due(self) -> bool:
        return self.trigger != "none"


class RetrainingRun(BaseModel):
    """One run of the manager for one model type: a row of `retraining_runs`."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    model_type: ModelType
    trigger: Trigger
    started: datetime
    duration_s: float
    #: The trainer's primary metric (None when the type's trainer could not be imported).
    primary_metric: str | None = None
    #: What the run saw: export folder, cycles, records, homes, train/validation examples and homes.
    data: dict[str, Any]
    sufficiency: SufficiencyReport | None
    #: Arm ("candidate", "champion", "baseline") → metrics on the held-out homes.
    metrics: dict[str, dict[str, float]]
    decision: Decision
    reason: str
    candidate: str | None = None
    #: The champion after the run.
    champion: str | None = None
    #: The champion before the run (the reference it was compared with).
    previous_champion: str | None = None
    train_s: float | None = None
    eval_s: float | None = None
    evaluation: Evaluation | None = None
    evaluation_report: str | None = None
    #: The `homesim run` loop and cycle that started this run, if any.
    loop_run_id: str | None = None
    cycle: int | None = None


_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS retraining_runs (
    run_id TEXT PRIMARY KEY, model_type TEXT NOT NULL, trigger TEXT NOT NULL, started TEXT NOT NULL,
    duration_s REAL NOT NULL, data TEXT NOT NULL, sufficiency TEXT, metrics TEXT NOT NULL,
    decision TEXT NOT NULL, reason TEXT NOT NULL, candidate TEXT, champion TEXT, previous_champion TEXT,
    train_s REAL, eval_s REAL, evaluation_report TEXT, loop_run_id TEXT, cycle INTEGER, primary_metric TEXT
);
CREATE INDEX IF NOT EXISTS retraining_runs_type ON retraining_runs (model_type, started);
"""
_COLUMNS: Final = (
    "run_id",
    "model_type",
    "trigger",
    "started",
    "duration_s",
    "data",
    "sufficiency",
    "metrics",
    "decision",
    "reason",
    "candidate",
    "champion",
    "previous_champion",
    "train_s",
    "eval_s",
    "evaluation_report",
    "loop_run_id",
    "cycle",
    "primary_metric",
)
_JSON_COLUMNS: Final = frozenset({"data", "sufficiency", "metrics"})


class RetrainingHistory:
    """The `retraining_runs` table of a workspace's `registry.sqlite` (WAL)."""

    def __init__(self, workspace: Workspace) -> None:
        self._db = connect(workspace.registry_db)
        self._db.executescript(_SCHEMA)

    def __enter__(self) -> RetrainingHistory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def record(self, run: RetrainingRun) -> None:
        row = run.model_dump(mode="json", exclude={"evaluation"})
        values = [json.dumps(row[c]) if c in _JSON_COLUMNS else row[c] for c in _COLUMNS]
        with transaction(self._db):
            self._db.execute(
                f"INSERT OR REPLACE INTO retraining_runs ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))})",
                values,
            )

    def runs(self, model_type: ModelType | None = None) -> list[RetrainingRun]:
        """Recorded runs (of one type, or all), oldest first."""
        sql = f"SELECT {', '.join(_COLUMNS)} FROM retraining_runs"
        params: list[str] = []
        if model_type is not None:
            sql, params = sql + " WHERE model_type = ?", [model_type]
        rows = self._db.execute(sql + " ORDER BY started, rowid", params).fetchall()
        return [_run_of(row) for row in rows]


def _run_of(row: sqlite3.Row | tuple[Any, ...]) -> RetrainingRun:
    data = {
        c: json.loads(v) if c in _JSON_COLUMNS and v is not None else v
        for c, v in zip(_COLUMNS, row, strict=True)
    }
    return RetrainingRun.model_validate(data)


def newest_cycle(workspace: Workspace, model_type: ModelType) -> int | None:
    """The newest cycle with a `training_data/cycle_<n>/<model_type>` export, or None."""
    return max(workspace.export_cycles(model_type), default=None)


class RetrainingManager:
    """Triggers, orchestration and history of retraining in one workspace."""

    def __init__(
        self,
        workspace: Workspace,
        config: RetrainingConfig | None = None,
        *,
        loader: DataLoader = load_training_data,
        progress: ProgressFn | None = None,
        memo: PredictionMemo | None = None,
    ) -> None:
        self.workspace = workspace
        self.config = config or RetrainingConfig()
        self.loader = loader
        self.progress = progress
        # The loop hands every cycle's manager its one memo: a version predicts each home once per run.
        self.memo = memo or PredictionMemo()
        self.registry = ModelRegistry(workspace)
        self.history = RetrainingHistory(workspace)

    def __enter__(self) -> RetrainingManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.registry.close()
        self.history.close()

    def _is_validation(self, home_key: str) -> bool:
        return is_validation_home(home_key, self.config.validation_share)

    def _last_trained(self, model_type: ModelType) -> ModelVersion | None:
        versions = self.registry.versions(model_type)
        return max(versions, key=lambda v: v.number) if versions else None

    # ------------------------------------------------------------------------------------------ triggers

    def due(
        self, model_type: ModelType, *, force: bool = False, data: TrainingData | None = None
    ) -> TriggerDecision:
        """Which trigger (if any) asks for `model_type` to be retrained now, and why (`data`: the type's
        aggregated export when already loaded)."""
        if force:
            return TriggerDecision(model_type=model_type, trigger="manual", reason="retrain requested")
        if model_type in self.config.force:
            return TriggerDecision(
                model_type=model_type, trigger="config", reason="listed in the config's force"
            )
        degraded = self.degradation(model_type)
        if degraded is not None:
            return TriggerDecision(model_type=model_type, trigger="degradation", reason=degraded)
        if data is None:
            try:
                data = self.loader(model_type, self.workspace, None)
            except FileNotFoundError as exc:
                return TriggerDecision(
                    model_type=model_type, trigger="none", reason=f"no training data: {exc}"
                )
            except UNUSABLE_DATA as exc:
                return TriggerDecision(model_type=model_type, trigger="none", reason=f"{REFUSED}: {exc}")
        last = self._last_trained(model_type)
        since = max(last.training_cycles, default=-1) if last else -1
        report = check_sufficiency(
            model_type,
            data,
            trained_cycles=last.training_cycles if last else (),
            requirements=self.config.requirements_for(model_type),
            is_validation=self._is_validation,
        )
        threshold = self.config.new_data_threshold
        where = f"since cycle {since}" if last else "and no version trained yet"
        if report.new_records >= threshold:
            return TriggerDecision(
                model_type=model_type,
                trigger="new_data",
                reason=f"{report.new_records} new records {where} (threshold {threshold})",
            )
        return TriggerDecision(
            model_type=model_type,
            trigger="none",
            reason=f"only {report.new_records} new records {where} (threshold {threshold}); champion holds",
        )

    def degradation(self, model_type: ModelType) -> str | None:
        """Why the champion is degraded on the newest cycle's records (homes it never saw), or None."""
        champion = self.registry.alias(model_type, "champion")
        cycle = newest_cycle(self.workspace, model_type)
        if champion is None or cycle is None or cycle in champion.training_cycles:
            return None
        trainer = trainers.get_trainer(model_type)
        validation = champion.metrics.get(trainer.primary_metric)
        if validation is None:
            return None
        examples = trainer.examples(self.loader(model_type, self.workspace, cycle))
        if examples.is_empty():
            return None
        model = self.registry.load(model_type, champion.version)
        predictions = self.memo.predict(trainer, model, champion.version, examples)
        value = trainer.score(predictions)[trainer.primary_metric]
        if value < validation - self.config.degradation_tolerance:
            return (
                f"champion {champion.version} {trainer.primary_metric} {value:.4f} on cycle {cycle} is below "
                f"its validation score {validation:.4f} by more than {self.config.degradation_tolerance}"
            )
        return None

    # ------------------------------------------------------------------------------------- orchestration

    def run(
        self,
        model_type: ModelType,
        *,
        force: bool = False,
        loop_run_id: str | None = None,
        cycle: int | None = None,
    ) -> RetrainingRun:
        """Retrain `model_type` if a trigger asks for it (or `force`); record and return the run."""
        started, clock = datetime.now(UTC), time.perf_counter()
        context: dict[str, Any] = {"loop_run_id": loop_run_id, "cycle": cycle}
        try:
            trainer = trainers.get_trainer(model_type, **self.config.trainers.get(model_type, {}))
        except ImportError as exc:  # a trainer whose dependencies are missing must not stop the others
            run = self._skipped(model_type, "none", started, clock, f"no trainer: {exc}", None, context)
            self.history.record(run)
            return run
        context["primary_metric"] = trainer.primary_metric
        try:
            data: TrainingData | None = self.loader(model_type, self.workspace, None)
            missing = ""
        except FileNotFoundError as exc:
            data, missing = None, f"no training data: {exc}"
        except UNUSABLE_DATA as exc:  # never train on an export that fails its integrity or schema check
            data, missing = None, f"{REFUSED}: {exc}"
        try:
            decision = self.due(model_type, force=force, data=data)
        except UNUSABLE_DATA as exc:  # a cycle's export read for the degradation check fails its check
            decision = TriggerDecision(model_type=model_type, trigger="degradation", reason=str(exc))
            data, missing = None, f"{REFUSED}: {exc}"
        if not decision.due:
            reason = f"not due: {decision.reason}"
            run = self._skipped(model_type, "none", started, clock, reason, None, context)
        elif data is None:
            run = self._skipped(model_type, decision.trigger, started, clock, missing, None, context)
        else:
            run = self._retrain(trainer, decision, data, started, clock, context)
        self.history.record(run)
        _log.info(
            "retraining run",
            model_type=model_type,
            trigger=run.trigger,
            decision=run.decision,
            reason=run.reason,
        )
        return run

    def run_all(
        self, *, loop_run_id: str | None = None, cycle: int | None = None
    ) -> dict[ModelType, RetrainingRun]:
        """`run` for every configured model type, in order."""
        return {mt: self.run(mt, loop_run_id=loop_run_id, cycle=cycle) for mt in self.config.models}

    def _skipped(
        self,
        model_type: ModelType,
        trigger: Trigger,
        started: datetime,
        clock: float,
        reason: str,
        sufficiency: SufficiencyReport | None,
        context: Mapping[str, Any],
        data: Mapping[str, Any] | None = None,
    ) -> RetrainingRun:
        champion = self.registry.alias(model_type, "champion")
        version = None if champion is None else champion.version
        return RetrainingRun(
            run_id=_run_id(),
            model_type=model_type,
            trigger=trigger,
            started=started,
            duration_s=time.perf_counter() - clock,
            data=dict(data or {}),
            sufficiency=sufficiency,
            metrics={},
            decision="skipped",
            reason=reason,
            champion=version,
            previous_champion=version,
            **context,
        )

    def _retrain(
        self,
        trainer: Trainer,
        decision: TriggerDecision,
        data: TrainingData,
        started: datetime,
        clock: float,
        context: Mapping[str, Any],
    ) -> RetrainingRun:
        model_type, trigger = trainer.model_type, decision.trigger
        last = self._last_trained(model_type)
        waive_new = trigger in ("manual", "config", "degradation")
        sufficiency = check_sufficiency(
            model_type,
            data,
            trained_cycles=() if waive_new or last is None else last.training_cycles,
            requirements=self.config.requirements_for(model_type),
            is_validation=self._is_validation,
        )
        snapshot: dict[str, Any] = {
            "export": str(data.directory),
            "cycles": sufficiency.cycles,
            "records": sufficiency.records,
            "homes": sufficiency.homes,
            "record_ids_sha256": data.metadata.get("lineage", {}).get("record_ids_sha256"),
        }
        if not sufficiency.ok:
            reason = "insufficient data: " + "; ".join(sufficiency.reasons)
            return self._skipped(model_type, trigger, started, clock, reason, sufficiency, context, snapshot)
        examples = trainer.examples(data)
        train, held_out = split_by_home(examples, self.config.validation_share)
        snapshot |= {
            "train_examples": train.height,
            "validation_examples": held_out.height,
            "train_homes": train.get_column("home_key").n_unique(),
            "validation_homes": held_out.get_column("home_key").n_unique(),
        }
        if train.is_empty() or held_out.is_empty():
            empty = "training" if train.is_empty() else "held-out"
            reason = f"insufficient data: no {empty} examples after the split by home"
            return self._skipped(model_type, trigger, started, clock, reason, sufficiency, context, snapshot)
        run_id = _run_id()
        fit_started = time.perf_counter()
        candidate = trainer.fit(train, self.config.seed, self.progress)
        train_s = time.perf_counter() - fit_started
        champion_version = self.registry.alias(model_type, "champion")
        champion = (
            None if champion_version is None else self.registry.load(model_type, champion_version.version)
        )
        evaluator = ModelEvaluator(
            self.config.gate_for(model_type),
            resamples=self.config.resamples,
            seed=self.config.seed,
            memo=self.memo,
        )
        evaluation = evaluator.evaluate(
            trainer,
            candidate,
            champion,
            held_out,
            champion_version=None if champion_version is None else champion_version.version,
            train_s=train_s,
        )
        version = self._register(trainer, candidate, evaluation, sufficiency, snapshot, run_id)
        self.memo.adopt(model_type, version.version)
        evaluation = evaluation.model_copy(update={"candidate_version": version.version})
        json_path, _ = write_evaluation(self.workspace, evaluation)
        with LineageTracker(self.workspace.lineage_db) as lineage:
            lineage.record_training(model_type, version.version, sorted(data.directory.iterdir()))
            lineage.record_validation_set(model_type, version.version, evaluation.validation_homes)
        reason = "; ".join(evaluation.reasons)
        if evaluation.passed:
            deploy(self.registry, model_type, version.version, f"{trigger}: {reason}")
        else:
            reject(self.registry, model_type, version.version, f"{trigger}: {reason}")
        after = self.registry.alias(model_type, "champion")
        return RetrainingRun(
            run_id=run_id,
            model_type=model_type,
            trigger=trigger,
            started=started,
            duration_s=time.perf_counter() - clock,
            data=snapshot,
            sufficiency=sufficiency,
            metrics=evaluation.metrics,
            decision="deployed" if evaluation.passed else "rejected",
            reason=f"{decision.reason} → {reason}",
            candidate=version.version,
            champion=None if after is None else after.version,
            previous_champion=None if champion_version is None else champion_version.version,
            train_s=train_s,
            eval_s=evaluation.benchmarks.eval_s,
            evaluation=evaluation,
            evaluation_report=str(json_path.relative_to(self.workspace.root)),
            **context,
        )

    def _register(
        self,
        trainer: Trainer,
        model: Model,
        evaluation: Evaluation,
        sufficiency: SufficiencyReport,
        snapshot: Mapping[str, Any],
        run_id: str,
    ) -> ModelVersion:
        summary = {
            "primary_metric": evaluation.primary_metric,
            "reference": evaluation.reference,
            "metrics": evaluation.metrics,
            "vs_reference": evaluation.vs_reference.model_dump(mode="json"),
            "vs_baseline": evaluation.vs_baseline.model_dump(mode="json"),
            "passed": evaluation.passed,
            "reasons": evaluation.reasons,
            "validation_homes": evaluation.validation_homes,
            "benchmarks": evaluation.benchmarks.model_dump(mode="json"),
        }
        return self.registry.register(
            trainer.model_type,
            trainer,
            model,
            params={**trainer.params(), "seed": self.config.seed},
            metrics=evaluation.metrics["candidate"],
            training_cycles=sufficiency.cycles,
            lineage_ids=[
                run_id,
                *([snapshot["record_ids_sha256"]] if snapshot.get("record_ids_sha256") else []),
            ],
            record_counts={k: int(snapshot[k]) for k in ("records", "train_examples", "validation_examples")},
            evaluation=summary,
        )


def _run_id() -> str:
    return f"rt-{uuid.uuid4().hex[:12]}"
