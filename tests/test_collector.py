"""TrainingDataCollector: routing to registered points, batching, pass rates of a normal cycle, stats,
async streams, and durability when the process is killed mid-cycle."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.schema.ground_truth import GroundTruth
from homesim.schema.records import STAGES, AnyRecord, PatternRecord, SynergyRecord
from homesim.simulation.cycle import DEFAULT_STAGES
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import NoModels
from homesim.simulation.sink import RecordSink
from homesim.training_data.collector import (
    DEFAULT_POINTS,
    CollectionPoint,
    TrainingDataCollector,
    UnknownCollectionPointError,
)
from homesim.training_data.store import RecordStore
from homesim.training_data.validators import COMMON
from homesim.workspace import Workspace

CONFIG = GenerationConfig(homes=3, days=14, seed=5)


@pytest.fixture(scope="module")
def cycle() -> tuple[list[AnyRecord], dict[str, GroundTruth]]:
    """Every stage's records of cycle 1 over three small homes, and their ground truth."""
    stages = list(DEFAULT_STAGES)
    records: list[AnyRecord] = []
    truths: dict[str, GroundTruth] = {}
    for i in range(CONFIG.homes):
        view = HomeView.from_generated(generate_home(CONFIG, i))
        truths[view.key] = view.truth
        for name, stage in stages:
            view.upstream[name] = list(stage(view, NoModels(), 1))
            records += view.upstream[name]
    return records, truths


def test_is_a_record_sink(tmp_path: Path) -> None:
    with TrainingDataCollector(Workspace(tmp_path).training_store) as collector:
        assert isinstance(collector, RecordSink)
    assert Workspace(tmp_path).training_store.exists()


def test_normal_cycle_passes_quality_thresholds(
    cycle: tuple[list[AnyRecord], dict[str, GroundTruth]], tmp_path: Path
) -> None:
    records, truths = cycle
    with RecordStore(tmp_path / "records.sqlite") as store:
        with TrainingDataCollector(store, truth_of=truths, batch_size=500) as collector:
            collector.emit_many(records)
        rates = collector.pass_rates()
        print("pass rate per point:", {k: round(v, 3) for k, v in rates.items()})
        assert set(rates) == set(STAGES)
        assert all(rate >= 0.9 for rate in rates.values()), rates
        stats = collector.stats()
        assert stats["by_outcome"]["accepted"] + stats["by_outcome"]["rejected"] == len(records)
        assert stats["pending"] == 0
        counts = store.counts()
        assert counts["accepted"] == stats["by_outcome"]["accepted"]
        assert counts["rejected"] == stats["by_outcome"]["rejected"]
        assert counts["by_model_type"] == stats["by_model_type"]
        assert stats["by_model_type"]["soft_prompt"] == stats["by_point"]["ask_ai"]["accepted"]
        assert (
            stats["by_model_type"]["yaml_generation"]
            == stats["by_point"]["automation"]["accepted"] + stats["by_point"]["suggestion"]["accepted"]
        )
        # Every point feeds at least one model type; counts by point × model type × outcome add up.
        assert all(point.model_types for point in DEFAULT_POINTS)
        by_pmt = stats["by_point_model_type"]
        assert set(by_pmt) == set(STAGES)
        for point in DEFAULT_POINTS:
            for model_type in point.model_types:
                assert by_pmt[point.name][model_type] == stats["by_point"][point.name]
        # Accepted records come back as records, with their quality set.
        synergies = list(store.accepted("gnn_synergy"))
        assert len(synergies) == stats["by_model_type"]["gnn_synergy"]
        assert all(isinstance(r, SynergyRecord) and r.quality == 1.0 for r in synergies)
        assert list(store.accepted("gnn_synergy", cycles=[2])) == []
        assert store.cycles() == [1]


def test_unknown_points_are_refused(
    cycle: tuple[list[AnyRecord], dict[str, GroundTruth]], tmp_path: Path
) -> None:
    records, _ = cycle
    synergy = next(r for r in records if isinstance(r, SynergyRecord))
    only_patterns = [p for p in DEFAULT_POINTS if p.name == "pattern"]
    with TrainingDataCollector(tmp_path / "r.sqlite", points=only_patterns) as collector:
        with pytest.raises(
            UnknownCollectionPointError, match=r"no collection point 'synergy'.*registered: pattern"
        ):
            collector.emit(synergy)
        collector.register(CollectionPoint("synergy", PatternRecord, ("gnn_synergy",), COMMON))
        with pytest.raises(UnknownCollectionPointError, match="takes PatternRecord, not SynergyRecord"):
            collector.emit(synergy)
        assert collector.stats()["pending"] == 0


