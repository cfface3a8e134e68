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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final, NamedTuple, Protocol, overload, runtime_checkable
from zoneinfo import ZoneInfo

import polars as pl
from pydantic import BaseModel, ValidationError

from homesim.ha.automation_validation import validate_yaml
from homesim.schema.ground_truth import FaultTruth, GroundTruth, Pattern, Synergy
from homesim.schema.record_frames import (
    SCORES,
    as_decoded,
    at,
    check_schema,
    construct,
    decode,
    decode_strict,
    dtype_at,
    encode,
)
from homesim.schema.records import (
    ActivityRecord,
    AnyRecord,
    AskAIRecord,
    AutomationRecord,
    DeviceHealthRecord,
    PatternRecord,
    SuggestionRecord,
    SynergyRecord,
)
from homesim.training_data.schema_screen import model_screen
from homesim.training_data.store import RECORD_ADAPTER, Serialised, content_hash, serialised_rows

PASS: Final = 1.0


@dataclass(frozen=True)
class Verdict:
    score: float
    reasons: tuple[str, ...] = ()


OK: Final = Verdict(PASS)


@dataclass(frozen=True)
class TruthIndex:
    """A home's ground truth indexed by id (built once per home, not once per record)."""

    truth: GroundTruth
    patterns: dict[str, Pattern]
    synergies: dict[str, Synergy]
    faults: dict[str, FaultTruth]

    @classmethod
    def of(cls, truth: GroundTruth) -> TruthIndex:
        return cls(
            truth,
            {p.id: p for p in truth.patterns},
            {s.id: s for s in truth.synergies},
            {f.id: f for f in truth.faults},
        )


@dataclass
class Context:
    """What validators may consult besides the record."""

    #: The ground truth of a home by key (None when unknown: the consistency check is then skipped).
    truth_of: Callable[[str], GroundTruth | None] = lambda _key: None
    #: Content hash → record id of the records accepted so far, per cycle (kept up to date by the collector).
    seen: dict[int, dict[str, str]] = field(default_factory=dict)
    _indexes: dict[str, TruthIndex] = field(default_factory=dict, repr=False)

    def truth_index(self, home_key: str) -> TruthIndex | None:
        """`truth_of(home_key)`, indexed; cached while `truth_of` keeps returning the same object."""
        truth = self.truth_of(home_key)
        if truth is None:
            return None
        index = self._indexes.get(home_key)
        if index is None or index.truth is not truth:
            index = self._indexes[home_key] = TruthIndex.of(truth)
        return index


class Item(NamedTuple):
    """A record of a batch under validation, serialised once (its payload and content hash)."""

    record: AnyRecord
    serialised: Serialised

    @property
    def payload(self) -> str:
        return self.serialised.payload


class Validator(Protocol):
    """Scores one record."""

    name: str

    def __call__(self, record: AnyRecord, payload: str, ctx: Context) -> Verdict: ...


