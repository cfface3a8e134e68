"""Record validators: each scores a record's quality in [0, 1] and says why it lost points.

A validator is called with the record, its JSON payload (what the store will keep) and a `Context` (the
home's ground truth when known, and the content hashes already seen in the cycle). It returns a `Verdict`:
1.0 with no reasons when the record passes; lower, with one reason per problem, otherwise. Reasons start
with the validator's name (`range: …`, `duplicate: …`) so rejects can be grouped by cause. The collector
takes the minimum over a point's validators as the record's quality.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ValidationError

from homesim.ha.automation_validation import validate_yaml
from homesim.schema.ground_truth import GroundTruth
from homesim.schema.records import (
    AnyRecord,
    AskAIRecord,
    AutomationRecord,
    DeviceHealthRecord,
    PatternRecord,
    SuggestionRecord,
    SynergyRecord,
)
from homesim.training_data.store import RECORD_ADAPTER, content_hash

PASS: Final = 1.0


@dataclass(frozen=True)
class Verdict:
    score: float
    reasons: tuple[str, ...] = ()


OK: Final = Verdict(PASS)


@dataclass
class Context:
    """What validators may consult besides the record."""

    #: The ground truth of a home by key (None when unknown: the consistency check is then skipped).
    truth_of: Callable[[str], GroundTruth | None] = lambda _key: None
    #: Content hash → record id of the records accepted so far, per cycle (kept up to date by the collector).
    seen: dict[int, dict[str, str]] = field(default_factory=dict)


class Validator(Protocol):
    name: str

    def __call__(self, record: AnyRecord, payload: str, ctx: Context) -> Verdict: ...


def _fail(name: str, reasons: list[str], score: float = 0.0) -> Verdict:
    return Verdict(score, tuple(f"{name}: {r}" for r in reasons)) if reasons else OK


# ---------------------------------------------------------------------------------------------- schema


class SchemaValidator:
    """The record's JSON re-validates against its pydantic model (catches records built without
    validation, e.g. `model_construct` or `model_copy(update=…)`)."""

    name = "schema"

    def __call__(self, record: AnyRecord, payload: str, ctx: Context) -> Verdict:
        try:
            RECORD_ADAPTER.validate_json(payload)
        except ValidationError as exc:
            return _fail(self.name, [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()])
        return OK


# -------------------------------------------------------------------------------------- completeness

#: Per stage, the dotted paths of inputs/outputs that must be present and non-empty.
REQUIRED: Final[Mapping[str, tuple[str, ...]]] = {
    "pattern": ("inputs.action_entity", "inputs.action_state", "inputs.features", "outputs", "label"),
    "synergy": ("inputs.trigger.entity_id", "inputs.action.entity_id", "inputs.features", "outputs", "label"),
    "suggestion": (
        "inputs.action_entity",
        "outputs.title",
        "outputs.description",
        "outputs.automation_spec",
        "label",
    ),
    "automation": ("outputs.yaml", "outputs.automation", "label"),
    "ask_ai": ("inputs.request", "outputs.response", "label"),
    "device_health": ("inputs.entity_id", "inputs.window_start", "inputs.window_end", "outputs", "label"),
}

_MISSING: Final = object()


def _get(obj: object, path: str) -> object:
    for part in path.split("."):
        obj = getattr(obj, part, _MISSING)
        if obj is _MISSING:
            return _MISSING
    return obj


class CompletenessValidator:
    """The stage's required inputs and outputs are present and non-empty."""

    name = "completeness"

    def __call__(self, record: AnyRecord, payload: str, ctx: Context) -> Verdict:
        problems = []
        for path in REQUIRED.get(getattr(record, "stage", ""), ()):
            value = _get(record, path)
            if value is _MISSING or value is None:
                problems.append(f"{path} missing")
            elif isinstance(value, str | dict | tuple | list) and not (
                value.strip() if isinstance(value, str) else value
            ):
                problems.append(f"{path} empty")
        return _fail(self.name, problems)


# --------------------------------------------------------------------------------------------- ranges


def _numbers(model: BaseModel, prefix: str) -> list[tuple[str, float]]:
    return [
        (f"{prefix}.{k}", float(v))
        for k, v in model
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]


