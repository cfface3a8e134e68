"""Exporters: every model type in every format, re-validated, metadata, dataset card, dedup, prune, CLI."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
import typer
import yaml
from typer.testing import CliRunner

from homesim.cli import export as export_cli
from homesim.datasets.manager import DataGenerationManager
from homesim.generation.config import GenerationConfig
from homesim.schema.ground_truth import GroundTruth
from homesim.schema.records import AnyRecord
from homesim.simulation.cycle import DEFAULT_STAGES
from homesim.simulation.home_view import HomeView, load_home_view
from homesim.simulation.model_provider import MODEL_TYPES, ModelType, NoModels
from homesim.training_data import cards, exporters
from homesim.training_data.cards import SPLITS, home_split, split_frame
from homesim.training_data.collector import TrainingDataCollector
from homesim.training_data.exporters import Exporter, MemorySource, prune
from homesim.training_data.formatters import natural_key
from homesim.training_data.loading import ExportFormatError, read_metadata
from homesim.training_data.schemas import FORMATS, TABLES
from homesim.training_data.store import PARQUET_STAGING, RecordStore
from homesim.workspace import Workspace


class FakeTracker:
    def __init__(self) -> None:
        self.calls: list[tuple[Path, str, int | None, int]] = []

    def record_export(
        self, path: Path, model_type: str, cycle: int | None, record_ids: Sequence[str]
    ) -> None:
        self.calls.append((path, model_type, cycle, len(record_ids)))


def stage_records(views: Sequence[HomeView], cycle: int) -> list[AnyRecord]:
    """Every stage over each home, later stages seeing earlier ones' records (as `run_home` does)."""
    stages = list(DEFAULT_STAGES)
    records: list[AnyRecord] = []
    for view in views:
        view.upstream.clear()
        for name, stage in stages:
            produced = list(stage(view, NoModels(), cycle))
            view.upstream[name] = produced
            records.extend(produced)
    return records


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, list[AnyRecord]]:
    """Two homes in cycle 1, the first home again in cycle 2; generated into the workspace (home folders
    with their manifests, which the exporters' ground-truth reads are checked against)."""
    workspace = Workspace(tmp_path_factory.mktemp("ws"))
    config = GenerationConfig(homes=2, days=14, seed=23)
    with DataGenerationManager(workspace, "inline") as manager:
        generated = manager.generate(config)
    views = [load_home_view(h.directory, config) for h in generated.homes if h.directory is not None]
    return workspace, stage_records(views, 1) + stage_records(views[:1], 2)


@pytest.fixture(scope="module")
def exported(corpus: tuple[Workspace, list[AnyRecord]]) -> tuple[Workspace, FakeTracker]:
    workspace, records = corpus
    tracker = FakeTracker()
    exporter = Exporter(workspace, MemorySource(records), tracker=tracker)
    exporter.export_cycle(1)
    exporter.export_cycle(2)
    exporter.export_aggregated()
    return workspace, tracker


def _rows(path: Path) -> int:
    if path.name.endswith(".chat.jsonl"):
        return len(path.read_text().splitlines())
    if path.suffix == ".parquet":
        return pl.read_parquet(path).height
    if path.suffix == ".csv":
        return pl.read_csv(path).height
    if path.suffix == ".sqlite":
        with sqlite3.connect(path) as db:
            (n,) = db.execute(f'SELECT count(*) FROM "{path.stem}"').fetchone()
        return int(n)
    return len(json.loads(path.read_text())["rows"])