class Batch:
    """The records of one collection point under validation, each serialised once, and (decoded on first
    use) their payloads as one polars frame for column-wise screening.

    Built either from record objects (`Batch(items)`) or from a record frame (`Batch.of_frame`: the frame is
    the decoded form already, payloads are written column-wise and a record object is built only for the
    rows a validator looks at on its own)."""

    def __init__(self, items: Sequence[Item]) -> None:
        self.items = items
        self._frame: pl.DataFrame | None = None
        self._decoded = False
        #: Whether Arrow's reader decoded the frame (`frames.decode_strict`: every value of its type).
        self.strict = False
        self._kind: type[BaseModel] | None = None
        self._kind_known = False
        #: Whether the batch came as a frame (which then also holds the scores, screened with the rest).
        self.columnar = False

    @classmethod
    def of_frame(cls, kind: type[BaseModel], frame: pl.DataFrame) -> Batch:
        """A batch of the records of a `frames.record_schema` frame of `kind` (ValueError if not one)."""
        check_schema(frame, kind)
        payloads = encode(frame)
        # The label is the last field (`check_schema`): the content slice ends where it starts.
        serialised = serialised_rows(payloads, frame["home_key"].to_list(), encode(frame, ("label",)))
        batch = cls(_FrameItems(kind, frame, serialised))
        batch._frame, batch._decoded, batch.strict = as_decoded(frame), True, True
        batch._kind, batch._kind_known, batch.columnar = kind, True, True
        return batch

    @property
    def kind(self) -> type[BaseModel] | None:
        """The batch's record type; None when it mixes types (or is empty)."""
        if not self._kind_known:
            kinds = {type(item.record) for item in self.items}
            self._kind, self._kind_known = (kinds.pop() if len(kinds) == 1 else None), True
        return self._kind

    def column(self, name: str, *, lenient: bool = False) -> list[Any]:
        """A top-level field of every record: AttributeError where a malformed record lacks it, as reading
        it off the record would (None instead when `lenient`)."""
        if isinstance(self.items, _FrameItems):
            column = self.items.frame[name]
            if isinstance(column.dtype, pl.List) and not column.null_count() and not column.list.len().max():
                return [()] * len(column)  # all empty (lineage ids, parents: as usual)
            values: list[Any] = column.to_list()
            return values
        if lenient:
            return [getattr(item.record, name, None) for item in self.items]
        return [getattr(item.record, name) for item in self.items]

    def serialised_all(self) -> Sequence[Serialised]:
        """Every record as serialised."""
        if isinstance(self.items, _FrameItems):
            return self.items.serialised
        return [item.serialised for item in self.items]

    def frame(self) -> pl.DataFrame | None:
        """The decoded payloads (see `frames.decode`); None when the batch mixes record types or a payload
        does not decode (a malformed record: the validators then look at each record on its own)."""
        if not self._decoded:
            self._decoded = True
            kind = self.kind
            if kind is not None:
                payloads = [item.payload for item in self.items]
                self._frame = decode_strict(payloads, kind)
                self.strict = self._frame is not None
                if self._frame is None:
                    try:
                        self._frame = decode(payloads, kind)
                    except (pl.exceptions.PolarsError, ValueError):
                        self._frame = None
        return self._frame

    def flagged(self, screen: Callable[[pl.Schema], pl.Expr | None]) -> list[bool] | None:
        """Which records `screen` flags (an expression over the decoded frame, true where a record may have
        a problem; null counts as flagged); None when there is no frame or no expression for it."""
        frame = self.frame()
        expr = None if frame is None else screen(frame.schema)
        if frame is None or expr is None:
            return None
        # with_columns broadcasts a literal (no column-wise check applies) to every row
        flags: list[bool] = frame.with_columns(expr.fill_null(True).alias("__flag"))["__flag"].to_list()
        return flags


class _FrameItems(Sequence[Item]):
    """The items of a frame batch: each row's record object is built (`frames.construct`) when asked for."""

    def __init__(self, kind: type[BaseModel], frame: pl.DataFrame, serialised: Sequence[Serialised]) -> None:
        self.kind, self.frame, self.serialised = kind, frame, serialised
        self._built: dict[int, Item] = {}

    def __len__(self) -> int:
        return len(self.serialised)

    @overload
    def __getitem__(self, index: int) -> Item: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Item]: ...
    def __getitem__(self, index: int | slice) -> Item | Sequence[Item]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        item = self._built.get(index)
        if item is None:
            record = construct(self.kind, self.frame.row(index, named=True))
            item = self._built[index] = Item(record, self.serialised[index])  # type: ignore[arg-type]
        return item


@runtime_checkable
class BatchValidator(Validator, Protocol):
    """A validator that also scores a whole batch at once. `passing[i]` tells whether item i passed the
    validators that ran before this one (the collector runs the validators in the point's order)."""

    def check_batch(self, batch: Batch, ctx: Context, passing: Sequence[bool]) -> list[Verdict]: ...


def check_one(validator: Validator, item: Item, ctx: Context) -> Verdict:
    """`validator`'s verdict on one record; a validator that cannot read a malformed record (one that
    failed the schema check) scores it 0."""
    try:
        return validator(item.record, item.payload, ctx)
    except Exception as exc:  # a record that failed the schema check may lack what this one reads
        return Verdict(0.0, (f"{validator.name}: could not check: {type(exc).__name__}: {exc}",))


def check_batch(validator: Validator, batch: Batch, ctx: Context, passing: Sequence[bool]) -> list[Verdict]:
    """`validator`'s verdicts on a batch: its batch method when it has one, else one call per record."""
    if isinstance(validator, BatchValidator):
        try:
            return validator.check_batch(batch, ctx, passing)
        except Exception:  # a malformed record in the batch: find it (and score it 0) one by one
            pass
    return [check_one(validator, item, ctx) for item in batch.items]


