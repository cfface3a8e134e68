"""Kill -9 a generation midway, rerun it: it finishes, keeps every complete home, leaves nothing partial."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from homesim.datasets.cache import HomeCache
from homesim.datasets.manifest import read_dataset
from homesim.workspace import HOME_MANIFEST_FILE as MANIFEST_FILE
from homesim.workspace import Workspace

HOMES = 30
ARGS = ["generate", "--homes", str(HOMES), "--days", "14", "--executor", "process", "--workers", "2"]


def _command(root: Path) -> list[str]:
    return [sys.executable, "-c", "from homesim.cli import main; main()", *ARGS, "--workspace", str(root)]


def _complete(root: Path) -> dict[Path, tuple[int, int]]:
    """Published homes: every file's (inode, mtime) by path."""
    homes = root / "data" / "homes"
    if not homes.is_dir():
        return {}
    return {
        p: (p.stat().st_ino, p.stat().st_mtime_ns)
        for home in homes.iterdir()
        if (home / MANIFEST_FILE).is_file()
        for p in home.iterdir()
    }


def test_kill_midway_then_resume(tmp_path: Path) -> None:
    env = {**os.environ, "HOMESIM_LOG_JSON": "true"}
    proc = subprocess.Popen(
        _command(tmp_path),
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len({p.parent for p in _complete(tmp_path)}) < 5:
        assert proc.poll() is None, "generation ended before it could be killed"
        assert time.monotonic() < deadline, "no homes were published within 60 s"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: the CLI and its worker processes
    proc.wait()
    before = _complete(tmp_path)
    done_before = {p.parent.name for p in before}
    assert 5 <= len(done_before) < HOMES

    rerun = subprocess.run(
        _command(tmp_path), env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert rerun.returncode == 0, rerun.stderr

    after = _complete(tmp_path)
    assert all(after[path] == stat for path, stat in before.items()), "a complete home was rewritten"
    manifest = read_dataset(next((tmp_path / "data" / "datasets").glob("*/manifest.json")))
    assert manifest.counts.homes == HOMES
    assert manifest.counts.cached == len(done_before)
    assert manifest.counts.generated == HOMES - len(done_before)
    workspace = Workspace(tmp_path)
    assert not workspace.staging_dir.exists() or not any(workspace.staging_dir.iterdir())
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]
    assert HomeCache(workspace).verify() == []
    assert len(HomeCache(workspace).keys()) == HOMES
