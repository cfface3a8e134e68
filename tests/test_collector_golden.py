"""The collector gives the same accepted records, reject reasons and exports as the per-record collector it
replaced: a real small cycle (every stage) plus records broken in every way a validator checks are
collected into both stores and exported; the outcome is compared with `tests/data/collector_golden.json`,
first written by the per-record collector of commit 777c523 on this input as generator 1.2.0 made it, then
rewritten for generator 1.3.0's, 1.4.0's and 1.5.0's homes (each time the same 13 rejects with the same
reasons; only the duplicates' original ids, the rejects' order and the accepted counts moved with the input),
and once more when the held-out homes became those of `homesim.splits`' index rule (the same rejects and
counts; Ask-AI's 48 requests reworded, since which homes word them as held-out changed).
`python tests/test_collector_golden.py` rewrites it: only do that for an intended change of outputs or of the
generated input.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from broken_records import broken_health
from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.schema.ground_truth import GroundTruth
from homesim.schema.records import (
    AnyRecord,
    AskAIRecord,
    AutomationRecord,
    DeviceHealthRecord,
    PatternRecord,
    SuggestionRecord,
    SynergyRecord,
)
from homesim.simulation.cycle import DEFAULT_STAGES
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import MODEL_TYPES, NoModels
from homesim.training_data.collector import TrainingDataCollector
from homesim.training_data.exporters import Exporter
from homesim.training_data.store import open_store
from homesim.workspace import EXPORT_METADATA_FILE, Workspace

GOLDEN = Path(__file__).parent / "data" / "collector_golden.json"
CONFIG = GenerationConfig(homes=2, days=7, seed=11)


def _first(records: list[AnyRecord], kind: type[Any]) -> Any:
    return next(r for r in records if isinstance(r, kind))


@functools.cache  # built once for both stores
def corpus() -> tuple[list[AnyRecord], dict[str, GroundTruth]]:
    """A real cycle's records (2 homes × 7 days, every stage) with broken copies mixed in."""
    records: list[AnyRecord] = []
    truths: dict[str, GroundTruth] = {}
    for i in range(CONFIG.homes):
        view = HomeView.from_generated(generate_home(CONFIG, i))
        truths[view.key] = view.truth
        for name, stage in DEFAULT_STAGES:
            view.upstream[name] = list(stage(view, NoModels(), 1))
            records += view.upstream[name]
    pattern, synergy = _first(records, PatternRecord), _first(records, SynergyRecord)
    health, automation = _first(records, DeviceHealthRecord), _first(records, AutomationRecord)
    suggestion, ask = _first(records, SuggestionRecord), _first(records, AskAIRecord)
    truth = truths[pattern.home_key]

    def rid(n: int) -> str:
        return f"{n:024x}"

    fields = pattern.model_dump(exclude={"outputs"})
    broken: list[AnyRecord] = [
        PatternRecord.model_construct(**{**fields, "record_id": rid(1)}),  # no outputs at all
        suggestion.model_copy(
            update={
                "record_id": rid(2),
                "outputs": suggestion.outputs.model_copy(update={"automation_spec": {}}),
            }
        ),
        pattern.model_copy(
            update={"record_id": rid(3), "outputs": pattern.outputs.model_copy(update={"score": 1.7})}
        ),
        synergy.model_copy(update={"record_id": rid(4), "scores": {"score": -0.25}}),
        *broken_health(health, rid(5), rid(6)),
        synergy.model_copy(update={"record_id": rid(7), "model_version": "other"}),  # duplicate content
        pattern.model_copy(
            update={
                "record_id": rid(8),
                "home_key": "unknown-home",
                "label": pattern.label.model_copy(update={"is_pattern": True, "pattern_id": "nope"}),
            }
        ),
        synergy.model_copy(
            update={
                "record_id": rid(9),
                "inputs": synergy.inputs.model_copy(update={"features": synergy.inputs.features}),
                "label": synergy.label.model_copy(
                    update={"kind": "none", "synergy_id": truth.synergies[0].id if truth.synergies else None}
                ),
            }
        ),
        health.model_copy(
            update={"record_id": rid(10), "label": health.label.model_copy(update={"kind": "stuck"})}
        ),
        automation.model_copy(
            update={
                "record_id": rid(11),
                "outputs": automation.outputs.model_copy(update={"yaml": "- id: x\n  triggers: [\n"}),
            }
        ),
        ask.model_copy(
            update={"record_id": rid(12), "inputs": ask.inputs.model_copy(update={"request": "  "})}
        ),
        suggestion.model_copy(
            update={
                "record_id": rid(13),
                "outputs": suggestion.outputs.model_copy(update={"title": "Turn on the {area} light"}),
            }
        ),
        pattern.model_copy(update={"record_id": rid(14), "cycle": 2}),  # same content, another cycle
        pattern.model_copy(update={"record_id": rid(15), "home_source": "real"}),
    ]
    # Broken records spread over the batches (one every 40 records), re-emitted originals included.
    mixed: list[AnyRecord] = []
    for i, record in enumerate(records):
        mixed.append(record)
        if i % 40 == 39 and broken:
            mixed.append(broken.pop(0))
    mixed += broken + records[:3]
    return mixed, truths