def _screened(
    validator: Validator,
    batch: Batch,
    ctx: Context,
    screen: Callable[[pl.Schema], pl.Expr | None],
    unflagged: Callable[[int], Verdict] | None = None,
) -> list[Verdict]:
    """Column-wise screening: the full check for the records `screen` flags (or all, when the batch has no
    frame), `unflagged(i)` (default: a pass) for the others (record i is looked at only when flagged)."""
    flags = batch.flagged(screen)
    if flags is None:
        return [check_one(validator, item, ctx) for item in batch.items]
    items = batch.items
    if unflagged is None:
        verdicts = [OK] * len(flags)
        for i in [i for i, flag in enumerate(flags) if flag]:
            verdicts[i] = check_one(validator, items[i], ctx)
        return verdicts
    return [check_one(validator, items[i], ctx) if flag else unflagged(i) for i, flag in enumerate(flags)]


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

    def check_batch(self, batch: Batch, ctx: Context, passing: Sequence[bool]) -> list[Verdict]:
        """Screened column-wise (`schema_screen`): pydantic validates only the records the screen flags, or
        every record when the batch has no strictly decoded frame or its model no screen."""
        kind = batch.kind
        screen = None if kind is None else model_screen(kind)
        flags = None if screen is None else batch.flagged(screen.flags)
        if screen is None or flags is None or not batch.strict:
            return [check_one(self, item, ctx) for item in batch.items]
        if batch.columnar:  # a frame's records are whole but for their scores (null where not finite)
            return _screened(self, batch, ctx, lambda schema: screen.flags(schema) | _scores_missing(schema))
        items = batch.items
        return [
            check_one(self, items[i], ctx) if flag or not screen.whole(items[i].record) else OK
            for i, flag in enumerate(flags)
        ]


def _scores_missing(schema: pl.Schema) -> pl.Expr:
    """True where a frame batch's score is null (not finite: `frames.as_decoded`)."""
    scores = schema.get(SCORES)
    fields = scores.fields if isinstance(scores, pl.Struct) else ()
    return pl.any_horizontal([pl.lit(False), *(at(f"{SCORES}.{f.name}").is_null() for f in fields)])


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
    "activity": ("inputs.person_id", "inputs.window_start", "inputs.features", "outputs", "label.activity"),
}

_MISSING: Final = object()
#: REQUIRED with each path split once.
_REQUIRED_PARTS: Final = {
    stage: tuple((path, tuple(path.split("."))) for path in paths) for stage, paths in REQUIRED.items()
}


def _get(obj: object, parts: tuple[str, ...]) -> object:
    for part in parts:
        obj = getattr(obj, part, _MISSING)
        if obj is _MISSING:
            return _MISSING
    return obj


def _empty(path: str, dtype: pl.DataType) -> pl.Expr:
    """True where the field at `path` is empty (blank string, empty list); null where it is missing."""
    if dtype == pl.String():
        return at(path).str.strip_chars().str.len_chars() == 0
    if isinstance(dtype, pl.List):
        return at(path).list.len() == 0
    return at(path).is_null()


class CompletenessValidator:
    """The stage's required inputs and outputs are present and non-empty (screened column-wise)."""

    name = "completeness"

    def check_batch(self, batch: Batch, ctx: Context, passing: Sequence[bool]) -> list[Verdict]:
        stages = (
            batch.column("stage")[:1]
            if batch.columnar
            else [getattr(i.record, "stage", "") for i in batch.items[:1]]
        )
        stage = stages[0] if stages else ""

        def screen(schema: pl.Schema) -> pl.Expr | None:
            flags = []
            for path in REQUIRED.get(stage, ()):
                dtype = dtype_at(schema, path)
                if dtype is None:
                    return None
                flags.append(_empty(path, dtype))
            return pl.any_horizontal(flags) if flags else None

        return _screened(self, batch, ctx, screen)

    def __call__(self, record: AnyRecord, payload: str, ctx: Context) -> Verdict:
        problems = []
        for path, parts in _REQUIRED_PARTS.get(getattr(record, "stage", ""), ()):
            value = _get(record, parts)
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


def _feature_problems(features: BaseModel) -> list[str]:
    """Non-finite numbers and negative counts (int fields) among a features model's values."""
    problems = []
    for name, value in features.__dict__.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, float):
            if not math.isfinite(value):
                problems.append(f"inputs.features.{name}={value} not finite")
        elif isinstance(value, int) and value < 0:
            problems.append(f"inputs.features.{name}={float(value)} negative count")
    return problems


