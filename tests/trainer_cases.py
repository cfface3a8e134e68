"""The four trainers as cases of one contract (`test_trainer_contract.py`): each case is a small trainer, the
examples of four generated homes exported as `homesim export` does, a model fitted on them, and what the
contract needs to know of the type. Built once per session by the fixtures in `conftest.py` and shared by
the contract suite and each trainer's own tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from homesim.datasets.home_folder import write_home
from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.ground_truth.truth import write_ground_truth
from homesim.retraining.models.base import CONFIG_FILE, Trainer
from homesim.schema.records import AnyRecord
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import Model, ModelProvider, ModelType, NoModels
from homesim.training_data.exporters import Exporter, MemorySource
from homesim.training_data.loading import TrainingData, load_training_data
from homesim.training_data.schemas import Format
from homesim.workspace import Workspace

Stage = Callable[[HomeView, ModelProvider, int], Sequence[AnyRecord]]
Frame = Callable[[pl.DataFrame], pl.DataFrame]


class OneModel:
    """A provider that deploys `model` for one model type and nothing for the others."""

    def __init__(self, model_type: ModelType, model: Model) -> None:
        self.model_type = model_type
        self.model = model

    def get(self, model_type: ModelType) -> Model | None:
        return self.model if model_type == self.model_type else None


@dataclass
class TrainerCase:
    model_type: ModelType
    trainer: Trainer
    views: list[HomeView]
    data: TrainingData
    examples: pl.DataFrame
    #: The training homes' examples and the held-out ones (the model is fitted on `train` with `seed`).
    train: pl.DataFrame
    held: pl.DataFrame
    seed: int
    model: Model
    #: The columns `model.predict` takes, from examples.
    features: Frame
    stage: Stage
    artifacts: frozenset[str]
    #: Largest difference between predictions before and after save/load (torch batches may differ).
    round_trip_atol: float = 0.0
    #: A trainer and examples small enough to fit twice for the determinism check.
    refit: tuple[Trainer, pl.DataFrame] | None = None
    #: Whether two fitted models hold the same weights (checked besides equal predictions).
    same_weights: Callable[[Model, Model], bool] | None = None
    #: Subsets of the examples holding a single class (scoring them must not fail; `fit` refuses the first).
    single_class_subsets: Callable[[pl.DataFrame], list[pl.DataFrame]] = lambda _: []
    #: Real labels beat shuffled ones on held-out homes: (training, held-out) examples, the shuffle, and
    #: each metric with the margin it must win by (0: strictly better).
    shuffle_split: tuple[pl.DataFrame, pl.DataFrame] | None = None
    shuffle: Frame = field(default=lambda frame: frame)
    beats_shuffled: dict[str, float] = field(default_factory=dict)
    #: What `fit` says when the examples hold a single class (None: not checked).
    single_class_error: str | None = None


def views_of(config: GenerationConfig) -> list[HomeView]:
    return [HomeView.from_generated(generate_home(config, i)) for i in range(config.homes)]


def export(
    views: list[HomeView],
    stage: Stage,
    model_type: ModelType,
    workspace: Workspace,
    formats: tuple[Format, ...] | None = None,
) -> TrainingData:
    """Cycle 1 of the homes through `stage` (baselines), exported like `homesim export` does."""
    records = [r for view in views for r in stage(view, NoModels(), 1)]
    Exporter(workspace, MemorySource(records)).export(model_type, 1, formats)
    return load_training_data(model_type, workspace, 1)


def write_truths(views: list[HomeView], workspace: Workspace) -> Workspace:
    for view in views:
        write_ground_truth(view.truth, workspace.home_dir(view.key))
    return workspace


def _by_home(examples: pl.DataFrame, held_keys: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    held = pl.col("home_key").is_in(list(held_keys))
    return examples.filter(~held), examples.filter(held)


HomePick = Callable[[list[str]], list[str]]


def _fitted(
    model_type: ModelType,
    trainer: Trainer,
    views: list[HomeView],
    data: TrainingData,
    *,
    seed: int,
    held_out: HomePick | None = None,
    shuffle_held_out: HomePick | None = None,
    **rest: Any,
) -> TrainerCase:
    """`trainer` fitted with `seed` on the examples of every home but `held_out` (all homes when None);
    the shuffled-labels check holds out `shuffle_held_out` (not checked when None)."""
    examples = trainer.examples(data)
    homes = sorted(examples.get_column("home_key").unique())
    train, held = (examples, examples) if held_out is None else _by_home(examples, held_out(homes))
    return TrainerCase(
        model_type=model_type,
        trainer=trainer,
        views=views,
        data=data,
        examples=examples,
        train=train,
        held=held,
        seed=seed,
        model=trainer.fit(train, seed=seed),
        shuffle_split=None if shuffle_held_out is None else _by_home(examples, shuffle_held_out(homes)),
        **rest,
    )


def _shuffle_labels(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("label").shuffle(seed=5))


def pattern_case(tmp: Path) -> TrainerCase:
    from homesim.retraining.models.pattern_detection import PatternQualityTrainer
    from homesim.simulation.pattern_detection import FEATURES, PatternDetector

    views = views_of(GenerationConfig(homes=4, days=10, seed=31))
    workspace = write_truths(views, Workspace(tmp))
    return _fitted(
        "pattern_detection",
        PatternQualityTrainer(max_iter=40, learning_rate=0.15),
        views,
        export(views, PatternDetector().detect, "pattern_detection", workspace, ("parquet",)),
        seed=0,
        shuffle_held_out=lambda homes: homes[:1],
        features=lambda frame: frame.select(FEATURES),
        stage=PatternDetector().detect,
        artifacts=frozenset({"model.skops", CONFIG_FILE}),
        single_class_subsets=lambda frame: [frame.filter(~pl.col("label")), frame.filter(pl.col("label"))],
        shuffle=_shuffle_labels,
        beats_shuffled={"pr_auc": 0.2, "f1": 0.0},
        single_class_error="needs real and false candidates",
    )


def device_case(tmp: Path) -> TrainerCase:
    from homesim.retraining.models.device_intelligence import COLUMNS, DeviceFaultTrainer
    from homesim.simulation.device_health import DeviceHealthAssessor

    # Many faults, so that a held-out home has some of several kinds.
    views = views_of(GenerationConfig(homes=4, days=10, seed=17, fault_rate=0.3))
    healthy = pl.col("label") == "healthy"
    return _fitted(
        "device_intelligence",
        DeviceFaultTrainer(max_iter=30, learning_rate=0.2, healthy_share=0.2),
        views,
        export(views, DeviceHealthAssessor().assess, "device_intelligence", Workspace(tmp), ("csv",)),
        seed=0,
        shuffle_held_out=lambda homes: homes[:2],
        features=lambda frame: frame.select(COLUMNS),
        stage=DeviceHealthAssessor().assess,
        artifacts=frozenset({"model.skops", CONFIG_FILE}),
        single_class_subsets=lambda frame: [frame.filter(healthy), frame.filter(~healthy)],
        shuffle=_shuffle_labels,
        beats_shuffled={"macro_f1": 0.1, "detection_f1": 0.0},
        single_class_error="at least two health kinds",
    )


def gnn_case(tmp: Path) -> TrainerCase:
    import torch

    from homesim.retraining.models.gnn_synergy import WEIGHTS_FILE, GraphSageSynergyModel, GraphSageTrainer
    from homesim.simulation.synergy_detection import synergy_stage

    views = views_of(GenerationConfig(homes=4, days=10, seed=5))

    def shuffle(frame: pl.DataFrame) -> pl.DataFrame:
        labels = np.random.default_rng(0).permutation(frame.get_column("label").to_numpy())
        return frame.with_columns(pl.Series("label", labels))

    def same_weights(a: Model, b: Model) -> bool:
        assert isinstance(a, GraphSageSynergyModel) and isinstance(b, GraphSageSynergyModel)
        first, second = a.net.state_dict(), b.net.state_dict()
        return a.threshold == b.threshold and all(torch.equal(first[k], second[k]) for k in first)

    return _fitted(
        "gnn_synergy",
        GraphSageTrainer(hidden=16, max_epochs=40, eval_every=10),
        views,
        export(views, synergy_stage, "gnn_synergy", write_truths(views, Workspace(tmp))),
        seed=3,
        held_out=lambda homes: homes[-1:],
        shuffle_held_out=lambda homes: homes[-1:],
        features=lambda frame: frame.drop("home_key", "cycle", "label"),
        stage=synergy_stage,
        artifacts=frozenset({WEIGHTS_FILE, CONFIG_FILE}),
        single_class_subsets=lambda frame: [frame.filter(pl.col("label")), frame.filter(~pl.col("label"))],
        shuffle=shuffle,
        beats_shuffled={"pr_auc": 0.1},
        same_weights=same_weights,
    )


def soft_prompt_case(tmp: Path) -> TrainerCase:
    from homesim.retraining.models.soft_prompt import WEIGHTS_FILE, SoftPromptModel, SoftPromptTrainer
    from homesim.simulation.ask_ai import ask_ai_stage

    config = GenerationConfig(homes=4, days=7, seed=5)
    generated = [generate_home(config, i) for i in range(config.homes)]
    views = [HomeView.from_generated(g) for g in generated]
    workspace = Workspace(tmp)
    for home, view in zip(generated, views, strict=True):
        write_home(home, workspace.home_dir(view.key))

    def same_prompt(a: Model, b: Model) -> bool:
        assert isinstance(a, SoftPromptModel) and isinstance(b, SoftPromptModel)
        return np.array_equal(a.prompt.numpy(), b.prompt.numpy())

    case = _fitted(
        "soft_prompt",
        SoftPromptTrainer(epochs=2, batch_size=16),
        views,
        export(views, ask_ai_stage, "soft_prompt", workspace),
        seed=3,
        held_out=lambda homes: homes[-1:],
        features=lambda frame: pl.DataFrame({"request": frame.get_column("text")}),
        stage=ask_ai_stage,
        artifacts=frozenset({WEIGHTS_FILE, CONFIG_FILE}),
        # Same weights; requests padded in other batches may differ in the last float bits.
        round_trip_atol=1e-6,
        same_weights=same_prompt,
    )
    # A full fit takes a while: the determinism check refits a quicker trainer on a few examples.
    case.refit = (SoftPromptTrainer(epochs=1, batch_size=8), case.train.head(24))
    return case


CASES: dict[str, Callable[[Path], TrainerCase]] = {
    "pattern_detection": pattern_case,
    "device_intelligence": device_case,
    "gnn_synergy": gnn_case,
    "soft_prompt": soft_prompt_case,
}
