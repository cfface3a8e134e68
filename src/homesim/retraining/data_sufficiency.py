"""Data sufficiency: is there enough (and new enough) exported data to train a model type?

Owns the per-model-type requirements (`Requirements`: minimum records, distinct homes, held-out homes,
examples per class, required classes, new records since the last training) with sensible defaults per type
(`DEFAULT_REQUIREMENTS`), and `check_sufficiency`, which reads a model type's exported tables and returns a
`SufficiencyReport` (ok + one reason per unmet requirement + the counts it looked at).

"Classes" are the label values of the type's table: positive/negative candidates for `pattern_detection`
and `gnn_synergy`, intent families for `soft_prompt` (every family must be covered), health kinds for
`device_intelligence`: there healthy plus three fault kinds with enough windows are required and every
other fault kind is *expected* — a missing one is a warning, since a run may not have produced a rare kind
yet (and must not be kept from training by it). New data is the records of cycles after the last trained
version's training cycles. Held-out homes are counted with the evaluator's split rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from homesim.simulation.ask_ai import INTENT_FAMILIES
from homesim.simulation.model_provider import HEALTH_KINDS, ModelType
from homesim.splits import is_validation_home
from homesim.training_data.loading import TrainingData


class Requirements(BaseModel):
    """Minimums one model type's data must meet before it is trained."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_records: int = Field(default=200, ge=0, description="examples in the export")
    min_homes: int = Field(default=4, ge=0, description="distinct homes")
    min_validation_homes: int = Field(default=1, ge=0, description="held-out homes for the evaluator")
    min_per_class: int = Field(default=10, ge=0, description="examples of each class present or required")
    #: Classes that must each have `min_per_class` examples (absent ones are named in the reasons).
    required_classes: tuple[str, ...] = ()
    #: Classes whose coverage is reported: a missing one is a warning, not a reason (rare fault kinds
    #: a run may not have produced yet).
    expected_classes: tuple[str, ...] = ()
    min_classes: int = Field(default=0, ge=0, description="distinct classes with their minimum of examples")
    #: Per-class minimums that override `min_per_class` (e.g. rare fault kinds need only a few).
    class_minimums: dict[str, int] = Field(default_factory=dict)
    min_new_records: int = Field(
        default=1, ge=0, description="records from cycles after the last training's cycles"
    )


class _LabelSpec(BaseModel):
    """Where a model type's examples and their class live in its export."""

    model_config = ConfigDict(frozen=True)

    table: str
    column: str
    #: How the raw label becomes a class name (booleans become positive/negative).
    binary: bool = False


_LABELS: Final[dict[ModelType, _LabelSpec]] = {
    "pattern_detection": _LabelSpec(table="patterns", column="label", binary=True),
    "gnn_synergy": _LabelSpec(table="synergies", column="label", binary=True),
    "device_intelligence": _LabelSpec(table="devices", column="label"),
    "soft_prompt": _LabelSpec(table="queries", column="intent_family"),
}

_FAULT_KINDS: Final = tuple(k for k in HEALTH_KINDS if k != "healthy")

#: Defaults per trained type: sized so a default `homesim run` cycle (about a dozen homes) qualifies.
DEFAULT_REQUIREMENTS: Final[dict[ModelType, Requirements]] = {
    "pattern_detection": Requirements(
        min_records=300, required_classes=("positive", "negative"), min_per_class=20
    ),
    "gnn_synergy": Requirements(min_records=300, required_classes=("positive", "negative"), min_per_class=10),
    "device_intelligence": Requirements(
        min_records=300,
        required_classes=("healthy",),
        expected_classes=_FAULT_KINDS,
        min_classes=4,  # healthy and at least three fault kinds, each with 3 windows
        min_per_class=3,
        class_minimums={"healthy": 50},
    ),
    "soft_prompt": Requirements(min_records=60, required_classes=INTENT_FAMILIES, min_per_class=3),
}


class SufficiencyReport(BaseModel):
    """The verdict on one model type's data: `ok`, the unmet requirements (`reasons`) and the counts."""

    model_config = ConfigDict(frozen=True)

    model_type: ModelType
    ok: bool
    reasons: list[str]
    #: Coverage gaps that do not block training (expected classes not present).
    warnings: list[str]
    records: int
    homes: int
    validation_homes: int
    class_counts: dict[str, int]
    new_records: int
    cycles: list[int]
    requirements: Requirements


def label_table(model_type: ModelType, data: TrainingData) -> pl.DataFrame:
    """The table whose rows are the type's labelled examples; ValueError for an untrained type."""
    spec = _LABELS.get(model_type)
    if spec is None:
        raise ValueError(f"{model_type} has no sufficiency rules: it is not a trained model type")
    return data.tables[spec.table]


def class_counts(model_type: ModelType, table: pl.DataFrame) -> dict[str, int]:
    """Examples per class of `table` (the type's label table), sorted by class name."""
    spec = _LABELS[model_type]
    column = pl.col(spec.column)
    if spec.binary:
        column = pl.when(column).then(pl.lit("positive")).otherwise(pl.lit("negative"))
    counts = table.select(column.cast(pl.String).alias("class")).group_by("class").len()
    return {str(k): int(n) for k, n in sorted(counts.iter_rows())}


def check_sufficiency(
    model_type: ModelType,
    data: TrainingData,
    *,
    trained_cycles: Sequence[int] = (),
    requirements: Requirements | None = None,
    is_validation: Callable[[str], bool] | None = None,
) -> SufficiencyReport:
    """Check `data` (the type's export, usually aggregated) against `requirements` (default per type).

    `trained_cycles` are the cycles the last trained version saw; records of later cycles are new (all are
    new when nothing was trained). `is_validation` tells held-out homes (default: the evaluator's rule).
    """
    is_validation = is_validation or is_validation_home
    table = label_table(model_type, data)
    req = requirements or DEFAULT_REQUIREMENTS[model_type]
    homes = table.get_column("home_key").unique().sort().to_list()
    held_out = sum(bool(is_validation(h)) for h in homes)
    counts = class_counts(model_type, table)
    last = max(trained_cycles, default=-1)
    new = table.filter(pl.col("cycle") > last).height
    reasons: list[str] = []
    if table.height < req.min_records:
        reasons.append(f"{table.height} records < {req.min_records} required")
    if len(homes) < req.min_homes:
        reasons.append(f"{len(homes)} distinct homes < {req.min_homes} required")
    if held_out < req.min_validation_homes:
        reasons.append(f"{held_out} held-out (validation) homes < {req.min_validation_homes} required")
    covered = 0
    for name in sorted(set(req.required_classes) | set(counts)):
        need = req.class_minimums.get(name, req.min_per_class)
        have = counts.get(name, 0)
        covered += have >= need
        if have < need and (name in req.required_classes or not req.min_classes):
            what = "missing" if have == 0 else f"only {have}"
            reasons.append(f"class {name!r}: {what} (< {need} examples required)")
    if covered < req.min_classes:
        reasons.append(f"{covered} classes with enough examples < {req.min_classes} required")
    warnings = [f"class {name!r} not covered yet" for name in req.expected_classes if name not in counts]
    if new < req.min_new_records:
        reasons.append(f"{new} new records since cycle {last} < {req.min_new_records} required")
    return SufficiencyReport(
        model_type=model_type,
        ok=not reasons,
        reasons=reasons,
        warnings=warnings,
        records=table.height,
        homes=len(homes),
        validation_homes=held_out,
        class_counts=counts,
        new_records=new,
        cycles=sorted(int(c) for c in table.get_column("cycle").unique()),
        requirements=req,
    )
