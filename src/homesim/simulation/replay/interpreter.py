"""Replay: an interpreter that runs an HA automation over a home's recorded history.

This module owns *when an automation would have acted*: triggers (state with from/to/for, numeric_state
above/below/for, time `at`, time_pattern, sun with offset, zone enter/leave of `zone.home`, a few template
idioms; `homeassistant` start and `event` never fire in a replay) and conditions (state/numeric_state as
of the moment, time after/before/weekday, sun after/before, trigger ids, and/or/not) evaluated column-wise
with polars/numpy, then the action sequence walked once per automation (delays, `choose`, `if`, waits with
timeouts, repeat, parallel, stop, run modes) into the service calls it would have made; what it cannot run
is reported per automation as not replayable. Replay reads the events *without* `cause`/`cause_id`; the
scoring against a ground-truth pattern is `replay.scoring`, the service ↔ state vocabulary
`schema.vocabulary`.

Why one module of ~870 lines: `Replayer` is one interpreter whose trigger, condition and action
evaluation share its per-entity signal caches (states, numeric series, sun events, local clocks); split by
concern, the parts would be mixins reaching into each other's caches, which reads worse than the sections
below.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import time
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
from pydantic_core import PydanticSerializationError

from homesim.generation.calendar import US_PER_MIN, US_PER_S
from homesim.ha.automation import (
    Action,
    AndCondition,
    Automation,
    ChooseAction,
    Condition,
    ConditionAction,
    DelayAction,
    DurationValue,
    EventAction,
    IfAction,
    NotCondition,
    NumericStateCondition,
    NumericStateTrigger,
    OrCondition,
    ParallelAction,
    RepeatAction,
    SceneAction,
    SequenceAction,
    ServiceAction,
    SetConversationResponseAction,
    StateCondition,
    StateTrigger,
    StopAction,
    SunCondition,
    SunTrigger,
    TemplateCondition,
    TemplateTrigger,
    TimeCondition,
    TimePatternTrigger,
    TimeTrigger,
    Trigger,
    TriggerCondition,
    VariablesAction,
    WaitForTriggerAction,
    WaitTemplateAction,
    ZoneCondition,
    ZoneTrigger,
    duration_to_timedelta,
    is_template,
)
from homesim.ha.automation.values import WEEKDAYS
from homesim.schema.vocabulary import implied_state, sun_crossings

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]
#: A state series as numpy columns: time_us, state, prev (the state before), next_us (the next change).
StateColumns = tuple[I64, ObjectArray, ObjectArray, I64]

#: Environment-backed signals are sampled on this grid: HA's sun and weather entities update every few
#: minutes, so a threshold crossing is placed to within a minute rather than at the hourly source rows.
_GRID_US = US_PER_MIN
#: Where HA entities that a home's event log does not carry get their values: the environment table.
_ENVIRONMENT_SOURCES: dict[tuple[str, str | None], str] = {
    ("sun.sun", "elevation"): "sun_elevation_deg",
    # Any weather entity: homes name theirs (`weather.garden_weather_forecast`); HA's default: forecast_home.
    ("weather", "temperature"): "temperature_c",
    ("weather", "humidity"): "humidity_pct",
    ("sensor.grid_carbon_intensity", None): "carbon_intensity_g_per_kwh",
    ("sensor.electricity_price", None): "price_per_kwh",
}
# ------------------------------------------------------------------------------------------- input


@dataclass(frozen=True)
class ReplayInput:
    """What a replay may look at: state changes (no cause columns), the environment, the home's clock."""

    #: time_us (int64, UTC µs), entity_id, state, value (float, NaN if not numeric), attributes (JSON).
    events: pl.DataFrame
    #: time_us plus the environment's float columns (hourly), or None.
    environment: pl.DataFrame | None
    timezone: str
    start_us: int
    end_us: int

    @classmethod
    def build(
        cls,
        events: pa.Table | pl.DataFrame,
        environment: pa.Table | pl.DataFrame | None,
        timezone: str,
        span: tuple[int, int] | None = None,
    ) -> ReplayInput:
        """Normalise an events table (cause columns dropped) and environment; `span` defaults to theirs."""
        frame = _frame(events)
        frame = frame.select(
            _epoch_us(frame), pl.col("entity_id").cast(pl.Utf8), "state", "value", "attributes"
        ).sort("time_us", maintain_order=True)
        env = None
        if environment is not None:
            raw = _frame(environment)
            floats = [name for name, dtype in raw.schema.items() if dtype == pl.Float64]
            env = raw.select(_epoch_us(raw), *floats).sort("time_us")
        if span is None:
            times = frame.get_column("time_us")
            lo = int(times.min()) if frame.height else 0  # type: ignore[arg-type]
            hi = int(times.max()) + 1 if frame.height else 0  # type: ignore[arg-type]
            if env is not None and env.height:
                lo = min(lo, int(env.item(0, "time_us"))) if frame.height else int(env.item(0, "time_us"))
                hi = max(hi, int(env.item(-1, "time_us")) + 3600 * US_PER_S)
            span = (lo, hi)
        return cls(frame, env, timezone, span[0], span[1])


