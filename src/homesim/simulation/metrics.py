"""Scoring stages against ground truth: per-home additive counts and the per-stage metric table.

Each stage's records of one home are reduced to additive counts (`home_counts`, run where the home was
simulated, with its ground truth at hand); counts of many homes are summed and turned into precision,
recall, F1 and stage-specific rates (`stage_metrics`). What counts as a hit, per stage:

* pattern: precision over predicted candidates (labelled a ground-truth pattern or not); recall over the
  ground-truth patterns with enough occurrences (`eligible_patterns`) that some predicted candidate matched.
* synergy: precision over predicted pairs (active or potential in truth); recall over every ground-truth
  synergy (pairs that never became candidates count as missed); `decoy_rate`: decoy candidates predicted.
* activity: one window per record; precision = recall = accuracy of the predicted activity; `macro_f1` over
  the labels seen.
* device_health: fault detection per window (any fault kind vs healthy); `kind_accuracy` over detected faults.
* suggestion: precision = suggestions describing a real pattern or synergy; recall over eligible patterns;
  `approval_rate`.
* automation: precision = valid automations; recall = mean replay hit rate on the pattern's occurrences;
  `replay_agreement` (mean behavioural agreement), `structural_match`.
* ask_ai: precision = turns whose outcome (create/clarify/refuse) is the expected one; recall = approved
  share of the requests that should create an automation; `approval_rate`.

A home without ground truth (an imported real home) is scored only where the label does not come from
the truth: an automation's validity, the Ask-AI turns (their expected outcome comes with the generated
request) and activity windows (labelled by the dataset's own annotations). Every other record of such a
home counts as `unscored`, so a stage that ran only on real homes reports precision and recall as n/a,
never 0, and in a mixed dataset they are over the synthetic homes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Final

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict

from homesim.schema.ground_truth import GroundTruth
from homesim.schema.record_frames import RecordFrame, at, dtype_at, record_schema
from homesim.schema.records import (
    ActivityRecord,
    AnyRecord,
    AskAIRecord,
    AutomationRecord,
    DeviceHealthRecord,
    PatternRecord,
    StageName,
    StageRecord,
    SuggestionRecord,
    SynergyRecord,
)
from homesim.scores import f1_from_counts
from homesim.simulation.pattern_detection import eligible_patterns

Counts = dict[str, float]
#: The counts a stage's precision (predicted_true / predicted) and recall (truth_found / truth) come from.
F1_COUNTS: Final = ("predicted_true", "predicted", "truth_found", "truth")


def ratio(num: float, den: float) -> float | None:
    """num / den, or None when there is nothing to divide by."""
    return num / den if den else None


def f1(counts: Counts) -> float | None:
    """F1 of a stage's counts (`homesim.scores`' rule). None (n/a) when a side was not measured — homes
    without ground truth count no `truth` — or when nothing was predicted and nothing was to be found."""
    if any(k not in counts for k in F1_COUNTS):
        return None
    value = float(f1_from_counts(*(counts[k] for k in F1_COUNTS), zero_division=np.nan))
    return None if np.isnan(value) else value


def _columns(records: Sequence[AnyRecord], kind: type[StageRecord], *paths: str) -> list[pl.Series]:
    """The fields at dotted `paths` of a stage's records of `kind`: read off its record frame, or off the
    records (so each stage's counts are one rule over columns, whichever way its records came)."""
    if isinstance(records, RecordFrame):
        return [records.frame.select(at(path))[:, 0] for path in paths]
    of_kind = [r for r in records if isinstance(r, kind)]
    schema = record_schema(kind, ())
    return [pl.Series(path, list(map(attrgetter(path), of_kind)), dtype_at(schema, path)) for path in paths]


def _pattern(records: Sequence[AnyRecord], truth: GroundTruth) -> Counts:
    predicted, is_pattern, pattern_id = _columns(
        records, PatternRecord, "outputs.predicted", "label.is_pattern", "label.pattern_id"
    )
    found = set(pattern_id.filter(predicted & is_pattern).to_list())
    eligible = eligible_patterns(truth)
    return {
        "predicted": int(predicted.sum()),
        "predicted_true": int((predicted & is_pattern).sum()),
        "truth": len(eligible),
        "truth_found": sum(p.id in found for p in eligible),
    }


def _synergy(records: Sequence[AnyRecord], truth: GroundTruth) -> Counts:
    predicted, kind, synergy_id = _columns(
        records, SynergyRecord, "outputs.predicted", "label.kind", "label.synergy_id"
    )
    hits = predicted & kind.is_in(["active", "potential"])
    decoy = kind == "decoy"
    return {
        "predicted": int(predicted.sum()),
        "predicted_true": int(hits.sum()),
        "truth": len(truth.synergies),
        "truth_found": len(set(synergy_id.filter(hits).to_list())),
        "decoys": int(decoy.sum()),
        "decoys_predicted": int((predicted & decoy).sum()),
    }


def _device_health(records: Sequence[AnyRecord]) -> Counts:
    predicted, label = _columns(records, DeviceHealthRecord, "outputs.predicted", "label.kind")
    detected, faulty = predicted != "healthy", label != "healthy"
    hits = detected & faulty
    return {
        "predicted": int(detected.sum()),
        "predicted_true": int(hits.sum()),
        "truth": int(faulty.sum()),
        "truth_found": int(hits.sum()),
        "kind_correct": int((hits & (predicted == label)).sum()),
    }


def _activity(records: Sequence[ActivityRecord]) -> Counts:
    correct = sum(r.outputs.predicted == r.label.activity for r in records)
    counts: Counts = {"predicted": len(records), "predicted_true": correct, "truth": len(records)}
    counts["truth_found"] = correct
    # Per label: true positives, predictions and truths, summed over homes for a macro F1.
    for r in records:
        hit = r.outputs.predicted == r.label.activity
        counts[f"tp:{r.label.activity}"] = counts.get(f"tp:{r.label.activity}", 0) + hit
        counts[f"pred:{r.outputs.predicted}"] = counts.get(f"pred:{r.outputs.predicted}", 0) + 1
        counts[f"true:{r.label.activity}"] = counts.get(f"true:{r.label.activity}", 0) + 1
    return counts


def _suggestion(records: Sequence[SuggestionRecord], truth: GroundTruth) -> Counts:
    eligible = {p.id for p in eligible_patterns(truth)}
    covered = {r.label.pattern_id for r in records if r.label.is_valid} & eligible
    return {
        "predicted": len(records),
        "predicted_true": sum(r.label.is_valid for r in records),
        "truth": len(eligible),
        "truth_found": len(covered),
        "decided": sum(r.label.approved is not None for r in records),
        "approved": sum(bool(r.label.approved) for r in records),
    }


def _automation(records: Sequence[AutomationRecord]) -> Counts:
    replayed = [r.outputs.replay for r in records if r.outputs.replay is not None]
    agreements = [r.label.behavioural_agreement for r in records if r.label.behavioural_agreement is not None]
    structural = [r.label.structural_match for r in records if r.label.structural_match is not None]
    return {
        "predicted": len(records),
        "predicted_true": sum(r.outputs.valid for r in records),
        "truth": sum(x.hit_rate is not None for x in replayed),
        "truth_found": sum(x.hit_rate or 0.0 for x in replayed),
        "agreement_n": len(agreements),
        "agreement_sum": sum(agreements),
        "structural_n": len(structural),
        "structural_match": sum(structural),
    }


def _ask_ai(records: Sequence[AskAIRecord]) -> Counts:
    create = [r for r in records if r.label.expected_outcome == "create"]
    return {
        "predicted": len(records),
        "predicted_true": sum(r.outputs.outcome == r.label.expected_outcome for r in records),
        "truth": len(create),
        "truth_found": sum(r.label.approved for r in create),
        "decided": len(records),
        "approved": sum(r.label.approved for r in records),
    }


def home_counts(stage: StageName, records: Sequence[AnyRecord], truth: GroundTruth | None) -> Counts:
    """Additive counts of one stage's records of one home (see the module docstring)."""
    if truth is None:
        return _without_truth(stage, records)
    match stage:
        case "pattern":
            return _pattern(records, truth)
        case "synergy":
            return _synergy(records, truth)
        case "device_health":
            return _device_health(records)
        case "suggestion":
            return _suggestion([r for r in records if isinstance(r, SuggestionRecord)], truth)
        case "automation":
            return _automation([r for r in records if isinstance(r, AutomationRecord)])
        case "ask_ai":
            return _ask_ai([r for r in records if isinstance(r, AskAIRecord)])
        case "activity":
            return _activity([r for r in records if isinstance(r, ActivityRecord)])


def _without_truth(stage: StageName, records: Sequence[AnyRecord]) -> Counts:
    """Counts of a home without ground truth: only what needs none is scored."""
    if stage == "ask_ai":
        return _ask_ai([r for r in records if isinstance(r, AskAIRecord)])
    if stage == "activity":  # labelled by the dataset's own activity annotations
        return _activity([r for r in records if isinstance(r, ActivityRecord)])
    if stage == "automation":
        automations = [r for r in records if isinstance(r, AutomationRecord)]
        return {
            "predicted": len(automations),
            "predicted_true": sum(r.outputs.valid for r in automations),
            "unscored": len(automations),
        }
    return {"unscored": len(records)}


class StageMetrics(BaseModel):
    """One row of the cycle report's metric table."""

    model_config = ConfigDict(frozen=True)

    stage: StageName
    homes: int
    errors: int
    records: int
    precision: float | None
    recall: float | None
    f1: float | None
    #: Stage-specific rates: approval_rate, replay_agreement, structural_match, decoy_rate, kind_accuracy,
    #: macro_f1.
    rates: dict[str, float | None]
    counts: dict[str, float]


def sum_counts(counts: Iterable[Mapping[str, float]]) -> Counts:
    total: Counter[str] = Counter()
    for c in counts:
        total.update(c)
    return dict(sorted(total.items()))


def stage_metrics(stage: StageName, counts: Counts, *, homes: int, errors: int, records: int) -> StageMetrics:
    """Metrics of a stage from counts summed over homes."""
    c = counts
    precision = ratio(c.get("predicted_true", 0), c.get("predicted", 0))
    recall = ratio(c.get("truth_found", 0), c.get("truth", 0))
    rates: dict[str, float | None] = {}
    if "approved" in c:
        rates["approval_rate"] = ratio(c["approved"], c.get("decided", 0))
    if "agreement_n" in c:
        rates["replay_agreement"] = ratio(c["agreement_sum"], c["agreement_n"])
        rates["structural_match"] = ratio(c["structural_match"], c["structural_n"])
    if "decoys" in c:
        rates["decoy_rate"] = ratio(c["decoys_predicted"], c["decoys"])
    if "kind_correct" in c:
        rates["kind_accuracy"] = ratio(c["kind_correct"], c["predicted_true"])
    labels = sorted(k.split(":", 1)[1] for k in c if k.startswith("true:"))
    if labels:
        tp, predicted, true = (
            np.array([c.get(f"{kind}:{a}", 0) for a in labels], dtype=np.float64)
            for kind in ("tp", "pred", "true")
        )
        rates["macro_f1"] = float(np.mean(f1_from_counts(tp, predicted, tp, true)))
    return StageMetrics(
        stage=stage,
        homes=homes,
        errors=errors,
        records=records,
        precision=precision,
        recall=recall,
        f1=f1(c),
        rates=rates,
        counts=c,
    )
