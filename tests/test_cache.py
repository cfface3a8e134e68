"""Home cache: sha256 manifests, corruption and partial entries, concurrency, and `homesim cache` commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from homesim import GENERATOR_VERSION
from homesim.cli import app
from homesim.datasets.cache import HomeCache, sha256_file
from homesim.datasets.manager import DataGenerationManager, GenerationResult
from homesim.generation.config import GenerationConfig
from homesim.workspace import HOME_MANIFEST_FILE as MANIFEST_FILE
from homesim.workspace import STAMP_FILE, Workspace

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
    written = sorted(p.name for p in directory.iterdir() if p.name not in (MANIFEST_FILE, STAMP_FILE))
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


def test_re_requests_trust_the_stamp_but_verify_hashes(cached: HomeCache) -> None:
    key = CONFIG.home_key(0)
    events = cached.workspace.home_dir(key) / "events.parquet"
    stat = events.stat()
    data = bytearray(events.read_bytes())
    data[-100] ^= 0xFF  # same size: only a hash can tell
    events.write_bytes(bytes(data))
    assert cached.check(key, trust_stamp=True) is not None  # rewritten: the mtime moved, so it hashes
    os.utime(events, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # bit rot that keeps the stamp
    assert cached.check(key, trust_stamp=True) is None
    problem = cached.check(key)
    assert problem is not None and "sha256" in problem.problem
