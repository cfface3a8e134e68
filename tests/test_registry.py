"""ModelRegistry: versions, sha256 of artifacts, model cards, integrity on load, crash safety, MLflow.

`LogisticTrainer` is a tiny numpy trainer (weights in safetensors, config in JSON) standing in for the real
trainers; the deployment and A/B tests import it from here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
from safetensors.numpy import load_file, save_file

from homesim.retraining.models import TRAINER_REFS
from homesim.retraining.models.base import ProgressFn, Trainer
from homesim.retraining.registry import CARD_JSON, CARD_MD, ArtifactIntegrityError, ModelRegistry, sha256_file
from homesim.simulation.model_provider import Model, ModelType
from homesim.training_data.loading import TrainingData
from homesim.workspace import Workspace

CLOCK = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class LogisticModel:
    """p = sigmoid(bias + Σ weight·column); columns absent from the features count as 0."""

    def __init__(
        self, columns: list[str], weights: npt.NDArray[np.float64], bias: float, version: str
    ) -> None:
        self.columns, self.weights, self.bias, self.version = columns, weights, bias, version

    def predict(self, features: pl.DataFrame) -> npt.NDArray[np.float64]:
        z = np.full(features.height, self.bias)
        for column, weight in zip(self.columns, self.weights, strict=True):
            if column in features.columns:
                z += weight * features[column].cast(pl.Float64).fill_null(0.0).to_numpy()
        return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


class LogisticTrainer(Trainer):
    model_type: ClassVar[ModelType] = "pattern_detection"
    primary_metric: ClassVar[str] = "accuracy"

    def examples(self, data: TrainingData) -> pl.DataFrame:
        raise NotImplementedError("the tests build example frames directly")

    def fit(self, examples: pl.DataFrame, seed: int, progress: ProgressFn | None = None) -> Model:
        x = examples.select("x").to_numpy().astype(np.float64)
        y = examples["y"].to_numpy().astype(np.float64)
        w, b = np.random.default_rng(seed).normal(size=1) * 0.01, 0.0
        for _ in range(300):
            p = 1.0 / (1.0 + np.exp(-(x @ w + b)))
            w -= 0.5 * x.T @ (p - y) / len(y)
            b -= 0.5 * float(np.mean(p - y))
        return LogisticModel(["x"], w, b, "unsaved")

    def predict_examples(self, model: Model | None, examples: pl.DataFrame) -> pl.DataFrame:
        p = model.predict(examples) if model else np.full(examples.height, 0.5)
        return examples.select("home_key", "y").with_columns(p=pl.Series(p))

    def score(self, predictions: pl.DataFrame) -> dict[str, float]:
        right = (predictions["p"].to_numpy() >= 0.5) == (predictions["y"].to_numpy() == 1)
        return {"accuracy": float(right.mean()) if len(right) else 0.0}

    def save(self, model: Model, directory: Path) -> list[Path]:
        assert isinstance(model, LogisticModel)
        save_file(
            {"weights": model.weights, "bias": np.array([model.bias])}, directory / "weights.safetensors"
        )
        (directory / "config.json").write_text(json.dumps({"columns": model.columns}), encoding="utf-8")
        return [directory / "weights.safetensors", directory / "config.json"]

    def load(self, directory: Path, version: str) -> Model:
        tensors = load_file(directory / "weights.safetensors")
        columns = json.loads((directory / "config.json").read_text(encoding="utf-8"))["columns"]
        return LogisticModel(columns, tensors["weights"], float(tensors["bias"][0]), version)

    def params(self) -> dict[str, Any]:
        return {"steps": 300, "lr": 0.5}


def constant_model(bias: float) -> LogisticModel:
    """A model that scores every candidate sigmoid(bias): all predicted (bias ≫ 0) or none (bias ≪ 0)."""
    return LogisticModel([], np.zeros(0), bias, "unsaved")


@contextmanager
def fake_trainers() -> Iterator[None]:
    """`get_trainer("pattern_detection")` returns a LogisticTrainer while inside."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(TRAINER_REFS, "pattern_detection", "test_registry:LogisticTrainer")
        yield


def register(registry: ModelRegistry, model: Model, **extra: Any) -> str:
    trainer = LogisticTrainer()
    return registry.register(
        "pattern_detection",
        trainer,
        model,
        params=trainer.params(),
        metrics={"accuracy": 0.9},
        training_cycles=[1],
        lineage_ids=["run-1"],
        clock=CLOCK,
        **extra,
    ).version


