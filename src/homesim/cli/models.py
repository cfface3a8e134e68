"""`homesim models list|show|deploy|reject|rollback|history` and `homesim ab`: the registry from the shell."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from homesim.cli.errors import fail
from homesim.cli.options import (
    ExecutorOption,
    JsonOption,
    WorkersOption,
    WorkspaceOption,
    dataset_ref,
    print_json,
    resolve_workspace,
    start_command,
)
from homesim.retraining.ab_testing import run_ab
from homesim.retraining.deployment import DeploymentError, deploy, reject, rollback, set_challenger
from homesim.retraining.registry import ALIASES, CARD_MD, ArtifactIntegrityError, ModelRegistry
from homesim.schema.records import MAX_CYCLE
from homesim.simulation.model_provider import MODEL_TYPES, ModelType

console = Console()
err_console = Console(stderr=True)
models_app = typer.Typer(help="Registered model versions, deployment and rollback.", no_args_is_help=True)

ModelArgument = Annotated[str, typer.Argument(help=f"model type: {' | '.join(MODEL_TYPES)}")]
ReasonOption = Annotated[str, typer.Option(help="why (recorded in the registry history)")]


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
    app.command("ab")(ab)


def _model_type(value: str) -> ModelType:
    for model_type in MODEL_TYPES:
        if model_type == value:
            return model_type
    raise typer.BadParameter(f"unknown model type {value!r}: expected one of {', '.join(MODEL_TYPES)}")


@contextmanager
def _registry(workspace: Path | None) -> Iterator[ModelRegistry]:
    """The workspace's registry (never created by a read); registry errors become one line and exit 2."""
    ws = resolve_workspace(workspace)
    if not ws.registry_db.is_file():
        fail(f"no model versions registered in {ws.root} (no {ws.registry_db.name})")
    try:
        with ModelRegistry(ws) as registry:
            yield registry
    except (KeyError, DeploymentError, ArtifactIntegrityError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        fail(f"{message}")


def _metrics(metrics: dict[str, float], limit: int = 4) -> str:
    return ", ".join(f"{k} {v:.3f}" for k, v in list(metrics.items())[:limit])


@models_app.command("list")
def list_(
    model_type: Annotated[str | None, typer.Option(help="only this model type")] = None,
    as_json: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Every registered version with its status, aliases, training cycles and metrics."""
    wanted = _model_type(model_type) if model_type else None
    if not resolve_workspace(workspace).registry_db.is_file():
        print_json([]) if as_json else console.print("no model versions registered")
        return
    with _registry(workspace) as registry:
        versions = registry.versions(wanted)
        aliases = {
            (t, found.version): name
            for t in {v.model_type for v in versions}
            for name in ALIASES
            if (found := registry.alias(t, name)) is not None
        }
    if as_json:
        print_json(
            [{**v.model_dump(mode="json"), "alias": aliases.get((v.model_type, v.version))} for v in versions]
        )
        return
    if not versions:
        console.print("no model versions registered")
        return
    table = Table(title=f"{len(versions)} model versions")
    for name in ("model type", "version", "status", "alias", "created", "cycles", "metrics"):
        table.add_column(name, no_wrap=name != "metrics")
    for v in versions:
        table.add_row(
            v.model_type,
            v.version,
            v.status,
            aliases.get((v.model_type, v.version), ""),
            v.created.strftime("%Y-%m-%d %H:%M"),
            ",".join(map(str, v.training_cycles)),
            _metrics(v.metrics),
        )
    console.print(table)


@models_app.command("show")
def show(
    model: ModelArgument,
    version: Annotated[str | None, typer.Argument(help="version (default: the champion)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON model card")] = False,
    workspace: WorkspaceOption = None,
) -> None:
    """A version's model card and its current metrics."""
    model_type = _model_type(model)
    with _registry(workspace) as registry:
        if version is None:
            champion = registry.alias(model_type, "champion")
            if champion is None:
                raise DeploymentError(f"{model_type} has no champion: name a version")
            version = champion.version
        registered = registry.get(model_type, version)
        card = registry.card(model_type, version)
        card_md = (registry.workspace.root / registered.artifact_dir / CARD_MD).read_text("utf-8")
    if as_json:
        typer.echo(json.dumps(card, indent=2))
        return
    typer.echo(card_md)
    table = Table(title=f"{model_type} {version} ({registered.status}): current metrics")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in registered.metrics.items():
        table.add_row(name, f"{value:.4f}")
    console.print(table)


@models_app.command("deploy")
def deploy_command(
    model: ModelArgument,
    version: Annotated[str, typer.Argument(help="the version to deploy, e.g. v3")],
    challenger: Annotated[
        bool, typer.Option("--challenger", help="make it the challenger (for `homesim ab`), not the champion")
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="with --challenger: accept a rejected version (needs --reason saying why)"
        ),
    ] = False,
    reason: ReasonOption = "manual deploy",
    workspace: WorkspaceOption = None,
) -> None:
    """Make a version the champion (the old champion becomes `previous`; a manual deploy may overrule a
    rejection), or the challenger (never a rejected version unless --force --reason WHY)."""
    model_type = _model_type(model)
    if force and not challenger:
        fail("--force only applies with --challenger (a champion deploy needs no force)")
    if force and reason == "manual deploy":
        fail("--force needs --reason saying why the rejected version should be the challenger")
    with _registry(workspace) as registry:
        event = (
            set_challenger(registry, model_type, version, reason, force=force)
            if challenger
            else deploy(registry, model_type, version, reason)
        )
    role = "challenger" if challenger else "champion"
    replaced = f" (was {event.previous})" if event.previous else ""
    console.print(f"{model_type} {role}: {event.version}{replaced}", highlight=False)


@models_app.command("reject")
def reject_command(
    model: ModelArgument,
    version: Annotated[str, typer.Argument(help="the version to reject")],
    reason: ReasonOption = "manual reject",
    workspace: WorkspaceOption = None,
) -> None:
    """Mark a version rejected (it can no longer be the challenger)."""
    model_type = _model_type(model)
    with _registry(workspace) as registry:
        reject(registry, model_type, version, reason)
    console.print(f"{model_type} {version} rejected", highlight=False)


@models_app.command("rollback")
def rollback_command(
    model: ModelArgument, reason: ReasonOption = "manual rollback", workspace: WorkspaceOption = None
) -> None:
    """Restore the previous champion (the rolled-back one is archived); the next cycle uses it."""
    model_type = _model_type(model)
    with _registry(workspace) as registry:
        event = rollback(registry, model_type, reason)
    console.print(f"{model_type} champion: {event.version} (rolled back {event.previous})", highlight=False)


@models_app.command("history")
def history(
    model: Annotated[str | None, typer.Argument(help="only this model type")] = None,
    as_json: JsonOption = False,
    workspace: WorkspaceOption = None,
) -> None:
    """Every alias change: deploys, promotions, rollbacks, rejections, challengers, with their reasons."""
    wanted = _model_type(model) if model else None
    if not resolve_workspace(workspace).registry_db.is_file():
        print_json([]) if as_json else console.print("no registry events")
        return
    with _registry(workspace) as registry:
        events = registry.events(wanted)
    if as_json:
        print_json([e.model_dump(mode="json") for e in events])
        return
    if not events:
        console.print("no registry events")
        return
    table = Table(title=f"{len(events)} registry events")
    for name in ("time", "model type", "action", "version", "replaced", "reason"):
        table.add_column(name, no_wrap=name != "reason")
    for e in events:
        table.add_row(
            e.time.strftime("%Y-%m-%d %H:%M:%S"),
            e.model_type,
            e.action,
            e.version or "",
            e.previous or "",
            e.reason,
        )
    console.print(table)


def ab(
    model: ModelArgument,
    dataset: Annotated[
        str, typer.Option(help="dataset id (data/datasets/<id>), its folder or manifest path, or latest")
    ],
    cycle: Annotated[int, typer.Option(min=0, max=MAX_CYCLE, help="cycle number stamped on every record")],
    promote: Annotated[bool, typer.Option(help="deploy the challenger if it wins")] = False,
    share: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="share of homes running the challenger")
    ] = 0.5,
    alpha: Annotated[float, typer.Option(min=0.0, max=1.0, help="significance level")] = 0.05,
    workers: WorkersOption = None,
    executor: ExecutorOption = None,
    workspace: WorkspaceOption = None,
) -> None:
    """A/B cycle: homes split by hash between champion and challenger; per-stage F1 compared by home."""
    model_type = _model_type(model)
    settings, ws = start_command(workspace, workers, executor)
    try:
        result = run_ab(
            ws,
            model_type,
            dataset_ref(ws, dataset),
            cycle,
            promote=promote,
            share=share,
            alpha=alpha,
            executor=settings.executor,
            workers=settings.workers,
        )
    except (DeploymentError, FileNotFoundError, ValueError) as exc:
        fail(f"{exc}")
    table = Table(
        title=f"A/B {model_type}: champion {result.champion} (n={len(result.homes['champion'])} homes) vs "
        f"challenger {result.challenger} (n={len(result.homes['challenger'])} homes); smallest attainable "
        f"p {result.min_p:.3g}"
    )
    for name in ("stage", "champion F1", "challenger F1", "difference", "p-value", "better"):
        table.add_column(name, justify="left" if name in ("stage", "better") else "right")
    for s in result.stages:
        table.add_row(
            s.stage,
            f"{s.champion_value:.3f}",
            f"{s.challenger_value:.3f}",
            f"{s.difference:+.3f}",
            "—" if s.p_value is None else f"{s.p_value:.3g}",
            s.better or "",
        )
    console.print(table)
    if not result.can_be_significant:
        err_console.print(
            f"[bold red]warning:[/] this A/B test cannot be significant: with these arm sizes no p-value "
            f"is below {result.min_p:.3g} (alpha {alpha:g}); nothing was promoted — run it on more homes",
            highlight=False,
        )
    console.print(f"winner: {result.winner or 'none'} — {result.decision}", highlight=False)
    if result.promoted:
        console.print(f"promoted {model_type} {result.challenger} to champion", highlight=False)
    console.print(f"report {ws.ab_report(model_type, cycle)}", highlight=False)
