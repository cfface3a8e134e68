"""Home cache: sha256 manifests, corruption and partial entries, concurrency, and `homesim cache` commands."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from homesim import GENERATOR_VERSION
from homesim.api import create_app
from homesim.cli import app
from homesim.datasets.cache import HomeCache, sha256_file
from homesim.datasets.home_folder import read_events, read_home
from homesim.datasets.manager import CachedHomeGenerator, DataGenerationManager, GenerationResult
from homesim.generation.config import GenerationConfig
from homesim.io import IntegrityError
from homesim.simulation.cycle import DEFAULT_STAGES, HomeTask, run_home
from homesim.simulation.home_view import load_home_view
from homesim.simulation.model_provider import NoModels
from homesim.training_data.exporters import workspace_truths
from homesim.workspace import HOME_MANIFEST_FILE as MANIFEST_FILE
from homesim.workspace import Workspace

CONFIG = GenerationConfig(homes=2, days=7, seed=0)
runner = CliRunner()


def _generate(root: Path, config: GenerationConfig = CONFIG) -> GenerationResult:
    with DataGenerationManager(Workspace(root), "inline") as manager:
        return manager.generate(config)


@pytest.fixture
def cached(tmp_path: Path) -> HomeCache:
    _generate(tmp_path)
    return HomeCache(Workspace(tmp_path))


def test_manifest_hashes_every_written_file(cached: HomeCache) -> None:
    key = CONFIG.home_key(0)
    manifest = cached.read_manifest(key)
    assert manifest is not None
    directory = cached.workspace.home_dir(key)
    written = sorted(p.name for p in directory.iterdir() if p.name != MANIFEST_FILE)
    assert sorted(manifest.files) == written
    for name, entry in manifest.files.items():
        assert entry.sha256 == sha256_file(directory / name)
        assert entry.bytes == (directory / name).stat().st_size
    assert manifest.home_index == 0 and manifest.config == CONFIG.home_fields()


def test_corrupt_events_detected_and_only_that_home_regenerated(cached: HomeCache) -> None:
    key = CONFIG.home_key(1)
    events = cached.workspace.home_dir(key) / "events.parquet"
    data = bytearray(events.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different bytes
    events.write_bytes(bytes(data))
    problems = cached.verify()
    assert [(p.home_key, p.problem) for p in problems] == [
        (key, "events.parquet sha256 differs from the manifest")
    ]
    result = _generate(cached.workspace.root)
    assert [h.status for h in result.homes] == ["cached", "generated"]
    assert cached.verify() == []


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda d: (d / MANIFEST_FILE).unlink(), "manifest.json missing or unreadable"),
        (lambda d: (d / MANIFEST_FILE).write_text("{"), "manifest.json missing or unreadable"),
        (lambda d: (d / "home.json").unlink(), "home.json missing"),
        (lambda d: (d / "events.parquet").write_bytes(b"PAR1"), "events.parquet has 4 bytes"),
    ],
)
def test_partial_entries_detected(cached: HomeCache, damage: object, problem: str) -> None:
    key = CONFIG.home_key(0)
    damage(cached.workspace.home_dir(key))  # type: ignore[operator]
    found = cached.check(key)
    assert found is not None and found.problem.startswith(problem)
    assert _generate(cached.workspace.root).count("generated") == 1
    assert cached.check(key) is None


def test_manifest_of_another_home(cached: HomeCache) -> None:
    first, second = (cached.workspace.home_dir(CONFIG.home_key(i)) for i in (0, 1))
    (first / MANIFEST_FILE).write_bytes((second / MANIFEST_FILE).read_bytes())
    found = cached.check(CONFIG.home_key(0))
    assert found is not None and "manifest names another home" in found.problem
    assert cached.check("h999999-000000000000") is not None


def test_staging_left_by_a_killed_writer_is_cleared(cached: HomeCache) -> None:
    key = CONFIG.home_key(0)
    stale = cached.workspace.staging_dir / f"{key}.12345.deadbeef"
    stale.mkdir(parents=True)
    (stale / "events.parquet").write_bytes(b"partial")
    with cached.lock(key):
        assert not stale.exists()


def test_prune_stats_and_clear(cached: HomeCache) -> None:
    broken = CONFIG.home_key(0)
    (cached.workspace.home_dir(broken) / "home.json").unlink()
    old = cached.workspace.home_dir(CONFIG.home_key(1)) / MANIFEST_FILE
    old.write_text(json.dumps({**json.loads(old.read_text()), "generator_version": "0.0.1"}))
    stale = cached.workspace.staging_dir / "h000009-aaaaaaaaaaaa.1.ab"
    stale.mkdir(parents=True)
    removed = {p.home_key: p.problem for p in cached.prune()}
    assert removed == {
        broken: "home.json missing",
        CONFIG.home_key(1): "generator version 0.0.1",
        stale.name: "staging left by a stopped process",
    }
    assert cached.keys() == [] and not stale.exists()
    _generate(cached.workspace.root)
    assert cached.rebuild_index() == 2
    stats = cached.index().stats()
    assert (
        stats["homes"] == 2 and stats["events"] > 0 and stats["generator_versions"] == {GENERATOR_VERSION: 2}
    )
    assert cached.clear() == 2
    assert cached.keys() == [] and not cached.workspace.cache_index.exists()


@pytest.mark.slow
def test_concurrent_processes_share_the_cache(tmp_path: Path) -> None:
    config = CONFIG.model_copy(update={"homes": 3})
    script = (
        "import sys; from pathlib import Path; from homesim.workspace import Workspace;"
        "from homesim.generation.config import GenerationConfig;"
        "from homesim.datasets.manager import DataGenerationManager;"
        f"c = GenerationConfig(**{config.model_dump(mode='json')!r});"
        "r = DataGenerationManager(Workspace(Path(sys.argv[1])), 'inline').generate(c);"
        "print(r.count('generated'), r.count('cached'), r.count('failed'))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert all(out[2] == "0" for out in outputs)
    assert sum(int(out[0]) for out in outputs) == 3  # each home generated exactly once
    assert HomeCache(Workspace(tmp_path)).verify() == []


def test_cli_cache_commands(cached: HomeCache) -> None:
    root = str(cached.workspace.root)
    stats = runner.invoke(app, ["cache", "stats", "--workspace", root])
    assert stats.exit_code == 0 and stats.output.startswith("2 homes")
    assert runner.invoke(app, ["cache", "verify", "--workspace", root]).exit_code == 0
    (cached.workspace.home_dir(CONFIG.home_key(0)) / "environment.parquet").write_bytes(b"x")
    verify = runner.invoke(app, ["cache", "verify", "--workspace", root])
    assert verify.exit_code == 1
    assert CONFIG.home_key(0) in verify.output and "1 ok, 1 broken" in verify.output
    prune = runner.invoke(app, ["cache", "prune", "--workspace", root])
    assert prune.exit_code == 0 and "pruned 1" in prune.output
    refused = runner.invoke(app, ["cache", "clear", "--workspace", root], input="n\n")
    assert refused.exit_code == 1 and len(cached.keys()) == 1
    clear = runner.invoke(app, ["cache", "clear", "--workspace", root, "--yes"])
    assert clear.exit_code == 0 and "removed 1 homes" in clear.output


def _flip_keeping_mtime(path: Path) -> bytes:
    """Flip 16 bytes in the middle of `path`, keeping its size and mtime; returns the original bytes."""
    original = path.read_bytes()
    stat = path.stat()
    data = bytearray(original)
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)
    return original


def test_bytes_changed_under_the_same_mtime_are_regenerated_not_reported_cached(cached: HomeCache) -> None:
    """Regression (issue 18): a cached events.parquet with flipped bytes and its old mtime was 'cached'."""
    key = CONFIG.home_key(0)
    events = cached.workspace.home_dir(key) / "events.parquet"
    original = _flip_keeping_mtime(events)
    problem = cached.check(key)
    assert problem is not None and problem.problem == "events.parquet sha256 differs from the manifest"
    result = _generate(cached.workspace.root)
    statuses = {h.home_key: h.status for h in result.homes}
    assert statuses == {key: "generated", CONFIG.home_key(1): "cached"}
    assert events.read_bytes() == original  # the same seed regenerates the same bytes


@pytest.mark.parametrize("name", ["events.parquet", "home.json", "ground_truth.json", "environment.parquet"])
def test_a_home_read_for_use_is_verified_as_it_is_read(cached: HomeCache, name: str) -> None:
    """Regression (issue 18): `simulate` read a corrupted cached events.parquet and exited 0."""
    directory = cached.workspace.home_dir(CONFIG.home_key(0))
    _flip_keeping_mtime(directory / name)
    with pytest.raises(IntegrityError, match=rf"{directory / name}: sha256 differs from the one recorded in"):
        load_home_view(directory, CONFIG)
    if name in ("events.parquet", "home.json"):
        with pytest.raises(IntegrityError, match=re.escape(str(directory / name))):
            read_events(directory) if name == "events.parquet" else read_home(directory)


def test_simulation_gets_the_regenerated_home_and_a_direct_read_fails_that_home(cached: HomeCache) -> None:
    key = CONFIG.home_key(1)
    directory = cached.workspace.home_dir(key)
    original = _flip_keeping_mtime(directory / "events.parquet")
    outcome = run_home(HomeTask(directory, CONFIG, 0, tuple(DEFAULT_STAGES), NoModels()))
    assert outcome.records == [] and [e.stage for e in outcome.errors] == ["load"]
    assert "events.parquet: sha256 differs" in outcome.errors[0].error
    batch = CachedHomeGenerator(cached.workspace).get(CONFIG)
    assert batch.errors == {} and (batch.homes[key] / "events.parquet").read_bytes() == original
    assert load_home_view(batch.homes[key], CONFIG).key == key


def test_a_generated_home_without_its_manifest_is_refused(cached: HomeCache) -> None:
    directory = cached.workspace.home_dir(CONFIG.home_key(0))
    (directory / MANIFEST_FILE).unlink()
    with pytest.raises(IntegrityError, match=r"manifest\.json is missing"):
        load_home_view(directory, CONFIG)


def test_exports_and_the_api_refuse_a_changed_ground_truth(cached: HomeCache) -> None:
    key = CONFIG.home_key(0)
    truth = cached.workspace.home_dir(key) / "ground_truth.json"
    _flip_keeping_mtime(truth)
    with pytest.raises(IntegrityError, match=re.escape(f"{truth}: sha256 differs")):
        workspace_truths(cached.workspace)(key)  # what the exporters label records with
    app = create_app(cached.workspace, token="t" * 32, executor="inline", workers=1)
    with TestClient(app, base_url="http://localhost") as client:
        response = client.get(
            f"/v1/homes/{key}/ground-truth", headers={"Authorization": "Bearer " + "t" * 32}
        )
    assert response.status_code == 409 and "ground_truth.json: sha256 differs" in response.json()["detail"]
