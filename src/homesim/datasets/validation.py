"""Checks every generated home must pass before it is published, and the per-dataset validation report.

Rules (each failure names its rule, so reports aggregate per rule and per home):
`schema.home` and `schema.events` (shapes), `reference.events` (every event's entity exists),
`naming.entity_id` (HA entity ids, device-prefixed object ids), `state.domain` (state valid for the domain),
`time.order` and `time.range` (sorted, inside the home's period), `stats.events_per_day` (per-domain rate
inside an expected band; a warning, since a legitimately odd home can leave the band).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, ValidationError

from homesim.generation.calendar import day_grid
from homesim.schema.events import EVENTS_SCHEMA
from homesim.schema.home import Home
from homesim.schema.naming import is_valid_entity_id, slugify
from homesim.schema.states import COMMON_STATES, NUMERIC_DOMAINS, TIMESTAMP_DOMAINS, allowed_states

Severity = Literal["error", "warning"]

#: Events per day per domain a plausible home stays inside; wide, to catch runaway or silent generators.
EVENTS_PER_DAY_BANDS: dict[str, tuple[float, float]] = {
    "sensor": (1.0, 50_000.0),
    "binary_sensor": (0.0, 20_000.0),
    "light": (0.0, 5_000.0),
    "sun": (1.0, 3.0),
}
#: Band for domains not listed above.
DEFAULT_BAND: tuple[float, float] = (0.0, 1_000.0)
#: How many offending examples a failure message quotes.
_EXAMPLES = 3


class RuleFailure(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule: str
    severity: Severity
    message: str
    count: int = 1


class HomeValidation(BaseModel):
    """Outcome of validating one home; `ok` is False when any error-severity rule failed."""

    model_config = ConfigDict(frozen=True)

    home_key: str
    failures: tuple[RuleFailure, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.failures)


class ValidationReport(BaseModel):
    """Validation results of a dataset: totals per rule and the failures of each home that had any."""

    model_config = ConfigDict(frozen=True)

    homes: int
    passed: int
    failed: int
    warned: int
    by_rule: dict[str, int]
    homes_with_failures: dict[str, tuple[RuleFailure, ...]]

    @classmethod
    def from_homes(cls, results: Iterable[HomeValidation]) -> ValidationReport:
        items = list(results)
        by_rule: Counter[str] = Counter(f.rule for r in items for f in r.failures)
        return cls(
            homes=len(items),
            passed=sum(r.ok for r in items),
            failed=sum(not r.ok for r in items),
            warned=sum(r.ok and bool(r.failures) for r in items),
            by_rule=dict(sorted(by_rule.items())),
            homes_with_failures={r.home_key: r.failures for r in items if r.failures},
        )

    def summary(self) -> dict[str, object]:
        return {
            "homes": self.homes,
            "passed": self.passed,
            "failed": self.failed,
            "warned": self.warned,
            "by_rule": self.by_rule,
        }


def validate_home(home: Home, events: pa.Table) -> HomeValidation:
    """Run every rule on one home and its events table."""
    failures: list[RuleFailure] = []
    failures += _check_home_schema(home)
    if not events.schema.equals(EVENTS_SCHEMA, check_metadata=False):
        failures.append(_error("schema.events", f"events schema differs from EVENTS_SCHEMA: {events.schema}"))
        return HomeValidation(home_key=home.metadata.home_key, failures=tuple(failures))
    failures += _check_naming(home)
    columns = _EventCodes.of(events)
    failures += _check_references(home, columns)
    failures += _check_states(home, columns)
    failures += _check_times(home, columns)
    failures += _check_rates(home, columns)
    return HomeValidation(home_key=home.metadata.home_key, failures=tuple(failures))


@dataclass(frozen=True)
class _EventCodes:
    """The columns the event rules read, as numpy arrays: the rules run on the entity dictionary's codes
    and each distinct state once (a home's ~10^5 events name a few hundred entities and a few thousand
    distinct states), never on each event's text."""

    time: npt.NDArray[np.int64]
    #: Entity id per dictionary code, and each event's code.
    entity_ids: list[str]
    entity: npt.NDArray[np.int64]
    #: Distinct states, and each event's index into them.
    states: list[str]
    state: npt.NDArray[np.int64]
    #: Whether each event's value is a number that is not NaN (a null value is neither).
    number: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, events: pa.Table) -> _EventCodes:
        table = events.select(["time", "entity_id", "state", "value"]).unify_dictionaries().combine_chunks()

        def chunk(name: str) -> pa.Array:
            column = table.column(name)
            return column.chunk(0) if column.num_chunks else pa.array([], column.type)

        entity, state = chunk("entity_id"), pc.dictionary_encode(chunk("state"))
        value = chunk("value")
        return cls(
            time=chunk("time").cast(pa.int64()).to_numpy(zero_copy_only=False),
            entity_ids=entity.dictionary.to_pylist(),
            entity=entity.indices.to_numpy(zero_copy_only=False).astype(np.int64),
            states=state.dictionary.to_pylist(),
            state=state.indices.to_numpy(zero_copy_only=False).astype(np.int64),
            number=pc.fill_null(pc.invert(pc.is_nan(value)), False).to_numpy(zero_copy_only=False),
        )

    def entity_counts(self) -> dict[str, int]:
        """Events per entity id, for the entities that have any."""
        counts = np.bincount(self.entity, minlength=len(self.entity_ids))
        return {e: int(n) for e, n in zip(self.entity_ids, counts.tolist(), strict=True) if n}


def _error(rule: str, message: str, count: int = 1) -> RuleFailure:
    return RuleFailure(rule=rule, severity="error", message=message, count=count)


