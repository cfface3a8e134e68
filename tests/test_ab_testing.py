"""A/B cycles: the split by home hash, the permutation test, the decision, promotion and the report."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from homesim.cli import app
from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.retraining.ab_testing import (
    ABResult,
    ABStage,
    Arm,
    compare_arms,
    compare_stage,
    decide,
    run_ab,
    smallest_p,
    split_homes,
)
from homesim.retraining.deployment import DeploymentError, deploy, set_challenger
from homesim.retraining.registry import ModelRegistry
from homesim.schema.records import StageName
from homesim.simulation.cycle import Stage
from homesim.simulation.model_provider import ModelType
from homesim.simulation.pattern_detection import pattern_stage
from homesim.workspace import Workspace
from test_registry import constant_model, fake_trainers, register

PD: ModelType = "pattern_detection"
#: Few sensors and little noise: generation is quicker, the routines the pattern stage finds are the same.
SMALL = GenerationConfig(homes=8, days=7, seed=5, sensor_density=0.1, noise=0.3)
PATTERN_ONLY: list[tuple[StageName, Stage]] = [("pattern", pattern_stage)]


@pytest.fixture(autouse=True)
def _fake_trainers() -> Iterator[None]:
    with fake_trainers():
        yield


@given(st.lists(st.text("abcdef0123456789-", min_size=1, max_size=12), min_size=2, max_size=40, unique=True))
def test_the_split_is_deterministic_order_free_and_populates_both_arms(keys: list[str]) -> None:
    arms = split_homes(keys, PD)
    assert arms == split_homes(list(reversed(keys)), PD)
    assert set(arms) == set(keys) and set(arms.values()) == {"champion", "challenger"}
    assert abs(sum(a == "challenger" for a in arms.values()) - len(keys) / 2) <= 1


def test_the_split_follows_the_share_and_rejects_too_few_homes() -> None:
    keys = [f"home-{i:03d}" for i in range(100)]
    assert sum(a == "challenger" for a in split_homes(keys, PD, share=0.2).values()) == 20
    assert split_homes(keys, PD) != split_homes(keys, "gnn_synergy")  # salted by model type
    with pytest.raises(ValueError, match="at least 2 homes"):
        split_homes(["only"], PD)
    with pytest.raises(ValueError, match="share"):
        split_homes(keys, PD, share=1.0)


def _homes(precision: float, n: int, seed: int) -> list[dict[str, float]]:
    """Per-home counts of `n` homes whose predictions are right with probability `precision`."""
    rng = np.random.default_rng(seed)
    homes = []
    for _ in range(n):
        predicted = int(rng.integers(20, 40))
        right = int(rng.binomial(predicted, precision))
        homes.append(
            {"predicted": predicted, "predicted_true": right, "truth": 30.0, "truth_found": min(right, 30)}
        )
    return homes


def test_a_clearly_better_challenger_is_significant_and_an_equal_one_is_not() -> None:
    champion_f1, challenger_f1, p = compare_arms(_homes(0.5, 12, 1), _homes(0.9, 12, 2))
    assert challenger_f1 > champion_f1 + 0.2 and p is not None and p < 0.01
    _, _, p_equal = compare_arms(_homes(0.7, 12, 3), _homes(0.7, 12, 4))
    assert p_equal is not None and p_equal > 0.05
    # 2 + 2 homes: 6 possible splits, exact; the observed difference is the most extreme (both signs).
    _, _, p_exact = compare_arms(_homes(0.1, 2, 5), _homes(0.95, 2, 6))
    assert p_exact == pytest.approx(2 / 6)
    assert compare_arms([], _homes(0.5, 3, 7))[2] is None


def test_the_challenger_wins_only_without_a_significant_regression() -> None:
    def stage(name: StageName, champion: float, challenger: float) -> ABStage:
        counts: dict[Arm, list[dict[str, float]]] = {
            "champion": _homes(champion, 12, 8),
            "challenger": _homes(challenger, 12, 9),
        }
        zero: dict[Arm, int] = {"champion": 0, "challenger": 0}
        return compare_stage(name, counts, zero, zero, alpha=0.05, seed=0)

    better, worse, same = (
        stage("pattern", 0.4, 0.9),
        stage("suggestion", 0.9, 0.4),
        stage("suggestion", 0.7, 0.7),
    )
    assert decide("pattern", [better, same])[0] == "challenger"
    winner, why = decide("pattern", [better, worse])
    assert winner is None and "significantly worse on suggestion" in why
    assert decide("pattern", [stage("pattern", 0.9, 0.4)])[0] == "champion"
    assert decide("pattern", [stage("pattern", 0.7, 0.7)])[1].startswith("no significant difference")
    assert decide("synergy", [better])[0] is None


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, ABResult]:
    """An A/B cycle over 8 homes: champion v1 predicts no candidate (F1 0), challenger v2 predicts every
    candidate (low precision, full recall), with `promote=True`."""
    workspace = Workspace(tmp_path_factory.mktemp("ab_ws"))
    with DataGenerationManager(workspace, "inline") as manager:
        dataset_id = manager.generate(SMALL).manifest.dataset_id
    with fake_trainers(), ModelRegistry(workspace) as registry:
        with pytest.raises(DeploymentError, match="has no challenger"):
            run_ab(workspace, PD, dataset_id, 1, executor="inline", stages=PATTERN_ONLY)
        register(registry, constant_model(-9.0))
        register(registry, constant_model(9.0))
        deploy(registry, PD, "v1", "first")
        set_challenger(registry, PD, "v2", "A/B")
        result = run_ab(workspace, PD, dataset_id, 1, promote=True, executor="inline", stages=PATTERN_ONLY)
    return workspace, result


def test_an_ab_cycle_finds_and_promotes_the_better_challenger(promoted: tuple[Workspace, ABResult]) -> None:
    workspace, result = promoted
    assert (result.champion, result.challenger, result.target_stage) == ("v1", "v2", "pattern")
    assert len(result.homes["champion"]) == len(result.homes["challenger"]) == 4
    [pattern] = result.stages
    assert pattern.champion_value == 0.0 and pattern.challenger_value > 0.0
    assert pattern.champion.homes == pattern.challenger.homes == 4 and pattern.challenger.records > 0
    # 70 splits of 8 homes into 4 + 4; only the observed one and its mirror are as extreme.
    assert pattern.p_value == pytest.approx(2 / 70) and pattern.better == "challenger"
    assert result.winner == "challenger" and result.promoted
    saved = ABResult.model_validate(json.loads(workspace.ab_report(PD, 1).read_text(encoding="utf-8")))
    assert saved == result
    with ModelRegistry(workspace) as registry:
        assert registry.alias(PD, "champion").version == "v2"  # type: ignore[union-attr]
        assert registry.alias(PD, "previous").version == "v1"  # type: ignore[union-attr]
        assert registry.alias(PD, "challenger") is None
        event = registry.events(PD)[-1]
    assert event.action == "promote" and "challenger significantly better" in event.reason


def test_the_ab_command_prints_the_comparison(
    promoted: tuple[Workspace, ABResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace, result = promoted
    calls: list[tuple[object, ...]] = []

    def fake_run_ab(*args: object, **kwargs: object) -> ABResult:
        calls.append((*args, kwargs["promote"]))
        return result

    monkeypatch.setattr("homesim.cli.models.run_ab", fake_run_ab)
    ws = ["--workspace", str(workspace.root)]
    # wide enough for the report's path on one line (a pytest-xdist worker's temp path is longer)
    promote = ["ab", PD, "--dataset", "ds-x", "--cycle", "1", "--promote", *ws]
    out = CliRunner().invoke(app, promote, env={"COLUMNS": "300"})
    assert out.exit_code == 0, out.output
    assert calls == [(workspace, PD, "ds-x", 1, True)]
    assert "winner: challenger" in out.output and "promoted pattern_detection v2 to champion" in out.output
    assert f"ab_{PD}_1.json" in out.output
    monkeypatch.undo()
    with ModelRegistry(workspace) as registry:
        set_challenger(registry, PD, "v1", "re-test")
    missing = CliRunner().invoke(app, ["ab", PD, "--dataset", "ds-nope", "--cycle", "2", *ws])
    assert missing.exit_code == 2 and "ds-nope" in missing.output
    assert CliRunner().invoke(app, ["ab", "nonsense", "--dataset", "x", "--cycle", "2", *ws]).exit_code == 2


def test_the_smallest_attainable_p_is_the_exact_tests_floor() -> None:
    # 2 + 2 homes: the case, p ≥ 2/6 whatever the data; the most extreme data reach the floor.
    assert smallest_p(2, 2) == pytest.approx(1 / 3)
    assert compare_arms(_homes(0.1, 2, 5), _homes(0.95, 2, 6))[2] == pytest.approx(smallest_p(2, 2))
    assert smallest_p(4, 4) == pytest.approx(2 / 70) and smallest_p(1, 7) == pytest.approx(1 / 8)
    assert smallest_p(1, 1) == 1.0 and smallest_p(0, 5) == 1.0
    assert smallest_p(12, 12) == pytest.approx(1 / 10_000)  # sampled re-splits: 1 / (resamples + 1)


def test_an_ab_test_that_cannot_be_significant_says_so_and_never_promotes(
    promoted: tuple[Workspace, ABResult],
) -> None:
    workspace, first = promoted
    with fake_trainers(), ModelRegistry(workspace) as registry:
        register(registry, constant_model(-9.0))  # v3 predicts nothing: the challenger is clearly better
        champion = registry.alias(PD, "champion")
        assert champion is not None
        deploy(registry, PD, "v3", "a worse champion")
        set_challenger(registry, PD, champion.version, "A/B again")
        result = run_ab(
            workspace,
            PD,
            first.dataset_id,
            3,
            promote=True,
            alpha=0.01,
            executor="inline",
            stages=PATTERN_ONLY,
        )
    # 4 + 4 homes: no p below 2/70 ≈ 0.029 ≥ alpha 0.01, although the observed split is the extreme one.
    assert result.min_p == pytest.approx(2 / 70) and not result.can_be_significant
    assert result.stages[0].p_value == pytest.approx(2 / 70)
    assert result.winner is None and not result.promoted
    assert result.decision.startswith("cannot be significant: 4 champion and 4 challenger homes")
    with ModelRegistry(workspace) as registry:
        assert registry.alias(PD, "champion").version == "v3"  # type: ignore[union-attr]