@pytest.mark.parametrize("folder", ["cycle_1", "aggregated"])
@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_every_format_is_written_with_exact_metadata(
    exported: tuple[Workspace, FakeTracker], model_type: ModelType, folder: str
) -> None:
    workspace, _ = exported
    directory = workspace.training_data_dir / folder / model_type
    metadata = read_metadata(directory)
    suffixes = {"json": ".json", "parquet": ".parquet", "sqlite": ".sqlite", "csv": ".csv", "chat": ".jsonl"}
    written = {
        p.suffix for p in directory.iterdir() if p.is_file() and p.name not in ("metadata.json", "README.md")
    }
    assert written == {suffixes[f] for f in FORMATS[model_type]}
    assert metadata["records"] > 0 and metadata["lineage"]["record_ids"] == metadata["records"]
    assert metadata["source_cycles"] == ([1] if folder == "cycle_1" else [1, 2])
    on_disk = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()} - {
        "metadata.json"
    }
    assert set(metadata["files"]) == on_disk
    for name, info in metadata["files"].items():
        path = directory / name
        assert info["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        if name.startswith("splits/"):  # a table's rows again, split by home
            split, table = name.split("/")[1:]
            assert info["rows"] == metadata["splits"]["rows"][table.split(".")[0]][split] == _rows(path)
        elif name != "README.md":
            assert metadata["counts"][name] == info["rows"] == _rows(path)
    assert not [p for p in directory.parent.iterdir() if p.name.startswith(".")]  # no staging left


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_dataset_card_points_at_existing_files(
    exported: tuple[Workspace, FakeTracker], model_type: str
) -> None:
    workspace, _ = exported
    directory = workspace.training_data_dir / "cycle_1" / model_type
    front = (directory / "README.md").read_text().split("---\n")[1]
    configs = yaml.safe_load(front)["configs"]
    assert configs[0]["config_name"] == "default"
    for config in configs:
        for files in config["data_files"]:
            assert (directory / files["path"]).is_file()


def test_parquet_is_zstd_and_loads_with_polars(exported: tuple[Workspace, FakeTracker]) -> None:
    workspace, _ = exported
    for path in workspace.training_data_dir.glob("*/*/*.parquet"):
        meta = pq.ParquetFile(path).metadata
        assert meta.num_row_groups == 0 or meta.row_group(0).column(0).compression == "ZSTD"
        assert pl.read_parquet(path).height == meta.num_rows


def test_chat_jsonl_has_system_user_assistant(exported: tuple[Workspace, FakeTracker]) -> None:
    workspace, _ = exported
    lines = (
        workspace.training_data_dir / "cycle_1" / "yaml_generation" / "yaml_pairs.chat.jsonl"
    ).read_text()
    examples = [json.loads(line) for line in lines.splitlines()]
    assert examples
    for example in examples:
        assert [m["role"] for m in example["messages"]] == ["system", "user", "assistant"]
        assert yaml.safe_load(example["messages"][2]["content"])  # the answer is YAML


def test_aggregated_deduplicates_newest_cycle_wins(
    corpus: tuple[Workspace, list[AnyRecord]], exported: tuple[Workspace, FakeTracker]
) -> None:
    workspace, records = corpus
    home0 = records[0].home_key
    patterns = [r for r in records if r.stage == "pattern"]
    aggregated = workspace.training_data_dir / "aggregated"
    agg = pl.read_parquet(aggregated / "pattern_detection" / "patterns.parquet")
    assert agg.height == len({natural_key(r) for r in patterns}) < len(patterns)
    assert set(agg.filter(pl.col("home_key") == home0)["cycle"]) == {2}
    assert set(agg.filter(pl.col("home_key") != home0)["cycle"]) == {1}
    nodes = pl.read_parquet(aggregated / "gnn_synergy" / "entities.parquet")
    assert nodes.select("home_key", "entity_id").is_unique().all()


def test_tracker_hears_of_every_exported_file(exported: tuple[Workspace, FakeTracker]) -> None:
    _, tracker = exported
    paths = {call[0] for call in tracker.calls}
    assert all(p.is_file() for p in paths)
    assert {(c[1], c[2]) for c in tracker.calls} >= {("gnn_synergy", None), ("soft_prompt", 1)}
    # Files of record rows are linked to their records; entities and ground truth hold no record rows.
    for path, _, _, ids in tracker.calls:
        assert (ids > 0) == (path.name.split(".")[0] not in ("entities", "ground_truth")), path


def test_format_filter_and_failed_export_keeps_the_old_one(
    corpus: tuple[Workspace, list[AnyRecord]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = Workspace(tmp_path)
    exporter = Exporter(workspace, MemorySource(corpus[1]), truths=lambda key: None)
    result = exporter.export("device_intelligence", 1, ["csv"])
    assert sorted(p.name for p in result.directory.iterdir()) == [
        "README.md",
        "devices.csv",
        "metadata.json",
        "splits",
    ]
    with pytest.raises(ValueError, match="none was requested"):
        exporter.export("device_intelligence", 1, ["parquet"])
    before = {p: p.read_bytes() for p in result.directory.rglob("*") if p.is_file()}

    def broken(*args: object) -> pl.DataFrame:
        raise ExportFormatError("re-read failed")

    monkeypatch.setattr(exporters, "read_table", broken)
    with pytest.raises(ExportFormatError):
        exporter.export("device_intelligence", 1)
    assert {p: p.read_bytes() for p in result.directory.rglob("*") if p.is_file()} == before
    assert [p.name for p in result.directory.parent.iterdir()] == ["device_intelligence"]


def test_prune_keeps_newest_cycles_and_aggregated(
    corpus: tuple[Workspace, list[AnyRecord]], tmp_path: Path
) -> None:
    workspace = Workspace(tmp_path)
    records = [
        r.model_copy(update={"cycle": c}) for c in (1, 2, 3, 10) for r in corpus[1] if r.stage == "ask_ai"
    ]
    exporter = Exporter(workspace, MemorySource(records), truths=lambda key: None)
    for c in (1, 2, 3, 10):
        exporter.export("soft_prompt", c, ["json"])
    exporter.export("soft_prompt", None, ["json"])
    removed = prune(workspace, 2)
    assert sorted(p.name for p in removed) == ["cycle_1", "cycle_2"]
    assert sorted(p.name for p in workspace.training_data_dir.iterdir()) == [
        "aggregated",
        "cycle_10",
        "cycle_3",
    ]


def test_cli_export_and_prune(
    corpus: tuple[Workspace, list[AnyRecord]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = Workspace(tmp_path)
    ws = ["--workspace", str(tmp_path)]
    app = typer.Typer()
    export_cli.register(app)
    runner = CliRunner()
    missing = runner.invoke(app, ["export", "--cycle", "2", *ws])
    assert missing.exit_code == 2 and "no collected records" in missing.output
    assert runner.invoke(app, ["export", "--cycle", "2", "--format", "xml", *ws]).exit_code == 2
    # Records staged as Parquet (no SQLite store): the CLI finds them.
    with TrainingDataCollector(workspace.training_data_dir / PARQUET_STAGING) as collector:
        collector.emit_many(corpus[1])
    # No cycle report (the records were collected here, not simulated): accepted as partial, with a warning.
    result = runner.invoke(
        app, ["export", "--cycle", "2", "--model-type", "soft_prompt", "--allow-partial", *ws]
    )
    assert result.exit_code == 0, result.output
    assert (workspace.training_data_dir / "cycle_2" / "soft_prompt" / "queries.sqlite").is_file()
    assert workspace.lineage_db.is_file()
    result = runner.invoke(app, ["export", "--aggregated", "--format", "parquet", *ws])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (workspace.training_data_dir / "aggregated").iterdir()) == [
        "activity_recognition",
        "gnn_synergy",
        "pattern_detection",
    ]
    assert runner.invoke(app, ["export", *ws]).exit_code == 2
    assert runner.invoke(app, ["export", "--cycle", "1", "--model-type", "nope", *ws]).exit_code == 2
    assert (
        runner.invoke(
            app, ["export", "--cycle", "1", "--model-type", "soft_prompt", "--format", "csv", *ws]
        ).exit_code
        == 2
    )
    result = runner.invoke(app, ["training-data", "prune", "--keep-cycles", "0", *ws])
    assert result.exit_code == 0 and "1 cycle folder(s) removed" in result.output
    assert (workspace.training_data_dir / "aggregated").is_dir()


def test_reads_the_real_record_store(corpus: tuple[Workspace, list[AnyRecord]], tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    asks = [r for r in corpus[1] if r.stage == "ask_ai" and r.cycle == 1]
    workspace.training_data_dir.mkdir(parents=True)
    with RecordStore(workspace.training_store) as store:
        store.add_accepted([(r, 1.0, ("soft_prompt",)) for r in asks])
        assert store.cycles() == [1]
        result = Exporter(workspace, store, truths=lambda key: None).export("soft_prompt", 1)
    assert result.records == result.counts["queries.sqlite"] == len(asks)


def _id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]  # a record id's length


@pytest.fixture(scope="module")
def split_export(
    corpus: tuple[Workspace, list[AnyRecord]], tmp_path_factory: pytest.TempPathFactory
) -> Workspace:
    """Cycle 1 exported with each real home's records copied under new home keys, chosen so that every
    split holds homes (two real homes alone would all land in `train`)."""
    source, records = corpus
    originals = sorted({r.home_key for r in records if r.cycle == 1})
    keys: dict[str, list[str]] = {s: [] for s in SPLITS}
    for i in range(1_000):
        key = f"h{i:06d}-split"
        if len(keys[home_split(key)]) < 2:
            keys[home_split(key)].append(key)
    clones = [key for split in SPLITS for key in keys[split]]
    original_of = {key: originals[n % len(originals)] for n, key in enumerate(clones)}
    copies = [
        r.model_copy(
            update={
                "home_key": key,
                "record_id": hashlib.sha256(f"{r.record_id}{n}".encode()).hexdigest()[:24],
            }
        )
        for n, key in enumerate(clones)
        for r in records
        if r.cycle == 1 and r.home_key == original_of[key]
    ]
    truths = exporters.workspace_truths(source)

    def truth(key: str) -> GroundTruth | None:
        found = truths(original_of[key])
        return None if found is None else found.model_copy(update={"home_key": key})

    workspace = Workspace(tmp_path_factory.mktemp("split-export"))
    Exporter(workspace, MemorySource(copies), truths=truth).export_cycle(1)
    return workspace


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_export_loads_with_datasets_split_by_home(
    split_export: Workspace, model_type: ModelType, capfd: pytest.CaptureFixture[str]
) -> None:
    """`datasets.load_dataset(<export folder>)` gets train/validation/test, split by home, and the card
    (huggingface_hub's `DatasetCard`) has the licence, task categories, size and every table's features."""
    datasets = pytest.importorskip("datasets")
    from huggingface_hub import DatasetCard

    directory = split_export.export_dir(model_type, 1)
    metadata = read_metadata(directory)
    cache = directory.parent.parent / ".hf-cache"
    card = DatasetCard.load(directory / "README.md")
    assert card.data.license == "apache-2.0" and card.data.task_categories == cards.TASKS[model_type]
    assert card.data.size_categories == cards.size_category(
        sum(sum(r.values()) for r in metadata["splits"]["rows"].values())
    )
    infos = {i["config_name"]: i for i in card.data.dataset_info}
    read = datasets.info.DatasetInfosDict.from_dataset_card_data(card.data)  # as `datasets` reads the card
    assert "Ignoring" not in capfd.readouterr().err  # it says so when the card's split info is malformed
    for n, spec in enumerate(TABLES[model_type]):
        config = "default" if n == 0 else spec.name
        loaded = datasets.load_dataset(str(directory), config, cache_dir=str(cache))
        assert list(loaded) == list(SPLITS)
        homes = {split: set(loaded[split]["home_key"]) for split in SPLITS}
        assert all(homes.values()), homes  # every split holds homes…
        for split, keys in homes.items():  # …each in the split its key says, so in no other
            assert {home_split(k) for k in keys} == {split}
        assert sum(loaded[s].num_rows for s in SPLITS) == _rows(directory / cards_stored(metadata, spec.name))
        info = infos[config]
        assert {s: read[config].splits[s].num_examples for s in SPLITS} == {
            s: loaded[s].num_rows for s in SPLITS
        }
        assert [f["name"] for f in info["features"]] == [c.name for c in spec.columns]
        assert list(loaded["train"].features) == [c.name for c in spec.columns]
        assert {s["name"]: s["num_examples"] for s in info["splits"]} == {
            s: loaded[s].num_rows for s in SPLITS
        }
    for column in (c for spec in TABLES[model_type] for c in spec.columns):
        assert f"| `{column.name}` |" in card.text and cards.column_doc("", column.name)


def cards_stored(metadata: dict[str, object], table: str) -> str:
    """The file of `table` that the card points at (its split files' name)."""
    files = metadata["files"]
    assert isinstance(files, dict)
    return next(name.split("/")[-1] for name in files if name.startswith(f"splits/train/{table}."))


def test_split_is_by_home_and_matches_the_evaluators_held_out_homes() -> None:
    from homesim.retraining.model_evaluator import is_validation_home

    keys = [f"h{i:06d}-{i * 7919 % 10007:x}" for i in range(2_000)]
    splits = [home_split(k) for k in keys]
    assert [home_split(k) for k in keys] == splits  # deterministic
    assert all((s != "train") == is_validation_home(k) for k, s in zip(keys, splits, strict=True))
    shares = {s: splits.count(s) / len(keys) for s in SPLITS}
    assert 0.77 < shares["train"] < 0.83 and 0.07 < shares["test"] < 0.13
    frame = pl.DataFrame({"home_key": keys, "n": range(len(keys))})
    parts = split_frame(frame)
    assert sum(p.height for p in parts.values()) == frame.height
    assert all(
        set(parts[s]["home_key"]) == {k for k, t in zip(keys, splits, strict=True) if t == s} for s in SPLITS
    )
