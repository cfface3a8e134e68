"""RegistryModelProvider: the simulation's `ModelProvider` backed by the registry's aliases.

It is what a cycle hands its stages: for each model type, the version an alias (`champion` by default)
points at, or None — the stage then runs its baseline. It pickles as the workspace path, the aliases and
the versions already resolved, so process workers see the same versions as the parent that resolved them
(call `resolve()` before a cycle to pin every type). Loaded models are cached per process by (workspace,
model type, version): versions are immutable and sha-verified, so a cached model never goes stale, and a
worker running many homes loads each model once.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

from homesim.retraining.registry import AliasName, ModelRegistry
from homesim.simulation.model_provider import MODEL_TYPES, Model, ModelType
from homesim.workspace import Workspace


class RegistryModelProvider:
    """Models by alias from a workspace's registry; `overrides` picks another alias for some types."""

    def __init__(
        self,
        workspace: Workspace,
        alias: AliasName = "champion",
        *,
        overrides: Mapping[ModelType, AliasName] | None = None,
    ) -> None:
        self.root = workspace.root
        self.alias = alias
        self.overrides = dict(overrides or {})
        #: model type → version (None: no version has the alias), filled on first use.
        self._versions: dict[ModelType, str | None] = {}

    def alias_of(self, model_type: ModelType) -> AliasName:
        return self.overrides.get(model_type, self.alias)

    def resolve(self) -> dict[ModelType, str | None]:
        """Pin the version of every model type now (one registry read) and return them."""
        missing = [t for t in MODEL_TYPES if t not in self._versions]
        if missing:
            with ModelRegistry(Workspace(self.root)) as registry:
                for model_type in missing:
                    found = registry.alias(model_type, self.alias_of(model_type))
                    self._versions[model_type] = None if found is None else found.version
        return dict(self._versions)

    def get(self, model_type: ModelType) -> Model | None:
        version = self.resolve()[model_type]
        return None if version is None else _load(str(self.root), model_type, version)


@functools.lru_cache(maxsize=32)
def _load(root: str, model_type: ModelType, version: str) -> Model:
    """A version's model, loaded (and sha-verified) once per process."""
    with ModelRegistry(Workspace(Path(root))) as registry:
        return registry.load(model_type, version)