@pytest.fixture(autouse=True)
def _fake_trainers() -> Iterator[None]:
    with fake_trainers():
        yield


@pytest.fixture
def examples() -> pl.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    return pl.DataFrame({"home_key": [f"h{i % 5}" for i in range(200)], "x": x, "y": (x > 0.2).astype(int)})


def test_register_saves_files_with_sha_and_card_and_load_roundtrips(
    tmp_path: Path, examples: pl.DataFrame
) -> None:
    trainer = LogisticTrainer()
    model = trainer.fit(examples, seed=1)
    with ModelRegistry(Workspace(tmp_path)) as registry:
        v1 = registry.register(
            "pattern_detection",
            trainer,
            model,
            params=trainer.params(),
            metrics={"accuracy": 0.93, "f1": 0.9},
            training_cycles=[2, 1, 2],
            lineage_ids=["run-a", "run-b"],
            clock=CLOCK,
            record_counts={"train": 160, "validation": 40},
            evaluation={"decision": "deployed", "ci_low": 0.01},
        )
        v2 = registry.register(
            "pattern_detection",
            trainer,
            model,
            params={},
            metrics={},
            training_cycles=[3],
            lineage_ids=[],
        )
        loaded = registry.load("pattern_detection", "v1")
        assert registry.get("pattern_detection", "v1") == v1
        assert [v.version for v in registry.versions()] == ["v1", "v2"]
        card = registry.card("pattern_detection", "v1")
    assert (v1.version, v1.number, v1.status, v2.version) == ("v1", 1, "candidate", "v2")
    assert v1.artifact_dir == "models/pattern_detection/v1" and v1.training_cycles == [1, 2]
    directory = tmp_path / v1.artifact_dir
    assert set(v1.files) == {"weights.safetensors", "config.json", CARD_MD, CARD_JSON}
    assert all(sha256_file(directory / name) == sha for name, sha in v1.files.items())
    assert loaded.version == "v1"
    np.testing.assert_allclose(loaded.predict(examples), model.predict(examples))
    assert card["data"] == {
        "training_cycles": [1, 2],
        "lineage_ids": ["run-a", "run-b"],
        "record_counts": {"train": 160, "validation": 40},
    }
    assert card["metrics"] == {"accuracy": 0.93, "f1": 0.9} and card["params"] == {"steps": 300, "lr": 0.5}
    assert card["evaluation"] == {"decision": "deployed", "ci_low": 0.01} and card["intended_use"]
    assert card["created"] == CLOCK.isoformat()
    assert card["artifacts"]["weights.safetensors"] == v1.files["weights.safetensors"]
    markdown = (directory / CARD_MD).read_text(encoding="utf-8")
    assert "# Model card: pattern_detection v1" in markdown and "| f1 | 0.9000 |" in markdown
    assert "validation: 40 records" in markdown and "## Evaluation" in markdown


def test_a_tampered_artifact_refuses_to_load_naming_the_file(tmp_path: Path) -> None:
    with ModelRegistry(Workspace(tmp_path)) as registry:
        register(registry, constant_model(1.0))
        weights = tmp_path / "models/pattern_detection/v1/weights.safetensors"
        data = bytearray(weights.read_bytes())
        stat = weights.stat()
        data[-1] ^= 0x01
        weights.write_bytes(bytes(data))
        os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime: only a hash sees it
        with pytest.raises(ArtifactIntegrityError, match=r"weights\.safetensors was modified"):
            registry.load("pattern_detection", "v1")
        data[-1] ^= 0x01
        weights.write_bytes(bytes(data))
        assert registry.load("pattern_detection", "v1").version == "v1"
        (weights.parent / "extra.bin").write_bytes(b"\x80")
        with pytest.raises(ArtifactIntegrityError, match=r"unexpected file .*extra\.bin"):
            registry.load("pattern_detection", "v1")
        (weights.parent / "extra.bin").unlink()
        (weights.parent / "config.json").unlink()
        with pytest.raises(ArtifactIntegrityError, match=r"config\.json is missing"):
            registry.load("pattern_detection", "v1")


class _FailingTrainer(LogisticTrainer):
    def save(self, model: Model, directory: Path) -> list[Path]:
        (directory / "weights.safetensors").write_bytes(b"half a file")
        raise OSError("disk full")


