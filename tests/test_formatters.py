"""Formatters: records → typed frames that pass their pandera schemas; natural keys, dedup, chat format."""

from __future__ import annotations

import polars as pl
import pytest

from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.schema.records import AnyRecord, AutomationRecord
from homesim.simulation.cycle import DEFAULT_STAGES
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import ModelType, NoModels
from homesim.training_data.formatters import (
    CHAT_SYSTEM_PROMPT,
    chat_examples,
    dedupe_newest,
    format_records,
    format_yaml_generation,
    natural_key,
)
from homesim.training_data.loading import ExportFormatError, validate_table
from homesim.training_data.schemas import PATTERNS, TABLES

STAGE_OF: dict[ModelType, str] = {
    "gnn_synergy": "synergy",
    "pattern_detection": "pattern",
    "soft_prompt": "ask_ai",
    "yaml_generation": "automation",
    "device_intelligence": "device_health",
}


@pytest.fixture(scope="module")
def home() -> tuple[HomeView, list[AnyRecord]]:
    view = HomeView.from_generated(generate_home(GenerationConfig(homes=1, days=14, seed=31), 0))
    stages = list(DEFAULT_STAGES)
    records: list[AnyRecord] = []
    for name, stage in stages:
        produced = list(stage(view, NoModels(), 3))
        view.upstream[name] = produced
        records.extend(produced)
    return view, records


@pytest.mark.parametrize("model_type", list(STAGE_OF))
def test_frames_match_their_schemas(home: tuple[HomeView, list[AnyRecord]], model_type: ModelType) -> None:
    view, records = home
    mine = [r for r in records if r.stage == STAGE_OF[model_type]]
    tables = format_records(model_type, mine, {view.truth.home_key: view.truth})
    assert list(tables) == [spec.name for spec in TABLES[model_type]]
    for spec in TABLES[model_type]:
        frame = validate_table(tables[spec.name], spec, "test")
        assert frame.schema == spec.polars_schema and frame.height > 0
    first = tables[TABLES[model_type][0].name]
    assert first.height == len(mine) and first["record_id"].to_list() == [r.record_id for r in mine]


def test_labels_and_nodes(home: tuple[HomeView, list[AnyRecord]]) -> None:
    view, records = home
    synergies = [r for r in records if r.stage == "synergy"]
    tables = format_records("gnn_synergy", synergies, {})
    edges, nodes = tables["synergies"], tables["entities"]
    assert (edges["label"] == edges["label_kind"].is_in(["active", "potential"])).all()
    assert set(edges["trigger_entity"]) | set(edges["action_entity"]) == set(nodes["entity_id"])
    truth = format_records("pattern_detection", [r for r in records if r.stage == "pattern"], {})
    assert truth["ground_truth"].height == 0  # no truth given, no truth rows
    full = format_records(
        "pattern_detection", [r for r in records if r.stage == "pattern"], {view.truth.home_key: view.truth}
    )
    assert full["ground_truth"].height == len(view.truth.patterns)


def test_wrong_record_type_is_refused(home: tuple[HomeView, list[AnyRecord]]) -> None:
    _, records = home
    with pytest.raises(TypeError, match="gnn_synergy exports SynergyRecords"):
        format_records("gnn_synergy", [r for r in records if r.stage == "pattern"][:1], {})


def test_natural_key_ignores_cycle_and_dedupe_keeps_newest(home: tuple[HomeView, list[AnyRecord]]) -> None:
    _, records = home
    automations = [r for r in records if isinstance(r, AutomationRecord)]
    later = [r.model_copy(update={"cycle": 5, "record_id": "f" * 24}) for r in automations[:1]]
    assert natural_key(later[0]) == natural_key(automations[0])
    kept = dedupe_newest(automations + later)
    assert len(kept) == len({natural_key(r) for r in automations})
    assert later[0] in kept and automations[0] not in kept


def test_chat_examples_only_teach_valid_yaml(home: tuple[HomeView, list[AnyRecord]]) -> None:
    _, records = home
    automations = [r for r in records if isinstance(r, AutomationRecord)]
    broken = automations[0].model_copy(
        update={"outputs": automations[0].outputs.model_copy(update={"valid": False}), "record_id": "e" * 24}
    )
    pairs = format_yaml_generation([*automations, broken])["yaml_pairs"]
    examples = chat_examples(pairs)
    assert (
        len(examples)
        == pairs["valid"].sum()
        == len(automations) - sum(not r.outputs.valid for r in automations)
    )
    assert examples[0]["messages"][0] == {"role": "system", "content": CHAT_SYSTEM_PROMPT}
    assert examples[0]["messages"][2]["content"] == pairs.filter(pl.col("valid"))["yaml"][0]


def test_out_of_range_values_fail_the_schema(home: tuple[HomeView, list[AnyRecord]]) -> None:
    _, records = home
    patterns = format_records("pattern_detection", [r for r in records if r.stage == "pattern"], {})[
        "patterns"
    ]
    with pytest.raises(ExportFormatError, match="score"):
        validate_table(patterns.with_columns(score=pl.lit(1.5)), PATTERNS, "bad")
    with pytest.raises(ExportFormatError, match="patterns"):
        validate_table(pl.concat([patterns, patterns.head(1)]), PATTERNS, "dup")