def _frame(table: pa.Table | pl.DataFrame) -> pl.DataFrame:
    frame = table if isinstance(table, pl.DataFrame) else pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _epoch_us(frame: pl.DataFrame) -> pl.Expr:
    if "time_us" in frame.columns:
        return pl.col("time_us").cast(pl.Int64)
    return pl.col("time").dt.epoch("us").alias("time_us")


# ------------------------------------------------------------------------------------------ output


@dataclass(frozen=True)
class Replay:
    """The service calls an automation would have made, and what limited the replay."""

    #: One row per (call, target entity): trigger_us, call_us, action, entity_id, state (implied), branch.
    calls: pl.DataFrame
    #: Trigger firings before conditions, and runs started (conditions passed, not dropped by the mode).
    triggered: int
    runs: int
    #: Parts of the automation the interpreter cannot evaluate ("not replayable": such a trigger never
    #: fires, such a condition never holds, such a step ends the run), one line each.
    unsupported: tuple[str, ...]

    @property
    def replayable(self) -> bool:
        """Whether every part of the automation was evaluated (else the calls are a lower bound)."""
        return not self.unsupported

    def call_times(self, entity_ids: Sequence[str] | None = None, state: str | None = None) -> I64:
        """Sorted times of calls on `entity_ids` (all if None) that leave them in `state` (any if None)."""
        if entity_ids is None and state is None:
            return np.unique(self.calls.get_column("call_us").to_numpy().astype(np.int64))
        wanted = None if entity_ids is None else set(entity_ids)
        # A null state (a call that implies none) is matched only by "any state".
        parts = [
            times
            for (entity, called), times in self.targets.items()
            if (wanted is None or entity in wanted) and (state is None or called == state)
        ]
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)

    @cached_property
    def targets(self) -> dict[tuple[str, str | None], I64]:
        """Call times per (entity, implied state), grouped once: scoring asks for many such pairs."""
        grouped = self.calls.select("entity_id", "state", "call_us").partition_by(
            "entity_id", "state", as_dict=True, maintain_order=True
        )
        return {
            (str(key[0]), None if key[1] is None else str(key[1])): frame.get_column("call_us")
            .to_numpy()
            .astype(np.int64)
            for key, frame in grouped.items()
        }


#: The fields of an automation its replay depends on.
_BEHAVIOUR = {"triggers", "conditions", "actions", "mode"}

_CALL_SCHEMA = {
    "trigger_us": pl.Int64,
    "call_us": pl.Int64,
    "action": pl.Utf8,
    "entity_id": pl.Utf8,
    "state": pl.Utf8,
    "branch": pl.Utf8,
}

# ---------------------------------------------------------------------------------------- interpreter

_TEMPLATE_VALUE = re.compile(
    r"(?:state_attr\('(?P<entity>[a-z_]+\.[a-z0-9_]+)',\s*'(?P<attribute>\w+)'\)"
    r"|states\('(?P<state_entity>[a-z_]+\.[a-z0-9_]+)'\))\s*\|\s*(?:float|int)\(0\)\s*(?P<op>[<>])\s*"
    r"(?P<bound>-?\d+(?:\.\d+)?)"
)
_TEMPLATE_PEOPLE = re.compile(
    r"states\.person\s*\|\s*selectattr\('state',\s*'eq',\s*'home'\)\s*\|\s*list\s*\|\s*count\s*"
    r"(?P<op>==|>|<|>=|<=)\s*(?P<n>\d+)"
)
_TEMPLATE_IS_STATE = re.compile(r"is_state\('(?P<entity>[a-z_]+\.[a-z0-9_]+)',\s*'(?P<state>[^']*)'\)")
_TEMPLATE_ZONE = re.compile(r"states\('zone\.home'\)\s*\|\s*int\(0\)\s*(?P<op>==|>|<|>=|<=)\s*(?P<n>\d+)")
_COMPARE = {
    "==": np.equal,
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
}


@dataclass
class _Candidates:
    """Trigger firings under evaluation: times and the id of the trigger that fired."""

    times: I64
    ids: npt.NDArray[np.object_]


