"""The collector's frame path (`emit_frame`) gives what its per-record path (`emit_many`) gives for the same
records: the same stored rows and payloads, the same rejects with the same reasons, byte-identical exports and
the same stats. The input is a real small cycle's pattern, synergy and device-health records plus copies
broken in every way a frame can carry (out-of-range and non-finite values, bad labels, unknown and real
homes, duplicates, a cycle of its own)."""

from __future__ import annotations

import functools
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from broken_records import broken_health
from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.schema.ground_truth import GroundTruth
from homesim.schema.record_frames import RecordFrame, encode, frame_of, record_schema
from homesim.schema.records import DeviceHealthRecord, PatternRecord, StageRecord, SynergyRecord
from homesim.simulation.device_health import device_health_stage
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import NoModels
from homesim.simulation.pattern_detection import pattern_stage
from homesim.simulation.synergy_detection import synergy_stage
from homesim.training_data import validators as v
from homesim.training_data.collector import TrainingDataCollector, UnknownCollectionPointError
from homesim.training_data.exporters import Exporter
from homesim.training_data.lineage_tracker import LineageTracker, Source
from homesim.training_data.store import open_store
from homesim.workspace import EXPORT_METADATA_FILE, Workspace

CONFIG = GenerationConfig(homes=2, days=7, seed=11)
KINDS: dict[str, type[StageRecord]] = {
    "pattern": PatternRecord,
    "synergy": SynergyRecord,
    "device_health": DeviceHealthRecord,
}
MODEL_TYPES = ("pattern_detection", "gnn_synergy", "device_intelligence")


def _rid(n: int) -> str:
    return f"{n:024x}"


@functools.cache
def corpus() -> tuple[dict[str, list[Any]], dict[str, GroundTruth]]:
    """Per stage, a 2-home × 7-day cycle's records with broken copies among them."""
    by_stage: dict[str, list[Any]] = {name: [] for name in KINDS}
    truths: dict[str, GroundTruth] = {}
    for i in range(CONFIG.homes):
        view = HomeView.from_generated(generate_home(CONFIG, i))
        truths[view.key] = view.truth
        by_stage["pattern"] += pattern_stage(view, NoModels(), 1)
        by_stage["synergy"] += synergy_stage(view, NoModels(), 1)
        by_stage["device_health"] += device_health_stage(view, NoModels(), 1)
    pattern, synergy, health = (by_stage[name][0] for name in KINDS)
    truth = truths[pattern.home_key]
    fault = next(f for t in truths.values() for f in t.faults)
    nan = math.nan
    features = pattern.inputs.features
    by_stage["pattern"] += [
        pattern.model_copy(
            update={"record_id": _rid(1), "outputs": pattern.outputs.model_copy(update={"score": 1.7})}
        ),
        pattern.model_copy(
            update={
                "record_id": _rid(2),
                "home_key": "unknown-home",
                "label": pattern.label.model_copy(update={"is_pattern": True, "pattern_id": "nope"}),
            }
        ),
        pattern.model_copy(update={"record_id": _rid(3), "cycle": 2}),  # same content, another cycle
        pattern.model_copy(update={"record_id": _rid(4), "home_source": "real"}),
        pattern.model_copy(
            update={
                "record_id": _rid(5),
                "inputs": pattern.inputs.model_copy(
                    update={"features": features.model_copy(update={"confidence": nan, "support": -2})}
                ),
            }
        ),
        pattern.model_copy(update={"record_id": _rid(6), "scores": {"score": nan, "correct": 2.0}}),
        pattern.model_copy(update={"record_id": _rid(7), "home_key": "bad/home"}),
        pattern.model_copy(update={"record_id": "short"}),
        pattern.model_copy(  # names a true pattern but says it is none
            update={
                "record_id": _rid(8),
                "label": pattern.label.model_copy(
                    update={"is_pattern": False, "pattern_id": truth.patterns[0].id}
                ),
            }
        ),
        pattern.model_copy(update={"record_id": _rid(9), "model_version": "other"}),  # duplicate content
    ]
    by_stage["synergy"] += [
        synergy.model_copy(update={"record_id": _rid(20), "scores": {**synergy.scores, "score": -0.25}}),
        synergy.model_copy(update={"record_id": _rid(21), "model_version": "other"}),  # duplicate content
        synergy.model_copy(
            update={
                "record_id": _rid(22),
                "label": synergy.label.model_copy(
                    update={"kind": "none", "synergy_id": truth.synergies[0].id if truth.synergies else None}
                ),
            }
        ),
        synergy.model_copy(
            update={
                "record_id": _rid(23),
                "label": synergy.label.model_copy(update={"kind": "active", "synergy_id": "nope"}),
            }
        ),
    ]
    by_stage["device_health"] += [
        *broken_health(health, _rid(40), _rid(41)),
        health.model_copy(
            update={"record_id": _rid(42), "label": health.label.model_copy(update={"kind": "stuck"})}
        ),
        health.model_copy(  # healthy, yet names a fault
            update={"record_id": _rid(43), "label": health.label.model_copy(update={"fault_id": fault.id})}
        ),
        health.model_copy(
            update={"record_id": _rid(44), "inputs": health.inputs.model_copy(update={"window_end": "soon"})}
        ),
    ]
    # Re-emitted originals (same ids) too.
    for name in KINDS:
        by_stage[name] += by_stage[name][:2]
    return by_stage, truths