def _examples(values: Iterable[object]) -> str:
    return ", ".join(repr(v) for v in list(values)[:_EXAMPLES])


def _check_home_schema(home: Home) -> list[RuleFailure]:
    # Re-validating from plain data re-runs every field rule and the referential checks of `Home`,
    # which a model built with model_construct or mutated copies would otherwise skip.
    try:
        Home.model_validate(home.model_dump())
    except ValidationError as exc:
        return [_error("schema.home", f"{e['loc']}: {e['msg']}") for e in exc.errors()]
    return []


def _check_naming(home: Home) -> list[RuleFailure]:
    devices = {d.id: d for d in home.devices}
    bad_ids = [e.entity_id for e in home.entities if not is_valid_entity_id(e.entity_id)]
    # HA 2024 naming: an entity of a device has an object id that starts with the device's slug.
    unprefixed = [
        e.entity_id
        for e in home.entities
        if e.device_id in devices
        and e.has_entity_name
        and not e.object_id.startswith(slugify(devices[e.device_id].name))
    ]
    failures = []
    if bad_ids:
        failures.append(_error("naming.entity_id", f"invalid entity ids: {_examples(bad_ids)}", len(bad_ids)))
    if unprefixed:
        failures.append(
            _error(
                "naming.entity_id",
                f"object ids not prefixed by their device's name: {_examples(unprefixed)}",
                len(unprefixed),
            )
        )
    return failures


def _check_references(home: Home, events: _EventCodes) -> list[RuleFailure]:
    known = {e.entity_id for e in home.entities}
    unknown = sorted(set(events.entity_counts()) - known)
    if unknown:
        return [
            _error(
                "reference.events", f"events of entities not in the home: {_examples(unknown)}", len(unknown)
            )
        ]
    return []


def _check_states(home: Home, events: _EventCodes) -> list[RuleFailure]:
    by_entity = {e.entity_id: e for e in home.entities}
    numeric_ids = {e.entity_id for e in home.entities if e.domain in NUMERIC_DOMAINS}
    # A numeric entity's state that reads as a number is fine; every other (entity, state) pair is
    # checked once, by its distinct pair, with its count and whether all its values are NaN.
    numeric = np.array([e in numeric_ids for e in events.entity_ids], dtype=bool)
    parsed = pl.Series(events.states, dtype=pl.String).cast(pl.Float64, strict=False).is_not_null()
    # Gathers by take/compress: what indexing gives, without numpy's slower general indexing path.
    unusual = ~(numeric.take(events.entity) & parsed.to_numpy().take(events.state))
    pair = events.entity.compress(unusual) * max(len(events.states), 1) + events.state.compress(unusual)
    # Distinct pairs from a hash table, not a sort (the rules and the sorted examples need no order).
    encoded = pc.dictionary_encode(pa.array(pair))
    pairs, inverse = encoded.dictionary.to_numpy(), encoded.indices.to_numpy()
    counts = np.bincount(inverse, minlength=len(pairs))
    has_number = np.bincount(inverse, weights=events.number.compress(unusual), minlength=len(pairs)) > 0
    bad: list[str] = []
    count = 0
    for key, n, numbered in zip(pairs.tolist(), counts.tolist(), has_number.tolist(), strict=True):
        entity_id, state = divmod(key, max(len(events.states), 1))
        entity = by_entity.get(events.entity_ids[entity_id])
        if entity is None:
            continue  # reported by reference.events
        if not _state_ok(entity.domain, entity.options, events.states[state], not numbered):
            bad.append(f"{entity.entity_id}={events.states[state]}")
            count += n
    if bad:
        return [_error("state.domain", f"states invalid for their domain: {_examples(sorted(bad))}", count)]
    return []


def _state_ok(domain: str, options: tuple[str, ...], state: str, value_nan: bool) -> bool:
    if state in COMMON_STATES:
        return True
    if domain in NUMERIC_DOMAINS:
        try:
            float(state)
        except ValueError:
            # Enum sensors (device_class enum) report words; their numeric value column is then NaN.
            return value_nan
        return True
    if domain in TIMESTAMP_DOMAINS:
        try:
            datetime.fromisoformat(state)
        except ValueError:
            return False
        return True
    allowed = allowed_states(domain, options)
    return allowed is None or state in allowed


def _check_times(home: Home, events: _EventCodes) -> list[RuleFailure]:
    if len(events.time) == 0:
        return []
    failures = []
    times = events.time
    backwards = int((np.diff(times) < 0).sum())
    if backwards:
        failures.append(
            _error("time.order", f"{backwards} events are earlier than the event before them", backwards)
        )
    meta = home.metadata
    grid = day_grid(meta.start, meta.days, meta.timezone)
    outside = int(((times < grid.begin_us) | (times >= grid.end_us)).sum())
    if outside:
        failures.append(
            _error(
                "time.range",
                f"{outside} events outside the home's {meta.days} days from {meta.start}",
                outside,
            )
        )
    return failures


def _check_rates(home: Home, events: _EventCodes) -> list[RuleFailure]:
    days = home.metadata.days
    domains = {e.domain for e in home.entities}
    counts: dict[str, int] = {}
    for entity_id, n in events.entity_counts().items():
        domain = entity_id.split(".", 1)[0]
        counts[domain] = counts.get(domain, 0) + n
    failures = []
    for domain in sorted(domains | set(counts)):
        low, high = EVENTS_PER_DAY_BANDS.get(domain, DEFAULT_BAND)
        rate = counts.get(domain, 0) / days
        if not low <= rate <= high:
            failures.append(
                RuleFailure(
                    rule="stats.events_per_day",
                    severity="warning",
                    message=f"{domain}: {rate:.2f} events/day, expected {low:g}–{high:g}",
                )
            )
    return failures
