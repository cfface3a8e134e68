"""Issue 18's reproductions, each a regression test: failures are never reported as success, corrupted or
injected data is refused where it is read, an incomplete cycle is not exported, leftovers are cleaned."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from homesim.cli import app
from homesim.datasets.executors import ProcessExecutor
from homesim.generation.config import GenerationConfig
from homesim.io import IntegrityError
from homesim.retraining.loop import LoopConfig, LoopFailedError, RetrainingLoop
from homesim.retraining.registry import ModelRegistry
from homesim.schema.records import AnyRecord
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import ModelProvider
from homesim.training_data.exporters import Exporter
from homesim.training_data.loading import read_metadata
from homesim.training_data.recheck import Rechecked
from homesim.training_data.store import RECORD_ADAPTER, RecordStore, serialise
from homesim.workspace import Workspace
from test_registry import constant_model, fake_trainers, register

Collected = tuple[Path, str, GenerationConfig]


@pytest.fixture
def ws(collected: Collected, tmp_path: Path) -> Iterator[Workspace]:
    """A copy of the collected workspace (generated, simulated as cycle 1, exported)."""
    root = tmp_path / "ws"
    shutil.copytree(collected[0], root)
    yield Workspace(root)


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "300"})
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    return result.exit_code, result.output


def _flip(path: Path, at: int = 100) -> None:
    """Change one byte, keeping size and mtime (what a size/mtime check would miss)."""
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[at] ^= 0x10
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _tree(root: Path) -> dict[str, str]:
    """Every file's digest, but the record store's (opening it may checkpoint its WAL)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and not p.name.startswith("records.sqlite")
    }


# ------------------------------------------------------------------------- failure is never success