def _range_screen(schema: pl.Schema) -> pl.Expr:
    """Records whose output score, features (non-finite floats, negative counts) or pattern hour and
    regularity may be out of range."""
    flags = [pl.lit(False)]
    scores = schema.get(SCORES)  # only a frame batch decodes them (see `Batch.of_frame`)
    for score in scores.fields if isinstance(scores, pl.Struct) else ():
        flags.append(~at(f"{SCORES}.{score.name}").is_between(0, 1))
    if dtype_at(schema, "outputs.score") is not None:
        flags.append(~at("outputs.score").is_between(0, 1))
    features = dtype_at(schema, "inputs.features")
    for feature in features.fields if isinstance(features, pl.Struct) else ():
        value = at(f"inputs.features.{feature.name}")
        if feature.dtype == pl.Float64():
            flags.append(~value.is_finite())
        elif feature.dtype == pl.Int64():
            flags.append(value < 0)
    if dtype_at(schema, "inputs.features.median_hour") is not None:
        hour = at("inputs.features.median_hour")
        flags += [(hour < 0) | (hour >= 24), ~at("inputs.features.regularity").is_between(0, 1)]
    return pl.any_horizontal(flags)


class RangeValidator:
    """Scores and probabilities in [0, 1], counts ≥ 0, numbers finite, hours in [0, 24), windows inside
    the home's simulated period (when its ground truth is known)."""

    name = "range"

    def __call__(self, record: AnyRecord, payload: str, ctx: Context) -> Verdict:
        return _fail(self.name, self._scores(record) + self._screened(record) + self._specific(record, ctx))

    def check_batch(self, batch: Batch, ctx: Context, passing: Sequence[bool]) -> list[Verdict]:
        """What `_screened` checks is screened column-wise, and so are device-health windows (`_window`);
        the rest runs per record."""
        frame, items = batch.frame(), batch.items
        # A frame batch's scores are screened with the rest: of its unflagged records only an automation
        # record's replay is left to check (device-health windows are screened too).
        columnar = batch.columnar and batch.kind is not AutomationRecord
        if batch.kind is DeviceHealthRecord and frame is not None:
            periods = {home: _period(ctx.truth_of(home)) for home in frame["home_key"].unique().drop_nulls()}
            return _screened(
                self,
                batch,
                ctx,
                lambda schema: _range_screen(schema) | _window_screen(periods),
                None if columnar else lambda i: _fail(self.name, self._scores(items[i].record)),
            )
        return _screened(
            self,
            batch,
            ctx,
            _range_screen,
            None
            if columnar
            else lambda i: _fail(
                self.name, self._scores(items[i].record) + self._specific(items[i].record, ctx)
            ),
        )

    @staticmethod
    def _scores(record: AnyRecord) -> list[str]:
        return [f"scores.{k}={v} outside [0, 1]" for k, v in record.scores.items() if not 0 <= v <= 1]

    @staticmethod
    def _screened(record: AnyRecord) -> list[str]:
        """The checks `_range_screen` does column-wise: output score, features, pattern hour/regularity."""
        problems = []
        score = getattr(record.outputs, "score", None)
        if score is not None and not 0 <= score <= 1:
            problems.append(f"outputs.score={score} outside [0, 1]")
        features = getattr(record.inputs, "features", None)
        if isinstance(features, BaseModel):
            problems += _feature_problems(features)
        if isinstance(record, PatternRecord):
            f = record.inputs.features
            if not 0 <= f.median_hour < 24:
                problems.append(f"inputs.features.median_hour={f.median_hour} outside [0, 24)")
            if not 0 <= f.regularity <= 1:
                problems.append(f"inputs.features.regularity={f.regularity} outside [0, 1]")
        return problems

    def _specific(self, record: AnyRecord, ctx: Context) -> list[str]:
        problems: list[str] = []
        if isinstance(record, AutomationRecord) and record.outputs.replay is not None:
            replay = record.outputs.replay
            problems += [f"{p}={v} negative count" for p, v in _numbers(replay, "outputs.replay") if v < 0]
            for rate in ("hit_rate", "false_fire_rate"):
                value = getattr(replay, rate)
                if value is not None and not 0 <= value <= 1:
                    problems.append(f"outputs.replay.{rate}={value} outside [0, 1]")
        elif isinstance(record, DeviceHealthRecord):
            problems += self._window(record, ctx.truth_of(record.home_key))
        return problems

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
        first, last = _period(truth) or (start, end)
        if start < first or start > last or end > last + timedelta(days=1):
            return [f"window {start}..{end} outside the simulated period {first}..{last}"]
        return []


