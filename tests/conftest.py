"""Shared fixtures: small generated homes and the trainers' cases, made once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from hypothesis import HealthCheck, settings

from homesim.generation.config import GenerationConfig
from homesim.generation.home import GeneratedHome, generate_home
from homesim.real_homes.importing import import_history

if TYPE_CHECKING:
    from trainer_cases import TrainerCase

# An xdist worker starts with COLUMNS=80 (and LINES) in its environment, which the CLI's module-level Rich
# consoles then keep whatever a test's CliRunner env says: the worker drops them, as a serial run has none.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)

# No timing in tests: hypothesis's per-example deadline (200 ms) and its too-slow check fail on a loaded
# machine or beside a busy pytest-xdist worker, whatever the code does.
settings.register_profile("homesim", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("homesim")


#: Test files that share one expensive session fixture: pytest-xdist runs each set in one worker, so the
#: fixture is built once (the trainers' cases: each fits a model).
XDIST_SHARED = {
    "trainers": (
        "test_trainer_contract.py",
        "test_trainer_device.py",
        "test_trainer_gnn.py",
        "test_trainer_pattern.py",
        "test_trainer_soft_prompt.py",
    ),
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (`make test`: `-n auto --dist loadgroup`), a test file is one unit of work, so its
    module fixtures are built once, and the files of one `XDIST_SHARED` set are one unit; units holding a
    `slow` test go first, so that no long one starts last while the other worker idles. A serial run keeps
    pytest's order."""
    if not hasattr(config, "workerinput"):
        return
    shared = {name: group for group, names in XDIST_SHARED.items() for name in names}
    group_of: dict[pytest.Item, str] = {}
    for item in items:
        name = item.path.name
        group_of[item] = shared.get(name, name)
        item.add_marker(pytest.mark.xdist_group(group_of[item]))
    slow = {group_of[item] for item in items if item.get_closest_marker("slow")}
    first_seen = {group: n for n, group in reversed(list(enumerate(group_of.values())))}
    items.sort(key=lambda item: (group_of[item] not in slow, first_seen[group_of[item]]))


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


def pytest_sessionfinish(session: pytest.Session) -> None:
    """An xdist worker hands its chaos counts to the main process (`pytest_testnodedown` below)."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        from chaos_tally import TALLY

        workeroutput["chaos_tally"] = TALLY


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """pytest-xdist, in the main process: a worker is done; its chaos counts join the session's."""
    from chaos_tally import merge

    merge(getattr(node, "workeroutput", {}).get("chaos_tally", {}))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """The chaos suite's tally (tests/test_chaos.py): tried / handled per category, when it ran."""
    from chaos_tally import TALLY

    if TALLY:
        terminalreporter.section("chaos: tried / handled")
        for category, (tried, handled) in sorted(TALLY.items()):
            terminalreporter.write_line(f"{category:<40} {tried:>4} / {handled:<4}")


@pytest.fixture(scope="session")
def home_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ordóñez home A (tests/data/real_homes, CC BY 4.0) imported once: the calibration tests' real home."""
    out = tmp_path_factory.mktemp("real") / "A"
    import_history(
        "ordonez",
        Path(__file__).parent / "data" / "real_homes" / "uci_adl_ordonez" / "OrdonezA_Sensors.txt",
        out,
    )
    return out
