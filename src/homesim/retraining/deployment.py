"""Deployment policy: how the registry's aliases move (deploy, rollback, reject, challenger).

Every function runs in one SQLite transaction of the registry: the version statuses, the aliases and the
event that records why change together or not at all.

* deploy: the version becomes `champion`; the old champion becomes `previous`; the old `previous` (if any,
  and not the version deployed) is `archived`. A deployed challenger stops being the challenger. Any
  registered version can be deployed: a manual deploy may overrule an earlier rejection.
* rollback: `previous` becomes `champion` again; the rolled-back champion is `archived`; there is no
  `previous` afterwards (a second rollback needs a deploy in between).
* reject: the version is `rejected` (and no longer the challenger); the champion cannot be rejected.
* set_challenger: the version becomes `challenger` for an A/B test; the old challenger is a `candidate`.
  A `rejected` version cannot become the challenger (the loop or a person judged it worse): only with
  `force` and a reason, which the event records, so an overruled rejection is always explained.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from homesim.retraining.registry import ModelRegistry, ModelVersion, RegistryEvent
from homesim.simulation.model_provider import ModelType


class DeploymentError(ValueError):
    """The requested alias move is not possible (no previous version, rejecting the champion…)."""


def deploy(
    registry: ModelRegistry,
    model_type: ModelType,
    version: str,
    reason: str,
    *,
    action: Literal["deploy", "promote"] = "deploy",
    clock: datetime | None = None,
) -> RegistryEvent:
    """Make `version` the champion of `model_type`; the old champion becomes `previous`."""
    with registry.transaction():
        target = registry.get(model_type, version)
        champion = registry.alias(model_type, "champion")
        if champion is not None and champion.version == target.version:
            raise DeploymentError(f"{model_type} {version} is already the champion")
        previous = registry.alias(model_type, "previous")
        if champion is not None:
            if previous is not None and previous.version != target.version:
                registry.set_status(model_type, previous.version, "archived")
            registry.set_status(model_type, champion.version, "previous")
            registry.set_alias(model_type, "previous", champion.version)
        _drop_challenger(registry, target)
        registry.set_status(model_type, target.version, "champion")
        registry.set_alias(model_type, "champion", target.version)
        return _event(registry, model_type, action, target.version, champion, reason, clock)


def rollback(
    registry: ModelRegistry, model_type: ModelType, reason: str, *, clock: datetime | None = None
) -> RegistryEvent:
    """Restore the previous champion of `model_type`; the rolled-back champion is archived."""
    with registry.transaction():
        previous = registry.alias(model_type, "previous")
        champion = registry.alias(model_type, "champion")
        if previous is None:
            current = f"the champion is {champion.version}" if champion else "there is no champion either"
            raise DeploymentError(f"no previous {model_type} version to roll back to ({current})")
        if champion is not None:
            registry.set_status(model_type, champion.version, "archived")
        registry.set_status(model_type, previous.version, "champion")
        registry.set_alias(model_type, "champion", previous.version)
        registry.set_alias(model_type, "previous", None)
        return _event(registry, model_type, "rollback", previous.version, champion, reason, clock)


def reject(
    registry: ModelRegistry,
    model_type: ModelType,
    version: str,
    reason: str,
    *,
    clock: datetime | None = None,
) -> RegistryEvent:
    """Mark `version` rejected (it stops being the challenger); the champion must be rolled back instead."""
    with registry.transaction():
        target = registry.get(model_type, version)
        if target.status == "champion":
            raise DeploymentError(
                f"{model_type} {version} is the champion: roll it back instead of rejecting it"
            )
        _drop_challenger(registry, target)
        if target.status == "previous":
            registry.set_alias(model_type, "previous", None)
        registry.set_status(model_type, version, "rejected")
        return _event(registry, model_type, "reject", version, None, reason, clock)


def set_challenger(
    registry: ModelRegistry,
    model_type: ModelType,
    version: str,
    reason: str,
    *,
    force: bool = False,
    clock: datetime | None = None,
) -> RegistryEvent:
    """Make `version` the challenger of `model_type` (the one an A/B test runs against the champion); a
    rejected version only with `force` and a non-empty `reason`."""
    if force and not reason.strip():
        raise DeploymentError("forcing a rejected version to be the challenger needs a reason")
    with registry.transaction():
        target = registry.get(model_type, version)
        if target.status == "champion":
            raise DeploymentError(
                f"{model_type} {version} is the champion; a challenger must be another version"
            )
        if target.status == "rejected" and not force:
            raise DeploymentError(
                f"{model_type} {version} was rejected and cannot become the challenger "
                "(overrule with --force --reason WHY)"
            )
        if target.status == "rejected":
            reason = f"forced over its rejection: {reason}"
        old = registry.alias(model_type, "challenger")
        if old is not None and old.version != version:
            registry.set_status(model_type, old.version, "candidate")
        registry.set_status(model_type, version, "challenger")
        registry.set_alias(model_type, "challenger", version)
        return _event(registry, model_type, "challenger", version, old, reason, clock)


def _drop_challenger(registry: ModelRegistry, target: ModelVersion) -> None:
    challenger = registry.alias(target.model_type, "challenger")
    if challenger is not None and challenger.version == target.version:
        registry.set_alias(target.model_type, "challenger", None)


def _event(
    registry: ModelRegistry,
    model_type: ModelType,
    action: Literal["deploy", "rollback", "promote", "reject", "challenger"],
    version: str,
    replaced: ModelVersion | None,
    reason: str,
    clock: datetime | None,
) -> RegistryEvent:
    event = RegistryEvent(
        time=clock or datetime.now(UTC),
        model_type=model_type,
        action=action,
        version=version,
        previous=None if replaced is None else replaced.version,
        reason=reason,
    )
    registry.add_event(event)
    return event
