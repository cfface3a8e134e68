"""Ground-truth accuracy: match what the independent TruthVerifier finds to a home's ground-truth
patterns, and aggregate recall and precision over a dataset, overall and by pattern type.

An extracted pattern matches a ground-truth pattern when it names the same entities and states (the
action's, or its revert's) and its parameters are compatible: for a pattern started by a time, numeric or
cheapest-hour trigger, a daily window whose centre falls in the observed window of those events (widened by
30 minutes) or, relative to sunset/sunrise, near the configured offset; a sequence whose trigger is one of
the pattern's trigger entities and whose delay fits the observed delays; or two actions of one
multi-action pattern following each other. Recall is the share of ground-truth patterns with at least
`min_occurrences` firings that some extracted pattern matches; precision is the share of the verifier's
high-confidence patterns that match a ground-truth pattern (by type: of those claiming that type).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict

from homesim.ground_truth.verifier import (
    HOME_ZONE,
    ExtractedPattern,
    ExtractedPatterns,
    SequencePattern,
    TimeOfDayPattern,
)
from homesim.schema.ground_truth import (
    DetectorCounts,
    DetectorScores,
    GroundTruth,
    Pattern,
    TimeWindow,
)
from homesim.schema.patterns import PatternType, TimeTriggerSpec

#: The detector name `ground_truth.json` records for the verifier's baseline scores: an identifier of the
#: file format (stored files compare equal across versions), not the class name.
DETECTOR = "homesim.PatternExtractor"
MIN_OCCURRENCES = 10
PATTERN_TYPES: tuple[PatternType, ...] = get_args(PatternType)
EXTRACTED_KINDS = ("time_of_day", "sequence")
#: Slack around an observed time window, hours.
_WINDOW_TOLERANCE_H = 0.5
#: Slack around a sun-anchored pattern's configured offset, hours.
_SUN_TOLERANCE_H = 0.75
#: A sequence's median delay may be this many times outside the observed 5–95% delays.
_DELAY_FACTOR = 3.0
_PRESENCE_TRIGGERS = ("person.", "device_tracker.", HOME_ZONE)
Role = Literal["action", "revert"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PatternOutcome(_Model):
    pattern_id: str
    type: PatternType
    occurrences: int
    eligible: bool
    recovered: bool


class ExtractedOutcome(_Model):
    kind: Literal["time_of_day", "sequence"]
    #: The type the extracted pattern claims: sun-relative windows are environment, sequences from
    #: presence are presence, other sequences synergy, clock windows time of day.
    predicted_type: PatternType
    label: str
    confidence: float
    high_confidence: bool
    matched_pattern: str | None
    matched_type: PatternType | None


class HomeAccuracy(_Model):
    home_key: str
    min_occurrences: int
    high_confidence: float
    patterns: tuple[PatternOutcome, ...]
    extracted: tuple[ExtractedOutcome, ...]

    def scores(self) -> DetectorScores:
        """The counts by pattern type and by extracted kind that `aggregate_scores` adds up."""
        eligible = [p for p in self.patterns if p.eligible]
        high = [e for e in self.extracted if e.high_confidence]
        recovered = sum(p.recovered for p in eligible)
        matched = sum(e.matched_pattern is not None for e in high)
        return DetectorScores(
            detector=DETECTOR,
            min_occurrences=self.min_occurrences,
            high_confidence=self.high_confidence,
            recall=_share(recovered, len(eligible)),
            precision=_share(matched, len(high)),
            by_type=tuple(
                _counts(
                    t,
                    [p for p in eligible if p.type == t],
                    [e for e in self.extracted if e.predicted_type == t],
                )
                for t in PATTERN_TYPES
            ),
            by_kind=tuple(
                _counts(k, [], [e for e in self.extracted if e.kind == k]) for k in EXTRACTED_KINDS
            ),
            missed=tuple(p.pattern_id for p in eligible if not p.recovered),
            unmatched=tuple(e.label for e in high if e.matched_pattern is None),
        )


def _counts(
    name: str, patterns: Sequence[PatternOutcome], extracted: Sequence[ExtractedOutcome]
) -> DetectorCounts:
    high = [e for e in extracted if e.high_confidence]
    return DetectorCounts(
        name=name,
        eligible=len(patterns),
        recovered=sum(p.recovered for p in patterns),
        extracted=len(extracted),
        matched=sum(e.matched_pattern is not None for e in extracted),
        high_confidence=len(high),
        matched_high_confidence=sum(e.matched_pattern is not None for e in high),
    )


class Row(_Model):
    """Counts of one slice over a dataset, with recall (ground-truth patterns found) and precision (extracted
    high-confidence patterns in the truth) and precision over all extracted patterns."""

    name: str
    eligible: int
    recovered: int
    recall: float | None
    extracted: int
    matched: int
    precision_all: float | None
    high_confidence: int
    matched_high_confidence: int
    precision: float | None


class AccuracyReport(_Model):
    detector: str = DETECTOR
    homes: int
    min_occurrences: int
    high_confidence: float
    total: Row
    #: Recall of each type's patterns; precision of the extracted patterns claiming that type.
    by_type: tuple[Row, ...]
    #: Precision by kind of extracted pattern (time of day, sequence).
    by_kind: tuple[Row, ...]
    #: Extracted high-confidence patterns that match no ground truth, with their home (first 200).
    unmatched: tuple[str, ...]
    #: Eligible ground-truth patterns no extracted pattern recovers, with their home (first 200).
    missed: tuple[str, ...]

    @property
    def recall(self) -> float | None:
        return self.total.recall

    @property
    def precision(self) -> float | None:
        return self.total.precision


def match_home(
    home_key: str,
    patterns: Sequence[Pattern],
    extracted: ExtractedPatterns,
    *,
    min_occurrences: int = MIN_OCCURRENCES,
    high_confidence: float = 0.5,
) -> HomeAccuracy:
    """Match one home's extracted patterns to its ground-truth patterns."""
    recovered: set[str] = set()
    outcomes: list[ExtractedOutcome] = []
    for item in extracted.all:
        matches = [p for p in patterns if matches_pattern(item, p)]
        recovered.update(p.id for p in matches)
        predicted = predicted_type(item)
        best = next((p for p in matches if p.type == predicted), matches[0] if matches else None)
        outcomes.append(
            ExtractedOutcome(
                kind=item.kind,
                predicted_type=predicted,
                label=describe(item),
                confidence=item.confidence,
                high_confidence=item.confidence >= high_confidence,
                matched_pattern=best.id if best else None,
                matched_type=best.type if best else None,
            )
        )
    return HomeAccuracy(
        home_key=home_key,
        min_occurrences=min_occurrences,
        high_confidence=high_confidence,
        patterns=tuple(
            PatternOutcome(
                pattern_id=p.id,
                type=p.type,
                occurrences=p.occurrences,
                eligible=p.occurrences >= min_occurrences,
                recovered=p.id in recovered,
            )
            for p in patterns
        ),
        extracted=tuple(outcomes),
    )