def outcome(root: Path, store_name: str) -> dict[str, Any]:
    """Collect the corpus (batches of 97) into `store_name` under `root` and export every model type."""
    records, truths = corpus()
    workspace = Workspace(root)
    with open_store(root / store_name) as store:
        with TrainingDataCollector(store, truth_of=truths, batch_size=97) as collector:
            collector.emit_many(records)
        stats = collector.stats()
        rejected = [list(r) for r in store.rejected()]
        exports: dict[str, Any] = {}
        for cycle in (1, 2, None):
            for model_type in MODEL_TYPES:
                result = Exporter(workspace, store, truths=truths.get).export(model_type, cycle)
                meta = json.loads((result.directory / EXPORT_METADATA_FILE).read_text())
                # Data files only: the dataset card's wording is not the collector's business.
                files = {n: f["sha256"] for n, f in meta["files"].items() if n in meta["counts"]}
                exports[f"{model_type}/{cycle}"] = {
                    "records": meta["records"],
                    "counts": meta["counts"],
                    "record_ids_sha256": meta["lineage"]["record_ids_sha256"],
                    "files": files,
                }
        payloads = hashlib.sha256()
        for model_type in MODEL_TYPES:
            for record_id, cycle, payload in store.accepted_rows(model_type):
                payloads.update(f"{model_type}\x1f{record_id}\x1f{cycle}\x1f{payload}\n".encode())
    return {
        "emitted": len(records),
        "stats": {k: v for k, v in stats.items() if k != "pending"},
        "rejected": rejected,
        "accepted_payloads_sha256": payloads.hexdigest(),
        "exports": exports,
    }


@pytest.mark.parametrize("store_name", ["records.sqlite", "staging"])
def test_same_outcome_as_the_per_record_collector(tmp_path: Path, store_name: str) -> None:
    golden = json.loads(GOLDEN.read_text())
    got = outcome(tmp_path, store_name)
    assert got["rejected"] == golden["rejected"]  # same records, same reasons, same order
    assert got["stats"] == golden["stats"]
    assert got["accepted_payloads_sha256"] == golden["accepted_payloads_sha256"]
    assert got["exports"] == golden["exports"]
    assert got == golden


if __name__ == "__main__":  # regenerate the golden (see the module docstring)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        result = outcome(Path(tmp) / "a", "records.sqlite")
        again = outcome(Path(tmp) / "b", "staging")
    if result != again:
        sys.exit("the two stores disagree; golden not written")
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}: {len(result['rejected'])} rejects, {len(result['exports'])} exports")