def test_simulate_with_a_corrupted_home_fails_unless_partial_is_allowed(
    ws: Workspace, collected: Collected
) -> None:
    """Repro: one home's events truncated → `simulate` said "3,273 records from 4 homes", rc 0."""
    home = ws.home_dir(sorted(p.name for p in ws.homes_dir.iterdir())[0])
    events = home / "events.parquet"
    events.write_bytes(events.read_bytes()[: events.stat().st_size // 2])
    args = [
        "simulate",
        "--dataset",
        collected[1],
        "--cycle",
        "2",
        "--executor",
        "inline",
        "--workspace",
        str(ws.root),
    ]
    code, output = _invoke(*args)
    assert code == 1
    assert "is partial: 1 of 2 homes" in output and "sha256 differs" in output and "--allow-partial" in output
    code, output = _invoke(*args, "--allow-partial")
    assert code == 0 and "homesim: warning:" in output and "accepted with --allow-partial" in output
    # The partial cycle is refused by export unless accepted there too.
    code, output = _invoke("export", "--cycle", "2", "--workspace", str(ws.root))
    assert code == 1 and "is partial" in output and not ws.export_dir("pattern_detection", 2).exists()
    assert _invoke("export", "--cycle", "2", "--allow-partial", "--workspace", str(ws.root))[0] == 0


def test_export_refuses_a_cycle_whose_simulation_did_not_finish(ws: Workspace) -> None:
    """Repro: after a kill at the first commit, `export --cycle 1` exported 1,000 of 4,997 records, rc 0."""
    for report in ws.cycle_reports(1):  # what a kill before the end of the cycle leaves: no report
        report.path.unlink()
    shutil.rmtree(ws.training_data_dir / "cycle_1")
    before = _tree(ws.root)
    code, output = _invoke("export", "--cycle", "1", "--workspace", str(ws.root))
    assert code == 1 and "has no cycle report" in output and "did not finish" in output
    assert _tree(ws.root) == before


class _Boom:
    def __call__(self, view: HomeView, models: ModelProvider, cycle: int) -> list[AnyRecord]:
        raise RuntimeError("stage exploded")


def _loop(allow_partial: bool) -> LoopConfig:
    return LoopConfig(
        cycles=1,
        homes=2,
        days=1,
        seed=3,
        workers=1,
        executor="inline",
        models=(),
        exports=(),
        allow_partial=allow_partial,
    )


def test_loop_stops_on_a_failed_stage_or_records_it_as_partial(tmp_path: Path) -> None:
    """Repro: every home's synergy stage failed, yet the cycle was simulated, exported and retrained."""
    ws = Workspace(tmp_path)
    with pytest.raises(LoopFailedError, match=r"is partial: 2 of 2 homes.*stage exploded"):
        RetrainingLoop(ws, _loop(False), stages=[("synergy", _Boom())]).run()
    assert not ws.run_file(_loop(False).run_id).exists()  # the cycle is not recorded as finished
    run = RetrainingLoop(ws, _loop(True), stages=[("synergy", _Boom())]).run()
    assert "stage exploded" in run["cycles"][0]["warnings"][0]


def test_a_corrupted_champion_stops_the_loop_before_its_cycle(tmp_path: Path) -> None:
    """Repro: a corrupted champion artifact made every home's stage fail and the run end in a traceback."""
    ws = Workspace(tmp_path)
    with fake_trainers(), ModelRegistry(ws) as registry:
        version = register(registry, constant_model(2.0))
        registry.set_alias("pattern_detection", "champion", version)
        artifact = next(
            (ws.root / registry.get("pattern_detection", version).artifact_dir).glob("*.safetensors")
        )
        _flip(artifact, 20)
        with pytest.raises(
            LoopFailedError, match=f"champion pattern_detection {version} fails its integrity"
        ):
            RetrainingLoop(ws, _loop(False))._simulate(1, "ds-unused")


def test_loop_summary_refuses_a_tampered_export_without_a_traceback(ws: Workspace) -> None:
    """Repro: the loop's direct `load_training_data` raised an uncaught IntegrityError at the end of a run."""
    config = LoopConfig(cycles=1, homes=2, days=1, seed=3, models=("pattern_detection",), exports=())
    own = ws.for_run(config.run_id).export_dir("pattern_detection", None)  # the run reads its own exports
    shutil.copytree(ws.export_dir("pattern_detection", None), own)
    _flip(own / "patterns.parquet", 200)
    summary = RetrainingLoop(ws, config).summary({"cycles": []})
    assert summary["pattern_detection"]["error"].startswith("refused:")
    assert "sha256 differs" in summary["pattern_detection"]["error"]


# -------------------------------------------------------------------------------- verify on read


def _store_rows(ws: Workspace) -> list[tuple[str, str]]:
    with sqlite3.connect(ws.training_store) as db:
        return db.execute(
            "SELECT record_id, payload FROM records WHERE stage = 'pattern' ORDER BY record_id"
        ).fetchall()


def _inject(ws: Workspace, payload: str, record_id: str) -> None:
    """A row added behind the collector's back, with the content hash its payload would have."""
    try:
        digest = serialise(RECORD_ADAPTER.validate_json(payload)).content_hash
    except ValueError:
        digest = "0" * 32
    db = sqlite3.connect(ws.training_store)
    with db:
        db.execute(
            "INSERT INTO records VALUES (?, 1, 'x', 'pattern', 1.0, ?, ?)", (record_id, digest, payload)
        )
        db.execute("INSERT INTO record_model_types VALUES (?, 'pattern_detection')", (record_id,))
    db.close()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('"confidence":', '"confidence":7.5,"_was":'),  # out of range
        ('"home_key":"', '"home_key":"../../etc/passwd'),  # a path for a home key
        ('"action_entity":"', '"action_entity":"Bad Entity..'),  # not an entity id
        ('"confidence":', '"confidence":NaN,"_was":'),  # NaN
    ],
    ids=["confidence-7.5", "home-key-traversal", "bad-entity-id", "nan"],
)
def test_export_refuses_injected_rows(ws: Workspace, old: str, new: str) -> None:
    """Repro: injected rows (confidence 7.5, home key ../../etc/passwd, an invalid entity id) were exported
    with rc 0; a NaN payload aborted the export with a traceback."""
    record_id, payload = _store_rows(ws)[0]
    assert old in payload
    _inject(ws, payload.replace(record_id, "f" * 24).replace(old, new, 1), "f" * 24)
    before = _tree(ws.training_data_dir)
    code, output = _invoke(
        "export", "--cycle", "1", "--model-type", "pattern_detection", "--workspace", str(ws.root)
    )
    assert code == 1 and "fail re-validation, refusing to export" in output and "f" * 24 in output
    assert len([line for line in output.splitlines() if line.strip()]) == 1
    assert _tree(ws.training_data_dir) == before


def _tamper_a_confidence(ws: Workspace) -> str:
    """Change one digit of a stored record's confidence (0.714 → 0.914) in place; returns its record id."""
    record_id, payload = next((r, p) for r, p in _store_rows(ws) if '"confidence":0.' in p)
    at = payload.index('"confidence":0.') + len('"confidence":0.')
    tampered = payload[:at] + ("9" if payload[at] != "9" else "8") + payload[at + 1 :]
    with sqlite3.connect(ws.training_store) as db:
        db.execute("UPDATE records SET payload = ? WHERE record_id = ?", (tampered, record_id))
    db.close()
    return record_id


def test_export_refuses_a_tampered_record_payload(ws: Workspace) -> None:
    """Repro: a record's confidence changed in the store (0.714 → 0.914) was exported with rc 0."""
    record_id = _tamper_a_confidence(ws)
    code, output = _invoke(
        "export", "--aggregated", "--model-type", "pattern_detection", "--workspace", str(ws.root)
    )
    assert code == 1 and f"{record_id}: content changed since it was collected" in output