def aggregate(homes: Sequence[HomeAccuracy]) -> AccuracyReport:
    """Recall and precision over many matched homes."""
    return aggregate_scores([(h.home_key, h.scores()) for h in homes])


def aggregate_scores(scores: Sequence[tuple[str, DetectorScores]]) -> AccuracyReport:
    """Recall and precision over many homes' detector scores (the baselines of their ground truth),
    overall, by pattern type and by extracted kind."""
    by_type = [_row(t, [s.by_type[i] for _, s in scores]) for i, t in enumerate(PATTERN_TYPES)]
    by_kind = [_row(k, [s.by_kind[i] for _, s in scores]) for i, k in enumerate(EXTRACTED_KINDS)]
    first = scores[0][1] if scores else None
    return AccuracyReport(
        homes=len(scores),
        min_occurrences=first.min_occurrences if first else MIN_OCCURRENCES,
        high_confidence=first.high_confidence if first else 0.5,
        # Types partition both the ground-truth patterns and the extracted ones: they add up to the total.
        total=_row("all", [c for _, s in scores for c in s.by_type]),
        by_type=tuple(by_type),
        by_kind=tuple(by_kind),
        unmatched=tuple(f"{key}: {label}" for key, s in scores for label in s.unmatched)[:200],
        missed=tuple(f"{key}: {pattern}" for key, s in scores for pattern in s.missed)[:200],
    )