class RangeValidator:
    """Scores and probabilities in [0, 1], counts ≥ 0, numbers finite, hours in [0, 24), windows inside
    the home's simulated period (when its ground truth is known)."""

    name = "range"

    def __call__(self, record: AnyRecord, payload: str, ctx: Context) -> Verdict:
        problems = [f"scores.{k}={v} outside [0, 1]" for k, v in record.scores.items() if not 0 <= v <= 1]
        outputs, inputs = record.outputs, record.inputs
        score = getattr(outputs, "score", None)
        if score is not None and not 0 <= score <= 1:
            problems.append(f"outputs.score={score} outside [0, 1]")
        features = getattr(inputs, "features", None)
        if isinstance(features, BaseModel):
            for path, value in _numbers(features, "inputs.features"):
                if not math.isfinite(value):
                    problems.append(f"{path}={value} not finite")
                elif value < 0 and isinstance(getattr(features, path.rsplit(".", 1)[1]), int):
                    problems.append(f"{path}={value} negative count")
        if isinstance(record, PatternRecord):
            f = record.inputs.features
            if not 0 <= f.median_hour < 24:
                problems.append(f"inputs.features.median_hour={f.median_hour} outside [0, 24)")
            if not 0 <= f.regularity <= 1:
                problems.append(f"inputs.features.regularity={f.regularity} outside [0, 1]")
        elif isinstance(record, AutomationRecord) and record.outputs.replay is not None:
            replay = record.outputs.replay
            problems += [f"{p}={v} negative count" for p, v in _numbers(replay, "outputs.replay") if v < 0]
            for rate in ("hit_rate", "false_fire_rate"):
                value = getattr(replay, rate)
                if value is not None and not 0 <= value <= 1:
                    problems.append(f"outputs.replay.{rate}={value} outside [0, 1]")
        elif isinstance(record, DeviceHealthRecord):
            problems += self._window(record, ctx.truth_of(record.home_key))
        return _fail(self.name, problems)

    @staticmethod
    def _window(record: DeviceHealthRecord, truth: GroundTruth | None) -> list[str]:
        try:
            start, end = (
                date.fromisoformat(record.inputs.window_start),
                date.fromisoformat(record.inputs.window_end),
            )
        except ValueError as exc:
            return [f"window not ISO dates: {exc}"]
        if start > end:
            return [f"window {start}..{end} ends before it starts"]
        if truth is None:
            return []
        tz = ZoneInfo(truth.timezone)  # windows are local days; the window end is exclusive
        first, last = truth.start.astimezone(tz).date(), truth.end.astimezone(tz).date()
        if start < first or start > last or end > last + timedelta(days=1):
            return [f"window {start}..{end} outside the simulated period {first}..{last}"]
        return []


# --------------------------------------------------------------------------------------- ground truth


class ConsistencyValidator:
    """The record's label agrees with the home's ground truth (skipped when the truth is unknown)."""

    name = "consistency"

    def __call__(self, record: AnyRecord, payload: str, ctx: Context) -> Verdict:
        truth = ctx.truth_of(record.home_key)
        if truth is None:
            return OK
        if truth.home_key != record.home_key:
            return _fail(self.name, [f"ground truth of {truth.home_key} given for {record.home_key}"])
        return _fail(self.name, _contradictions(record, truth))


def _contradictions(record: AnyRecord, truth: GroundTruth) -> list[str]:
    patterns = {p.id: p for p in truth.patterns}
    synergies = {s.id: s for s in truth.synergies}
    problems: list[str] = []

    def known_pattern(pattern_id: str | None) -> None:
        if pattern_id is not None and pattern_id not in patterns:
            problems.append(f"label pattern {pattern_id!r} is not in the home's ground truth")

    if isinstance(record, PatternRecord):
        label = record.label
        if label.is_pattern != (label.pattern_id is not None):
            problems.append(f"label is_pattern={label.is_pattern} but pattern_id={label.pattern_id!r}")
        known_pattern(label.pattern_id)
        pattern = patterns.get(label.pattern_id or "")
        if pattern is not None:
            if label.pattern_type is not None and label.pattern_type != pattern.type:
                problems.append(f"label pattern_type {label.pattern_type!r} but truth says {pattern.type!r}")
            if record.inputs.action_entity not in {a.entity_id for a in pattern.actions}:
                problems.append(f"{record.inputs.action_entity} is not an action of pattern {pattern.id!r}")
    elif isinstance(record, SynergyRecord):
        slabel = record.label
        synergy = synergies.get(slabel.synergy_id or "")
        if slabel.kind in ("active", "potential"):
            if synergy is None:
                problems.append(
                    f"slabel {slabel.kind} synergy {slabel.synergy_id!r} is not in the ground truth"
                )
            elif synergy.status != slabel.kind:
                problems.append(f"slabel {slabel.kind} but truth synergy {synergy.id!r} is {synergy.status}")
        elif synergy is not None:
            problems.append(f"slabel {slabel.kind} but {synergy.id!r} is a {synergy.status} synergy")
    elif isinstance(record, SuggestionRecord):
        glabel = record.label
        known_pattern(glabel.pattern_id)
        if glabel.synergy_id is not None and glabel.synergy_id not in synergies:
            problems.append(f"glabel synergy {glabel.synergy_id!r} is not in the home's ground truth")
        if glabel.is_valid != (glabel.pattern_id is not None or glabel.synergy_id is not None):
            problems.append(f"glabel is_valid={glabel.is_valid} contradicts its pattern/synergy ids")
    elif isinstance(record, AutomationRecord | AskAIRecord):
        known_pattern(record.label.pattern_id)
    elif isinstance(record, DeviceHealthRecord):
        dlabel = record.label
        fault = next((f for f in truth.faults if f.id == dlabel.fault_id), None)
        if dlabel.kind == "healthy":
            if dlabel.fault_id is not None:
                problems.append(f"dlabel healthy but names fault {dlabel.fault_id!r}")
        elif fault is None:
            problems.append(f"dlabel {dlabel.kind} fault {dlabel.fault_id!r} is not in the ground truth")
        elif fault.kind != dlabel.kind or fault.entity_id != record.inputs.entity_id:
            problems.append(
                f"dlabel {dlabel.kind} on {record.inputs.entity_id} but truth fault {fault.id!r} is "
                f"{fault.kind} on {fault.entity_id}"
            )
    return problems


