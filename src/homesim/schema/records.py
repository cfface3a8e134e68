"""Training records: one pydantic model per simulation stage (collection point).

Every record carries a deterministic `record_id`, the `cycle` and `home_key` it came from, its `stage`,
what the stage saw (`inputs`), what it said (`outputs`), the ground-truth `label`, `scores` against that
label, the ids of the upstream records it derives from (pattern → suggestion → automation) and the
version of the model that produced it (`"baseline"` when the baseline rule ran). `quality` and
`lineage_ids` are filled in later by the training-data collector.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from homesim.schema.patterns import EntityId

#: The simulation stages, in pipeline order.
StageName = Literal["pattern", "synergy", "suggestion", "automation", "ask_ai", "device_health", "activity"]
STAGES: tuple[StageName, ...] = (
    "pattern",
    "synergy",
    "suggestion",
    "automation",
    "ask_ai",
    "device_health",
    "activity",
)

#: `model_version` of records produced by a stage's documented baseline rather than a deployed model.
BASELINE_VERSION = "baseline"

#: Length of `record_id` in hex characters (96 bits: collisions are negligible at any realistic volume).
RECORD_ID_HEX = 24


def make_record_id(stage: str, home_key: str, cycle: int, *parts: object) -> str:
    """Deterministic record id: the first 24 hex chars of a SHA-256 over stage, home, cycle and the
    stage-specific natural key `parts` (e.g. trigger entity, action entity, kind)."""
    # The unit separator cannot occur in entity ids or keys, so distinct part lists never collide textually.
    text = "\x1f".join([stage, home_key, str(cycle), *(str(p) for p in parts)])
    return hashlib.sha256(text.encode()).hexdigest()[:RECORD_ID_HEX]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: Highest cycle number anywhere (CLI, API, records): far beyond any run, far inside SQLite's integers.
MAX_CYCLE = 1_000_000


class StageRecord(_Model):
    """Fields common to every stage's record."""

    record_id: str = Field(min_length=RECORD_ID_HEX, max_length=RECORD_ID_HEX)
    cycle: int = Field(ge=0, le=MAX_CYCLE)
    #: A folder name of the workspace (`h000001-…`, `real-…`): never a path (no `/`, no leading dot).
    home_key: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    #: Scores of the output against the label (e.g. `score`, `correct`, `replay_hit_rate`).
    scores: dict[str, float] = {}
    #: Record ids of the upstream records this one was built from.
    derived_from: tuple[str, ...] = ()
    #: Version of the deployed model that produced the output; `"baseline"` for the baseline rule.
    model_version: str | None = None
    #: "real" when the home is an imported real home: it has no ground truth, so labels that come from
    #: ground truth are placeholders (nothing matched) and the collector rejects such records.
    home_source: Literal["synthetic", "real"] = "synthetic"
    #: Set by the training-data collector's validators (spliced into the stored JSON: keep `quality` and
    #: `lineage_ids` the last fields before the subclass's `stage`).
    quality: float | None = None
    #: Lineage ids (datasets, runs) assigned by the collector.
    lineage_ids: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------- pattern

PatternKind = Literal["time_of_day", "sequence", "environment", "presence"]


class PatternFeatures(_Model):
    """Statistics of a candidate pattern mined from events (no provenance, no ground truth)."""

    #: Action events matched by the candidate (firings).
    support: int = Field(ge=0)
    #: Trigger occurrences (or eligible days) the candidate had.
    opportunities: int = Field(ge=0)
    #: support / opportunities.
    confidence: float = Field(ge=0)
    #: Fraction of observed days with at least one firing.
    regularity: float = Field(ge=0, le=1)
    #: confidence / base rate of the action in a random window of the same length.
    lift: float = Field(ge=0)
    #: Circular standard deviation of the firing hour, in hours.
    time_spread_h: float = Field(ge=0)
    #: Circular mean local hour of the firings.
    median_hour: float = Field(ge=0, lt=24)
    #: Trigger→action lag median and interquartile range in seconds (0 for time-of-day candidates).
    lag_median_s: float = Field(ge=0)
    lag_iqr_s: float = Field(ge=0)
    #: Share of firings on weekdays (Mon–Fri).
    weekday_share: float = Field(ge=0, le=1)
    #: Total state changes of the action entity to any state in the events.
    action_events: int = Field(ge=0)
    #: Days covered by the events.
    days: int = Field(ge=1)


class PatternInputs(_Model):
    kind: PatternKind
    #: Trigger entity for sequence/presence candidates; None for time-of-day and environment ones.
    trigger_entity: EntityId | None
    trigger_state: str | None
    #: Environment trigger (`sunset`, `sunrise`, `temperature_above`, `temperature_below`); else None.
    trigger_variable: str | None
    #: Threshold of a temperature trigger (°C); None otherwise.
    threshold: float | None
    action_entity: EntityId
    action_state: str
    features: PatternFeatures


class PatternOutputs(_Model):
    score: float = Field(ge=0, le=1)
    predicted: bool
    threshold: float


