"""ModelRegistry: versioned model artifacts, their model cards, aliases and alias history (`registry.sqlite`).

A version (`v1`, `v2`… per model type) is a folder `models/<model_type>/v<k>/` holding what the type's
trainer saved (safetensors / skops / JSON — never pickle) plus `model_card.md` and `model_card.json`, and a
row in `versions` with the sha256 of every file. Registering stages the folder under `models/.staging/`
and renames it into place inside the SQLite transaction that numbers it, so a register that fails or is
killed leaves no version behind (a folder renamed into place whose row never committed is removed by the
next register of that number). `load` re-hashes every file before the trainer reads any byte and refuses
(`ArtifactIntegrityError`, naming the file) a changed, missing or unexpected file.

The aliases `champion`, `challenger` and `previous` point at versions (table `aliases`); every alias change
is an event (table `events`). The policy of moving them — deploy, rollback, reject — is in
`retraining.deployment`, which calls the primitives here (`set_alias`, `set_status`, `add_event`) inside
one `transaction()`.

When `MLFLOW_TRACKING_URI` is set and mlflow is importable, each registered version is mirrored as an
MLflow run (params, metrics, artifacts); mirroring failures are logged, never raised.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, get_args

import structlog
from pydantic import BaseModel, ConfigDict

from homesim.io import write_json_atomic, write_text_atomic
from homesim.retraining.models import get_trainer
from homesim.retraining.models.base import Trainer
from homesim.simulation.model_provider import Model, ModelType
from homesim.training_data.store import connect, transaction
from homesim.workspace import Workspace

Status = Literal["candidate", "champion", "challenger", "previous", "rejected", "archived"]
AliasName = Literal["champion", "challenger", "previous"]
Action = Literal["deploy", "rollback", "promote", "reject", "challenger"]
ALIASES: Final[tuple[AliasName, ...]] = get_args(AliasName)

CARD_MD: Final = "model_card.md"
CARD_JSON: Final = "model_card.json"
#: Staging folders older than this are leftovers of killed registers (a live register takes seconds).
_STALE_STAGING_S: Final = 3600.0

#: What each model type is for, and what it is not for (the model card's "intended use").
INTENDED_USE: Final[dict[str, str]] = {
    "pattern_detection": "Scores mined pattern candidates of one home (probability the candidate is a real "
    "routine) for the pattern stage. Not for homes outside the synthetic HA schema.",
    "gnn_synergy": "Link prediction between devices of one home (probability a device pair is a real "
    "synergy) for the synergy stage.",
    "device_intelligence": "Classifies per-entity windows into health kinds (healthy or a fault kind) for "
    "the device-health stage.",
    "soft_prompt": "Maps an Ask-AI request to an automation spec for the ask_ai stage; English requests "
    "about the home's own entities only.",
    "yaml_generation": "No in-house model: this data is exported for LLM fine-tuning.",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS versions (
    model_type TEXT NOT NULL, number INTEGER NOT NULL, version TEXT NOT NULL, created TEXT NOT NULL,
    params TEXT NOT NULL, metrics TEXT NOT NULL, artifact_dir TEXT NOT NULL, files TEXT NOT NULL,
    training_cycles TEXT NOT NULL, lineage_ids TEXT NOT NULL, status TEXT NOT NULL, note TEXT,
    PRIMARY KEY (model_type, number)
);
CREATE TABLE IF NOT EXISTS aliases (
    model_type TEXT NOT NULL, name TEXT NOT NULL, version TEXT NOT NULL, PRIMARY KEY (model_type, name)
);
CREATE TABLE IF NOT EXISTS events (
    event_id INTEGER PRIMARY KEY, time TEXT NOT NULL, model_type TEXT NOT NULL, action TEXT NOT NULL,
    version TEXT, previous TEXT, reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_model_type ON events (model_type);
"""

_log = structlog.get_logger("homesim.registry")


class ModelVersion(BaseModel):
    """One registered version of a model type (a row of `versions`)."""

    model_config = ConfigDict(frozen=True)

    model_type: ModelType
    version: str
    number: int
    created: datetime
    params: dict[str, Any]
    metrics: dict[str, float]
    #: Relative to the workspace: `models/<model_type>/v<k>`.
    artifact_dir: str
    #: File name (relative to `artifact_dir`) → sha256, model cards included.
    files: dict[str, str]
    training_cycles: list[int]
    lineage_ids: list[str]
    status: Status
    note: str | None