def test_batches_are_written_every_n_and_on_close(
    cycle: tuple[list[AnyRecord], dict[str, GroundTruth]], tmp_path: Path
) -> None:
    records = cycle[0][:25]
    with RecordStore(tmp_path / "r.sqlite") as store:
        with TrainingDataCollector(store, batch_size=10) as collector:
            collector.emit_many(records)
            assert store.counts()["accepted"] == 20
            assert collector.stats()["pending"] == 5
        assert store.counts()["accepted"] == 25


def test_async_stream(cycle: tuple[list[AnyRecord], dict[str, GroundTruth]], tmp_path: Path) -> None:
    records = cycle[0][:40]

    async def stream() -> AsyncIterator[AnyRecord]:
        for record in records:
            yield record

    with RecordStore(tmp_path / "r.sqlite") as store:
        with TrainingDataCollector(store, batch_size=16) as collector:
            asyncio.run(collector.aemit(stream()))
        assert store.counts()["accepted"] == len({r.record_id for r in records})


def test_restart_keeps_duplicate_detection(
    cycle: tuple[list[AnyRecord], dict[str, GroundTruth]], tmp_path: Path
) -> None:
    pattern = next(r for r in cycle[0] if isinstance(r, PatternRecord))
    with TrainingDataCollector(tmp_path / "r.sqlite") as collector:
        collector.emit(pattern)
    copy = pattern.model_copy(update={"record_id": "c" * 24})
    with TrainingDataCollector(tmp_path / "r.sqlite") as collector:
        collector.emit_many([pattern, copy])  # the same record again is stored once; its copy is a duplicate
    with RecordStore(tmp_path / "r.sqlite") as store:
        assert store.counts()["accepted"] == 1
        assert store.rejected() == [
            (copy.record_id, "pattern", [f"duplicate: same content as record {pattern.record_id}"])
        ]


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from homesim.schema.records import PatternRecord, make_record_id
    from homesim.training_data.collector import TrainingDataCollector
    from homesim.training_data.lineage_tracker import LineageTracker

    template = PatternRecord.model_validate_json(Path(sys.argv[2]).read_text())
    root = Path(sys.argv[1])
    collector = TrainingDataCollector(
        root / "records.sqlite", batch_size=200, lineage=LineageTracker(root / "lineage.sqlite")
    )
    for i in range(10**9):
        features = template.inputs.features.model_copy(update={"support": i})
        collector.emit(template.model_copy(update={
            "record_id": make_record_id("pattern", template.home_key, 1, i),
            "inputs": template.inputs.model_copy(update={"features": features}),
        }))
        if (i + 1) % 200 == 0:
            print(i + 1, flush=True)
    """
)


def test_kill_mid_cycle_loses_no_committed_batch(
    cycle: tuple[list[AnyRecord], dict[str, GroundTruth]], tmp_path: Path
) -> None:
    template = next(r for r in cycle[0] if isinstance(r, PatternRecord))
    (tmp_path / "template.json").write_text(template.model_dump_json())
    (tmp_path / "writer.py").write_text(KILLED_WRITER)
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "writer.py"), str(tmp_path), str(tmp_path / "template.json")],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    committed = 0
    while committed < 2000:  # ten batches committed, the eleventh under way
        committed = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    db = sqlite3.connect(tmp_path / "records.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()
    with RecordStore(tmp_path / "records.sqlite") as store:
        stored = store.counts()["accepted"]
        assert stored >= committed and stored % 200 == 0  # every committed batch, no partial one
        ids = [r.record_id for r in store.accepted("pattern_detection")]
        assert len(ids) == stored


def test_store_interface(cycle: tuple[list[AnyRecord], dict[str, GroundTruth]], tmp_path: Path) -> None:
    pattern, synergy = (next(r for r in cycle[0] if isinstance(r, t)) for t in (PatternRecord, SynergyRecord))
    with RecordStore(tmp_path / "r.sqlite") as store:
        store.add_accepted([(pattern, 0.75, ("pattern_detection",))])
        store.add_rejected([("x" * 24, 3, synergy.home_key, "synergy", 0.0, ["range: bad"], "{}")])
        assert [r.record_id for r in store.accepted("pattern_detection", cycles=[1])] == [pattern.record_id]
        assert store.rejected(cycle=3) == [("x" * 24, "synergy", ["range: bad"])]
        assert store.rejected(cycle=1) == []
        assert store.cycles() == [1, 3]
