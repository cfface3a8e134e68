"""Record → table rows per model type: flat, typed polars frames (one per exported table) and chat messages.

Owns the mapping from the simulation's training records (`homesim.schema.records`) to the exported tables of
`homesim.training_data.schemas`, the natural key used to deduplicate records across cycles, and the chat
format of YAML-generation pairs for LLM fine-tuning. The high-volume model types (pattern_detection,
gnn_synergy, device_intelligence, activity_recognition) are built column-wise: the stored JSON payloads
are decoded by polars into one struct column (its dtype derived from the pydantic record model) and the
table's columns are selected from it, with no Python work per record. soft_prompt and yaml_generation,
whose columns are built from free-form JSON values, are built from parsed records. Nested free-form values
(specs, contexts, triggers) become JSON strings so every table is flat enough for Parquet, CSV and SQLite
alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeVar

import polars as pl
from pydantic import BaseModel

from homesim.schema.ground_truth import GroundTruth
from homesim.schema.record_frames import at as _at
from homesim.schema.record_frames import decode
from homesim.schema.records import (
    ActivityFeatures,
    ActivityRecord,
    AnyRecord,
    AskAIRecord,
    AutomationRecord,
    DeviceHealthRecord,
    HealthFeatures,
    NodeFeatures,
    PatternFeatures,
    PatternRecord,
    ReplayResult,
    StageRecord,
    SuggestionRecord,
    SynergyFeatures,
    SynergyOutputs,
    SynergyRecord,
)
from homesim.simulation.model_provider import ModelType
from homesim.training_data.schemas import (
    ACTIVITY_WINDOWS,
    DEVICES,
    ENTITIES,
    GROUND_TRUTH,
    PATTERNS,
    QUERIES,
    SYNERGIES,
    VALIDATION_RESULTS,
    YAML_PAIRS,
    TableSpec,
)
from homesim.training_data.store import RECORD_ADAPTER

#: System prompt of every chat-format YAML-generation example.
CHAT_SYSTEM_PROMPT = (
    "You write Home Assistant automations. Answer with the automation as YAML only, in Home Assistant "
    "2024.10+ syntax (triggers/conditions/actions)."
)

Row = dict[str, Any]
_R = TypeVar("_R")


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def natural_key(record: AnyRecord) -> str:
    """Content key of a record, independent of the cycle it came from: stage, home and inputs (minus
    upstream record ids, which embed the cycle). Two cycles producing the same key saw the same example."""
    inputs = record.inputs.model_dump(mode="json", exclude={"source_record_id"})
    text = _json([record.stage, record.home_key, inputs])
    return hashlib.sha256(text.encode()).hexdigest()


def newest_by_key(items: Iterable[tuple[str, _R]], order: Callable[[_R], tuple[int, str]]) -> list[_R]:
    """Of (key, item) pairs, one item per key, the greatest by `order` ((cycle, record_id): the newest
    cycle); ordered by `order`."""
    best: dict[str, _R] = {}
    for key, item in items:
        kept = best.get(key)
        if kept is None or order(item) > order(kept):
            best[key] = item
    return sorted(best.values(), key=order)


def dedupe_newest(records: Iterable[AnyRecord]) -> list[AnyRecord]:
    """One record per natural key, the one from the newest cycle; ordered by (cycle, record_id)."""
    return newest_by_key(((natural_key(r), r) for r in records), lambda r: (r.cycle, r.record_id))


def _frame(spec: TableSpec, rows: Sequence[Row]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=spec.polars_schema, orient="row") if rows else spec.empty()


def _provenance(r: AnyRecord) -> Row:
    return {"record_id": r.record_id, "cycle": r.cycle, "home_key": r.home_key}


# ------------------------------------------------------------------------------ column-wise (payloads)


def _select(frame: pl.DataFrame, spec: TableSpec, columns: Mapping[str, str | pl.Expr]) -> pl.DataFrame:
    """`spec`'s table from decoded records: each column by its path (or expression), in spec order."""
    exprs = []
    for col in spec.columns:
        source = columns.get(col.name, col.name)
        exprs.append((_at(source) if isinstance(source, str) else source).alias(col.name))
    return frame.select(exprs).cast(spec.polars_schema)