def test_a_payload_rechecked_once_is_checked_again_once_it_changes(ws: Workspace) -> None:
    """The loop's export memory (`Rechecked`) skips rows it verified, never rows whose bytes changed since;
    the aggregated export it deduplicates from memory holds the same records as one made without it."""
    fresh = Workspace(ws.root / "fresh")
    shutil.copytree(ws.root, fresh.root, ignore=shutil.ignore_patterns("fresh"))
    done = Rechecked()
    with RecordStore(ws.training_store) as store:
        first = Exporter(ws, store, rechecked=done).export("pattern_detection", None)
        assert len(done) == first.records > 0
        again = Exporter(ws, store, rechecked=done).export("pattern_detection", None)
    with RecordStore(fresh.training_store) as store:
        reference = Exporter(fresh, store).export("pattern_detection", None)
    assert len(done) == first.records and again.counts == reference.counts
    assert read_metadata(again.directory)["lineage"] == read_metadata(reference.directory)["lineage"]
    record_id = _tamper_a_confidence(ws)
    with RecordStore(ws.training_store) as store, pytest.raises(IntegrityError, match=record_id):
        Exporter(ws, store, rechecked=done).export("pattern_detection", None)


def test_untouched_records_still_export(ws: Workspace) -> None:
    code, output = _invoke(
        "export", "--cycle", "1", "--model-type", "pattern_detection", "--workspace", str(ws.root)
    )
    assert code == 0, output


def test_ha_export_and_ground_truth_flatten_read_verified(ws: Workspace, tmp_path: Path) -> None:
    """Repro: `ha export` and `ground-truth flatten` read a home's truth and events unchecked."""
    home = ws.home_dir(sorted(p.name for p in ws.homes_dir.iterdir())[0])
    _flip(home / "ground_truth.json", 50)
    code, output = _invoke("ha", "export", str(home), "--out", str(tmp_path / "ha"))
    assert code == 1 and "ground_truth.json: sha256 differs" in output and not (tmp_path / "ha").exists()
    code, output = _invoke("ground-truth", "flatten", str(home.parent), "--out", str(tmp_path / "flat"))
    assert code == 1 and "ground_truth.json: sha256 differs" in output and not (tmp_path / "flat").exists()


# --------------------------------------------------------------------------------------- leftovers


def test_a_killed_exports_staging_folder_is_swept_by_the_next_export(ws: Workspace) -> None:
    """Repro: a killed export left `.staging-*` folders that were never cleaned."""
    parent = ws.export_dir("pattern_detection", 1).parent
    dead = parent / ".pattern_detection.staging-999999999-deadbeef"  # no such pid
    legacy = parent / ".soft_prompt.staging-0badf00d"  # a name from before pids were recorded
    for folder in (dead, legacy):
        folder.mkdir()
        (folder / "patterns.parquet").write_bytes(b"partial")
    assert (
        _invoke("export", "--cycle", "1", "--model-type", "pattern_detection", "--workspace", str(ws.root))[0]
        == 0
    )
    assert not dead.exists() and not legacy.exists()


def test_lineage_validation_set_is_written_in_one_transaction(ws: Workspace) -> None:
    """Repro: two `executemany` ran outside a transaction: a failure midway kept the rows before it."""
    from homesim.training_data.lineage_tracker import LineageTracker

    with LineageTracker(ws.lineage_db) as tracker, pytest.raises(sqlite3.Error):
        tracker.record_validation_set("pattern_detection", "v1", ["h1", "h2", None])  # type: ignore[list-item]
    with sqlite3.connect(ws.lineage_db) as db:
        assert db.execute("SELECT COUNT(*) FROM validation_sets").fetchone() == (0,)
    db.close()


# ---------------------------------------------------------------------------------------- orphans


def _sleep_then_value(x: float) -> float:
    time.sleep(x)
    return x


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_an_interrupted_pool_stops_its_workers_at_once() -> None:
    """Ctrl-C / SIGTERM while tasks run: the workers are terminated, not awaited (nor left running)."""
    executor = ProcessExecutor(2)
    results = executor.map_unordered(_sleep_then_value, [0.0, 60.0, 60.0])
    assert next(results) == 0.0
    assert executor._pool is not None
    workers = list(executor._pool._processes.values())
    started = time.monotonic()
    try:
        raise KeyboardInterrupt
    except KeyboardInterrupt:
        executor.close()
    assert time.monotonic() - started < 10
    # Asked of the OS, not of the Process objects: the pool's manager thread may reap a worker at the same
    # moment as close() does, which leaves that object's exit code unset for a while.
    assert not any(_running(w.pid) for w in workers if w.pid is not None)


def test_generate_fails_on_a_failed_home_unless_partial_is_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from homesim.datasets import manager

    def broken(config: GenerationConfig, index: int) -> None:
        raise ValueError("no rooms")

    monkeypatch.setattr(manager, "generate_home", broken)
    args = ["generate", "--homes", "1", "--days", "1", "--executor", "inline", "--workspace", str(tmp_path)]
    code, output = _invoke(*args)
    assert code == 1 and "1 of 1 homes failed" in output and "--allow-partial" in output
    code, output = _invoke(*args, "--allow-partial")
    assert code == 0 and "homesim: warning: 1 of 1 homes failed" in output
