"""Runs own their cycles: a `homesim run` started after an ad-hoc `simulate --cycle 1` collects, exports and
trains only on the records it produced, and leaves the ad-hoc session's records and exports untouched."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import polars as pl
import pytest
from typer.testing import CliRunner

from homesim.cli import app
from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.retraining import models, registry
from homesim.retraining.loop import LoopConfig, RetrainingLoop
from homesim.retraining.models.base import Trainer
from homesim.retraining.retraining_manager import RetrainingConfig
from homesim.simulation.cycle import find_dataset
from homesim.simulation.model_provider import ModelType
from homesim.simulation.pattern_detection import pattern_stage
from homesim.training_data.exporters import Exporter
from homesim.training_data.lineage_tracker import LineageTracker
from homesim.training_data.loading import TrainingData
from homesim.training_data.run_and_collect import run_and_collect
from homesim.training_data.store import RecordStore
from homesim.workspace import Workspace
from test_model_evaluator import FakeTrainer

MT: ModelType = "pattern_detection"
STAGES = [("pattern", pattern_stage)]
#: The run's seed (its 3 homes hold a training and a held-out home whatever the seed: `homesim.splits`).
SEED = 0


class RecordingTrainer(FakeTrainer):
    """FakeTrainer that remembers the homes of every example it was given."""

    homes: ClassVar[set[str]] = set()

    def examples(self, data: TrainingData) -> pl.DataFrame:
        examples = super().examples(data)
        RecordingTrainer.homes.update(examples.get_column("home_key").to_list())
        return examples


@pytest.fixture
def recording_trainer(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[RecordingTrainer]]:
    trainer = RecordingTrainer(column="confidence")

    def get_trainer(model_type: ModelType) -> Trainer:
        assert model_type == MT
        return trainer

    monkeypatch.setattr(models, "get_trainer", get_trainer)
    monkeypatch.setattr(registry, "get_trainer", get_trainer)
    RecordingTrainer.homes = set()
    yield RecordingTrainer


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*.json")
    }


def test_a_run_after_an_ad_hoc_simulate_trains_only_on_its_own_records(
    recording_trainer: type[RecordingTrainer], tmp_path: Path
) -> None:
    ws = Workspace(tmp_path)
    with DataGenerationManager(ws, "inline", workers=1) as manager:
        ad_hoc = manager.generate(GenerationConfig.build({"homes": 2, "days": 7, "seed": 99})).manifest
    run_and_collect(ws, ad_hoc.dataset_id, 1, executor="inline", workers=1, stages=STAGES)
    with RecordStore(ws.training_store) as store, LineageTracker(ws.lineage_db) as tracker:
        Exporter(ws, store, tracker=tracker).export_cycle(1, [MT])
        ad_hoc_ids = set(tracker.records_of_cycle(1))
    exports_before = _digests(ws.training_data_dir)
    assert ad_hoc_ids and exports_before

    config = LoopConfig(
        cycles=1,
        homes=3,
        days=7,
        seed=SEED,
        workers=1,
        executor="inline",
        models=(MT,),
        exports=(),
        retraining=RetrainingConfig.model_validate(
            {
                "models": [MT],
                "seed": SEED,
                "resamples": 20,
                "validation_share": 0.5,
                "sufficiency": {MT: {"min_records": 10, "min_homes": 2, "min_per_class": 1}},
            }
        ),
    )
    run = RetrainingLoop(ws, config, stages=STAGES).run()
    run_homes = set(find_dataset(ws, run["cycles"][0]["dataset_id"]).home_keys)
    assert not run_homes & set(ad_hoc.home_keys)

    # The ad-hoc session is untouched: its records, lineage and cycle_1 export.
    assert _digests(ws.training_data_dir) == exports_before
    with LineageTracker(ws.lineage_db) as tracker:
        assert set(tracker.records_of_cycle(1)) == ad_hoc_ids
    # The run's cycle 1 holds only its own records, and training saw only its homes.
    run_ws = ws.for_run(run["run_id"])
    with LineageTracker(run_ws.lineage_db) as tracker:
        run_ids = set(tracker.records_of_cycle(1))
    assert run_ids and not run_ids & ad_hoc_ids
    assert run["cycles"][0]["models"][MT]["candidate"] == "v1"
    assert recording_trainer.homes and recording_trainer.homes <= run_homes
    with RecordStore(run_ws.training_store) as store:
        assert store.cycles() == [1]

    # Asking the ad-hoc session for a cycle only a run has names the run to ask instead.
    runner = CliRunner()
    missing = runner.invoke(app, ["export", "--cycle", "2", "--workspace", str(ws.root)])
    assert missing.exit_code == 2
    (tmp_path / "training_data" / "records.sqlite").rename(tmp_path / "moved.sqlite")
    ambiguous = runner.invoke(app, ["export", "--cycle", "1", "--workspace", str(ws.root)])
    assert ambiguous.exit_code == 2 and f"--run {run['run_id']}" in ambiguous.output
    (tmp_path / "lineage.sqlite").rename(tmp_path / "moved-lineage.sqlite")
    lineage = runner.invoke(app, ["lineage", "query", "--cycle", "1", "--workspace", str(ws.root)])
    assert lineage.exit_code == 2 and f"--run {run['run_id']}" in lineage.output
    args = ["lineage", "query", "--cycle", "1", "--run", "latest", "--json", "--workspace", str(ws.root)]
    queried = runner.invoke(app, args)
    assert queried.exit_code == 0 and queried.output.startswith("{"), queried.output
    assert json.loads(queried.output)["records"] == len(run_ids), queried.output
    ran = runner.invoke(app, ["export", "--cycle", "1", "--run", "latest", "--workspace", str(ws.root)])
    assert ran.exit_code == 0, ran.output
    assert (run_ws.export_dir(MT, 1) / "metadata.json").is_file()
