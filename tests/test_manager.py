"""DataGenerationManager: cache reuse, invalidation, per-home errors, progress, and executor equivalence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import structlog

from homesim.datasets import manager as dgm
from homesim.datasets.executors import (
    DaskExecutor,
    InlineExecutor,
    ProcessExecutor,
    make_executor,
)
from homesim.datasets.manager import (
    CachedHomeGenerator,
    DataGenerationManager,
    GenerationResult,
)
from homesim.datasets.manifest import read_dataset
from homesim.datasets.progress import ProgressEvent, log_progress
from homesim.datasets.validation import HomeValidation, RuleFailure
from homesim.generation.config import GenerationConfig
from homesim.generation.home import GeneratedHome
from homesim.settings import Settings
from homesim.workspace import VALIDATION_REPORT_FILE, Workspace

CONFIG = GenerationConfig(homes=2, days=7, seed=0)


def _generate(root: Path, config: GenerationConfig = CONFIG, executor: Any = "inline") -> GenerationResult:
    with DataGenerationManager(Workspace(root), executor) as manager:
        return manager.generate(config)


def _files(root: Path) -> dict[str, bytes]:
    homes = root / "data" / "homes"
    files = [p for p in sorted(homes.rglob("*")) if p.is_file()]
    return {str(p.relative_to(homes)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def inline_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("inline")
    _generate(root)
    return _files(root)


def test_generate_writes_homes_and_dataset(tmp_path: Path) -> None:
    result = _generate(tmp_path)
    assert [h.status for h in result.homes] == ["generated", "generated"]
    manifest = read_dataset(result.manifest_path)
    assert manifest.home_keys == (CONFIG.home_key(0), CONFIG.home_key(1))
    assert manifest.config_hash == CONFIG.config_hash()
    assert manifest.counts.events == sum(h.events for h in result.homes) > 0
    assert manifest.counts.bytes == sum(h.bytes for h in result.homes) > 0
    assert manifest.validation["passed"] == 2
    assert manifest.executor == "inline"
    report = json.loads((result.manifest_path.parent / VALIDATION_REPORT_FILE).read_text())
    assert report["homes"] == 2
    for home in result.homes:
        assert home.directory is not None
        assert home.directory == tmp_path / "data" / "homes" / home.home_key
        assert (home.directory / "events.parquet").is_file()
        assert (home.directory / "ground_truth.json").is_file()
    assert DataGenerationManager(Workspace(tmp_path), "inline").cache.index().stats()["homes"] == 2
    accuracy = manifest.ground_truth_accuracy
    assert accuracy is not None and accuracy["homes"] == 2
    assert json.loads((result.manifest_path.parent / "ground_truth_accuracy.json").read_text()) == accuracy


def test_more_homes_generates_only_the_new_ones(tmp_path: Path) -> None:
    _generate(tmp_path)
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "data" / "homes").rglob("*.parquet")}
    result = _generate(tmp_path, CONFIG.model_copy(update={"homes": 3}))
    assert [h.status for h in result.homes] == ["cached", "cached", "generated"]
    assert result.manifest.counts.generated == 1
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())


def test_parameter_or_version_change_invalidates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old_keys = {h.home_key for h in _generate(tmp_path).homes}
    noisier = _generate(tmp_path, CONFIG.model_copy(update={"noise": 2.0}))
    assert noisier.count("generated") == 2
    monkeypatch.setattr("homesim.generation.config.GENERATOR_VERSION", "9.9.9")
    newer = _generate(tmp_path)
    assert newer.count("generated") == 2
    assert {h.home_key for h in newer.homes}.isdisjoint(old_keys)


def test_error_in_one_home_keeps_the_others(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = dgm.generate_home

    def flaky(config: GenerationConfig, index: int) -> GeneratedHome:
        if index == 1:
            raise RuntimeError("boom")
        return real(config, index)

    monkeypatch.setattr(dgm, "generate_home", flaky)
    result = _generate(tmp_path, CONFIG.model_copy(update={"homes": 3}))
    assert [h.status for h in result.homes] == ["generated", "failed", "generated"]
    assert result.failures[0].error == "RuntimeError: boom"
    assert result.manifest.failures == {CONFIG.home_key(1): "RuntimeError: boom"}
    assert CONFIG.home_key(1) not in result.manifest.home_keys
    assert not (tmp_path / "data" / "homes" / CONFIG.home_key(1)).exists()
    batch = CachedHomeGenerator(Workspace(tmp_path)).get(CONFIG.model_copy(update={"homes": 3}))
    assert batch.errors == {CONFIG.home_key(1): "RuntimeError: boom"}
    assert list(batch.homes) == [CONFIG.home_key(0), CONFIG.home_key(2)]


def test_home_failing_validation_is_not_published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def reject(home: Any, events: Any) -> HomeValidation:
        failure = RuleFailure(rule="time.order", severity="error", message="bad")
        return HomeValidation(home_key=home.metadata.home_key, failures=(failure,))

    monkeypatch.setattr(dgm, "validate_home", reject)
    result = _generate(tmp_path, CONFIG.model_copy(update={"homes": 1}))
    assert result.homes[0].status == "failed"
    assert result.homes[0].error == "validation failed: ['time.order']"
    assert result.report.by_rule == {"time.order": 1}
    assert not (tmp_path / "data" / "homes").exists() or not any((tmp_path / "data" / "homes").iterdir())


def test_cached_home_generator_loads_from_cache(tmp_path: Path) -> None:
    source = CachedHomeGenerator(Workspace(tmp_path))
    first = source.get(CONFIG, [1])
    key = CONFIG.home_key(1)
    home, events = first.load(key)
    assert home.metadata.home_index == 1
    assert events.num_rows > 0
    mtime = (first.homes[key] / "events.parquet").stat().st_mtime_ns
    again = source.get(CONFIG, [1])
    assert (again.homes[key] / "events.parquet").stat().st_mtime_ns == mtime


def test_progress_events(tmp_path: Path) -> None:
    seen: list[ProgressEvent] = []
    with (
        structlog.testing.capture_logs() as logs,
        DataGenerationManager(
            Workspace(tmp_path), InlineExecutor(), progress=[seen.append, log_progress()]
        ) as manager,
    ):
        manager.generate(CONFIG)
    assert [e.done for e in seen] == [1, 2]
    assert seen[-1].events == sum(e.events for e in seen[-1:]) > 0
    assert seen[-1].rate > 0 and seen[-1].events_per_s > 0
    assert seen[-1].eta_s == 0
    assert [line["done"] for line in logs] == [1, 2]
    assert logs[0]["event"] == "homes_progress"
    empty = ProgressEvent(
        home_key="x",
        status="cached",
        done=0,
        total=2,
        generated=0,
        cached=0,
        failed=0,
        events=0,
        elapsed_s=0.0,
    )
    assert (empty.rate, empty.events_per_s, empty.eta_s) == (0.0, 0.0, None)


async def test_stream_yields_each_home_and_matches_sync(
    tmp_path: Path, inline_files: dict[str, bytes]
) -> None:
    manager = DataGenerationManager(Workspace(tmp_path), "inline")
    keys = [home.home_key async for home in manager.stream(CONFIG)]
    assert sorted(keys) == [CONFIG.home_key(0), CONFIG.home_key(1)]
    assert manager.last_result is not None
    assert manager.last_result.manifest_path.is_file()
    assert _files(tmp_path) == inline_files


async def test_stream_reraises_executor_errors(tmp_path: Path) -> None:
    class Broken(InlineExecutor):
        def map_unordered(self, fn: Any, items: Any) -> Any:
            raise OSError("cluster gone")

    manager = DataGenerationManager(Workspace(tmp_path), Broken())
    with pytest.raises(OSError, match="cluster gone"):
        async for _ in manager.stream(CONFIG):
            pass


async def test_stream_consumer_may_stop_early(tmp_path: Path) -> None:
    manager = DataGenerationManager(Workspace(tmp_path), "inline")
    async for home in manager.stream(CONFIG.model_copy(update={"homes": 3})):
        assert home.index == 0
        break
    assert manager.last_result is None


def test_process_pool_is_byte_identical(tmp_path: Path, inline_files: dict[str, bytes]) -> None:
    result = _generate(tmp_path, executor=ProcessExecutor(2))
    assert result.count("generated") == 2
    assert _files(tmp_path) == inline_files


def test_dask_local_cluster_is_byte_identical(tmp_path: Path, inline_files: dict[str, bytes]) -> None:
    executor = DaskExecutor(None, 1, processes=False)
    try:
        result = _generate(tmp_path, executor=executor)
    finally:
        executor.close()
    assert result.manifest.executor == "dask[local]"
    assert result.count("generated") == 2
    assert _files(tmp_path) == inline_files


def test_make_executor() -> None:
    assert isinstance(make_executor("inline", 1), InlineExecutor)
    process = make_executor("process", 3)
    assert isinstance(process, ProcessExecutor) and process.name == "process[3]"
    process.close()
    with pytest.raises(ValueError, match="unknown executor 'ray'"):
        make_executor("ray", 1)
    with pytest.raises(ValueError, match="workers must be >= 1"):
        ProcessExecutor(0)


def test_from_settings(tmp_path: Path) -> None:
    manager = DataGenerationManager.from_settings(Settings(workspace=tmp_path, executor="inline", workers=1))
    assert manager.workspace.root == tmp_path
    assert manager.executor.name == "inline"