def _period(truth: GroundTruth | None) -> tuple[date, date] | None:
    """The first and last local day of a home's simulated period (windows are local days; a window's end
    is exclusive); None when the truth is unknown."""
    if truth is None:
        return None
    tz = ZoneInfo(truth.timezone)
    return truth.start.astimezone(tz).date(), truth.end.astimezone(tz).date()


#: An ISO date as `date.fromisoformat` reads it and `str.to_date` cannot read otherwise (other spellings it
#: accepts, or that polars would, are flagged and checked per record).
_ISO_DATE: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


def _window_screen(periods: Mapping[str, tuple[date, date] | None]) -> pl.Expr:
    """Device-health records whose window may not be ISO dates, may end before it starts or may lie outside
    its home's period (`periods`: per home key, None when its truth is unknown)."""
    starts, ends = at("inputs.window_start"), at("inputs.window_end")
    start = starts.str.to_date("%Y-%m-%d", strict=False)
    end = ends.str.to_date("%Y-%m-%d", strict=False)
    known = {home: period for home, period in periods.items() if period is not None}
    home = pl.col("home_key")
    first = home.replace_strict({h: p[0] for h, p in known.items()}, default=None, return_dtype=pl.Date)
    last = home.replace_strict({h: p[1] for h, p in known.items()}, default=None, return_dtype=pl.Date)
    outside = (start < first) | (start > last) | (end > last.dt.offset_by("1d"))
    return (
        ~starts.str.contains(_ISO_DATE)
        | ~ends.str.contains(_ISO_DATE)
        | start.is_null()
        | end.is_null()
        | (start > end)
        | (first.is_not_null() & outside)
    )


# --------------------------------------------------------------------------------------- ground truth


class ConsistencyValidator:
    """The record's label agrees with the home's ground truth (skipped when the truth is unknown). A record
    of a real home, whose label would come from ground truth, fails: that home has none, so the label is
    a placeholder, not a fact to train on (Ask-AI labels come with the generated request and activity labels
    with the dataset's own annotations: those pass)."""

    name = "consistency"

    def __call__(self, record: AnyRecord, payload: str, ctx: Context) -> Verdict:
        if record.home_source == "real" and not isinstance(record, AskAIRecord | ActivityRecord):
            return _fail(self.name, ["a real home has no ground truth to label this record with"])
        index = ctx.truth_index(record.home_key)
        if index is None:
            return OK
        if index.truth.home_key != record.home_key:
            return _fail(self.name, [f"ground truth of {index.truth.home_key} given for {record.home_key}"])
        return _fail(self.name, _contradictions(record, index))

    def check_batch(self, batch: Batch, ctx: Context, passing: Sequence[bool]) -> list[Verdict]:
        """For a frame batch of pattern, synergy or device-health records: the rule (`__call__`) runs once
        per distinct combination of what it reads (`_READS`), on a record holding only that, and its verdict
        is every such record's; first over what it always reads, then, for the records whose check read
        more (the input a label names), over that too. One rule, so the column-wise check cannot drift from
        the per-record one: a field the rule reads but `_READS` leaves out is missing from that record (its
        verdict then says it could not check, as the per-record path would never). Every other batch is
        checked record by record."""
        frame, kind = batch.frame(), batch.kind
        reads = _READS.get(kind) if kind is not None else None
        # Only a frame batch's records are sure to hold their labels as models (a record object may hold a
        # dict there, which decodes like a model but cannot be read like one).
        if not batch.columnar or frame is None or kind is None or reads is None:
            return [check_one(self, item, ctx) for item in batch.items]
        always, some = reads
        verdicts: list[Verdict] = [OK] * frame.height
        rest = self._once_per_key(
            batch, frame.with_row_index("__row"), kind, always, ctx, verdicts, bool(some)
        )
        if rest is not None:
            self._once_per_key(batch, rest, kind, (*always, *some), ctx, verdicts, False)
        return verdicts

    def _once_per_key(
        self,
        batch: Batch,
        frame: pl.DataFrame,
        kind: type[BaseModel],
        paths: tuple[str, ...],
        ctx: Context,
        verdicts: list[Verdict],
        partial: bool,
    ) -> pl.DataFrame | None:
        """The verdicts of `frame`'s records (`__row` says which), the rule run once per distinct value of
        `paths`; when `partial`, the records whose check read more are left out and returned instead."""
        keys = frame.select("__row", *(at(path).alias(path) for path in paths))
        nest = _nesting(paths)
        serialised = batch.serialised_all()
        deferred: list[int] = []
        for *key, rows in keys.group_by(paths).agg("__row").iter_rows():
            record: Any = construct(kind, nest(key))
            if partial:
                try:
                    verdict = self(record, serialised[rows[0]].payload, ctx)
                except Exception:  # it read a field it was not given (or the record is malformed)
                    deferred += rows
                    continue
            else:
                verdict = check_one(self, Item(record, serialised[rows[0]]), ctx)
            for i in rows:
                verdicts[i] = verdict
        return frame.filter(pl.col("__row").is_in(deferred)) if deferred else None