# ------------------------------------------------------------------------------------------ duplicates


class DuplicateValidator:
    """No earlier record of the same cycle has the same content (stage, home, inputs, outputs)."""

    name = "duplicate"

    def __call__(self, record: AnyRecord, payload: str, ctx: Context) -> Verdict:
        first = ctx.seen.get(record.cycle, {}).get(content_hash(record))
        if first is not None and first != record.record_id:
            return _fail(self.name, [f"same content as record {first}"])
        return OK


# ---------------------------------------------------------------------------------------- text quality

#: Template leftovers: `{area}`, `{{`, `}}`, `${x}`, `<placeholder>`, `TODO`.
PLACEHOLDER_RE: Final = re.compile(r"\{[A-Za-z_][A-Za-z0-9_.]*\}|\{\{|\}\}|\$\{|<[a-z_]+>|\bTODO\b")
MIN_CHARS: Final = 3
MAX_CHARS: Final = 2000
#: Share of letters that must be ASCII for the text to pass as English.
MIN_ASCII_LETTERS: Final = 0.9


def text_problems(text: str, what: str) -> list[str]:
    """Length bounds, template leftovers and the mostly-ASCII (English) heuristic for one text."""
    stripped = text.strip()
    if len(stripped) < MIN_CHARS:
        return [f"{what} empty or shorter than {MIN_CHARS} characters"]
    problems = []
    if len(stripped) > MAX_CHARS:
        problems.append(f"{what} longer than {MAX_CHARS} characters")
    if match := PLACEHOLDER_RE.search(stripped):
        problems.append(f"{what} has a leftover template placeholder {match.group(0)!r}")
    letters = [c for c in stripped if c.isalpha()]
    if not letters:
        problems.append(f"{what} has no letters")
    elif sum(c.isascii() for c in letters) / len(letters) < MIN_ASCII_LETTERS:
        problems.append(f"{what} does not look like English (mostly non-ASCII letters)")
    return problems


class TextQualityValidator:
    """Queries, responses and suggestion texts: length, placeholder leftovers, language."""

    name = "text"

    def __call__(self, record: AnyRecord, payload: str, ctx: Context) -> Verdict:
        if isinstance(record, AskAIRecord):
            texts = {"inputs.request": record.inputs.request, "outputs.response": record.outputs.response}
        elif isinstance(record, SuggestionRecord):
            o = record.outputs
            texts = {
                "outputs.title": o.title,
                "outputs.description": o.description,
                "outputs.rationale": o.rationale,
            }
        else:
            return OK
        problems = [p for what, text in texts.items() for p in text_problems(text, what)]
        return _fail(self.name, problems)


# ----------------------------------------------------------------------------------------------- YAML


class YamlValidator:
    """Automation YAML parses and validates as Home Assistant automations (`automations.yaml` syntax):
    an automation record's `outputs.yaml`, an Ask-AI record's `automation_yaml` when it created one."""

    name = "yaml"

    def __call__(self, record: AnyRecord, payload: str, ctx: Context) -> Verdict:
        if isinstance(record, AutomationRecord):
            text: str | None = record.outputs.yaml
        elif isinstance(record, AskAIRecord) and record.outputs.outcome == "create":
            text = record.outputs.automation_yaml
            if text is None:
                return _fail(self.name, ["outcome create without automation_yaml"])
        else:
            return OK
        if not (text or "").strip():
            return _fail(self.name, ["empty YAML"])
        issues = validate_yaml(text or "")
        return _fail(self.name, [f"{i.path}: {i.message}" if i.path else i.message for i in issues[:5]])


SCHEMA: Final = SchemaValidator()
COMPLETENESS: Final = CompletenessValidator()
RANGE: Final = RangeValidator()
CONSISTENCY: Final = ConsistencyValidator()
DUPLICATE: Final = DuplicateValidator()
TEXT: Final = TextQualityValidator()
YAML: Final = YamlValidator()

#: Validators every point runs (schema first: the others assume a well-formed record).
COMMON: Final[tuple[Validator, ...]] = (SCHEMA, COMPLETENESS, RANGE, CONSISTENCY, DUPLICATE)