def _row(name: str, counts: Sequence[DetectorCounts]) -> Row:
    total = {
        field: sum(getattr(c, field) for c in counts)
        for field in DetectorCounts.model_fields
        if field != "name"
    }
    return Row(
        name=name,
        **total,
        recall=_share(total["recovered"], total["eligible"]),
        precision_all=_share(total["matched"], total["extracted"]),
        precision=_share(total["matched_high_confidence"], total["high_confidence"]),
    )


# -------------------------------------------------------------------------------------------- matching


def matches_pattern(item: ExtractedPattern, pattern: Pattern) -> bool:
    if isinstance(item, TimeOfDayPattern):
        return _time_of_day_matches(item, pattern)
    return _sequence_matches(item, pattern)


def predicted_type(item: ExtractedPattern) -> PatternType:
    if isinstance(item, TimeOfDayPattern):
        return "time_of_day" if item.frame == "clock" else "environment"
    if item.trigger_entity.startswith(_PRESENCE_TRIGGERS):
        return "presence"
    return "environment" if item.trigger_entity == "sun.sun" else "synergy"


def describe(item: ExtractedPattern) -> str:
    if isinstance(item, TimeOfDayPattern):
        where = (
            f"{item.center_h:+.2f} h from {item.frame}"
            if item.frame != "clock"
            else f"{item.center_h:05.2f} h"
        )
        return f"{item.entity_id} → {item.state} at {where} ({item.days}, ±{item.half_width_min:g} min)"
    return (
        f"{item.trigger_entity} → {item.trigger_state} then {item.action_entity} → {item.action_state} "
        f"after {item.delay.median_s:.1f} s"
    )


def _roles(pattern: Pattern) -> dict[tuple[str, str], Role]:
    roles: dict[tuple[str, str], Role] = {}
    revert = pattern.parameters.revert
    for action in pattern.actions:
        roles[(action.entity_id, action.state)] = "action"
        if revert is not None:
            roles.setdefault((action.entity_id, revert.state), "revert")
    return roles


def _time_of_day_matches(item: TimeOfDayPattern, pattern: Pattern) -> bool:
    role = _roles(pattern).get((item.entity_id, item.state))
    if role is None or pattern.trigger.kind not in ("time", "numeric", "cheapest_hour"):
        return False
    params = pattern.parameters
    if item.frame == "clock":
        window = params.time_window if role == "action" else params.revert_time_window
        return window is not None and _within(item.center_h, window, _WINDOW_TOLERANCE_H)
    trigger = pattern.trigger
    if not isinstance(trigger, TimeTriggerSpec) or trigger.anchor != item.frame:
        return False
    stagger = next(a.stagger_s for a in pattern.actions if a.entity_id == item.entity_id)
    expected = (trigger.offset_min + stagger / 60) / 60
    tolerance = _SUN_TOLERANCE_H
    if role == "revert" and params.revert is not None:
        expected += params.revert.median_min / 60
        tolerance = max(tolerance, 3 * params.revert.sigma * params.revert.median_min / 60)
    return abs(item.center_h - expected) <= tolerance


def _sequence_matches(item: SequencePattern, pattern: Pattern) -> bool:
    roles = _roles(pattern)
    role = roles.get((item.action_entity, item.action_state))
    if role is None:
        return False
    if item.trigger_entity in pattern.trigger_entities:
        delay = pattern.parameters.delay
        if role == "revert" or delay is None or delay.observed_s is None:
            return True
        low, high = delay.observed_s.p05 / _DELAY_FACTOR, delay.observed_s.p95 * _DELAY_FACTOR
        return low <= item.delay.median_s <= high
    # Two actions of one multi-action pattern (a scene) follow each other.
    return (
        roles.get((item.trigger_entity, item.trigger_state)) == role
        and item.trigger_entity != item.action_entity
    )


def _within(hour: float, window: TimeWindow, tolerance: float) -> bool:
    """Whether `hour` lies within the circular window widened by `tolerance` hours on each side."""
    length = (window.end_h - window.start_h) % 24
    offset = (hour - window.start_h + tolerance) % 24
    return offset <= length + 2 * tolerance


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def accuracy_of(truths: Iterable[GroundTruth]) -> AccuracyReport:
    """The accuracy report of homes from the detector scores in their ground truth, without mining again
    (what the dataset manifest carries): over the homes verified at generation, which carry scores."""
    return aggregate_scores(
        [(t.home_key, t.baselines.detector) for t in truths if t.baselines.detector is not None]
    )