#: Per record type, what `ConsistencyValidator` reads (dotted paths; a whole label: it is small): what it
#: reads of every record, and what it reads of some only (the input compared with what a label names).
_READS: Final[dict[type[BaseModel], tuple[tuple[str, ...], tuple[str, ...]]]] = {
    PatternRecord: (("home_key", "home_source", "label"), ("inputs.action_entity",)),
    SynergyRecord: (("home_key", "home_source", "label"), ()),
    DeviceHealthRecord: (("home_key", "home_source", "label"), ("inputs.entity_id",)),
}


def _nesting(paths: Sequence[str]) -> Callable[[Sequence[object]], dict[str, Any]]:
    """A function taking the values at dotted `paths` to nested mappings (`inputs.entity_id` to
    `{"inputs": {"entity_id": …}}`)."""
    split = [path.split(".") for path in paths]

    def nest(values: Sequence[object]) -> dict[str, Any]:
        nested: dict[str, Any] = {}
        for (*parents, name), value in zip(split, values, strict=True):
            into = nested
            for parent in parents:
                into = into.setdefault(parent, {})
            into[name] = value
        return nested

    return nest


def _contradictions(record: AnyRecord, index: TruthIndex) -> list[str]:
    patterns, synergies = index.patterns, index.synergies
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
        fault = index.faults.get(dlabel.fault_id or "")
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
    """No earlier record of the same cycle has the same content (stage, home, inputs, outputs): neither one
    accepted in an earlier batch (`Context.seen`) nor an earlier one of the batch that passes the other
    validators. Run it last: what runs after it must depend on the content only."""

    name = "duplicate"

    def __call__(self, record: AnyRecord, payload: str, ctx: Context) -> Verdict:
        return self._verdict(ctx.seen.get(record.cycle, {}).get(content_hash(record)), record.record_id)

    def _verdict(self, first: str | None, record_id: str) -> Verdict:
        if first is not None and first != record_id:
            return _fail(self.name, [f"same content as record {first}"])
        return OK

    def check_batch(self, batch: Batch, ctx: Context, passing: Sequence[bool]) -> list[Verdict]:
        digests = [row.content_hash for row in batch.serialised_all()]
        cycles = batch.column("cycle")
        if len(set(cycles)) == 1:  # one cycle (as usual), nothing seen twice: nothing to look at one by one
            unique = set(digests)
            if len(unique) == len(digests) and unique.isdisjoint(ctx.seen.get(cycles[0], {})):
                return [OK] * len(digests)
        claimed: dict[tuple[int, str], str] = {}
        verdicts = []
        for cycle, record_id, digest, ok in zip(
            cycles, batch.column("record_id"), digests, passing, strict=True
        ):
            key = (cycle, digest)
            first = ctx.seen.get(cycle, {}).get(digest) or claimed.get(key)
            verdict = self._verdict(first, record_id)
            if ok and first is None:
                claimed[key] = record_id
            verdicts.append(verdict)
        return verdicts


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

#: Checks of one record on its own (schema first: the others assume a well-formed record).
CHECKS: Final[tuple[Validator, ...]] = (SCHEMA, COMPLETENESS, RANGE, CONSISTENCY)
#: Validators every point runs: the record checks, then the duplicate check (always last).
COMMON: Final[tuple[Validator, ...]] = (*CHECKS, DUPLICATE)