class Replayer:
    """Replays automations over one home's history; per-entity series are computed once and shared."""

    def __init__(self, data: ReplayInput) -> None:
        self.data = data
        self._unsupported: list[str] = []
        self._series: dict[tuple[str, str | None], pl.DataFrame] = {}
        self._replays: dict[str, Replay] = {}
        self._clocks: dict[time, I64] = {}
        self._columns: dict[tuple[str, str | None], StateColumns] = {}

    # ---------------------------------------------------------------------------------- signals

    @cached_property
    def _by_entity(self) -> dict[str, pl.DataFrame]:
        return {
            str(key[0]): frame
            for key, frame in self.data.events.partition_by("entity_id", as_dict=True).items()
        }

    def states(self, entity_id: str, attribute: str | None = None) -> pl.DataFrame:
        """An entity's state changes (or an attribute's value changes): time_us, state, prev, next_us."""
        key = (entity_id, attribute)
        if key not in self._series:
            frame = self._by_entity.get(entity_id, pl.DataFrame(schema=self.data.events.schema))
            value = pl.col("state") if attribute is None else _attribute(attribute)
            frame = frame.select("time_us", value.alias("state"))
            # Attribute-only updates are not state changes: HA's state triggers skip them.
            frame = frame.filter(pl.col("state").ne_missing(pl.col("state").shift(1)))
            self._series[key] = frame.with_columns(
                pl.col("state").shift(1).alias("prev"),
                pl.col("time_us").shift(-1).fill_null(self.data.end_us).alias("next_us"),
            )
        return self._series[key]

    def numeric(self, entity_id: str, attribute: str | None) -> tuple[I64, F64]:
        """A numeric signal's sample times and values, from the events or else the environment."""
        frame = self._by_entity.get(entity_id, pl.DataFrame(schema=self.data.events.schema))
        value = pl.col("value") if attribute is None else _attribute(attribute).cast(pl.Float64, strict=False)
        if attribute is None:
            value = (
                pl.when(value.is_nan()).then(pl.col("state").cast(pl.Float64, strict=False)).otherwise(value)
            )
        frame = frame.select("time_us", value.alias("v")).drop_nulls().filter(pl.col("v").is_not_nan())
        source = _ENVIRONMENT_SOURCES.get(
            (entity_id, attribute), _ENVIRONMENT_SOURCES.get((entity_id.partition(".")[0], attribute))
        )
        # sun.sun's recorded changes are horizon crossings only; its elevation lives in the environment.
        if source is not None and (frame.height == 0 or entity_id == "sun.sun"):
            return self._environment(source)
        return frame.get_column("time_us").to_numpy().astype(np.int64), frame.get_column("v").to_numpy()

    def _environment(self, column: str) -> tuple[I64, F64]:
        env = self.data.environment
        if env is None or column not in env.columns:
            self._unsupported.append(f"environment column {column!r} unavailable")
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        grid = np.arange(self.data.start_us, self.data.end_us, _GRID_US, dtype=np.int64)
        xp = env.get_column("time_us").to_numpy().astype(np.float64)
        values = np.interp(grid.astype(np.float64), xp, env.get_column(column).to_numpy())
        return grid, values

    @cached_property
    def sun_events(self) -> dict[str, I64]:
        """Sunrise and sunset times: sun.sun's horizon changes, or the environment's elevation crossings."""
        changes = self.states("sun.sun")
        if changes.height:
            return {
                event: changes.filter(pl.col("state") == state)
                .get_column("time_us")
                .to_numpy()
                .astype(np.int64)
                for event, state in (("sunrise", "above_horizon"), ("sunset", "below_horizon"))
            }
        times, elevation = self._environment("sun_elevation_deg")
        crossings: dict[str, I64] = sun_crossings(times, elevation)
        return crossings

    def _local(self, times: I64) -> pl.DataFrame:
        """Local date, seconds since local midnight and weekday (0 = Monday) of UTC µs times."""
        local = (
            pl.Series("t", times, dtype=pl.Int64)
            .cast(pl.Datetime("us", "UTC"))
            .dt.convert_time_zone(self.data.timezone)
        )
        return pl.DataFrame(
            {
                "date": local.dt.date(),
                "seconds": local.dt.hour().cast(pl.Int64) * 3600
                + local.dt.minute().cast(pl.Int64) * 60
                + local.dt.second().cast(pl.Int64),
                "weekday": local.dt.weekday().cast(pl.Int64) - 1,
            }
        )

    def _local_times(self, clock: time) -> I64:
        """UTC µs of a local clock time on every day of the replay span (made once per clock time)."""
        if clock not in self._clocks:
            stamps = self._clock_times(clock)
            stamps.flags.writeable = False  # shared by every trigger at this time
            self._clocks[clock] = stamps
        return self._clocks[clock]

    def _clock_times(self, clock: time) -> I64:
        days = self._local(np.array([self.data.start_us, self.data.end_us], np.int64)).get_column("date")
        dates = pl.date_range(days[0], days[1], "1d", eager=True)
        stamps = (
            dates.dt.combine(clock)
            .dt.replace_time_zone(self.data.timezone, ambiguous="earliest", non_existent="null")
            .drop_nulls()
            .dt.epoch("us")
            .to_numpy()
            .astype(np.int64)
        )
        return stamps[(stamps >= self.data.start_us) & (stamps < self.data.end_us)]

    # ---------------------------------------------------------------------------------- triggers

    def trigger(self, trigger: Trigger, index: int) -> _Candidates:
        times = self._trigger_times(trigger)
        times = times[(times >= self.data.start_us) & (times < self.data.end_us)]
        ids = np.full(len(times), trigger.id if trigger.id is not None else str(index), dtype=object)
        return _Candidates(times, ids)

    def _trigger_times(self, trigger: Trigger) -> I64:
        if not self._enabled(trigger.enabled, f"trigger {trigger.trigger!r}"):
            return _empty()
        if isinstance(trigger, StateTrigger):
            return np.concatenate(
                [self._state_trigger(trigger, entity) for entity in _listed(trigger.entity_id)] or [_empty()]
            )
        if isinstance(trigger, NumericStateTrigger):
            if trigger.value_template is not None:
                self._unsupported.append(f"numeric_state value_template {trigger.value_template!r}")
                return _empty()
            series = [self.numeric(entity, trigger.attribute) for entity in _listed(trigger.entity_id)]
            bound = [_in_range(v, self._bound(trigger.above), self._bound(trigger.below)) for _, v in series]
            return np.concatenate(
                [
                    _rising(t, b, self._seconds(trigger.for_), self.data.end_us)
                    for (t, _), b in zip(series, bound, strict=True)
                ]
                or [_empty()]
            )
        if isinstance(trigger, TimeTrigger):
            at = trigger.at if isinstance(trigger.at, list) else [trigger.at]
            return np.concatenate([self._at(value) for value in at] or [_empty()])
        if isinstance(trigger, TimePatternTrigger):
            return self._time_pattern(trigger)
        if isinstance(trigger, SunTrigger):
            return self.sun_events[trigger.event] + self._seconds(trigger.offset)
        if isinstance(trigger, ZoneTrigger):
            return self._zone_trigger(trigger)
        if isinstance(trigger, TemplateTrigger):
            signal = self._template(trigger.value_template)
            if signal is None:
                return _empty()
            return _rising(signal[0], signal[1], self._seconds(trigger.for_), self.data.end_us)
        # HA start/stop, events, webhooks, MQTT, devices, … are not in a home's recorded state history.
        self._unsupported.append(f"trigger {trigger.trigger!r}")
        return _empty()

    def _enabled(self, enabled: bool | str | None, what: str) -> bool:
        """Whether a step takes part (`enabled: false` switches it off; a template is not replayable)."""
        if isinstance(enabled, str):
            self._unsupported.append(f"{what} enabled by template {enabled!r}")
            return False
        return enabled is not False

    def _seconds(self, duration: DurationValue | None) -> int:
        """A `for`/offset/delay in µs (0 when absent; a template is recorded as not replayable)."""
        if duration is None:
            return 0
        try:
            return int(duration_to_timedelta(duration).total_seconds() * US_PER_S)
        except ValueError:
            self._unsupported.append(f"templated duration {duration!r}")
            return 0

    def _state_trigger(self, trigger: StateTrigger, entity: str) -> I64:
        times, state, prev, next_us = self._state_columns(entity, trigger.attribute)
        mask = np.ones(len(times), dtype=bool)
        # A missing state (null) matches no `to`/`from`, and no `not_to` either; `not_from` lets it pass.
        if trigger.to is not None:
            mask &= _among(state, trigger.to)
        if trigger.from_ is not None:
            mask &= _among(prev, trigger.from_)
        if trigger.not_to is not None:
            mask &= (state != None) & ~_among(state, trigger.not_to)  # noqa: E711 - elementwise
        if trigger.not_from is not None:
            mask &= ~_among(prev, trigger.not_from)
        hold = self._seconds(trigger.for_)
        # `for`: the new state must last that long (until the entity's next change) before it fires.
        fired: I64 = times[mask & (next_us - times >= hold)] + hold
        return fired

    def _state_columns(self, entity_id: str, attribute: str | None) -> StateColumns:
        """`states` as numpy columns (time_us, state, prev, next_us), made once per series."""
        key = (entity_id, attribute)
        if key not in self._columns:
            changes = self.states(entity_id, attribute)
            self._columns[key] = (
                changes.get_column("time_us").to_numpy().astype(np.int64),
                changes.get_column("state").to_numpy().astype(object),
                changes.get_column("prev").to_numpy().astype(object),
                changes.get_column("next_us").to_numpy().astype(np.int64),
            )
        return self._columns[key]

    def _time_pattern(self, trigger: TimePatternTrigger) -> I64:
        """Local clock times matching hours/minutes/seconds (`*`, `/n` or a number) over the span."""
        if trigger.seconds not in (None, 0, "0"):
            self._unsupported.append("time_pattern on seconds")
            return _empty()
        grid = np.arange(self.data.start_us, self.data.end_us, US_PER_MIN, dtype=np.int64)
        seconds = self._local(grid).get_column("seconds").to_numpy()
        ok = np.ones(len(grid), dtype=bool)
        # HA: a field left out is "*" when a larger unit is given, else 0 (minutes: "/5" fires at :00, :05 …).
        minutes = trigger.minutes if trigger.minutes is not None else ("*" if trigger.hours is None else 0)
        for value, unit in ((trigger.hours, seconds // 3600), (minutes, seconds // 60 % 60)):
            if value is None or value == "*":
                continue
            text = str(value)
            ok &= unit % int(text[1:]) == 0 if text.startswith("/") else unit == int(text)
        return grid[ok]

    def _zone_trigger(self, trigger: ZoneTrigger) -> I64:
        if trigger.zone != "zone.home":
            self._unsupported.append(f"zone {trigger.zone!r}")
            return _empty()
        key = "to" if trigger.event == "enter" else "from_"
        return self._trigger_times(StateTrigger.model_validate({"entity_id": trigger.entity_id, key: "home"}))

    def _at(self, value: str | dict[str, Any]) -> I64:
        if isinstance(value, dict) or "." in value:
            self._unsupported.append(f"time trigger at entity {value!r}")
            return _empty()
        return self._local_times(time.fromisoformat(value if value.count(":") == 2 else f"{value}:00"))

    def _bound(self, bound: int | float | str | None) -> float | None:
        if isinstance(bound, str):
            self._unsupported.append(f"threshold from entity {bound!r}")
            return None
        return None if bound is None else float(bound)

    def _template(self, template: str) -> tuple[I64, Bool] | None:
        """A boolean signal for the template idioms homesim writes; None (recorded) for anything else."""
        body = template.strip().removeprefix("{{").removesuffix("}}").strip()
        tests = [part.strip() for part in body.split(" and ")]
        signals = [self._template_test(test) for test in tests]
        if any(signal is None for signal in signals) or not signals:
            self._unsupported.append(f"template {template!r}")
            return None
        times = np.unique(np.concatenate([s[0] for s in signals if s is not None]))
        value = np.ones(len(times), dtype=bool)
        for signal in signals:
            assert signal is not None
            value &= _as_of(signal[0], signal[1], times, False)
        return times, value

    def _template_test(self, test: str) -> tuple[I64, Bool] | None:
        if match := _TEMPLATE_VALUE.fullmatch(test):
            entity = match["entity"] or match["state_entity"]
            times, values = self.numeric(entity, match["attribute"])
            bound = float(match["bound"])
            return times, (values > bound) if match["op"] == ">" else (values < bound)
        if match := _TEMPLATE_IS_STATE.fullmatch(test):
            changes = self.states(match["entity"])
            times = changes.get_column("time_us").to_numpy().astype(np.int64)
            return times, (changes.get_column("state") == match["state"]).to_numpy()
        if match := _TEMPLATE_PEOPLE.fullmatch(test) or _TEMPLATE_ZONE.fullmatch(test):
            times, count = self._people_home()
            return times, _COMPARE[match["op"]](count, int(match["n"]))
        return None

    def _people_home(self) -> tuple[I64, I64]:
        """How many people are home after each person state change."""
        people = self.data.events.filter(pl.col("entity_id").str.starts_with("person.")).select(
            "time_us",
            "entity_id",
            (pl.col("state") == "home").cast(pl.Int64).alias("home"),
        )
        delta = people.with_columns(
            (pl.col("home") - pl.col("home").shift(1).over("entity_id").fill_null(0)).alias("d")
        )
        return delta.get_column("time_us").to_numpy().astype(np.int64), np.cumsum(
            delta.get_column("d").to_numpy()
        )

    # -------------------------------------------------------------------------------- conditions

    def conditions(self, conditions: Sequence[Condition], at: _Candidates) -> Bool:
        result = np.ones(len(at.times), dtype=bool)
        for condition in conditions:
            result &= self.condition(condition, at)
        return result

    def condition(self, condition: Condition, at: _Candidates) -> Bool:
        times = at.times
        if not self._enabled(condition.enabled, f"condition {condition.condition!r}"):
            # A disabled condition is skipped (holds); a templated `enabled` is not replayable.
            return np.full(len(times), condition.enabled is False)
        if isinstance(condition, StateCondition):
            hold = self._seconds(condition.for_)
            ok = np.ones(len(times), dtype=bool)
            for entity in _listed(condition.entity_id):
                changes = self.states(entity, condition.attribute)
                change_times = changes.get_column("time_us").to_numpy().astype(np.int64)
                matches = changes.get_column("state").is_in(_listed(condition.state)).to_numpy()
                if len(change_times) == 0:  # an entity that never changed matches no state
                    return np.zeros(len(times), dtype=bool)
                # As of each moment: the latest change at or before it, and whether it held long enough.
                index = np.searchsorted(change_times, times, side="right") - 1
                valid = index >= 0
                since = np.where(valid, change_times[np.maximum(index, 0)], np.iinfo(np.int64).max)
                ok &= valid & matches[np.maximum(index, 0)] & (times - since >= hold)
            return ok
        if isinstance(condition, NumericStateCondition):
            if condition.value_template is not None:
                self._unsupported.append(f"numeric_state value_template {condition.value_template!r}")
                return np.zeros(len(times), dtype=bool)
            ok = np.ones(len(times), dtype=bool)
            for entity in _listed(condition.entity_id):
                sample_times, values = self.numeric(entity, condition.attribute)
                inside = _in_range(values, self._bound(condition.above), self._bound(condition.below))
                ok &= _as_of(sample_times, inside, times, False)
            return ok
        if isinstance(condition, TimeCondition):
            return self._time_condition(condition, times)
        if isinstance(condition, SunCondition):
            return self._sun_condition(condition, times)
        if isinstance(condition, AndCondition):
            return self.conditions(condition.conditions, at)
        if isinstance(condition, OrCondition):
            result = np.zeros(len(times), dtype=bool)
            for member in condition.conditions:
                result |= self.condition(member, at)
            return result
        if isinstance(condition, NotCondition):
            result = np.ones(len(times), dtype=bool)
            for member in condition.conditions:
                result &= ~self.condition(member, at)
            return result
        if isinstance(condition, TriggerCondition):
            return np.isin(at.ids, _listed(condition.id))
        if isinstance(condition, TemplateCondition):
            signal = self._template(condition.value_template)
            if signal is None:
                return np.zeros(len(times), dtype=bool)
            return _as_of(signal[0], signal[1], times, False)
        if isinstance(condition, ZoneCondition) and condition.zone == "zone.home":
            home = StateCondition(entity_id=condition.entity_id, state="home")
            return self.condition(home, at)
        self._unsupported.append(f"condition {condition.condition!r}")
        return np.zeros(len(times), dtype=bool)

    def _time_condition(self, condition: TimeCondition, times: I64) -> Bool:
        local = self._local(times)
        seconds = local.get_column("seconds").to_numpy()
        ok = np.ones(len(times), dtype=bool)
        after = _clock_seconds(condition.after, self._unsupported)
        before = _clock_seconds(condition.before, self._unsupported)
        if after is not None and before is not None and after > before:
            ok &= (seconds >= after) | (seconds < before)  # the window spans midnight
        else:
            if after is not None:
                ok &= seconds >= after
            if before is not None:
                ok &= seconds < before
        if condition.weekday is not None:
            days = [WEEKDAYS.index(day) for day in _listed(condition.weekday)]
            ok &= np.isin(local.get_column("weekday").to_numpy(), days)
        return ok

    def _sun_condition(self, condition: SunCondition, times: I64) -> Bool:
        dates = self._local(times).get_column("date")
        checks: list[Bool] = []
        for event, offset, sign in (
            (condition.after, condition.after_offset, 1),
            (condition.before, condition.before_offset, -1),
        ):
            if event is None:
                continue
            moment = self._same_day(self.sun_events[event], dates) + self._seconds(offset)
            checks.append(times >= moment if sign > 0 else times < moment)
        if condition.after == "sunset" and condition.before == "sunrise":
            return checks[0] | checks[1]  # HA reads "after sunset, before sunrise" as the night between
        both: Bool = np.logical_and.reduce(checks)
        return both

    def _same_day(self, events: I64, dates: pl.Series) -> I64:
        """For each local date, the time of the event on that date (far future if none)."""
        event_dates = self._local(events).get_column("date")
        lookup = pl.DataFrame({"date": event_dates, "t": events}).unique("date", keep="first")
        joined = pl.DataFrame({"date": dates}).join(lookup, on="date", how="left", maintain_order="left")
        return joined.get_column("t").fill_null(np.iinfo(np.int64).max // 2).to_numpy().astype(np.int64)

    # ----------------------------------------------------------------------------------- actions

    def run(self, automation: Automation) -> Replay:
        """The service calls `automation` would have made over the replay span.

        Replays are kept by what an automation does (triggers, conditions, actions, mode; not its id or
        alias): a stage replays the same intended automation for every request or suggestion made of it."""
        try:
            key = automation.model_dump_json(include=_BEHAVIOUR, warnings=False)
        except PydanticSerializationError:  # a value YAML allows and JSON does not (binary data, say)
            return self._run(automation)
        if key not in self._replays:
            self._replays[key] = self._run(automation)
        return self._replays[key]

    def _run(self, automation: Automation) -> Replay:
        self._unsupported = []
        fired = [self.trigger(trigger, index) for index, trigger in enumerate(automation.triggers)]
        order = np.argsort(np.concatenate([c.times for c in fired] or [_empty()]), kind="stable")
        candidates = _Candidates(
            np.concatenate([c.times for c in fired] or [_empty()])[order],
            np.concatenate([c.ids for c in fired] or [np.zeros(0, object)])[order],
        )
        passed = self.conditions(automation.conditions, candidates)
        started = _Candidates(candidates.times[passed], candidates.ids[passed])
        rows: list[_Emitted] = []
        run = _Run(started, np.ones(len(started.times), bool), np.zeros(len(started.times), np.int64))
        end = self._walk(automation.actions, run, "", rows)
        keep = _mode_filter(automation.mode, started.times, end.offset_us)
        return Replay(
            calls=_calls(rows, keep, started.times, restart=automation.mode == "restart"),
            triggered=len(candidates.times),
            runs=int(keep.sum()),
            unsupported=tuple(dict.fromkeys(self._unsupported)),
        )

    def _walk(self, actions: Sequence[Action], run: _Run, branch: str, rows: list[_Emitted]) -> _Run:
        """Emit the calls of `actions` for the runs still active, each from its own offset after its
        trigger; returns where each run stands afterwards (offsets, and whether it is still going)."""
        for index, action in enumerate(actions):
            step = action.root if isinstance(action, ConditionAction) else action
            if not self._enabled(step.enabled, type(step).__name__):
                continue
            run = self._step(action, run, f"{branch}{index}", rows)
        return run

    def _step(self, action: Action, run: _Run, where: str, rows: list[_Emitted]) -> _Run:
        if isinstance(action, DelayAction):
            return run.later(self._seconds(action.delay))
        if isinstance(action, ServiceAction):
            self._emit(action, run, where, rows)
            return run
        if isinstance(action, SceneAction):
            self._emit(
                ServiceAction(action="scene.turn_on", target={"entity_id": action.scene}), run, where, rows
            )
            return run
        if isinstance(action, ConditionAction):
            return run.only(self.conditions([action.root], run.here()))
        if isinstance(action, ChooseAction):
            remaining = run.active.copy()
            branches = []
            for number, option in enumerate(action.choose):
                chosen = remaining & self.conditions(option.conditions, run.here())
                remaining &= ~chosen
                branches.append(
                    (chosen, self._walk(option.sequence, run.only(chosen), f"{where}.{number}/", rows))
                )
            if action.default is not None:
                end = self._walk(action.default, run.only(remaining), f"{where}.default/", rows)
                branches.append((remaining, end))
            return run.merge(branches)
        if isinstance(action, IfAction):
            holds = run.active & self.conditions(action.if_, run.here())
            branches = [(holds, self._walk(action.then, run.only(holds), f"{where}.then/", rows))]
            if action.else_ is not None:
                otherwise = run.active & ~holds
                branches.append(
                    (otherwise, self._walk(action.else_, run.only(otherwise), f"{where}.else/", rows))
                )
            return run.merge(branches)
        if isinstance(action, SequenceAction):
            return self._walk(action.sequence, run, f"{where}.", rows)
        if isinstance(action, ParallelAction):
            ends = [
                self._walk([branch], run, f"{where}.{n}/", rows) for n, branch in enumerate(action.parallel)
            ]
            return run.after_all(ends)
        if isinstance(action, RepeatAction):
            return self._repeat(action, run, where, rows)
        if isinstance(action, WaitTemplateAction | WaitForTriggerAction):
            return self._wait(action, run)
        if isinstance(action, StopAction):
            return run.only(np.zeros(len(run.active), dtype=bool))
        if isinstance(action, VariablesAction | EventAction | SetConversationResponseAction):
            return run  # no state change in the home
        self._unsupported.append(f"action {type(action).__name__}")
        return run.only(np.zeros(len(run.active), dtype=bool))

    def _repeat(self, action: RepeatAction, run: _Run, where: str, rows: list[_Emitted]) -> _Run:
        repeat = action.repeat
        if isinstance(repeat.count, int):
            times = repeat.count
        elif isinstance(repeat.for_each, list):
            times = len(repeat.for_each)
        else:
            self._unsupported.append("repeat while/until or templated count")
            return run.only(np.zeros(len(run.active), dtype=bool))
        for number in range(min(times, _MAX_REPEATS)):
            run = self._walk(repeat.sequence, run, f"{where}.{number}/", rows)
        return run

    def _wait(self, action: WaitTemplateAction | WaitForTriggerAction, run: _Run) -> _Run:
        """Each run waits until its signal (the template true / a trigger firing), `timeout` at most."""
        timeout = self._seconds(action.timeout) if action.timeout is not None else None
        now = run.here().times
        if isinstance(action, WaitTemplateAction):
            signal = self._template(action.wait_template)
            if signal is None:
                return run.only(np.zeros(len(run.active), dtype=bool))
            # A wait_template already true goes on at once; else at the next sample it turns true.
            true_at = signal[0][signal[1]]
            ready = _as_of(signal[0], signal[1], now, False)
            nxt = _next_after(true_at, now)
            until = np.where(ready, now, nxt)
        else:
            fired = np.sort(
                np.concatenate([self._trigger_times(t) for t in action.wait_for_trigger] or [_empty()])
            )
            until = _next_after(fired, now)
        never = np.iinfo(np.int64).max
        if timeout is None:
            return _Run(run.runs, run.active & (until < never), run.offset_us + np.maximum(until - now, 0))
        timed_out = until - now > timeout
        go_on = ~timed_out | (action.continue_on_timeout is not False)
        waited = np.where(timed_out, timeout, np.maximum(until - now, 0))
        return _Run(run.runs, run.active & go_on, run.offset_us + waited)

    def _emit(self, action: ServiceAction, run: _Run, branch: str, rows: list[_Emitted]) -> None:
        if action.templated:
            self._unsupported.append(f"service template {action.service_name!r}")
            return
        entities = [e for e in action.entity_ids if not is_template(e)]
        if len(entities) < len(action.entity_ids):
            self._unsupported.append(f"templated target of {action.service_name}")
        index = np.flatnonzero(run.active)
        if not entities or len(index) == 0:
            return
        state = implied_state(action.service_name, action.all_data)
        called = _Emitted(
            index,
            run.runs.times[index],
            run.runs.times[index] + run.offset_us[index],
            action.service_name,
            "",
            state,
            branch[: branch.rfind("/") + 1] or "main",
        )
        rows += [replace(called, entity_id=entity) for entity in entities]


@dataclass(frozen=True)
class _Emitted:
    """One service call on one entity, made by each of the runs `runs` (indices of the started runs)."""

    runs: I64
    trigger_us: I64
    call_us: I64
    action: str
    entity_id: str
    state: str | None
    branch: str


def _calls(rows: Sequence[_Emitted], keep: Bool, starts: I64, *, restart: bool) -> pl.DataFrame:
    """The calls of the runs HA would start (`keep`), as one frame (built once, not once per call)."""
    runs = np.concatenate([r.runs for r in rows] or [_empty()])
    call_us = np.concatenate([r.call_us for r in rows] or [_empty()])
    wanted = keep[runs]
    if restart:
        # A restart cancels the previous run's calls that were still waiting on a delay.
        cancel_us = np.full(len(starts), np.iinfo(np.int64).max, dtype=np.int64)
        kept = np.flatnonzero(keep)
        cancel_us[kept[:-1]] = starts[kept[1:]]
        wanted &= call_us < cancel_us[runs]
    # Each row's string columns come from its `_Emitted`, picked by numpy (polars' gather costs more here).
    source = np.repeat(np.arange(len(rows), dtype=np.int64), [len(r.runs) for r in rows])[wanted]
    strings = {
        name: pl.Series(
            name, np.array([getattr(r, name) for r in rows], dtype=object)[source].tolist(), pl.Utf8
        )
        for name in ("action", "entity_id", "state", "branch")
    }
    frame = pl.DataFrame(
        {
            "trigger_us": pl.Series(np.concatenate([r.trigger_us for r in rows] or [_empty()])[wanted]),
            "call_us": pl.Series(call_us[wanted]),
            **strings,
        },
        schema=_CALL_SCHEMA,
    )
    return frame.sort("call_us", "entity_id")


#: Longest `repeat: count` unrolled (a replay of a home's history, not a stress test).
_MAX_REPEATS = 100


@dataclass(frozen=True)
class _Run:
    """Runs under way: their triggers, which are still going, and each one's offset after its trigger."""

    runs: _Candidates
    active: Bool
    offset_us: I64

    def here(self) -> _Candidates:
        return _Candidates(self.runs.times + self.offset_us, self.runs.ids)

    def later(self, us: int) -> _Run:
        return _Run(self.runs, self.active, self.offset_us + us)

    def only(self, mask: Bool) -> _Run:
        return _Run(self.runs, self.active & mask, self.offset_us)

    def merge(self, branches: Sequence[tuple[Bool, _Run]]) -> _Run:
        """After `choose`/`if`: each run goes on from where the branch it entered ended (or stops if that
        branch stopped it); runs that entered no branch go on unchanged."""
        active, offset = self.active.copy(), self.offset_us.copy()
        for entered, end in branches:
            active = np.where(entered, end.active, active)
            offset = np.where(entered, end.offset_us, offset)
        return _Run(self.runs, active, offset)

    def after_all(self, ends: Sequence[_Run]) -> _Run:
        """After `parallel`: every branch ran; the run goes on once the last one ended."""
        offset = np.max([end.offset_us for end in ends], axis=0) if ends else self.offset_us
        return _Run(self.runs, self.active, offset)


def replay(automation: Automation, data: ReplayInput) -> Replay:
    """Replay one automation over `data` (see `Replayer` to replay many over the same home)."""
    return Replayer(data).run(automation)


# ----------------------------------------------------------------------------------------- helpers


def _empty() -> I64:
    return np.zeros(0, dtype=np.int64)


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _among(values: ObjectArray, wanted: str | list[str]) -> Bool:
    """Which of `values` (strings or None) are one of `wanted`; None never is."""
    found = np.zeros(len(values), dtype=bool)
    for one in _listed(wanted):
        found |= values == one
    return found


def _attribute(name: str) -> pl.Expr:
    return pl.col("attributes").str.json_path_match(f"$.{name}")


def _clock_seconds(value: str | None, unsupported: list[str]) -> int | None:
    if value is None:
        return None
    if "." in value:
        unsupported.append(f"time condition on entity {value!r}")
        return None
    clock = time.fromisoformat(value if value.count(":") == 2 else f"{value}:00")
    return clock.hour * 3600 + clock.minute * 60 + clock.second


def _in_range(values: F64, above: float | None, below: float | None) -> Bool:
    inside = np.ones(len(values), dtype=bool)
    if above is not None:
        inside &= values > above
    if below is not None:
        inside &= values < below
    return inside


def _as_of(times: I64, values: Bool, at: I64, default: bool) -> Bool:
    """Each moment's value: the latest sample at or before it (`default` before the first)."""
    index = np.searchsorted(times, at, side="right") - 1
    if len(values) == 0:
        return np.full(len(at), default)
    return np.where(index >= 0, values[np.maximum(index, 0)], default)


def _rising(times: I64, inside: Bool, hold_us: int, end_us: int) -> I64:
    """Moments a boolean signal turns true (HA fires on crossing into range), `hold_us` later if it stays
    true that long (until the next sample where it is false)."""
    if len(times) == 0:
        return _empty()
    previous = np.concatenate([[True], inside[:-1]])  # a signal already true when history starts: no crossing
    starts = np.flatnonzero(inside & ~previous)
    if hold_us == 0:
        return times[starts]
    falses = np.flatnonzero(~inside)
    following = np.searchsorted(falses, starts, side="right")
    ends = np.where(following < len(falses), times[falses[np.minimum(following, len(falses) - 1)]], end_us)
    return times[starts][ends - times[starts] >= hold_us] + hold_us


def _mode_filter(mode: str, starts: I64, duration_us: I64) -> Bool:
    """Runs HA would start: in `single` mode a trigger during a run is dropped (HA logs a warning)."""
    keep = np.ones(len(starts), dtype=bool)
    if mode != "single" or len(starts) == 0 or not duration_us.any():
        return keep
    keep[:] = False
    accepted = 0
    # Jumps from one accepted run to the first trigger after it ends: one step per run, not per event.
    while accepted < len(starts):
        keep[accepted] = True
        after = starts[accepted] + max(int(duration_us[accepted]), 1)
        accepted = int(np.searchsorted(starts, after, side="left"))
    return keep


def _next_after(sorted_times: I64, at: I64) -> I64:
    """The first of `sorted_times` at or after each moment (int64 max where there is none)."""
    index = np.searchsorted(sorted_times, at, side="left")
    padded = np.append(sorted_times, np.iinfo(np.int64).max)
    result: I64 = padded[index]
    return result
