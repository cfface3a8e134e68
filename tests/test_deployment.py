"""Deployment: alias moves and events, atomicity, rollback reaching the next cycle, the provider, CLI."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from homesim.cli import app
from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.retraining.deployment import DeploymentError, deploy, reject, rollback, set_challenger
from homesim.retraining.provider import RegistryModelProvider
from homesim.retraining.registry import ArtifactIntegrityError, ModelRegistry, RegistryEvent, Status
from homesim.simulation.cycle import SimulationCycle
from homesim.simulation.model_provider import ModelType
from homesim.simulation.pattern_detection import pattern_stage
from homesim.simulation.sink import InMemorySink
from homesim.workspace import Workspace
from test_registry import constant_model, fake_trainers, register

PD: ModelType = "pattern_detection"


@pytest.fixture(autouse=True)
def _fake_trainers() -> Iterator[None]:
    with fake_trainers():
        yield


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[ModelRegistry]:
    """A registry with v1…v4 of pattern_detection (v<k> scores every candidate sigmoid(k - 2.5))."""
    with ModelRegistry(Workspace(tmp_path)) as reg:
        for k in range(1, 5):
            register(reg, constant_model(k - 2.5))
        yield reg


def _state(registry: ModelRegistry) -> tuple[dict[str, Status], dict[str, str | None]]:
    statuses = {v.version: v.status for v in registry.versions(PD)}
    aliases = {
        name: (found.version if (found := registry.alias(PD, name)) else None)
        for name in ("champion", "challenger", "previous")
    }
    return statuses, aliases


def test_deploys_move_champion_to_previous_and_archive_the_older(registry: ModelRegistry) -> None:
    first = deploy(registry, PD, "v1", "first model")
    assert (first.action, first.version, first.previous, first.reason) == (
        "deploy",
        "v1",
        None,
        "first model",
    )
    deploy(registry, PD, "v2", "better")
    assert _state(registry) == (
        {"v1": "previous", "v2": "champion", "v3": "candidate", "v4": "candidate"},
        {"champion": "v2", "challenger": None, "previous": "v1"},
    )
    third = deploy(registry, PD, "v3", "better again")
    assert third.previous == "v2"
    assert _state(registry) == (
        {"v1": "archived", "v2": "previous", "v3": "champion", "v4": "candidate"},
        {"champion": "v3", "challenger": None, "previous": "v2"},
    )
    with pytest.raises(DeploymentError, match="already the champion"):
        deploy(registry, PD, "v3", "again")
    with pytest.raises(KeyError, match="registered versions are v1, v2, v3, v4"):
        deploy(registry, PD, "v9", "nope")
    deploy(registry, PD, "v2", "back to the previous one by hand")
    assert _state(registry) == (
        {"v1": "archived", "v2": "champion", "v3": "previous", "v4": "candidate"},
        {"champion": "v2", "challenger": None, "previous": "v3"},
    )
    assert [e.action for e in registry.events(PD)] == ["deploy"] * 4


def test_rollback_restores_the_previous_champion_once(registry: ModelRegistry) -> None:
    with pytest.raises(DeploymentError, match=r"no previous pattern_detection version.*no champion either"):
        rollback(registry, PD, "nothing deployed")
    deploy(registry, PD, "v1", "first")
    deploy(registry, PD, "v2", "second")
    event = rollback(registry, PD, "v2 regressed on cycle 3")
    assert (event.action, event.version, event.previous) == ("rollback", "v1", "v2")
    assert _state(registry) == (
        {"v1": "champion", "v2": "archived", "v3": "candidate", "v4": "candidate"},
        {"champion": "v1", "challenger": None, "previous": None},
    )
    with pytest.raises(DeploymentError, match=r"no previous .* \(the champion is v1\)"):
        rollback(registry, PD, "again")
    assert registry.events(PD)[-1].reason == "v2 regressed on cycle 3"


def test_reject_and_challenger(registry: ModelRegistry) -> None:
    deploy(registry, PD, "v1", "first")
    set_challenger(registry, PD, "v2", "try v2")
    replaced = set_challenger(registry, PD, "v3", "try v3 instead")
    assert replaced.previous == "v2"
    assert _state(registry)[1]["challenger"] == "v3"
    assert registry.get(PD, "v2").status == "candidate"
    rejected = reject(registry, PD, "v3", "lost the A/B test")
    assert (rejected.action, rejected.version) == ("reject", "v3")
    assert _state(registry) == (
        {"v1": "champion", "v2": "candidate", "v3": "rejected", "v4": "candidate"},
        {"champion": "v1", "challenger": None, "previous": None},
    )
    with pytest.raises(DeploymentError, match="roll it back"):
        reject(registry, PD, "v1", "no")
    with pytest.raises(DeploymentError, match="challenger must be another version"):
        set_challenger(registry, PD, "v1", "no")
    set_challenger(registry, PD, "v4", "try v4")
    deploy(registry, PD, "v4", "won", action="promote")
    assert _state(registry)[1] == {"champion": "v4", "challenger": None, "previous": "v1"}
    assert registry.events(PD)[-1].action == "promote"


def test_a_rejected_version_becomes_challenger_only_when_forced_with_a_reason(
    registry: ModelRegistry,
) -> None:
    deploy(registry, PD, "v1", "first")
    reject(registry, PD, "v2", "the loop's gate: not significant")
    with pytest.raises(DeploymentError, match="was rejected and cannot become the challenger"):
        set_challenger(registry, PD, "v2", "try it anyway")
    with pytest.raises(DeploymentError, match="needs a reason"):
        set_challenger(registry, PD, "v2", "  ", force=True)
    assert registry.get(PD, "v2").status == "rejected"
    assert registry.alias(PD, "challenger") is None
    event = set_challenger(registry, PD, "v2", "re-test on winter homes", force=True)
    assert event.reason == "forced over its rejection: re-test on winter homes"
    assert registry.get(PD, "v2").status == "challenger"


def test_the_deploy_command_refuses_a_rejected_challenger_unless_forced_with_a_reason(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    deploy(registry, PD, "v1", "first")
    reject(registry, PD, "v3", "the loop's gate")
    cli, ws = CliRunner(), ["--workspace", str(tmp_path)]
    refused = cli.invoke(app, ["models", "deploy", PD, "v3", "--challenger", *ws])
    assert refused.exit_code == 2 and "was rejected and cannot become the challenger" in refused.output
    no_reason = cli.invoke(app, ["models", "deploy", PD, "v3", "--challenger", "--force", *ws])
    assert no_reason.exit_code == 2 and "--force needs --reason" in no_reason.output
    not_challenger = cli.invoke(app, ["models", "deploy", PD, "v3", "--force", "--reason", "x", *ws])
    assert not_challenger.exit_code == 2 and "only applies with --challenger" in not_challenger.output
    assert registry.get(PD, "v3").status == "rejected"  # nothing written by the refusals
    forced = [*ws, "--challenger", "--force", "--reason", "A/B on more homes"]
    assert cli.invoke(app, ["models", "deploy", PD, "v3", *forced]).exit_code == 0
    assert registry.get(PD, "v3").status == "challenger"
    help_text = cli.invoke(app, ["models", "deploy", "--help"]).output
    assert "rejected" in help_text and "--force" in help_text


def test_a_deploy_failing_midway_changes_nothing(
    registry: ModelRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy(registry, PD, "v1", "first")
    before = _state(registry)

    def broken(event: RegistryEvent) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(registry, "add_event", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        deploy(registry, PD, "v2", "second")
    assert _state(registry) == before
    assert len(registry.events(PD)) == 1


@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("deploy_ws")
    with DataGenerationManager(Workspace(root), "inline") as manager:
        result = manager.generate(GenerationConfig(homes=2, days=7, seed=3, sensor_density=0.1, noise=0.3))
    return root, result.manifest.dataset_id


def _pattern_cycle(workspace: Workspace, dataset_id: str, cycle: int) -> tuple[str, int]:
    """(model version stamped on the pattern records, predicted candidates) of a pattern-only cycle."""
    sink = InMemorySink()
    provider = RegistryModelProvider(workspace)
    with SimulationCycle(
        workspace, sink, models=provider, executor="inline", stages=[("pattern", pattern_stage)]
    ) as sim:
        report = sim.run(dataset_id, cycle)
    assert report.errors == []
    return report.model_versions["pattern"], int(report.stages[0].counts["predicted"])


def test_after_a_rollback_the_next_cycle_uses_the_previous_champion(small_dataset: tuple[Path, str]) -> None:
    root, dataset_id = small_dataset
    workspace = Workspace(root)
    assert _pattern_cycle(workspace, dataset_id, 0)[0] == "baseline"
    with ModelRegistry(workspace) as registry:
        register(registry, constant_model(-9.0))  # v1 predicts nothing
        register(registry, constant_model(9.0))  # v2 predicts every candidate
        deploy(registry, PD, "v1", "first")
        deploy(registry, PD, "v2", "second")
    version, predicted = _pattern_cycle(workspace, dataset_id, 1)
    assert version == "v2" and predicted > 0
    with ModelRegistry(workspace) as registry:
        rollback(registry, PD, "v2 floods the suggestions")
    assert _pattern_cycle(workspace, dataset_id, 2) == ("v1", 0)


def test_the_provider_pickles_with_its_pinned_versions(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    with ModelRegistry(workspace) as registry:
        register(registry, constant_model(1.0))
        register(registry, constant_model(2.0))
        deploy(registry, PD, "v1", "first")
        set_challenger(registry, PD, "v2", "try")
    champion = RegistryModelProvider(workspace)
    challenger = RegistryModelProvider(workspace, overrides={PD: "challenger"})
    assert champion.resolve()[PD] == "v1" and champion.resolve()["gnn_synergy"] is None
    with ModelRegistry(workspace) as registry:
        deploy(registry, PD, "v2", "promoted after pinning")
    clone = pickle.loads(pickle.dumps(champion))
    model = clone.get(PD)
    assert model is not None and model.version == "v1"  # pinned before the deploy
    assert clone.get("gnn_synergy") is None and clone.get("soft_prompt") is None
    assert RegistryModelProvider(workspace).get(PD).version == "v2"  # type: ignore[union-attr]
    assert pickle.loads(pickle.dumps(challenger)).get(PD) is None  # v2 stopped being the challenger


def test_the_provider_refuses_a_tampered_champion(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    with ModelRegistry(workspace) as registry:
        register(registry, constant_model(1.0))
        deploy(registry, PD, "v1", "first")
    (workspace.models_dir / PD / "v1" / "config.json").write_text('{"columns": ["evil"]}', encoding="utf-8")
    with pytest.raises(ArtifactIntegrityError, match=r"config\.json was modified"):
        RegistryModelProvider(workspace).get(PD)


def test_models_cli_lists_shows_deploys_rolls_back_and_shows_history(tmp_path: Path) -> None:
    runner, ws = CliRunner(), ["--workspace", str(tmp_path)]
    assert "no model versions registered" in runner.invoke(app, ["models", "list", *ws]).output
    with ModelRegistry(Workspace(tmp_path)) as registry:
        register(registry, constant_model(1.0))
        register(registry, constant_model(2.0))
    deployed = runner.invoke(app, ["models", "deploy", PD, "v1", "--reason", "first", *ws])
    assert deployed.exit_code == 0, deployed.output
    assert "pattern_detection champion: v1" in deployed.output
    assert runner.invoke(app, ["models", "deploy", PD, "v2", *ws]).exit_code == 0
    listed = runner.invoke(app, ["models", "list", *ws], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "2 model versions" in listed.output
    assert "champion" in listed.output and "previous" in listed.output
    shown = runner.invoke(app, ["models", "show", PD, *ws], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "# Model card: pattern_detection v2" in shown.output
    assert "accuracy" in shown.output and "0.9000" in shown.output
    card = runner.invoke(app, ["models", "show", PD, "v1", "--json", *ws])
    assert '"version": "v1"' in card.output
    rolled = runner.invoke(app, ["models", "rollback", PD, "--reason", "regressed", *ws])
    assert rolled.exit_code == 0 and "champion: v1 (rolled back v2)" in rolled.output
    again = runner.invoke(app, ["models", "rollback", PD, *ws])
    assert again.exit_code == 2 and "no previous pattern_detection version" in again.output
    history = runner.invoke(app, ["models", "history", PD, *ws], env={"COLUMNS": "200"})
    assert history.exit_code == 0 and "3 registry events" in history.output and "regressed" in history.output
    assert runner.invoke(app, ["models", "deploy", "nonsense", "v1", *ws]).exit_code == 2
    missing = runner.invoke(app, ["models", "show", PD, "v9", *ws])
    assert missing.exit_code == 2 and "registered versions are v1, v2" in missing.output
