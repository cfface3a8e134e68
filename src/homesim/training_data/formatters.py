"""Record → table rows per model type: flat, typed polars frames (one per exported table) and chat messages.

Owns the mapping from the simulation's training records (`homesim.schema.records`) to the exported tables of
`homesim.training_data.schemas`, the natural key used to deduplicate records across cycles, and the chat
format of YAML-generation pairs for LLM fine-tuning. Nested free-form values (specs, contexts, triggers)
become JSON strings so every table is flat enough for Parquet, CSV and SQLite alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import polars as pl

from homesim.schema.ground_truth import GroundTruth
from homesim.schema.records import (
    AnyRecord,
    AskAIRecord,
    AutomationRecord,
    DeviceHealthRecord,
    PatternRecord,
    ReplayResult,
    SynergyRecord,
)
from homesim.training_data.schemas import (
    DEVICES,
    ENTITIES,
    GROUND_TRUTH,
    PATTERNS,
    QUERIES,
    SYNERGIES,
    VALIDATION_RESULTS,
    YAML_PAIRS,
    ModelType,
    TableSpec,
)

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


def dedupe_newest(records: Iterable[AnyRecord]) -> list[AnyRecord]:
    """One record per natural key, the one from the newest cycle; ordered by (cycle, record_id)."""
    best: dict[str, AnyRecord] = {}
    for record in records:
        key = natural_key(record)
        kept = best.get(key)
        if kept is None or (record.cycle, record.record_id) > (kept.cycle, kept.record_id):
            best[key] = record
    return sorted(best.values(), key=lambda r: (r.cycle, r.record_id))


def _frame(spec: TableSpec, rows: Sequence[Row]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=spec.polars_schema, orient="row") if rows else spec.empty()


def _provenance(r: AnyRecord) -> Row:
    return {"record_id": r.record_id, "cycle": r.cycle, "home_key": r.home_key}


def _synergy_row(r: SynergyRecord) -> Row:
    i, f = r.inputs, r.inputs.features
    return {
        **_provenance(r),
        "trigger_entity": i.trigger.entity_id,
        "trigger_state": i.trigger_state,
        "action_entity": i.action.entity_id,
        "action_state": i.action_state,
        **f.model_dump(),
        "lag_hist": list(f.lag_hist),
        "score": r.outputs.score,
        "predicted": r.outputs.predicted,
        "threshold": r.outputs.threshold,
        "label_kind": r.label.kind,
        "label": r.label.kind == "active",
        "synergy_id": r.label.synergy_id,
        "relation": r.label.relation,
        "model_version": r.model_version,
    }


def format_gnn_synergy(records: Sequence[SynergyRecord]) -> dict[str, pl.DataFrame]:
    """Candidate edges (`synergies`) and the graph's nodes (`entities`, one per cycle, home and entity)."""
    nodes: dict[tuple[int, str, str], Row] = {}
    for r in records:
        for node in (r.inputs.trigger, r.inputs.action):
            nodes.setdefault(
                (r.cycle, r.home_key, node.entity_id),
                {"cycle": r.cycle, "home_key": r.home_key, **node.model_dump()},
            )
    return {
        "synergies": _frame(SYNERGIES, [_synergy_row(r) for r in records]),
        "entities": _frame(ENTITIES, [nodes[k] for k in sorted(nodes)]),
    }


def _pattern_row(r: PatternRecord) -> Row:
    i = r.inputs
    return {
        **_provenance(r),
        "kind": i.kind,
        "trigger_entity": i.trigger_entity,
        "trigger_state": i.trigger_state,
        "trigger_variable": i.trigger_variable,
        "trigger_threshold": i.threshold,
        "action_entity": i.action_entity,
        "action_state": i.action_state,
        **i.features.model_dump(),
        "score": r.outputs.score,
        "predicted": r.outputs.predicted,
        "threshold": r.outputs.threshold,
        "label": r.label.is_pattern,
        "pattern_id": r.label.pattern_id,
        "pattern_type": r.label.pattern_type,
        "model_version": r.model_version,
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


def format_pattern_detection(
    records: Sequence[PatternRecord], truths: Mapping[str, GroundTruth]
) -> dict[str, pl.DataFrame]:
    """Candidates with features and labels (`patterns`), and the ground-truth patterns of the homes they
    come from (`ground_truth`; homes without a truth in `truths` contribute none)."""
    homes = sorted({r.home_key for r in records} & truths.keys())
    return {
        "patterns": _frame(PATTERNS, [_pattern_row(r) for r in records]),
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


def automation_request(r: AutomationRecord) -> str:
    """The user turn of a YAML-generation pair: the user's request, or the suggestion's spec as a prompt."""
    if r.inputs.request:
        return r.inputs.request
    return "Write a Home Assistant automation for this spec:\n" + _json(r.inputs.spec)


def _pair_row(r: AutomationRecord) -> Row:
    return {
        **_provenance(r),
        "source": r.inputs.source,
        "source_record_id": r.inputs.source_record_id,
        "request": automation_request(r),
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


def format_yaml_generation(records: Sequence[AutomationRecord]) -> dict[str, pl.DataFrame]:
    """Request → YAML pairs with their truth (`yaml_pairs`), and validation and replay results."""
    return {
        "yaml_pairs": _frame(YAML_PAIRS, [_pair_row(r) for r in records]),
        "validation_results": _frame(VALIDATION_RESULTS, [_validation_row(r) for r in records]),
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


def _device_row(r: DeviceHealthRecord) -> Row:
    i = r.inputs
    return {
        **_provenance(r),
        "entity_id": i.entity_id,
        "domain": i.domain,
        "device_class": i.device_class,
        "window_start": i.window_start,
        "window_end": i.window_end,
        **i.features.model_dump(),
        "predicted": r.outputs.predicted,
        "score": r.outputs.score,
        "label": r.label.kind,
        "is_fault": r.label.kind != "healthy",
        "fault_id": r.label.fault_id,
        "model_version": r.model_version,
    }


def format_device_intelligence(records: Sequence[DeviceHealthRecord]) -> dict[str, pl.DataFrame]:
    """Per-entity windows with health features, the prediction and the fault label."""
    return {"devices": _frame(DEVICES, [_device_row(r) for r in records])}


def _only(kind: type[_R], records: Iterable[AnyRecord], model_type: str) -> list[_R]:
    out: list[_R] = []
    for r in records:
        if not isinstance(r, kind):
            raise TypeError(
                f"{model_type} exports {kind.__name__}s, got a {type(r).__name__} ({r.record_id})"
            )
        out.append(r)
    return out


def format_records(
    model_type: ModelType, records: Iterable[AnyRecord], truths: Mapping[str, GroundTruth]
) -> dict[str, pl.DataFrame]:
    """The exported tables of `model_type` built from its records (`truths`: ground truth per home key,
    used by pattern_detection). Raises TypeError on a record of another stage."""
    formatters: dict[ModelType, Callable[[], dict[str, pl.DataFrame]]] = {
        "gnn_synergy": lambda: format_gnn_synergy(_only(SynergyRecord, records, model_type)),
        "pattern_detection": lambda: format_pattern_detection(
            _only(PatternRecord, records, model_type), truths
        ),
        "soft_prompt": lambda: format_soft_prompt(_only(AskAIRecord, records, model_type)),
        "yaml_generation": lambda: format_yaml_generation(_only(AutomationRecord, records, model_type)),
        "device_intelligence": lambda: format_device_intelligence(
            _only(DeviceHealthRecord, records, model_type)
        ),
    }
    return formatters[model_type]()