def _fields(model: type[BaseModel], prefix: str) -> dict[str, str]:
    return {name: f"{prefix}.{name}" for name in model.model_fields}


_SYNERGY_COLUMNS: Final[dict[str, str | pl.Expr]] = {
    "trigger_entity": "inputs.trigger.entity_id",
    "trigger_state": "inputs.trigger_state",
    "action_entity": "inputs.action.entity_id",
    "action_state": "inputs.action_state",
    **_fields(SynergyFeatures, "inputs.features"),
    **_fields(SynergyOutputs, "outputs"),
    "label_kind": "label.kind",
    "label": _at("label.kind").is_in(["active", "potential"]),
    "synergy_id": "label.synergy_id",
    "relation": "label.relation",
}


def _synergy_frames(records: pl.DataFrame, truths: Mapping[str, GroundTruth]) -> dict[str, pl.DataFrame]:
    # Nodes in first-seen order (each record's trigger, then its action), one per cycle, home and entity.
    node_cols = ["cycle", "home_key", *NodeFeatures.model_fields]
    ends = [
        records.with_row_index("order").select(
            pl.col("order") * 2 + n, "cycle", "home_key", _at(f"inputs.{end}").struct.unnest()
        )
        for n, end in enumerate(("trigger", "action"))
    ]
    nodes = (
        pl.concat(ends)
        .sort("order")
        .unique(["cycle", "home_key", "entity_id"], keep="first", maintain_order=True)
        .sort("cycle", "home_key", "entity_id")
        .select(node_cols)
    )
    return {
        "synergies": _select(records, SYNERGIES, _SYNERGY_COLUMNS),
        "entities": _select(nodes, ENTITIES, {}),
    }


_PATTERN_COLUMNS: Final[dict[str, str | pl.Expr]] = {
    **_fields(PatternFeatures, "inputs.features"),
    "kind": "inputs.kind",
    "trigger_entity": "inputs.trigger_entity",
    "trigger_state": "inputs.trigger_state",
    "trigger_variable": "inputs.trigger_variable",
    "trigger_threshold": "inputs.threshold",
    "action_entity": "inputs.action_entity",
    "action_state": "inputs.action_state",
    "score": "outputs.score",
    "predicted": "outputs.predicted",
    "threshold": "outputs.threshold",
    "label": "label.is_pattern",
    "pattern_id": "label.pattern_id",
    "pattern_type": "label.pattern_type",
}


def _truth_rows(truth: GroundTruth) -> list[Row]:
    return [
        {
            "home_key": truth.home_key,
            "pattern_id": p.id,
            "type": p.type,
            "description": p.description,
            "trigger_kind": p.trigger.kind,
            "trigger": _json(p.trigger.model_dump(mode="json")),
            "trigger_entities": list(p.trigger_entities),
            "action_entities": [a.entity_id for a in p.actions],
            "actions": _json([a.model_dump(mode="json") for a in p.actions]),
            "probability": p.probability,
            "occurrences": p.occurrences,
        }
        for p in truth.patterns
    ]


def _pattern_frames(records: pl.DataFrame, truths: Mapping[str, GroundTruth]) -> dict[str, pl.DataFrame]:
    """Candidates with features and labels (`patterns`), and the ground-truth patterns of the homes they
    come from (`ground_truth`; homes without a truth in `truths` contribute none)."""
    homes = [h for h in sorted(records["home_key"].unique()) if h in truths]
    return {
        "patterns": _select(records, PATTERNS, _PATTERN_COLUMNS),
        "ground_truth": _frame(GROUND_TRUTH, [row for h in homes for row in _truth_rows(truths[h])]),
    }


def _query_row(r: AskAIRecord) -> Row:
    i = r.inputs
    context = {
        "intent_family": i.intent_family,
        "phrasing_style": i.phrasing_style,
        "perturbations": list(i.perturbations),
        "turn": i.turn,
        "history": list(i.history),
    }
    intended = r.label.intended_automation
    return {
        **_provenance(r),
        "query": i.request,
        "context": _json(context),
        "intent_family": i.intent_family,
        "turn": i.turn,
        "response": r.outputs.response,
        "outcome": r.outputs.outcome,
        "automation_yaml": r.outputs.automation_yaml,
        "expected_outcome": r.label.expected_outcome,
        "intended_automation": None if intended is None else _json(intended),
        "approved": r.label.approved,
        "reason": r.label.rejection_reason,
        "model_version": r.model_version,
    }


