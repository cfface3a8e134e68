"""Parquet staging: the same rows and answers as the SQLite store, one atomic file per batch and cycle,
exports identical to the SQLite store's, and no partial batch when the collector is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.schema.ground_truth import GroundTruth
from homesim.schema.records import AnyRecord, PatternRecord, SynergyRecord
from homesim.simulation.cycle import DEFAULT_STAGES
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import MODEL_TYPES, NoModels
from homesim.training_data.collector import TrainingDataCollector
from homesim.training_data.exporters import Exporter
from homesim.training_data.loading import load_training_data
from homesim.training_data.store import (
    PARQUET_STAGING,
    ParquetRecordStore,
    RecordStore,
    open_store,
    workspace_store,
)
from homesim.workspace import Workspace


@pytest.fixture(scope="module")
def cycle() -> tuple[list[AnyRecord], GroundTruth]:
    """Every stage's records of one home in cycles 1 and 2, plus a duplicate and an out-of-range record."""
    view = HomeView.from_generated(generate_home(GenerationConfig(days=7, seed=13), 0))
    stages = list(DEFAULT_STAGES)
    records: list[AnyRecord] = []
    for cycle in (1, 2):
        view.upstream.clear()
        for name, stage in stages:
            view.upstream[name] = list(stage(view, NoModels(), cycle))
            records += view.upstream[name]
    synergy = next(r for r in records if isinstance(r, SynergyRecord))
    pattern = next(r for r in records if isinstance(r, PatternRecord))
    bad = pattern.model_copy(
        update={"record_id": "b" * 24, "outputs": pattern.outputs.model_copy(update={"score": 2.0})}
    )
    return [*records, synergy.model_copy(update={"record_id": "d" * 24}), bad], view.truth


def collect(store: RecordStore | ParquetRecordStore, records: list[AnyRecord], truth: GroundTruth) -> None:
    with TrainingDataCollector(store, truth_of={truth.home_key: truth}, batch_size=400) as collector:
        collector.emit_many(records)


def test_parquet_store_answers_like_sqlite(
    cycle: tuple[list[AnyRecord], GroundTruth], tmp_path: Path
) -> None:
    records, truth = cycle
    with (
        RecordStore(tmp_path / "records.sqlite") as sqlite,
        ParquetRecordStore(tmp_path / "staging") as parquet,
    ):
        collect(sqlite, records, truth)
        collect(parquet, records, truth)
        for model_type in MODEL_TYPES:
            rows = sqlite.accepted_rows(model_type)
            assert rows and parquet.accepted_rows(model_type) == rows
            assert parquet.accepted_rows(model_type, [2]) == sqlite.accepted_rows(model_type, [2])
        assert parquet.rejected() == sqlite.rejected() != []
        assert {r[0] for r in parquet.rejected()} == {"b" * 24, "d" * 24}
        assert parquet.rejected(cycle=2) == sqlite.rejected(cycle=2)
        assert parquet.counts() == sqlite.counts()
        assert parquet.cycles() == sqlite.cycles() == [1, 2]
        assert parquet.content_hashes(1) == sqlite.content_hashes(1)
        assert [r.record_id for r in parquet.accepted("gnn_synergy")] == [
            r.record_id for r in sqlite.accepted("gnn_synergy")
        ]
    # One zstd Parquet file per batch and cycle, nothing half-written left behind.
    files = sorted((tmp_path / "staging").rglob("*"))
    assert {f.parent.name for f in files if f.is_file()} == {"cycle_1", "cycle_2"}
    assert all(f.name.startswith("batch-") and f.suffix == ".parquet" for f in files if f.is_file())
    batches = -(-len(records) // 400)
    assert batches <= sum(f.is_file() for f in files) <= 2 * batches


def test_exports_from_parquet_staging_equal_sqlite_ones(
    cycle: tuple[list[AnyRecord], GroundTruth], tmp_path: Path
) -> None:
    records, truth = cycle
    tables: dict[str, dict[str, dict[str, pl.DataFrame]]] = {}
    for kind in ("sqlite", "parquet"):
        workspace = Workspace(tmp_path / kind)
        path = workspace.training_store if kind == "sqlite" else workspace.training_data_dir / PARQUET_STAGING
        with open_store(path) as store:
            assert isinstance(store, RecordStore if kind == "sqlite" else ParquetRecordStore)
            collect(store, records, truth)
            Exporter(workspace, store, truths={truth.home_key: truth}.get).export_cycle(2)
        assert workspace_store(workspace) == path
        tables[kind] = {mt: load_training_data(mt, workspace, 2).tables for mt in MODEL_TYPES}
    for model_type, by_table in tables["sqlite"].items():
        for name, frame in by_table.items():
            assert frame.height > 0
            assert tables["parquet"][model_type][name].equals(frame), (model_type, name)
    assert workspace_store(Workspace(tmp_path / "none")) is None


def test_a_later_batch_replaces_a_record(cycle: tuple[list[AnyRecord], GroundTruth], tmp_path: Path) -> None:
    pattern = next(r for r in cycle[0] if isinstance(r, PatternRecord))
    with ParquetRecordStore(tmp_path) as store:
        store.add_accepted([(pattern, 0.5, ("pattern_detection",))])
        store.add_accepted([(pattern, 0.75, ("pattern_detection",))])
        (again,) = store.accepted("pattern_detection")
        assert again.record_id == pattern.record_id
        assert store.counts()["accepted"] == 1
    with ParquetRecordStore(tmp_path) as reopened:  # a new writer numbers its batches after the old ones
        reopened.add_rejected([("x" * 24, None, None, "pattern", 0.0, ["schema: bad"], "{}")])
        assert reopened.rejected() == [("x" * 24, "pattern", ["schema: bad"])]
        assert reopened.cycles() == [1]
    assert (tmp_path / "cycle_unknown").is_dir()


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from homesim.schema.records import PatternRecord, make_record_id
    from homesim.training_data.collector import TrainingDataCollector
    from homesim.training_data.store import ParquetRecordStore

    template = PatternRecord.model_validate_json(Path(sys.argv[2]).read_text())
    collector = TrainingDataCollector(ParquetRecordStore(Path(sys.argv[1])), batch_size=100)
    for i in range(10**9):
        features = template.inputs.features.model_copy(update={"support": i})
        collector.emit(template.model_copy(update={
            "record_id": make_record_id("pattern", template.home_key, 1, i),
            "inputs": template.inputs.model_copy(update={"features": features}),
        }))
        if (i + 1) % 100 == 0:
            print(i + 1, flush=True)
    """
)


def test_kill_mid_cycle_leaves_whole_batches(
    cycle: tuple[list[AnyRecord], GroundTruth], tmp_path: Path
) -> None:
    template = next(r for r in cycle[0] if isinstance(r, PatternRecord))
    (tmp_path / "template.json").write_text(template.model_dump_json())
    (tmp_path / "writer.py").write_text(KILLED_WRITER)
    root = tmp_path / "staging"
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "writer.py"), str(root), str(tmp_path / "template.json")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    committed = 0
    while committed < 500:  # five batches committed, the sixth under way
        committed = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with ParquetRecordStore(root) as store:
        stored = store.counts()["accepted"]
        assert stored >= committed and stored % 100 == 0  # every committed batch, no partial one
        assert len(store.accepted_rows("pattern_detection")) == stored
    for path in root.rglob("batch-*.parquet"):
        assert pl.read_parquet(path).height == 100  # every visible file is whole
