"""The exported tables' contracts: column names, polars dtypes and pandera (polars) schemas, per model type.

One `TableSpec` per exported table is the single source of truth: formatters build frames with its polars
schema, exporters validate every written file against its pandera schema after re-reading it, and loaders
validate what they read. `SCHEMA_VERSION` versions all of them together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import pandera.polars as pa
import polars as pl

from homesim.schema.activities import ACTIVITIES, ROOMS
from homesim.simulation.model_provider import ModelType

#: Version of every exported table and file layout. Minor versions only add columns; a reader accepts
#: any file of the same major version and refuses others (see `check_schema_version`).
SCHEMA_VERSION: Final = "1.0"


class SchemaVersionError(ValueError):
    """An export was written with a schema version this reader cannot read."""


def check_schema_version(found: str, where: str) -> None:
    """Accept `found` if it has the same major version as `SCHEMA_VERSION`; else raise a clear error."""
    if found.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise SchemaVersionError(
            f"{where}: found schema_version {found!r}, expected {SCHEMA_VERSION!r} "
            f"(any {SCHEMA_VERSION.split('.')[0]}.x); re-export it with this homesim version"
        )


@dataclass(frozen=True)
class Col:
    """One column: polars dtype, nullability and pandera checks."""

    name: str
    dtype: pl.DataType
    nullable: bool = False
    checks: tuple[pa.Check, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """An exported table: its file stem, columns and the natural key rows are deduplicated on."""

    name: str
    columns: tuple[Col, ...]
    key: tuple[str, ...]

    @property
    def polars_schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.dtype for c in self.columns})

    @property
    def pandera(self) -> pa.DataFrameSchema:
        return pa.DataFrameSchema(
            {c.name: pa.Column(c.dtype, list(c.checks), nullable=c.nullable) for c in self.columns},
            name=self.name,
            strict=True,
            ordered=True,
            unique=list(self.key),
        )

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.polars_schema)


_S, _I, _F, _B = pl.String(), pl.Int64(), pl.Float64(), pl.Boolean()
_NONNEG = (pa.Check.ge(0),)
_UNIT = (pa.Check.in_range(0, 1),)


def _str(name: str, nullable: bool = False) -> Col:
    return Col(name, _S, nullable)


def _count(name: str) -> Col:
    return Col(name, _I, checks=_NONNEG)


def _pos(name: str, nullable: bool = False) -> Col:
    return Col(name, _F, nullable, _NONNEG)


def _unit(name: str, nullable: bool = False) -> Col:
    return Col(name, _F, nullable, _UNIT)


_PROVENANCE = (_str("record_id"), Col("cycle", _I, checks=_NONNEG), _str("home_key"))
_MODEL = (_str("model_version", nullable=True),)

SYNERGIES = TableSpec(
    "synergies",
    (
        *_PROVENANCE,
        _str("trigger_entity"),
        _str("trigger_state"),
        _str("action_entity"),
        _str("action_state"),
        Col("same_area", _B),
        Col("same_floor", _B),
        _count("co_1m"),
        _count("co_5m"),
        _count("co_30m"),
        _count("trigger_activations"),
        _count("action_activations"),
        _pos("forward_ratio"),
        _pos("backward_ratio"),
        Col("excess_5m", _F),
        Col("lag_hist", pl.List(_F)),
        _pos("lag_median_s"),
        Col("compatible_domains", _B),
        _unit("score"),
        Col("predicted", _B),
        Col("threshold", _F),
        Col("label_kind", _S, checks=(pa.Check.isin(["active", "potential", "decoy", "none"]),)),
        Col("label", _B),
        _str("synergy_id", nullable=True),
        _str("relation", nullable=True),
        *_MODEL,
    ),
    key=("record_id",),
)

ENTITIES = TableSpec(
    "entities",
    (
        Col("cycle", _I, checks=_NONNEG),
        _str("home_key"),
        _str("entity_id"),
        _str("domain"),
        _str("device_class", nullable=True),
        _str("area_id", nullable=True),
        _str("floor_id", nullable=True),
        _pos("events_per_day"),
        _unit("active_share"),
    ),
    key=("cycle", "home_key", "entity_id"),
)

PATTERNS = TableSpec(
    "patterns",
    (
        *_PROVENANCE,
        Col("kind", _S, checks=(pa.Check.isin(["time_of_day", "sequence", "environment", "presence"]),)),
        _str("trigger_entity", nullable=True),
        _str("trigger_state", nullable=True),
        _str("trigger_variable", nullable=True),
        Col("trigger_threshold", _F, nullable=True),
        _str("action_entity"),
        _str("action_state"),
        _count("support"),
        _count("opportunities"),
        _pos("confidence"),
        _unit("regularity"),
        _pos("lift"),
        _pos("time_spread_h"),
        Col("median_hour", _F, checks=(pa.Check.ge(0), pa.Check.lt(24))),
        _pos("lag_median_s"),
        _pos("lag_iqr_s"),
        _unit("weekday_share"),
        _count("action_events"),
        Col("days", _I, checks=(pa.Check.ge(1),)),
        _unit("score"),
        Col("predicted", _B),
        Col("threshold", _F),
        Col("label", _B),
        _str("pattern_id", nullable=True),
        _str("pattern_type", nullable=True),
        *_MODEL,
    ),
    key=("record_id",),
)

GROUND_TRUTH = TableSpec(
    "ground_truth",
    (
        _str("home_key"),
        _str("pattern_id"),
        _str("type"),
        _str("description"),
        _str("trigger_kind"),
        _str("trigger"),
        Col("trigger_entities", pl.List(_S)),
        Col("action_entities", pl.List(_S)),
        _str("actions"),
        _unit("probability"),
        _count("occurrences"),
    ),
    key=("home_key", "pattern_id"),
)

QUERIES = TableSpec(
    "queries",
    (
        *_PROVENANCE,
        Col("query", _S, checks=(pa.Check.str_length(min_value=1),)),
        _str("context"),
        _str("intent_family"),
        Col("turn", _I, checks=_NONNEG),
        _str("response"),
        Col("outcome", _S, checks=(pa.Check.isin(["create", "clarify", "refuse"]),)),
        _str("automation_yaml", nullable=True),
        Col("expected_outcome", _S, checks=(pa.Check.isin(["create", "clarify", "refuse"]),)),
        _str("intended_automation", nullable=True),
        Col("approved", _B),
        _str("reason", nullable=True),
        *_MODEL,
    ),
    key=("record_id",),
)

YAML_PAIRS = TableSpec(
    "yaml_pairs",
    (
        *_PROVENANCE,
        Col("source", _S, checks=(pa.Check.isin(["suggestion", "ask_ai", "ground_truth"]),)),
        _str("source_record_id", nullable=True),
        Col("request", _S, checks=(pa.Check.str_length(min_value=1),)),
        _str("spec"),
        _str("yaml"),
        Col("valid", _B),
        _str("reference_yaml", nullable=True),
        _str("pattern_id", nullable=True),
        *_MODEL,
    ),
    key=("record_id",),
)

VALIDATION_RESULTS = TableSpec(
    "validation_results",
    (
        *_PROVENANCE,
        Col("valid", _B),
        Col("validation_errors", pl.List(_S)),
        Col("replay_fires", _I, nullable=True, checks=_NONNEG),
        Col("replay_occurrences", _I, nullable=True, checks=_NONNEG),
        Col("replay_fired_on_occurrences", _I, nullable=True, checks=_NONNEG),
        Col("replay_false_fires", _I, nullable=True, checks=_NONNEG),
        _unit("replay_hit_rate", nullable=True),
        _pos("replay_false_fire_rate", nullable=True),
        Col("structural_match", _B, nullable=True),
        _unit("behavioural_agreement", nullable=True),
    ),
    key=("record_id",),
)

DEVICES = TableSpec(
    "devices",
    (
        *_PROVENANCE,
        _str("entity_id"),
        _str("domain"),
        _str("device_class", nullable=True),
        _str("window_start"),
        _str("window_end"),
        _count("events"),
        _count("unavailable_count"),
        _pos("unavailable_s"),
        _count("longest_flat_run"),
        Col("slope_vs_neighbours", _F),
        Col("battery_slope", _F),
        _pos("report_rate_ratio"),
        _count("duplicate_reports"),
        _pos("neighbour_deviation"),
        _str("predicted"),
        _unit("score"),
        _str("label"),
        Col("is_fault", _B),
        _str("fault_id", nullable=True),
        *_MODEL,
    ),
    key=("record_id",),
)

ACTIVITY_WINDOWS = TableSpec(
    "activity_windows",
    (
        *_PROVENANCE,
        _str("person_id"),
        _str("window_start"),
        _str("window_end"),
        _pos("duration_s"),
        Col("start_hour", _F, checks=(pa.Check.in_range(0, 24, include_max=False),)),
        Col("weekday", _I, checks=(pa.Check.in_range(0, 6),)),
        _count("activations"),
        _count("motion"),
        _count("door"),
        *(_count(room) for room in ROOMS),
        Col("away", _B),
        _str("predicted"),
        _unit("score"),
        Col("label", _S, checks=(pa.Check.isin(list(ACTIVITIES)),)),
        _str("area_id", nullable=True),
        *_MODEL,
    ),
    key=("record_id",),
)

#: The tables each model type exports, in file order.
TABLES: Final[dict[ModelType, tuple[TableSpec, ...]]] = {
    "gnn_synergy": (SYNERGIES, ENTITIES),
    "pattern_detection": (PATTERNS, GROUND_TRUTH),
    "soft_prompt": (QUERIES,),
    "yaml_generation": (YAML_PAIRS, VALIDATION_RESULTS),
    "device_intelligence": (DEVICES,),
    "activity_recognition": (ACTIVITY_WINDOWS,),
}

Format = Literal["json", "parquet", "sqlite", "csv", "chat"]
#: The file formats each model type is exported in (`chat` is the LLM fine-tuning JSONL of yaml_generation).
FORMATS: Final[dict[ModelType, tuple[Format, ...]]] = {
    "gnn_synergy": ("json", "parquet"),
    "pattern_detection": ("json", "parquet"),
    "soft_prompt": ("json", "sqlite"),
    "yaml_generation": ("json", "chat"),
    "device_intelligence": ("json", "csv"),
    "activity_recognition": ("json", "parquet"),
}