def outcome(root: Path, frames: bool) -> dict[str, Any]:
    """Collect the corpus (stage by stage, one batch each) with lineage and export every model type."""
    by_stage, truths = corpus()
    workspace = Workspace(root)
    with (
        open_store(workspace.training_store) as store,
        LineageTracker(workspace.lineage_db) as tracker,
    ):
        with TrainingDataCollector(
            store, truth_of=truths, batch_size=10**6, lineage=tracker, source=Source("test")
        ) as collector:
            for name, records in by_stage.items():
                if frames:
                    collector.emit_frame(name, frame_of(records, KINDS[name]))
                else:
                    collector.emit_many(records)
                    collector.flush()
        stats = collector.stats()
        rejected = sorted([list(r) for r in store.rejected()])
        exports: dict[str, Any] = {}
        for model_type in MODEL_TYPES:
            result = Exporter(workspace, store, truths=truths.get).export(model_type, None)
            meta = json.loads((result.directory / EXPORT_METADATA_FILE).read_text())
            exports[model_type] = {n: f["sha256"] for n, f in meta["files"].items() if n in meta["counts"]}
            exports[model_type]["counts"] = meta["counts"]
        payloads = hashlib.sha256()
        for model_type in MODEL_TYPES:
            for record_id, cycle, payload in store.accepted_rows(model_type):
                # The collect run's id differs between the two runs: mask it.
                payload = payload.replace(collector.run_id or "", "RUN")
                payloads.update(f"{model_type}\x1f{record_id}\x1f{cycle}\x1f{payload}\n".encode())
        lineage_groups = tracker._db.execute("SELECT COUNT(*) FROM record_batches").fetchone()[0]
    return {
        "stats": {k: v for k, v in stats.items() if k != "pending"},
        "rejected": rejected,
        "accepted_payloads_sha256": payloads.hexdigest(),
        "exports": exports,
        "lineage_groups": lineage_groups,
    }


def test_frame_path_gives_the_per_record_outcome(tmp_path: Path) -> None:
    per_record = outcome(tmp_path / "records", frames=False)
    framed = outcome(tmp_path / "frames", frames=True)
    assert framed["rejected"] == per_record["rejected"]  # same records, same reasons
    reasons = {reason.split(":")[0] for _, _, rs in per_record["rejected"] for reason in rs}
    assert {"schema", "range", "consistency", "duplicate"} <= reasons  # the bad records are rejected
    broken = {*map(_rid, (1, 4, 5, 6, 7, 8, 9, 20, 21, 22, 23, 40, 41, 42, 43, 44)), "short"}
    assert {record_id for record_id, _, _ in per_record["rejected"]} == broken
    assert framed["stats"] == per_record["stats"]
    assert framed["accepted_payloads_sha256"] == per_record["accepted_payloads_sha256"]
    assert framed["exports"] == per_record["exports"]
    assert framed == per_record