class RegistryEvent(BaseModel):
    """One alias change (a row of `events`)."""

    model_config = ConfigDict(frozen=True)

    time: datetime
    model_type: ModelType
    action: Action
    #: The version the action is about (the new champion, the rejected one…).
    version: str | None
    #: The version it replaced (the champion before a deploy or rollback), if any.
    previous: str | None
    reason: str


class ArtifactIntegrityError(RuntimeError):
    """An artifact file is missing, unexpected, or its sha256 differs from the registered one."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hash_tree(directory: Path) -> dict[str, str]:
    """Relative posix path → sha256 of every file the trainer wrote, fsynced on the way (they are final)."""
    hashes: dict[str, str] = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        with path.open("rb") as fh:
            os.fsync(fh.fileno())
        hashes[path.relative_to(directory).as_posix()] = sha256_file(path)
    return hashes


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def verify_artifacts(directory: Path, files: Mapping[str, str]) -> None:
    """Raise `ArtifactIntegrityError` unless `directory` holds exactly `files` with those sha256s."""
    if not directory.is_dir():
        raise ArtifactIntegrityError(f"artifact folder {directory} is missing")
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
    unexpected = sorted(present - set(files))
    if unexpected:
        raise ArtifactIntegrityError(f"unexpected file {directory / unexpected[0]} (not registered)")
    for name, expected in files.items():
        path = directory / name
        if name not in present:
            raise ArtifactIntegrityError(f"artifact file {path} is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise ArtifactIntegrityError(
                f"artifact file {path} was modified: sha256 {actual[:12]}… differs from the registered "
                f"{expected[:12]}…; refusing to load it"
            )


class ModelRegistry:
    """Model versions, artifacts and aliases of one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self._db = connect(workspace.registry_db)
        self._db.executescript(_SCHEMA)

    def __enter__(self) -> ModelRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    # -------------------------------------------------------------------------------------- registering

    def register(
        self,
        model_type: ModelType,
        trainer: Trainer,
        model: Model,
        *,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        training_cycles: Sequence[int],
        lineage_ids: Sequence[str],
        clock: datetime | None = None,
        record_counts: Mapping[str, int] | None = None,
        evaluation: Mapping[str, Any] | None = None,
        note: str | None = None,
    ) -> ModelVersion:
        """Save `model`'s artifacts and model card as the next version of `model_type` (a `candidate`)."""
        created = clock or datetime.now(UTC)
        self._sweep_staging()
        staging = self.workspace.models_staging_dir / f"{model_type}-{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        try:
            trainer.save(model, staging)
            artifact_files = _hash_tree(staging)
            if not artifact_files:
                raise ValueError(f"{type(trainer).__name__}.save wrote no files for {model_type}")
            with transaction(self._db):
                number = self._next_number(model_type)
                artifact_dir = self.workspace.model_version_dir(model_type, number)
                version = ModelVersion(
                    model_type=model_type,
                    version=f"v{number}",
                    number=number,
                    created=created,
                    params=dict(params),
                    metrics={k: float(v) for k, v in metrics.items()},
                    artifact_dir=artifact_dir.relative_to(self.workspace.root).as_posix(),
                    files={},
                    training_cycles=sorted(set(training_cycles)),
                    lineage_ids=list(lineage_ids),
                    status="candidate",
                    note=note,
                )
                card = model_card(version, artifact_files, record_counts or {}, evaluation)
                write_json_atomic(staging / CARD_JSON, card)
                write_text_atomic(staging / CARD_MD, card_markdown(card))
                cards = {name: sha256_file(staging / name) for name in (CARD_JSON, CARD_MD)}
                version = version.model_copy(
                    update={"files": dict(sorted({**artifact_files, **cards}.items()))}
                )
                target = self.workspace.root / version.artifact_dir
                # A folder without a row is what a register killed after its rename left: not a version.
                shutil.rmtree(target, ignore_errors=True)
                target.parent.mkdir(parents=True, exist_ok=True)
                staging.rename(target)
                _fsync_dir(target.parent)  # the rename is durable before the row that points at it
                try:
                    self._insert(version)
                except BaseException:
                    shutil.rmtree(target, ignore_errors=True)
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _log.info("registered", model_type=model_type, version=version.version, files=len(version.files))
        _mirror_to_mlflow(version, self.workspace.root / version.artifact_dir)
        return version

    def _next_number(self, model_type: ModelType) -> int:
        row = self._db.execute(
            "SELECT COALESCE(MAX(number), 0) FROM versions WHERE model_type = ?", (model_type,)
        ).fetchone()
        return int(row[0]) + 1

    def _insert(self, v: ModelVersion) -> None:
        self._db.execute(
            "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                v.model_type,
                v.number,
                v.version,
                v.created.isoformat(),
                json.dumps(v.params, sort_keys=True, default=str),
                json.dumps(v.metrics, sort_keys=True),
                v.artifact_dir,
                json.dumps(v.files, sort_keys=True),
                json.dumps(v.training_cycles),
                json.dumps(v.lineage_ids),
                v.status,
                v.note,
            ),
        )

    def _sweep_staging(self) -> None:
        staging = self.workspace.models_staging_dir
        if not staging.is_dir():
            return
        cutoff = time.time() - _STALE_STAGING_S
        for leftover in staging.iterdir():
            if leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)

    # ------------------------------------------------------------------------------------------ reading

    def get(self, model_type: ModelType, version: str) -> ModelVersion:
        """A version by name (`v3`); KeyError naming the registered versions when there is none."""
        row = self._db.execute(
            "SELECT * FROM versions WHERE model_type = ? AND version = ?", (model_type, version)
        ).fetchone()
        if row is None:
            known = [v.version for v in self.versions(model_type)]
            raise KeyError(
                f"no version {version!r} of {model_type} in {self.workspace.registry_db}: "
                + (f"registered versions are {', '.join(known)}" if known else "none is registered")
            )
        return _version(row)

    def versions(self, model_type: ModelType | None = None) -> list[ModelVersion]:
        """Every version (of one type), by type then number."""
        where, args = ("WHERE model_type = ?", (model_type,)) if model_type else ("", ())
        rows = self._db.execute(f"SELECT * FROM versions {where} ORDER BY model_type, number", args)
        return [_version(row) for row in rows]

    def model_types(self) -> list[ModelType]:
        """The model types with at least one version."""
        rows = self._db.execute("SELECT DISTINCT model_type FROM versions ORDER BY model_type")
        return [row[0] for row in rows]

    def alias(self, model_type: ModelType, name: AliasName) -> ModelVersion | None:
        """The version `name` points at, or None."""
        row = self._db.execute(
            "SELECT version FROM aliases WHERE model_type = ? AND name = ?", (model_type, name)
        ).fetchone()
        return None if row is None else self.get(model_type, row[0])

    def load(self, model_type: ModelType, version: str) -> Model:
        """The model of a version, after checking the sha256 of every file (`ArtifactIntegrityError`)."""
        registered = self.get(model_type, version)
        directory = self.workspace.root / registered.artifact_dir
        verify_artifacts(directory, registered.files)
        return get_trainer(model_type).load(directory, registered.version)

    def events(self, model_type: ModelType | None = None) -> list[RegistryEvent]:
        """Alias changes, oldest first."""
        where, args = ("WHERE model_type = ?", (model_type,)) if model_type else ("", ())
        rows = self._db.execute(
            f"SELECT time, model_type, action, version, previous, reason FROM events {where} "
            "ORDER BY event_id",
            args,
        )
        return [
            RegistryEvent(time=r[0], model_type=r[1], action=r[2], version=r[3], previous=r[4], reason=r[5])
            for r in rows
        ]

    def card(self, model_type: ModelType, version: str) -> dict[str, Any]:
        """The version's model card (JSON)."""
        path = self.workspace.root / self.get(model_type, version).artifact_dir / CARD_JSON
        card: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return card

    # ------------------------------------------------------------------------------------------ writing

    def update_metrics(self, model_type: ModelType, version: str, metrics: Mapping[str, float]) -> None:
        """Merge `metrics` into a version's metrics (the model card keeps those of registration)."""
        with transaction(self._db):
            merged = {**self.get(model_type, version).metrics, **{k: float(v) for k, v in metrics.items()}}
            self._db.execute(
                "UPDATE versions SET metrics = ? WHERE model_type = ? AND version = ?",
                (json.dumps(merged, sort_keys=True), model_type, version),
            )

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE): the alias primitives below are meant to run inside it."""
        with transaction(self._db):
            yield

    def set_alias(self, model_type: ModelType, name: AliasName, version: str | None) -> None:
        """Point alias `name` at `version`, or remove it (None)."""
        if version is None:
            self._db.execute("DELETE FROM aliases WHERE model_type = ? AND name = ?", (model_type, name))
        else:
            self._db.execute("INSERT OR REPLACE INTO aliases VALUES (?, ?, ?)", (model_type, name, version))

    def set_status(self, model_type: ModelType, version: str, status: Status) -> None:
        self._db.execute(
            "UPDATE versions SET status = ? WHERE model_type = ? AND version = ?",
            (status, model_type, version),
        )

    def add_event(self, event: RegistryEvent) -> None:
        self._db.execute(
            "INSERT INTO events (time, model_type, action, version, previous, reason) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                event.time.isoformat(),
                event.model_type,
                event.action,
                event.version,
                event.previous,
                event.reason,
            ),
        )


def _version(row: tuple[Any, ...]) -> ModelVersion:
    (
        model_type,
        number,
        version,
        created,
        params,
        metrics,
        artifact_dir,
        files,
        cycles,
        lineage,
        status,
        note,
    ) = row
    return ModelVersion(
        model_type=model_type,
        version=version,
        number=number,
        created=created,
        params=json.loads(params),
        metrics=json.loads(metrics),
        artifact_dir=artifact_dir,
        files=json.loads(files),
        training_cycles=json.loads(cycles),
        lineage_ids=json.loads(lineage),
        status=status,
        note=note,
    )


# ------------------------------------------------------------------------------------------- model card


def model_card(
    version: ModelVersion,
    artifact_files: Mapping[str, str],
    record_counts: Mapping[str, int],
    evaluation: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The JSON model card of a version being registered (`artifact_files`: its files without the card)."""
    return {
        "model_type": version.model_type,
        "version": version.version,
        "created": version.created.isoformat(),
        "intended_use": INTENDED_USE[version.model_type],
        "data": {
            "training_cycles": version.training_cycles,
            "lineage_ids": version.lineage_ids,
            "record_counts": dict(record_counts),
        },
        "metrics": version.metrics,
        "params": version.params,
        "evaluation": None if evaluation is None else dict(evaluation),
        "artifacts": dict(artifact_files),
        "note": version.note,
    }


