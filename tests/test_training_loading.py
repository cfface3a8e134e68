"""load_training_data: what trainers get back, graphs per home, schema-version checks, unreadable files."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import polars as pl
import pytest

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.io import IntegrityError
from homesim.schema.records import AnyRecord
from homesim.simulation.cycle import DEFAULT_STAGES
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import MODEL_TYPES, ModelType, NoModels
from homesim.training_data.exporters import Exporter, MemorySource
from homesim.training_data.loading import (
    SUFFIX,
    ExportFormatError,
    load_training_data,
    read_chat,
    read_table,
)
from homesim.training_data.schemas import DEVICES, TABLES, Format, SchemaVersionError
from homesim.training_data.validators import YAML, Context
from homesim.workspace import Workspace


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    view = HomeView.from_generated(generate_home(GenerationConfig(homes=1, days=14, seed=41), 0))
    stages = list(DEFAULT_STAGES)
    records: list[AnyRecord] = []
    for name, stage in stages:
        produced = list(stage(view, NoModels(), 0))
        view.upstream[name] = produced
        records.extend(produced)
    # Only what the collector accepts: an export re-validates its records and refuses the others.
    records = [r for r in records if YAML(r, "", Context()).score == 1.0]
    ws = Workspace(tmp_path_factory.mktemp("ws"))
    exporter = Exporter(ws, MemorySource(records), truths={view.truth.home_key: view.truth}.get)
    exporter.export_cycle(0)
    exporter.export_aggregated()
    return ws


@pytest.mark.parametrize("cycle", [0, None])
@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_loads_every_table(workspace: Workspace, model_type: ModelType, cycle: int | None) -> None:
    data = load_training_data(model_type, workspace, cycle)
    assert list(data.tables) == [spec.name for spec in TABLES[model_type]]
    for spec in TABLES[model_type]:
        assert data.tables[spec.name].schema == spec.polars_schema
        assert data.tables[spec.name].height > 0
    assert data.metadata["cycle"] == cycle and data.metadata["model_type"] == model_type


def test_graphs_per_home(workspace: Workspace) -> None:
    data = load_training_data("gnn_synergy", workspace)
    graphs = data.graphs()
    assert len(graphs) == 1
    g = graphs[0]
    assert g.edges.height == data.tables["synergies"].height
    assert set(g.edges["trigger_entity"]) <= set(g.nodes["entity_id"])
    with pytest.raises(ValueError, match="gnn_synergy"):
        load_training_data("soft_prompt", workspace).graphs()


def test_schema_versions(workspace: Workspace) -> None:
    path = workspace.training_data_dir / "cycle_0" / "device_intelligence" / "metadata.json"
    original = path.read_text()
    metadata = json.loads(original)
    try:
        path.write_text(json.dumps({**metadata, "schema_version": "1.1"}))  # same major: readable
        assert load_training_data("device_intelligence", workspace, 0).tables["devices"].height > 0
        path.write_text(json.dumps({**metadata, "schema_version": "0.9"}))
        with pytest.raises(SchemaVersionError, match=r"found schema_version '0.9', expected '1.0'"):
            load_training_data("device_intelligence", workspace, 0)
    finally:
        path.write_text(original)


def test_missing_and_corrupt_exports(workspace: Workspace) -> None:
    with pytest.raises(FileNotFoundError, match="homesim export"):
        load_training_data("soft_prompt", workspace, 7)
    csv = workspace.training_data_dir / "cycle_0" / "device_intelligence" / "devices.csv"
    bad = csv.with_name("bad.csv")
    bad.write_text(csv.read_text().replace(",healthy,", ",healthy,x,", 1))
    with pytest.raises(ExportFormatError, match=r"bad\.csv"):
        read_table(bad, DEVICES, "csv")
    chat = bad.with_name("bad.chat.jsonl")
    chat.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    with pytest.raises(ExportFormatError, match="system, user, assistant"):
        read_chat(chat)
    bad.unlink()
    chat.unlink()
    assert isinstance(load_training_data("device_intelligence", workspace, 0).tables["devices"], pl.DataFrame)


def test_an_export_whose_bytes_differ_from_its_metadata_is_refused(workspace: Workspace) -> None:
    """Regression (issue 18): inverting the label column of the aggregated patterns.parquet (its sha256 no
    longer matches metadata.json) was loaded, trained on and deployed."""
    path = workspace.training_data_dir / "aggregated" / "pattern_detection" / "patterns.parquet"
    original = path.read_bytes()
    frame = pl.read_parquet(path)
    try:
        frame.with_columns(~pl.col("label")).write_parquet(path)
        with pytest.raises(
            IntegrityError, match=rf"{path}: sha256 differs from the one recorded in .*metadata"
        ):
            load_training_data("pattern_detection", workspace, None)
        metadata_path = path.with_name("metadata.json")
        metadata = json.loads(metadata_path.read_text())
        path.write_bytes(original)
        del metadata["files"]["patterns.parquet"]
        metadata_path.write_text(json.dumps(metadata))
        with pytest.raises(IntegrityError, match=rf"{path}: no sha256 recorded"):
            load_training_data("pattern_detection", workspace, None)
        metadata["files"]["patterns.parquet"] = {"sha256": hashlib.sha256(original).hexdigest(), "rows": 0}
        metadata_path.write_text(json.dumps(metadata))
    finally:
        path.write_bytes(original)
    assert load_training_data("pattern_detection", workspace, None).tables["patterns"].equals(frame)


@pytest.mark.parametrize(
    ("model_type", "table", "fmt"),
    [
        ("device_intelligence", "devices", "csv"),
        ("device_intelligence", "devices", "json"),
        ("soft_prompt", "queries", "sqlite"),
        ("pattern_detection", "patterns", "parquet"),
    ],
)
def test_every_format_is_verified_then_parsed_from_the_checked_bytes(
    workspace: Workspace, model_type: ModelType, table: str, fmt: Format
) -> None:
    directory = workspace.training_data_dir / "cycle_0" / model_type
    files = {f: directory / f"{table}{suffix}" for f, suffix in SUFFIX.items() if f != "chat"}
    expected = load_training_data(model_type, workspace, 0).tables[table]
    moved = {f: p.read_bytes() for f, p in files.items() if f != fmt and p.is_file()}
    original = files[fmt].read_bytes()
    try:
        for f in moved:
            files[f].unlink()  # leave only `fmt`, so the loader must read it
        assert load_training_data(model_type, workspace, 0).tables[table].equals(expected)
        data = bytearray(original)
        data[len(data) // 2] ^= 0x01
        files[fmt].write_bytes(bytes(data))
        with pytest.raises(IntegrityError, match=re.escape(str(files[fmt]))):
            load_training_data(model_type, workspace, 0)
    finally:
        files[fmt].write_bytes(original)
        for f, content in moved.items():
            files[f].write_bytes(content)


def test_a_sqlite_column_null_in_its_first_rows_is_read(tmp_path: Path) -> None:
    """Column types come from every row, not the first hundred (a reason only late in the table)."""
    import sqlite3

    from homesim.training_data.schemas import Col, TableSpec

    spec = TableSpec("t", (Col("id", pl.Int64()), Col("reason", pl.String(), nullable=True)), key=("id",))
    path = tmp_path / "t.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (id INTEGER, reason TEXT)")
        db.executemany("INSERT INTO t VALUES (?, ?)", [(i, None if i < 150 else "late") for i in range(151)])
    db.close()
    frame = read_table(path, spec, "sqlite")
    assert frame.height == 151 and frame.get_column("reason").to_list()[-1] == "late"
