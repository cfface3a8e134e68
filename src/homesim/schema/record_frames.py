"""Records as polars frames: the struct dtype of a pydantic record model, one vectorised decode of a batch
of stored payloads (JSON), expressions for dotted paths into the decoded records, and the other way round
for record frames built column-wise (`record_schema`, `encode`: the JSON pydantic would write, byte for
byte; `construct`: one row as a record object, for the few records a validator looks at on their own).

`RecordFrame` is how a stage hands over its records as such a frame (pattern, synergy and device-health
detection: the bulk of a cycle's records): a sequence of records built only when someone reads them as
records.

Used where records are handled column-wise: the stages that build their records as frames, the cycle that
carries them to the sink, the collector's frame path (`emit_frame`), the validators' batch screening, and the
formatters of the high-volume model types.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Annotated, Any, Generic, Literal, TypeVar, Union, get_args, get_origin, overload

import polars as pl
import pyarrow as pa
import pyarrow.json as pa_json
from pydantic import BaseModel

#: The one free-form field a record frame carries (as a struct of Float64 fields, one per score name).
SCORES = "scores"


def envelope(
    ids: Sequence[str], cycle: int, home_key: str, scores: pl.Expr, version: str, stage: str
) -> list[pl.Expr | pl.Series]:
    """The columns every record of a simulated home shares, in the record model's field order up to
    `stage` (a stage's frame adds its own `inputs`, `outputs` and `label` after them)."""
    return [
        pl.Series("record_id", ids, pl.String),
        pl.lit(cycle, pl.Int64).alias("cycle"),
        pl.lit(home_key, pl.String).alias("home_key"),
        scores.alias(SCORES),
        pl.lit([], pl.List(pl.String)).alias("derived_from"),
        pl.lit(version, pl.String).alias("model_version"),
        pl.lit("synthetic", pl.String).alias("home_source"),
        pl.lit(None, pl.Float64).alias("quality"),
        pl.lit([], pl.List(pl.String)).alias("lineage_ids"),
        pl.lit(stage, pl.String).alias("stage"),
    ]


def dtype_of(annotation: object) -> pl.DataType | None:
    """The polars dtype a JSON value of `annotation` decodes to; None for free-form values (dicts, JSON)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:  # a constrained type (`EntityId`) decodes as its base type
        return dtype_of(args[0])
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return dtype_of(inner[0]) if len(inner) == 1 else None
    if origin is Literal:
        return pl.String() if all(isinstance(a, str) for a in args) else None
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = dtype_of(args[0])
        return None if item is None else pl.List(item)
    scalars: dict[object, pl.DataType] = {
        bool: pl.Boolean(),
        int: pl.Int64(),
        float: pl.Float64(),
        str: pl.String(),
    }
    if annotation in scalars:
        return scalars[annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return struct_of(annotation)
    return None


@functools.cache
def struct_of(model: type[BaseModel]) -> pl.Struct:
    """The polars struct a model's JSON decodes to (free-form fields left out: polars skips them)."""
    fields = [(name, dtype_of(info.annotation)) for name, info in model.model_fields.items()]
    return pl.Struct([pl.Field(name, dtype) for name, dtype in fields if dtype is not None])


def _arrow(dtype: pa.DataType) -> pa.DataType:
    """`dtype` with the 32-bit-offset strings and lists Arrow's JSON reader builds (polars' are 64-bit)."""
    if pa.types.is_large_string(dtype):
        return pa.string()
    if pa.types.is_large_list(dtype) or pa.types.is_list(dtype):
        return pa.list_(_arrow(dtype.value_type))
    if pa.types.is_struct(dtype):
        return pa.struct([pa.field(f.name, _arrow(f.type)) for f in dtype])
    return dtype


@functools.cache
def _arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """The Arrow schema of `struct_of(model)`'s fields, for Arrow's JSON reader."""
    empty = pl.DataFrame(schema=dict(struct_of(model).to_schema())).to_arrow()
    return pa.schema([pa.field(f.name, _arrow(f.type)) for f in empty.schema])


def decode(payloads: Sequence[str], model: type[BaseModel]) -> pl.DataFrame:
    """Stored record payloads as a frame with one (struct) column per decodable field of `model`.

    Arrow's JSON reader does it (measured: 0.35 against 0.6 CPU seconds for 50,000 pattern payloads with
    polars' `json_decode`, the same frame); whatever it refuses (a value of another type than the model
    says, one payload larger than its block) is decoded by polars, as before."""
    frame = decode_strict(payloads, model)
    if frame is None:
        return pl.Series("record", payloads, pl.String()).str.json_decode(struct_of(model)).struct.unnest()
    return frame


def decode_strict(payloads: Sequence[str], model: type[BaseModel]) -> pl.DataFrame | None:
    """`decode` by Arrow's JSON reader alone: None when it refuses a payload. It converts nothing (a float
    where the model says int, a number where it says string, a boolean where it says number: refused), so
    every value of the frame has its field's type (what the column-wise schema check builds on); a key the
    model does not decode (free-form fields) is skipped."""
    dtype = struct_of(model)
    if not payloads:
        return pl.DataFrame(schema=dict(dtype.to_schema()))
    data = "\n".join(payloads).encode()
    options = pa_json.ParseOptions(explicit_schema=_arrow_schema(model), unexpected_field_behavior="ignore")
    try:
        table = pa_json.read_json(pa.BufferReader(data), parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.cast(dict(dtype.to_schema()))  # type: ignore[arg-type]


def at(path: str) -> pl.Expr:
    """The field at a dotted path of the decoded records (`inputs.features.support`)."""
    head, *rest = path.split(".")
    expr = pl.col(head)
    for name in rest:
        expr = expr.struct.field(name)
    return expr


def dtype_at(schema: pl.Schema, path: str) -> pl.DataType | None:
    """The dtype of the field at a dotted path of decoded records; None when there is no such field."""
    head, *rest = path.split(".")
    dtype: object = schema.get(head)
    for name in rest:
        if not isinstance(dtype, pl.Struct):
            return None
        dtype = next((f.dtype for f in dtype.fields if f.name == name), None)
    return dtype if isinstance(dtype, pl.DataType) else None


def record_schema(model: type[BaseModel], scores: Sequence[str]) -> pl.Schema:
    """The schema of a frame of `model` records: every field in declaration order (the order pydantic writes
    them) with `struct_of`'s dtypes, and `scores` as a struct of the named Float64 scores. ValueError when
    the model has another free-form field (its records cannot travel as frames)."""
    columns: dict[str, pl.DataType] = {}
    for name, info in model.model_fields.items():
        dtype: pl.DataType | None = pl.Struct([pl.Field(s, pl.Float64()) for s in scores])
        if name != SCORES:
            dtype = dtype_of(info.annotation)
        if dtype is None:
            raise ValueError(f"{model.__name__}.{name} has no frame dtype")
        columns[name] = dtype
    return pl.Schema(columns)


def check_schema(frame: pl.DataFrame, model: type[BaseModel]) -> None:
    """ValueError unless `frame` has exactly `record_schema(model, …)` (any score names)."""
    scores = frame.schema.get(SCORES)
    names = [f.name for f in scores.fields] if isinstance(scores, pl.Struct) else []
    expected = record_schema(model, names)
    if list(expected)[-4:] != ["stage", "inputs", "outputs", "label"]:  # what a payload's content slice is
        raise ValueError(f"{model.__name__} does not end with stage, inputs, outputs, label")
    if frame.schema != expected:
        got = dict(frame.schema)
        wrong = [f"{n}: {got.get(n)} (expected {d})" for n, d in expected.items() if got.get(n) != d]
        extra = [n for n in got if n not in expected]
        raise ValueError(f"not a {model.__name__} frame: {'; '.join(wrong + extra) or 'column order'}")


def encode(frame: pl.DataFrame, columns: Sequence[str] | None = None) -> list[str]:
    """Each row of `frame` (its `columns`, default all) as JSON: for a `record_schema` frame the bytes
    `model_dump_json()` writes for the same record (shortest round-trip floats, NaN and infinity as null,
    the same string escapes; checked in tests/test_collector_frames.py)."""
    names = list(frame.columns if columns is None else columns)
    encoded: list[str] = frame.select(pl.struct(names).struct.json_encode().alias("json"))["json"].to_list()
    return encoded


def _finite(expr: pl.Expr, dtype: Any) -> pl.Expr:  # a polars dtype (instance or class)
    """`expr` with every NaN and infinity (at any depth) replaced by null."""
    if dtype == pl.Float64():
        return pl.when(expr.is_finite()).then(expr)
    if isinstance(dtype, pl.Struct) and _has_float(dtype):
        fields = [_finite(expr.struct.field(f.name), f.dtype).alias(f.name) for f in dtype.fields]
        return pl.when(expr.is_not_null()).then(pl.struct(fields))
    if isinstance(dtype, pl.List) and _has_float(dtype):
        return expr.list.eval(_finite(pl.element(), dtype.inner))
    return expr


def _has_float(dtype: Any) -> bool:
    if isinstance(dtype, pl.Struct):
        return any(_has_float(f.dtype) for f in dtype.fields)
    if isinstance(dtype, pl.List):
        return _has_float(dtype.inner)
    return bool(dtype == pl.Float64())


def as_decoded(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` as `decode_strict` would read its `encode`d rows back: NaN and infinity become null."""
    if not any(_has_float(dtype) for dtype in frame.schema.values()):
        return frame
    return frame.select(_finite(pl.col(name), dtype).alias(name) for name, dtype in frame.schema.items())


def construct(model: type[BaseModel], row: Mapping[str, object]) -> BaseModel:
    """A frame row (`DataFrame.row(i, named=True)`) as a `model` object, without validation (so a bad
    value stays what it is: the validators then say what is wrong with it, as for any record). A field the
    row lacks is missing from the object (reading it raises AttributeError), defaults included: what
    `model_construct` does but that (3× the cost, and the consistency check builds one per label)."""
    values: dict[str, Any] = {name: convert(row[name]) for name, convert in _converters(model) if name in row}
    built = model.__new__(model)
    object.__setattr__(built, "__dict__", values)
    object.__setattr__(built, "__pydantic_fields_set__", set(values))
    object.__setattr__(built, "__pydantic_extra__", None)
    object.__setattr__(built, "__pydantic_private__", None)
    return built


@functools.cache
def _converters(model: type[BaseModel]) -> tuple[tuple[str, Callable[[Any], object]], ...]:
    """Per field of `model`, how a frame value becomes the field's value (worked out once per model)."""
    return tuple((name, _converter(info.annotation)) for name, info in model.model_fields.items())


def _same(value: object) -> object:
    return value


def _converter(annotation: object) -> Callable[[Any], object]:
    """Lists as tuples, mappings as (constructed) models, where `annotation` says so; the rest as it is."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _converter(args[0])
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if len(inner) != 1:
            return _same
        convert = _converter(inner[0])
        return _same if convert is _same else lambda v: v if v is None else convert(v)
    if origin is tuple:
        item = _converter(args[0] if args else object)
        return lambda v: tuple(map(item, v)) if isinstance(v, list) else v
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return lambda v: construct(annotation, v) if isinstance(v, Mapping) else v
    return _same


def frame_of(records: Sequence[BaseModel], model: type[BaseModel]) -> pl.DataFrame:
    """Records of `model` as a `record_schema` frame (the score names of the first record; ValueError when
    another has other ones): for record objects that exist anyway (tests, benchmarks); a stage emitting
    frames would build its frame from its own columns instead."""
    scores = list(getattr(records[0], SCORES, {})) if records else []
    rows = [record.model_dump() for record in records]
    for row in rows:
        if list(row.get(SCORES, {})) != scores:
            raise ValueError(f"scores {list(row.get(SCORES, {}))} differ from the first record's {scores}")
    return pl.DataFrame(rows, schema=record_schema(model, scores), orient="row")


R = TypeVar("R", bound=BaseModel)


class RecordFrame(Sequence[R], Generic[R]):
    """A stage's records as a `record_schema` frame of `model` (`frame`), readable as a sequence of records:
    those are built (validated, as the stage would have built them) on first read, all at once, and only
    then. A consumer that can read the frame (the cycle's sink, the metrics) never builds them."""

    def __init__(self, model: type[R], frame: pl.DataFrame) -> None:
        self.model, self.frame = model, frame
        self._records: list[R] | None = None

    @property
    def records(self) -> list[R]:
        if self._records is None:
            self._records = [self.model.model_validate(row) for row in self.frame.iter_rows(named=True)]
        return self._records

    def __len__(self) -> int:
        return self.frame.height

    @overload
    def __getitem__(self, index: int) -> R: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[R]: ...
    def __getitem__(self, index: int | slice) -> R | Sequence[R]:
        return self.records[index]

    def __iter__(self) -> Iterator[R]:
        return iter(self.records)

    def where(self, predicate: pl.Expr) -> RecordFrame[R]:
        """The records `predicate` (over the frame: `at("outputs.predicted")`) holds for, none built."""
        return RecordFrame(self.model, self.frame.filter(predicate))

    def with_columns(self, **values: object) -> RecordFrame[R]:
        """The same records with top-level fields set to one value each (`home_source="real"`)."""
        frame = self.frame.with_columns(pl.lit(v, self.frame.schema[k]).alias(k) for k, v in values.items())
        return RecordFrame(self.model, frame)

    def __eq__(self, other: object) -> bool:
        """Equal to a record frame of the same model with an equal frame (nulls equal, NaN too)."""
        if not isinstance(other, RecordFrame):
            return NotImplemented
        return self.model is other.model and self.frame.equals(other.frame)

    __hash__ = None  # type: ignore[assignment]  # mutable cache, compared by content

    def __getstate__(self) -> dict[str, object]:
        return {"model": self.model, "frame": self.frame}  # the records, if built, are rebuilt on demand

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.model, self.frame, self._records = state["model"], state["frame"], None