def test_encode_writes_what_pydantic_writes() -> None:
    by_stage, _ = corpus()
    for name, records in by_stage.items():
        assert encode(frame_of(records, KINDS[name])) == [r.model_dump_json() for r in records]


def test_emit_frame_refuses_a_frame_of_another_shape(tmp_path: Path) -> None:
    records = corpus()[0]["pattern"][:3]
    frame = frame_of(records, PatternRecord)
    with TrainingDataCollector(tmp_path / "records.sqlite") as collector:
        with pytest.raises(ValueError, match="not a PatternRecord frame"):
            collector.emit_frame("pattern", frame.drop("label"))
        with pytest.raises(ValueError, match="not a PatternRecord frame"):
            collector.emit_frame("pattern", frame.with_columns(pl.col("cycle").cast(pl.Float64)))
        with pytest.raises(UnknownCollectionPointError):
            collector.emit_frame("nope", frame)
        collector.emit_frame("pattern", frame.clear())  # an empty frame is fine: nothing to store
    assert collector.stats()["by_outcome"] == {"accepted": 0, "rejected": 0}


class _Sample(BaseModel):
    x: float
    y: float | None
    text: str
    items: tuple[str, ...]


@settings(max_examples=200, deadline=None)
@given(
    st.floats(allow_nan=True, allow_infinity=True),
    st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    st.text(),
    st.lists(st.text(max_size=5), max_size=3),
)
def test_encode_matches_pydantic_on_any_value(x: float, y: float | None, text: str, items: list[str]) -> None:
    sample = _Sample.model_construct(x=x, y=y, text=text, items=tuple(items))
    frame = pl.DataFrame(
        [sample.model_dump()],
        schema={"x": pl.Float64, "y": pl.Float64, "text": pl.String, "items": pl.List(pl.String)},
        orient="row",
    )
    assert encode(frame) == [sample.model_dump_json(warnings=False)]


STAGES = {"pattern": pattern_stage, "synergy": synergy_stage, "device_health": device_health_stage}


def test_the_stages_build_their_records_as_record_frames() -> None:
    """Each stage's frame has its record type's frame schema, and its rows are the stage's records: the
    JSON the collector stores for a row is the JSON pydantic writes for that record."""
    view = HomeView.from_generated(generate_home(CONFIG, 0))
    for name, stage in STAGES.items():
        produced = stage(view, NoModels(), 1)
        assert isinstance(produced, RecordFrame) and produced.frame.height > 0
        scores = produced.frame.schema["scores"]
        assert isinstance(scores, pl.Struct)
        assert produced.frame.schema == record_schema(KINDS[name], [f.name for f in scores.fields])
        assert encode(produced.frame) == [record.model_dump_json() for record in produced]
        assert len({record.record_id for record in produced}) == len(produced)


def _consistency() -> dict[str, tuple[list[Any], list[Any]]]:
    """Per stage, the consistency verdicts on the corpus (broken records included): column-wise on a frame
    batch, and record by record."""
    by_stage, truths = corpus()
    ctx = v.Context(truth_of=truths.get)
    validator = v.ConsistencyValidator()
    verdicts = {}
    for name, records in by_stage.items():
        batch = v.Batch.of_frame(KINDS[name], frame_of(records, KINDS[name]))
        framed = validator.check_batch(batch, ctx, [True] * len(records))
        one_by_one = [validator(r, r.model_dump_json(), ctx) for r in records]
        verdicts[name] = (framed, one_by_one)
    return verdicts


def test_the_consistency_check_is_one_rule_over_frames_and_records(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, (framed, one_by_one) in _consistency().items():
        assert framed == one_by_one, name
        assert any(verdict.reasons for verdict in one_by_one), name  # the broken labels are found
    # A field the rule reads but the frame check leaves out shows up (its records could not be checked),
    # so the two paths cannot drift apart silently.
    monkeypatch.setitem(v._READS, DeviceHealthRecord, (("home_key", "home_source", "label"), ()))
    framed, one_by_one = _consistency()["device_health"]
    assert framed != one_by_one
    assert any("could not check" in r for verdict in framed for r in verdict.reasons)