def test_a_failed_register_leaves_no_version(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    with ModelRegistry(workspace) as registry:
        with pytest.raises(OSError, match="disk full"):
            registry.register(
                "pattern_detection",
                _FailingTrainer(),
                constant_model(0.0),
                params={},
                metrics={},
                training_cycles=[],
                lineage_ids=[],
            )
        assert registry.versions() == []
        assert not (workspace.models_dir / "pattern_detection" / "v1").exists()
        assert list((workspace.models_dir / ".staging").iterdir()) == []
        assert register(registry, constant_model(0.0)) == "v1"


_KILLED_REGISTER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
import test_registry as t
from homesim.retraining.registry import ModelRegistry
from homesim.workspace import Workspace

class Slow(t.LogisticTrainer):
    def save(self, model, directory):
        paths = super().save(model, directory)
        Path({marker!r}).touch()
        time.sleep(60)
        return paths

ModelRegistry(Workspace(Path({root!r}))).register(
    "pattern_detection", Slow(), t.constant_model(0.0), params={{}}, metrics={{}}, training_cycles=[],
    lineage_ids=[],
)
"""


def test_a_killed_register_leaves_no_version(tmp_path: Path) -> None:
    workspace, marker = Workspace(tmp_path / "ws"), tmp_path / "saving"
    script = _KILLED_REGISTER.format(
        tests=str(Path(__file__).parent), marker=str(marker), root=str(workspace.root)
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), "the register never reached save()"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    # What a kill between the rename and the commit would leave: a version folder without a row.
    orphan = workspace.models_dir / "pattern_detection" / "v1"
    orphan.mkdir(parents=True)
    (orphan / "weights.safetensors").write_bytes(b"junk")
    with ModelRegistry(workspace) as registry:
        assert registry.versions() == []
        assert register(registry, constant_model(2.0)) == "v1"
        assert registry.load("pattern_detection", "v1").bias == pytest.approx(2.0)  # type: ignore[attr-defined]


def test_get_names_the_known_versions_and_update_metrics_merges(tmp_path: Path) -> None:
    with ModelRegistry(Workspace(tmp_path)) as registry:
        with pytest.raises(KeyError, match="none is registered"):
            registry.get("pattern_detection", "v1")
        register(registry, constant_model(0.0))
        with pytest.raises(KeyError, match="registered versions are v1"):
            registry.get("pattern_detection", "v7")
        registry.update_metrics("pattern_detection", "v1", {"cycle_3_f1": 0.7})
        assert registry.get("pattern_detection", "v1").metrics == {"accuracy": 0.9, "cycle_3_f1": 0.7}
        assert registry.card("pattern_detection", "v1")["metrics"] == {"accuracy": 0.9}
        assert registry.model_types() == ["pattern_detection"]
        assert registry.alias("pattern_detection", "champion") is None


class _FakeMlflow(types.ModuleType):
    def __init__(self, fail: bool) -> None:
        super().__init__("mlflow")
        self.__spec__ = types.SimpleNamespace(name="mlflow")  # type: ignore[assignment]
        self.fail = fail
        self.calls: list[tuple[str, object]] = []

    def set_experiment(self, name: str) -> None:
        self.calls.append(("experiment", name))

    @contextmanager
    def start_run(self, run_name: str) -> Iterator[None]:
        if self.fail:
            raise ConnectionError("tracking server down")
        self.calls.append(("run", run_name))
        yield

    def log_params(self, params: dict[str, str]) -> None:
        self.calls.append(("params", params))

    def log_metrics(self, metrics: dict[str, float]) -> None:
        self.calls.append(("metrics", metrics))

    def set_tags(self, tags: dict[str, str]) -> None:
        self.calls.append(("tags", tags["homesim.version"]))

    def log_artifacts(self, directory: str) -> None:
        self.calls.append(("artifacts", sorted(p.name for p in Path(directory).iterdir())))


@pytest.mark.parametrize("fail", [False, True])
def test_versions_are_mirrored_to_mlflow_when_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: bool
) -> None:
    fake = _FakeMlflow(fail)
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    with ModelRegistry(Workspace(tmp_path)) as registry:
        register(registry, constant_model(0.0))  # no MLFLOW_TRACKING_URI: not mirrored
        assert fake.calls == []
        monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.invalid")
        assert register(registry, constant_model(0.0)) == "v2"  # a failing mirror never fails a register
    if fail:
        assert fake.calls == [("experiment", "homesim-pattern_detection")]
    else:
        assert ("run", "pattern_detection-v2") in fake.calls and ("tags", "v2") in fake.calls
        assert ("metrics", {"accuracy": 0.9}) in fake.calls
        assert ("artifacts", sorted(["config.json", CARD_JSON, CARD_MD, "weights.safetensors"])) in fake.calls
