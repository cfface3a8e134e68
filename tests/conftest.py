"""Shared fixtures: small generated homes and the trainers' cases, made once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import structlog

from homesim.generation.config import GenerationConfig
from homesim.generation.home import GeneratedHome, generate_home

if TYPE_CHECKING:
    from trainer_cases import TrainerCase


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Each test starts from structlog's defaults: a CLI command run in-process configures logging (level,
    renderer), and that must not filter or reshape the logs a later test captures."""
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def month_config() -> GenerationConfig:
    return GenerationConfig(homes=4, days=30, seed=7, start="2025-03-20")  # spans the EU/US DST changes


@pytest.fixture(scope="session")
def month_homes(month_config: GenerationConfig) -> list[GeneratedHome]:
    return [generate_home(month_config, i) for i in range(month_config.homes)]


# The four trainers' cases (`trainer_cases.py`): built once, shared by the contract suite and each trainer's
# own tests. Imported inside the fixtures so sessions without trainer tests never import torch.
def _case(name: str, tmp_path_factory: pytest.TempPathFactory) -> TrainerCase:
    from trainer_cases import CASES

    return CASES[name](tmp_path_factory.mktemp(name))


@pytest.fixture(scope="session")
def pattern_case(tmp_path_factory: pytest.TempPathFactory) -> TrainerCase:
    return _case("pattern_detection", tmp_path_factory)


@pytest.fixture(scope="session")
def device_case(tmp_path_factory: pytest.TempPathFactory) -> TrainerCase:
    return _case("device_intelligence", tmp_path_factory)


@pytest.fixture(scope="session")
def gnn_case(tmp_path_factory: pytest.TempPathFactory) -> TrainerCase:
    return _case("gnn_synergy", tmp_path_factory)


@pytest.fixture(scope="session")
def soft_prompt_case(tmp_path_factory: pytest.TempPathFactory) -> TrainerCase:
    return _case("soft_prompt", tmp_path_factory)


@pytest.fixture(scope="session", params=["pattern", "device", "gnn", "soft_prompt"])
def trainer_case(request: pytest.FixtureRequest) -> TrainerCase:
    case: TrainerCase = request.getfixturevalue(f"{request.param}_case")
    return case


@pytest.fixture(scope="session")
def collected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, GenerationConfig]:
    """A tiny workspace after generate → simulate (cycle 1) → export cycle 1 and aggregated: its root, the
    dataset id and the generation config. Tests that change it work on a copy (`shutil.copytree`)."""
    from homesim.datasets.manager import DataGenerationManager
    from homesim.training_data.exporters import Exporter
    from homesim.training_data.lineage_tracker import LineageTracker
    from homesim.training_data.run_and_collect import run_and_collect
    from homesim.training_data.store import RecordStore
    from homesim.workspace import Workspace

    workspace = Workspace(tmp_path_factory.mktemp("collected"))
    config = GenerationConfig(homes=2, days=2, seed=5)
    with DataGenerationManager(workspace, "inline") as manager:
        dataset = manager.generate(config).manifest.dataset_id
    run_and_collect(workspace, dataset, 1, executor="inline", workers=1)
    with RecordStore(workspace.training_store) as store, LineageTracker(workspace.lineage_db) as tracker:
        exporter = Exporter(workspace, store, tracker=tracker)
        exporter.export_cycle(1)
        exporter.export_aggregated()
    return workspace.root, dataset, config


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """The chaos suite's tally (tests/test_chaos.py): tried / handled per category, when it ran."""
    from chaos_tally import TALLY

    if TALLY:
        terminalreporter.section("chaos: tried / handled")
        for category, (tried, handled) in sorted(TALLY.items()):
            terminalreporter.write_line(f"{category:<40} {tried:>4} / {handled:<4}")
