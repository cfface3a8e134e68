"""load_training_data: what trainers get back, graphs per home, schema-version checks, unreadable files."""

from __future__ import annotations

import json

import polars as pl
import pytest

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.schema.records import AnyRecord
from homesim.simulation.cycle import DEFAULT_STAGES
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import MODEL_TYPES, ModelType, NoModels
from homesim.training_data.exporters import Exporter, MemorySource
from homesim.training_data.loading import ExportFormatError, load_training_data, read_chat, read_table
from homesim.training_data.schemas import DEVICES, TABLES, SchemaVersionError
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
