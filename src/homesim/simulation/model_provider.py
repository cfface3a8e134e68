"""The models the simulation's stages use: the `ModelProvider` and `Model` protocols, and `NoModels`.

A stage asks the provider for the model deployed for its model type; when there is none (`None`) it runs
its documented baseline and stamps its records `model_version="baseline"`. The retraining issue backs the
provider with the registry's champions; tests use fakes.

Numeric stages call `predict` with one row per candidate and one column per feature, named as the fields
of the stage's feature model in `homesim.schema.records` (the `features` of the record's inputs):

* `pattern_detection`, `gnn_synergy`: shape `(n,)`, the probability that each candidate is real.
  `gnn_synergy` gets all of one home's candidate edges at once, with the node features of both ends as
  `trigger_<field>` / `action_<field>` columns (`synergy_detection.with_node_features`).
* `device_intelligence`: shape `(n, len(HEALTH_KINDS))`, class probabilities in `HEALTH_KINDS` order;
  besides the features it gets `rule_kind`, the rules baseline's kind of each window (the model is
  stacked on the rules).
* `soft_prompt`, `yaml_generation`: defined by the language stages that use them.
"""

from __future__ import annotations

from typing import Literal, Protocol, get_args, runtime_checkable

import numpy as np
import numpy.typing as npt
import polars as pl

from homesim.schema.records import HealthKind

ModelType = Literal[
    "gnn_synergy",
    "pattern_detection",
    "soft_prompt",
    "yaml_generation",
    "device_intelligence",
    "activity_recognition",
]
MODEL_TYPES: tuple[ModelType, ...] = get_args(ModelType)
#: Column order of `device_intelligence` class probabilities.
HEALTH_KINDS: tuple[HealthKind, ...] = get_args(HealthKind)


@runtime_checkable
class Model(Protocol):
    """A deployed model: its registry version and a vectorized prediction over feature rows."""

    version: str

    def predict(self, features: pl.DataFrame) -> npt.NDArray[np.float64]: ...


class ModelProvider(Protocol):
    def get(self, model_type: ModelType) -> Model | None: ...


class NoModels:
    """No model is deployed for any type: every stage runs its baseline (cycle 0)."""

    def get(self, model_type: ModelType) -> Model | None:
        return None