class PatternLabel(_Model):
    is_pattern: bool
    #: Ground-truth pattern matched, if any.
    pattern_id: str | None = None
    pattern_type: str | None = None


class PatternRecord(StageRecord):
    stage: Literal["pattern"] = "pattern"
    inputs: PatternInputs
    outputs: PatternOutputs
    label: PatternLabel


# ---------------------------------------------------------------------------------------------- synergy

SynergyClass = Literal["active", "potential", "decoy", "none"]


class NodeFeatures(_Model):
    """An entity as a graph node."""

    entity_id: EntityId
    domain: str
    device_class: str | None
    area_id: str | None
    floor_id: str | None
    #: State changes per day in the events.
    events_per_day: float = Field(ge=0)
    #: Share of state changes to an "active" state (on, open, playing, home, …).
    active_share: float = Field(ge=0, le=1)


class SynergyFeatures(_Model):
    same_area: bool
    same_floor: bool
    #: Activations of the trigger followed by an activation of the action within 1, 5 and 30 minutes.
    co_1m: int = Field(ge=0)
    co_5m: int = Field(ge=0)
    co_30m: int = Field(ge=0)
    #: Activations of each entity.
    trigger_activations: int = Field(ge=0)
    action_activations: int = Field(ge=0)
    #: co_5m / trigger_activations and co_5m / action_activations.
    forward_ratio: float = Field(ge=0)
    backward_ratio: float = Field(ge=0)
    #: co_5m minus the count expected if both activated independently (Poisson base rate).
    excess_5m: float
    #: Normalised histogram of trigger→action lags (bins in `LAG_BINS_S`).
    lag_hist: tuple[float, ...]
    lag_median_s: float = Field(ge=0)
    #: Whether the domain pair is one a smart-home automation commonly links (motion→light, …).
    compatible_domains: bool


#: Upper bin edges (seconds) of `SynergyFeatures.lag_hist`.
LAG_BINS_S: tuple[float, ...] = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0)


class SynergyInputs(_Model):
    trigger: NodeFeatures
    action: NodeFeatures
    trigger_state: str
    action_state: str
    features: SynergyFeatures


class SynergyOutputs(_Model):
    score: float = Field(ge=0, le=1)
    predicted: bool
    threshold: float


class SynergyLabel(_Model):
    kind: SynergyClass
    synergy_id: str | None = None
    relation: str | None = None


class SynergyRecord(StageRecord):
    stage: Literal["synergy"] = "synergy"
    inputs: SynergyInputs
    outputs: SynergyOutputs
    label: SynergyLabel


# ------------------------------------------------------------------------------------------- suggestion


class SuggestionInputs(_Model):
    source: Literal["pattern", "synergy"]
    #: Record id of the pattern or synergy record the suggestion comes from.
    source_record_id: str
    trigger_entity: EntityId | None
    action_entity: EntityId
    action_state: str
    source_score: float
    #: Free-form summary of the source (kind, hour, lag, relation…).
    context: dict[str, JsonValue] = {}


class SuggestionOutputs(_Model):
    title: str
    description: str
    rationale: str
    expected_benefit: str
    #: Structured automation spec the AutomationBuilder turns into YAML.
    automation_spec: dict[str, JsonValue]
    #: Template the wording came from; `"llm"` when an LLM endpoint rewrote it.
    template_id: str
    rewritten: bool = False


class SuggestionLabel(_Model):
    #: The suggestion describes a real ground-truth pattern or synergy.
    is_valid: bool
    pattern_id: str | None = None
    synergy_id: str | None = None
    #: Simulated user decision.
    approved: bool | None = None


class SuggestionRecord(StageRecord):
    stage: Literal["suggestion"] = "suggestion"
    inputs: SuggestionInputs
    outputs: SuggestionOutputs
    label: SuggestionLabel


# ------------------------------------------------------------------------------------------- automation


class ReplayResult(_Model):
    """Behaviour of an automation replayed over the home's events."""

    fires: int = Field(ge=0)
    #: Ground-truth pattern occurrences, and how many of them the automation fired on.
    occurrences: int = Field(ge=0)
    fired_on_occurrences: int = Field(ge=0)
    #: Firings with no matching occurrence.
    false_fires: int = Field(ge=0)
    hit_rate: float | None = None
    false_fire_rate: float | None = None


class AutomationInputs(_Model):
    source: Literal["suggestion", "ask_ai", "ground_truth"]
    #: Suggestion record id or Ask-AI record id.
    source_record_id: str | None = None
    request: str | None = None
    spec: dict[str, JsonValue] = {}


class AutomationOutputs(_Model):
    yaml: str
    automation: dict[str, JsonValue]
    valid: bool
    validation_errors: tuple[str, ...] = ()
    replay: ReplayResult | None = None


class AutomationLabel(_Model):
    pattern_id: str | None = None
    #: YAML of the ground-truth automation it is compared with.
    reference_yaml: str | None = None
    structural_match: bool | None = None
    #: Agreement of replayed behaviour with the reference (0–1).
    behavioural_agreement: float | None = None


