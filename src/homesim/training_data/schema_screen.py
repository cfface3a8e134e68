"""The schema check column-wise: what pydantic's validation of a record's JSON would refuse, read off the
one pydantic record model (no second schema to keep in step) and checked over a whole batch at once.

Two halves, both derived from the model:

- `ModelScreen.whole(record)`, per record in Python: every nested model object is of its declared type and
  has every field set (a record built with `model_construct` or `model_copy(update=…)` may lack one: its
  JSON then lacks the key, which a decoded frame cannot tell from null), and the values of a free-form
  `dict[str, float]` (`scores`) are finite numbers under string keys;
- `ModelScreen.flags(schema)`, a polars expression over the batch's payloads as Arrow's JSON reader decodes
  them with the model's schema (`frames.decode_strict`: it converts nothing, so each value already has its
  field's type), true where a required field is null, a number is outside its bounds, a string's or list's
  length is outside its bounds, a string does not match its pattern, a literal is not one of its values or
  a list holds a null (a NaN or infinity serialises as null).

A record that passes both validates (its JSON against its model); every other record is validated by
pydantic itself, so its reasons are pydantic's. A model with anything the screen cannot express (a
validator, another kind of constraint or of free-form field, a union of several types) has no screen
(`model_screen` returns None): every record of it is validated by pydantic.
"""

from __future__ import annotations

import functools
import math
import types
from dataclasses import dataclass
from typing import Annotated, Literal, Union, get_args, get_origin

import annotated_types as at_
import polars as pl
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from homesim.schema.record_frames import at, dtype_of


class _UnsupportedError(Exception):
    """The model holds something the screen cannot check column-wise."""


@dataclass(frozen=True)
class _Shape:
    """What `whole` checks of one model object: its type, its field count and its nested values."""

    model: type[BaseModel]
    fields: int
    #: (field name, shape of a nested model or None for a `dict[str, float]`, whether None is allowed).
    nested: tuple[tuple[str, _Shape | None, bool], ...]

    def whole(self, obj: object) -> bool:
        if type(obj) is not self.model or len(obj.__dict__) != self.fields:
            return False
        for name, shape, optional in self.nested:
            value = obj.__dict__[name]
            if value is None and optional:
                continue
            if shape is None:
                if not _finite_numbers(value):
                    return False
            elif not shape.whole(value):
                return False
        return True


def _finite_numbers(value: object) -> bool:
    """A `dict[str, float]` whose JSON re-validates: string keys, finite int or float values (NaN and
    infinity serialise as null)."""
    return type(value) is dict and all(
        type(k) is str and (type(v) is float or type(v) is int) and math.isfinite(v) for k, v in value.items()
    )


@dataclass(frozen=True)
class ModelScreen:
    """The column-wise schema check of one record model (see the module docstring)."""

    shape: _Shape
    checks: tuple[pl.Expr, ...]

    def whole(self, record: object) -> bool:
        """The record's objects are all there, of their declared types (see the module docstring)."""
        return self.shape.whole(record)

    def flags(self, schema: pl.Schema) -> pl.Expr:
        """True (or null) where a decoded record may fail validation; over `decode_strict`'s frame only."""
        return pl.any_horizontal([pl.lit(False), *self.checks])


@functools.cache
def model_screen(model: type[BaseModel]) -> ModelScreen | None:
    """The screen of `model`; None when the model holds something it cannot check."""
    checks: list[pl.Expr] = []
    try:
        shape = _walk(model, "", None, checks)
    except _UnsupportedError:
        return None
    return ModelScreen(shape, tuple(checks))


def _walk(model: type[BaseModel], prefix: str, present: pl.Expr | None, checks: list[pl.Expr]) -> _Shape:
    """`model`'s shape; its column checks appended to `checks` (`present`: where an optional ancestor is
    not null, None when there is none)."""
    decorators = model.__pydantic_decorators__
    if any(
        (
            decorators.validators,
            decorators.field_validators,
            decorators.root_validators,
            decorators.model_validators,
        )
    ):
        raise _UnsupportedError(model.__name__)
    nested = []
    for name, info in model.model_fields.items():
        entry = _field(prefix + name, info.annotation, list(info.metadata), present, checks)
        if entry is not None:
            nested.append((name, *entry))
    return _Shape(model, len(model.model_fields), tuple(nested))


def _unwrap(annotation: object, metadata: list[object]) -> object:
    """`annotation` without `Annotated[…]` (its constraints added to `metadata`)."""
    while get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        for item in extra:
            metadata += item.metadata if isinstance(item, FieldInfo) else [item]
    return annotation


def _field(
    path: str, annotation: object, metadata: list[object], present: pl.Expr | None, checks: list[pl.Expr]
) -> tuple[_Shape | None, bool] | None:
    """Append the checks of the field at `path`; its (shape, optional) when `whole` must look at it."""
    annotation = _unwrap(annotation, metadata)
    optional = False
    if get_origin(annotation) in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        if len(inner) != 1:
            raise _UnsupportedError(path)
        optional, annotation = True, _unwrap(inner[0], metadata)
    if annotation == dict[str, float]:  # free-form: not decoded, checked by `whole`
        if metadata:
            raise _UnsupportedError(path)
        return None, optional
    value = at(path)
    if not optional:  # null: missing (NaN, infinity) in the JSON, or under a missing parent
        checks.append(value.is_null() if present is None else present & value.is_null())
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if metadata:
            raise _UnsupportedError(path)
        inner_present = value.is_not_null() if present is None else present & value.is_not_null()
        return _walk(annotation, path + ".", inner_present if optional else present, checks), optional
    dtype = dtype_of(annotation)
    if dtype is None:
        raise _UnsupportedError(path)
    if get_origin(annotation) is Literal:
        checks.append(~value.is_in(list(get_args(annotation))).fill_null(False))
    if isinstance(dtype, pl.List):
        if isinstance(dtype.inner, pl.List | pl.Struct):
            raise _UnsupportedError(path)
        checks.append(value.list.eval(pl.element().is_null()).list.any().fill_null(False))
    checks += [_constraint(path, value, dtype, item).fill_null(False) for item in metadata]
    return None


def _constraint(path: str, value: pl.Expr, dtype: pl.DataType, item: object) -> pl.Expr:
    """True where `value` breaks the constraint `item` (`Field(ge=…, max_length=…, pattern=…)`)."""
    size = value.list.len() if isinstance(dtype, pl.List) else value.str.len_chars()
    if isinstance(item, at_.Ge):
        return value < pl.lit(item.ge)
    if isinstance(item, at_.Gt):
        return value <= pl.lit(item.gt)
    if isinstance(item, at_.Le):
        return value > pl.lit(item.le)
    if isinstance(item, at_.Lt):
        return value >= pl.lit(item.lt)
    if isinstance(item, at_.MinLen):
        return size < item.min_length
    if isinstance(item, at_.MaxLen):
        return size > item.max_length
    settings = {k: v for k, v in getattr(item, "__dict__", {}).items() if v is not None}
    if type(item).__name__ == "_PydanticGeneralMetadata" and settings.keys() == {"pattern"}:
        return ~value.str.contains(str(settings["pattern"]))
    raise _UnsupportedError(f"{path}: {item!r}")