def format_soft_prompt(records: Sequence[AskAIRecord]) -> dict[str, pl.DataFrame]:
    """Ask-AI conversations: query, context, response/automation, approval and rejection reason."""
    return {"queries": _frame(QUERIES, [_query_row(r) for r in records])}


def suggestion_request(s: SuggestionRecord) -> str:
    """A suggestion as the user turn of a YAML-generation pair: its title and description."""
    return f"{s.outputs.title.rstrip('.')}. {s.outputs.description}"


def automation_request(r: AutomationRecord, suggestion: SuggestionRecord | None = None) -> str:
    """The user turn of a YAML-generation pair: the user's request, else the text of the suggestion the
    automation was built from (when given), else the suggestion's spec as a prompt."""
    if r.inputs.request:
        return r.inputs.request
    if suggestion is not None:
        return suggestion_request(suggestion)
    return "Write a Home Assistant automation for this spec:\n" + _json(r.inputs.spec)


def _pair_row(r: AutomationRecord, suggestion: SuggestionRecord | None) -> Row:
    return {
        **_provenance(r),
        "source": r.inputs.source,
        "source_record_id": r.inputs.source_record_id,
        "request": automation_request(r, suggestion),
        "spec": _json(r.inputs.spec),
        "yaml": r.outputs.yaml,
        "valid": r.outputs.valid,
        "reference_yaml": r.label.reference_yaml,
        "pattern_id": r.label.pattern_id,
        "model_version": r.model_version,
    }


_REPLAY_FIELDS = tuple(ReplayResult.model_fields)


def _validation_row(r: AutomationRecord) -> Row:
    replay = r.outputs.replay.model_dump() if r.outputs.replay else dict.fromkeys(_REPLAY_FIELDS)
    return {
        **_provenance(r),
        "valid": r.outputs.valid,
        "validation_errors": list(r.outputs.validation_errors),
        **{f"replay_{name}": replay[name] for name in _REPLAY_FIELDS},
        "structural_match": r.label.structural_match,
        "behavioural_agreement": r.label.behavioural_agreement,
    }


def format_yaml_generation(
    records: Sequence[AutomationRecord | SuggestionRecord],
) -> dict[str, pl.DataFrame]:
    """Request → YAML pairs with their truth (`yaml_pairs`), and validation and replay results, one per
    automation record. Suggestion records among `records` give their text as the request of the
    automations built from them (`source` "suggestion"); a suggestion with no automation makes no pair."""
    suggestions = {r.record_id: r for r in records if isinstance(r, SuggestionRecord)}
    automations = [r for r in records if isinstance(r, AutomationRecord)]
    return {
        "yaml_pairs": _frame(
            YAML_PAIRS,
            [
                _pair_row(
                    r,
                    suggestions.get(r.inputs.source_record_id or "")
                    if r.inputs.source == "suggestion"
                    else None,
                )
                for r in automations
            ],
        ),
        "validation_results": _frame(VALIDATION_RESULTS, [_validation_row(r) for r in automations]),
    }


def chat_examples(yaml_pairs: pl.DataFrame) -> list[dict[str, list[dict[str, str]]]]:
    """Chat-format fine-tuning examples (`{"messages": [system, user, assistant]}`), one per valid pair:
    invalid YAML is kept in `yaml_pairs` for analysis but never taught as an answer."""
    return [
        {
            "messages": [
                {"role": "system", "content": CHAT_SYSTEM_PROMPT},
                {"role": "user", "content": request},
                {"role": "assistant", "content": yaml},
            ]
        }
        for request, yaml in yaml_pairs.filter(pl.col("valid")).select("request", "yaml").iter_rows()
    ]


_DEVICE_COLUMNS: Final[dict[str, str | pl.Expr]] = {
    **_fields(HealthFeatures, "inputs.features"),
    "entity_id": "inputs.entity_id",
    "domain": "inputs.domain",
    "device_class": "inputs.device_class",
    "window_start": "inputs.window_start",
    "window_end": "inputs.window_end",
    "predicted": "outputs.predicted",
    "score": "outputs.score",
    "label": "label.kind",
    "is_fault": _at("label.kind") != "healthy",
    "fault_id": "label.fault_id",
}