class AutomationRecord(StageRecord):
    stage: Literal["automation"] = "automation"
    inputs: AutomationInputs
    outputs: AutomationOutputs
    label: AutomationLabel


# ----------------------------------------------------------------------------------------------- ask ai

AskOutcome = Literal["create", "clarify", "refuse"]


class AskAIInputs(_Model):
    request: str
    intent_family: str
    phrasing_style: str
    #: Perturbations applied to the request (synonym, alias, typo, …).
    perturbations: tuple[str, ...] = ()
    turn: int = Field(default=0, ge=0)
    history: tuple[str, ...] = ()


class AskAIOutputs(_Model):
    outcome: AskOutcome
    response: str
    parsed: dict[str, JsonValue] = {}
    automation_yaml: str | None = None


class AskAILabel(_Model):
    expected_outcome: AskOutcome
    intended_automation: dict[str, JsonValue] | None = None
    pattern_id: str | None = None
    approved: bool
    rejection_reason: str | None = None


class AskAIRecord(StageRecord):
    stage: Literal["ask_ai"] = "ask_ai"
    inputs: AskAIInputs
    outputs: AskAIOutputs
    label: AskAILabel


# ---------------------------------------------------------------------------------------- device health

HealthKind = Literal["healthy", "unavailable", "stuck", "battery_drain", "drift", "dropped", "duplicated"]


class HealthFeatures(_Model):
    """Statistics of one entity over one window (a local day)."""

    events: int = Field(ge=0)
    unavailable_count: int = Field(ge=0)
    unavailable_s: float = Field(ge=0)
    #: Longest run of consecutive identical numeric values.
    longest_flat_run: int = Field(ge=0)
    #: Slope of the entity's value (per day) minus the median slope of same-class entities in the home.
    slope_vs_neighbours: float
    #: Battery level slope (% per day); 0 for non-battery entities.
    battery_slope: float
    #: Events in the window / the entity's median events per window.
    report_rate_ratio: float = Field(ge=0)
    #: Events repeating the previous state and value within 2 seconds.
    duplicate_reports: int = Field(ge=0)
    #: |shift of the entity's daily mean from its own median − the median shift of its class that day|,
    #: in units of the entity's day-to-day standard deviation.
    neighbour_deviation: float = Field(ge=0)


class DeviceHealthInputs(_Model):
    entity_id: EntityId
    domain: str
    device_class: str | None
    window_start: str
    window_end: str
    features: HealthFeatures


class DeviceHealthOutputs(_Model):
    predicted: HealthKind
    score: float = Field(ge=0, le=1)


class DeviceHealthLabel(_Model):
    kind: HealthKind
    fault_id: str | None = None


class DeviceHealthRecord(StageRecord):
    stage: Literal["device_health"] = "device_health"
    inputs: DeviceHealthInputs
    outputs: DeviceHealthOutputs
    label: DeviceHealthLabel


# ------------------------------------------------------------------------------------ activity recognition

#: Room classes an activity window counts activations in (HA area room types grouped).


class ActivityFeatures(_Model):
    """Sensor activity inside one labelled activity window (what a recogniser sees; no labels)."""

    duration_s: float = Field(gt=0)
    #: Local clock hour of the window's start (fractional) and weekday (Monday = 0).
    start_hour: float = Field(ge=0, lt=24)
    weekday: int = Field(ge=0, le=6)
    #: Binary activity-sensor activations (motion, occupancy, door) starting in the window.
    activations: int = Field(ge=0)
    motion: int = Field(ge=0)
    door: int = Field(ge=0)
    #: Activations per room class (`schema.activities.ROOMS`).
    bathroom: int = Field(ge=0)
    kitchen: int = Field(ge=0)
    bedroom: int = Field(ge=0)
    living: int = Field(ge=0)
    entrance: int = Field(ge=0)
    other: int = Field(ge=0)
    #: Whether anyone's person entity was `not_home` for the whole window (homesim homes; False if unknown).
    away: bool


class ActivityInputs(_Model):
    person_id: str
    window_start: str
    window_end: str
    features: ActivityFeatures


class ActivityOutputs(_Model):
    predicted: str
    score: float = Field(ge=0, le=1)


class ActivityLabel(_Model):
    #: The activity (`homesim.schema.activities.ACTIVITIES`) and the room it happened in, when known.
    activity: str
    area_id: str | None = None


class ActivityRecord(StageRecord):
    stage: Literal["activity"] = "activity"
    inputs: ActivityInputs
    outputs: ActivityOutputs
    label: ActivityLabel


AnyRecord = Annotated[
    PatternRecord
    | SynergyRecord
    | SuggestionRecord
    | AutomationRecord
    | AskAIRecord
    | DeviceHealthRecord
    | ActivityRecord,
    Field(discriminator="stage"),
]

#: The record type of each stage.
RECORD_TYPES: dict[StageName, type[StageRecord]] = {
    "pattern": PatternRecord,
    "synergy": SynergyRecord,
    "suggestion": SuggestionRecord,
    "automation": AutomationRecord,
    "ask_ai": AskAIRecord,
    "device_health": DeviceHealthRecord,
    "activity": ActivityRecord,
}