def card_markdown(card: Mapping[str, Any]) -> str:
    """The markdown rendering of a model card."""
    data = card["data"]
    ids = data["lineage_ids"]
    lines = [
        f"# Model card: {card['model_type']} {card['version']}",
        "",
        f"Created {card['created']}.",
        "",
        "## Intended use",
        "",
        card["intended_use"],
        "",
        "## Training data",
        "",
        f"- cycles: {', '.join(map(str, data['training_cycles'])) or '—'}",
        f"- lineage ids ({len(ids)}): {', '.join(ids[:10])}{' …' if len(ids) > 10 else ''}",
        *(f"- {name}: {count:,} records" for name, count in data["record_counts"].items()),
        "",
        "## Metrics",
        "",
        "| metric | value |",
        "| --- | ---: |",
        *(f"| {k} | {v:.4f} |" for k, v in card["metrics"].items()),
        "",
        "## Parameters",
        "",
        "```json",
        json.dumps(card["params"], indent=2, sort_keys=True, default=str),
        "```",
    ]
    if card["evaluation"] is not None:
        lines += [
            "",
            "## Evaluation",
            "",
            "```json",
            json.dumps(card["evaluation"], indent=2, default=str),
            "```",
        ]
    lines += [
        "",
        "## Artifacts",
        "",
        *(f"- `{name}` sha256 `{sha}`" for name, sha in card["artifacts"].items()),
    ]
    if card["note"]:
        lines += ["", "## Note", "", card["note"]]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ MLflow


def _mirror_to_mlflow(version: ModelVersion, directory: Path) -> None:
    """Mirror a registered version as an MLflow run, when MLFLOW_TRACKING_URI is set and mlflow importable."""
    if not os.environ.get("MLFLOW_TRACKING_URI") or importlib.util.find_spec("mlflow") is None:
        return
    mlflow: Any = importlib.import_module("mlflow")
    try:
        mlflow.set_experiment(f"homesim-{version.model_type}")
        with mlflow.start_run(run_name=f"{version.model_type}-{version.version}"):
            mlflow.log_params({k: json.dumps(v, default=str) for k, v in version.params.items()})
            mlflow.log_metrics(version.metrics)
            mlflow.set_tags(
                {
                    "homesim.model_type": version.model_type,
                    "homesim.version": version.version,
                    "homesim.training_cycles": json.dumps(version.training_cycles),
                }
            )
            mlflow.log_artifacts(str(directory))
    except Exception as exc:  # the registry is the source of truth; a mirror outage must not fail a register
        _log.warning(
            "mlflow mirror failed", model_type=version.model_type, version=version.version, error=str(exc)
        )