def _device_frames(records: pl.DataFrame, truths: Mapping[str, GroundTruth]) -> dict[str, pl.DataFrame]:
    """Per-entity windows with health features, the prediction and the fault label."""
    return {"devices": _select(records, DEVICES, _DEVICE_COLUMNS)}


_ACTIVITY_COLUMNS: Final[dict[str, str | pl.Expr]] = {
    **_fields(ActivityFeatures, "inputs.features"),
    "person_id": "inputs.person_id",
    "window_start": "inputs.window_start",
    "window_end": "inputs.window_end",
    "predicted": "outputs.predicted",
    "score": "outputs.score",
    "label": "label.activity",
    "area_id": "label.area_id",
}


def _activity_frames(records: pl.DataFrame, truths: Mapping[str, GroundTruth]) -> dict[str, pl.DataFrame]:
    """Per-person activity windows with sensor features, the baseline's prediction and the activity label."""
    return {"activity_windows": _select(records, ACTIVITY_WINDOWS, _ACTIVITY_COLUMNS)}


def _only(kinds: tuple[type[_R], ...], records: Iterable[AnyRecord], model_type: str) -> list[_R]:
    out: list[_R] = []
    for r in records:
        if not isinstance(r, kinds):
            names = " and ".join(f"{k.__name__}s" for k in kinds)
            raise TypeError(f"{model_type} exports {names}, got a {type(r).__name__} ({r.record_id})")
        out.append(r)
    return out


FrameFormatter = Callable[[pl.DataFrame, Mapping[str, GroundTruth]], dict[str, pl.DataFrame]]
RecordFormatter = Callable[[Sequence[Any], Mapping[str, GroundTruth]], dict[str, pl.DataFrame]]

#: Model types built column-wise from payloads: the record type they take, and their formatter.
_FRAME_FORMATTERS: Final[dict[ModelType, tuple[type[StageRecord], FrameFormatter]]] = {
    "gnn_synergy": (SynergyRecord, _synergy_frames),
    "pattern_detection": (PatternRecord, _pattern_frames),
    "device_intelligence": (DeviceHealthRecord, _device_frames),
    "activity_recognition": (ActivityRecord, _activity_frames),
}
#: Model types built from parsed records: the record types they take, and their formatter.
_RECORD_FORMATTERS: Final[dict[ModelType, tuple[tuple[type[StageRecord], ...], RecordFormatter]]] = {
    "soft_prompt": ((AskAIRecord,), lambda records, _: format_soft_prompt(records)),
    "yaml_generation": (
        (AutomationRecord, SuggestionRecord),
        lambda records, _: format_yaml_generation(records),
    ),
}


def format_payloads(
    model_type: ModelType, payloads: Sequence[str], truths: Mapping[str, GroundTruth]
) -> dict[str, pl.DataFrame]:
    """The exported tables of `model_type` built from stored record payloads (JSON); see `format_records`."""
    if model_type in _FRAME_FORMATTERS:
        kind, formatter = _FRAME_FORMATTERS[model_type]
        records = decode(payloads, kind)
        stage = kind.model_fields["stage"].default
        wrong = records.filter(pl.col("stage") != stage)
        if wrong.height:
            first = wrong.row(0, named=True)
            raise TypeError(
                f"{model_type} exports {kind.__name__}s, got a {first['stage']} record ({first['record_id']})"
            )
        return formatter(records, truths)
    return format_records(model_type, [RECORD_ADAPTER.validate_json(p) for p in payloads], truths)


def format_records(
    model_type: ModelType, records: Iterable[AnyRecord], truths: Mapping[str, GroundTruth]
) -> dict[str, pl.DataFrame]:
    """The exported tables of `model_type` built from its records (`truths`: ground truth per home key,
    used by pattern_detection). Raises TypeError on a record of a stage the model type does not take."""
    if model_type in _FRAME_FORMATTERS:
        kind = _FRAME_FORMATTERS[model_type][0]
        checked = _only((kind,), records, model_type)
        return format_payloads(model_type, [r.model_dump_json() for r in checked], truths)
    kinds, formatter = _RECORD_FORMATTERS[model_type]
    return formatter(_only(kinds, records, model_type), truths)
