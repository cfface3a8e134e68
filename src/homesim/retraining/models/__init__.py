"""One trainer per learned model type (`yaml_generation` has none: its data is for LLM fine-tuning)."""

from __future__ import annotations

import importlib
from typing import Any

from homesim.retraining.models.base import Trainer
from homesim.simulation.model_provider import ModelType

#: model type → "module:class" of its trainer, imported on first use (torch and MiniLM load lazily).
TRAINER_REFS: dict[ModelType, str] = {
    "pattern_detection": "homesim.retraining.models.pattern_detection:PatternQualityTrainer",
    "gnn_synergy": "homesim.retraining.models.gnn_synergy:GraphSageTrainer",
    "device_intelligence": "homesim.retraining.models.device_intelligence:DeviceFaultTrainer",
    "soft_prompt": "homesim.retraining.models.soft_prompt:SoftPromptTrainer",
}
TRAINED_TYPES: tuple[ModelType, ...] = tuple(TRAINER_REFS)


def get_trainer(model_type: ModelType, **params: Any) -> Trainer:
    """The trainer of `model_type`, built with hyper-parameter overrides `params` (its constructor's keyword
    arguments, e.g. `epochs=3` for soft_prompt); ValueError for a type without one or an unknown one."""
    ref = TRAINER_REFS.get(model_type)
    if ref is None:
        raise ValueError(
            f"no trainer for {model_type!r}: trained types are {', '.join(TRAINED_TYPES)}"
            + (
                " (yaml_generation data is exported for LLM fine-tuning)"
                if model_type == "yaml_generation"
                else ""
            )
        )
    module, _, name = ref.partition(":")
    try:
        trainer: Trainer = getattr(importlib.import_module(module), name)(**params)
    except TypeError as exc:
        raise ValueError(f"{model_type}: bad trainer parameters {params}: {exc}") from exc
    return trainer
