"""Replay: an interpreter that runs an HA automation over a home's recorded history, and the scoring of its
firings against a ground-truth pattern.

This module owns *when an automation would have acted*: triggers (state with from/to/for, numeric_state
above/below/for, time `at`, sun with offset, zone enter/leave of `zone.home`, a few template idioms;
`homeassistant` start and `event` never fire in a replay) and conditions (state/numeric_state as of the
moment, time after/before/weekday, sun after/before, trigger ids, and/or/not) evaluated column-wise with
polars/numpy, then the action sequence walked once per automation (delays, `choose`, run modes) into the
service calls it would have made. Replay reads the events *without* `cause`/`cause_id`; only the scoring
functions (`pattern_occurrences`, `score_pattern`) look at `cause_id`, to find the pattern's own actions.
It also owns the service ↔ state vocabulary (`service_for_state`, `implied_state`) that ties a call to the
state change it causes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import time, timedelta
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from homesim.generation.calendar import US_PER_MIN, US_PER_S
from homesim.ha.automation import (
    Action,
    AndCondition,
    Automation,
    ChooseAction,
    Condition,
    DelayAction,
    HomeAssistantTrigger,
    NotCondition,
    NumericStateCondition,
    NumericStateTrigger,
    OrCondition,
    ServiceAction,
    StateCondition,
    StateTrigger,
    SunCondition,
    SunTrigger,
    TemplateTrigger,
    TimeCondition,
    TimeTrigger,
    Trigger,
    TriggerCondition,
    ZoneTrigger,
    duration_to_timedelta,
)
from homesim.ha.automation_validation import DEFAULT_DATA
from homesim.schema.ground_truth import Pattern

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
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
#: HA's sunrise/sunset: the sun's upper limb on the horizon, refraction included.
_SUN_HORIZON_DEG = -0.833

# --------------------------------------------------------------------------------- service vocabulary

#: The service that puts an entity of a domain into a state (besides `<domain>.turn_on/turn_off`).
_STATE_SERVICES: dict[tuple[str, str], str] = {
    ("cover", "open"): "open_cover",
    ("cover", "closed"): "close_cover",
    ("valve", "open"): "open_valve",
    ("valve", "closed"): "close_valve",
    ("lock", "locked"): "lock",
    ("lock", "unlocked"): "unlock",
    ("alarm_control_panel", "armed_away"): "alarm_arm_away",
    ("alarm_control_panel", "armed_home"): "alarm_arm_home",
    ("alarm_control_panel", "armed_night"): "alarm_arm_night",
    ("alarm_control_panel", "disarmed"): "alarm_disarm",
    ("media_player", "playing"): "media_play",
    ("media_player", "paused"): "media_pause",
    ("media_player", "idle"): "media_stop",
    ("vacuum", "cleaning"): "start",
    ("vacuum", "docked"): "return_to_base",
    ("camera", "recording"): "record",
    ("scene", "on"): "turn_on",
}
#: Domains whose state is set through a data key of one service (`climate.set_hvac_mode: {hvac_mode}`).
_MODE_SERVICES: dict[str, tuple[str, str]] = {
    "climate": ("set_hvac_mode", "hvac_mode"),
    "water_heater": ("set_operation_mode", "operation_mode"),
}
_SERVICE_STATES = {(domain, service): state for (domain, state), service in _STATE_SERVICES.items()}


def service_for_state(entity_id: str, state: str) -> tuple[str, dict[str, Any]] | None:
    """The HA service call (`domain.service`, data) that puts `entity_id` into `state`; None if none does."""
    domain = entity_id.partition(".")[0]
    if domain in _MODE_SERVICES:
        service, key = _MODE_SERVICES[domain]
        return f"{domain}.{service}", {key: state}
    if (domain, state) in _STATE_SERVICES:
        service = f"{domain}.{_STATE_SERVICES[(domain, state)]}"
        return service, dict(DEFAULT_DATA.get(service, {}))
    if state in ("on", "off"):
        return f"{domain}.turn_{state}", {}
    return None


def implied_state(action: str, data: dict[str, Any] | None) -> str | None:
    """The state a service call leaves its targets in (None when it does not say: toggle, notify, …)."""
    domain, _, service = action.partition(".")
    if domain in _MODE_SERVICES and service == _MODE_SERVICES[domain][0]:
        value = (data or {}).get(_MODE_SERVICES[domain][1])
        return value if isinstance(value, str) else None
    if (domain, service) in _SERVICE_STATES:
        return _SERVICE_STATES[(domain, service)]
    if service in ("turn_on", "turn_off"):
        return service.removeprefix("turn_")
    return None


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
    #: Parts of the automation the interpreter cannot evaluate (they never fire / never hold).
    unsupported: tuple[str, ...]

    def call_times(self, entity_ids: Sequence[str] | None = None, state: str | None = None) -> I64:
        """Sorted times of calls on `entity_ids` (all if None) that leave them in `state` (any if None)."""
        calls = self.calls
        if entity_ids is not None:
            calls = calls.filter(pl.col("entity_id").is_in(list(entity_ids)))
        if state is not None:
            calls = calls.filter(pl.col("state") == state)
        return np.sort(calls.get_column("call_us").unique().to_numpy().astype(np.int64))


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
        up = elevation > _SUN_HORIZON_DEG
        flips = np.flatnonzero(up[1:] != up[:-1]) + 1
        return {"sunrise": times[flips[up[flips]]], "sunset": times[flips[~up[flips]]]}

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
        """UTC µs of a local clock time on every day of the replay span."""
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
        if isinstance(trigger, StateTrigger):
            return np.concatenate(
                [self._state_trigger(trigger, entity) for entity in _listed(trigger.entity_id)] or [_empty()]
            )
        if isinstance(trigger, NumericStateTrigger):
            series = [self.numeric(entity, trigger.attribute) for entity in _listed(trigger.entity_id)]
            bound = [_in_range(v, self._bound(trigger.above), self._bound(trigger.below)) for _, v in series]
            return np.concatenate(
                [
                    _rising(t, b, _seconds(trigger.for_), self.data.end_us)
                    for (t, _), b in zip(series, bound, strict=True)
                ]
                or [_empty()]
            )
        if isinstance(trigger, TimeTrigger):
            return np.concatenate([self._at(value) for value in _listed(trigger.at)] or [_empty()])
        if isinstance(trigger, SunTrigger):
            offset = duration_to_timedelta(trigger.offset) if trigger.offset is not None else timedelta()
            return self.sun_events[trigger.event] + int(offset.total_seconds() * US_PER_S)
        if isinstance(trigger, ZoneTrigger):
            return self._zone_trigger(trigger)
        if isinstance(trigger, TemplateTrigger):
            signal = self._template(trigger.value_template)
            if signal is None:
                return _empty()
            return _rising(signal[0], signal[1], _seconds(trigger.for_), self.data.end_us)
        if not isinstance(trigger, HomeAssistantTrigger):  # HA start happens outside any recorded history
            self._unsupported.append(f"trigger {trigger.trigger!r}")
        return _empty()

    def _state_trigger(self, trigger: StateTrigger, entity: str) -> I64:
        changes = self.states(entity, trigger.attribute)
        mask = pl.lit(True)
        if trigger.to is not None:
            mask &= pl.col("state").is_in(_listed(trigger.to))
        if trigger.from_ is not None:
            mask &= pl.col("prev").is_in(_listed(trigger.from_))
        hold = _seconds(trigger.for_)
        # `for`: the new state must last that long (until the entity's next change) before it fires.
        fired = changes.filter(mask & (pl.col("next_us") - pl.col("time_us") >= hold))
        return fired.get_column("time_us").to_numpy().astype(np.int64) + hold

    def _zone_trigger(self, trigger: ZoneTrigger) -> I64:
        if trigger.zone != "zone.home":
            self._unsupported.append(f"zone {trigger.zone!r}")
            return _empty()
        key = "to" if trigger.event == "enter" else "from_"
        return self._trigger_times(StateTrigger.model_validate({"entity_id": trigger.entity_id, key: "home"}))

    def _at(self, value: str) -> I64:
        if "." in value:
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
        if isinstance(condition, StateCondition):
            hold = _seconds(condition.for_)
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
        signal = self._template(condition.value_template)
        if signal is None:
            return np.zeros(len(times), dtype=bool)
        return _as_of(signal[0], signal[1], times, False)

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
            days = [_WEEKDAYS.index(day) for day in _listed(condition.weekday)]
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
            shift = duration_to_timedelta(offset).total_seconds() * US_PER_S if offset is not None else 0.0
            moment = self._same_day(self.sun_events[event], dates) + int(shift)
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
        """The service calls `automation` would have made over the replay span."""
        self._unsupported = []
        fired = [self.trigger(trigger, index) for index, trigger in enumerate(automation.triggers)]
        order = np.argsort(np.concatenate([c.times for c in fired] or [_empty()]), kind="stable")
        candidates = _Candidates(
            np.concatenate([c.times for c in fired] or [_empty()])[order],
            np.concatenate([c.ids for c in fired] or [np.zeros(0, object)])[order],
        )
        passed = self.conditions(automation.conditions, candidates)
        started = _Candidates(candidates.times[passed], candidates.ids[passed])
        rows: list[pl.DataFrame] = []
        duration = self._walk(automation.actions, started, np.ones(len(started.times), bool), 0, "", rows)
        keep = _mode_filter(automation.mode, started.times, duration)
        calls = pl.concat(rows) if rows else pl.DataFrame(schema={"run": pl.Int64, **_CALL_SCHEMA})
        calls = calls.filter(pl.col("run").is_in(np.flatnonzero(keep).tolist()))
        if automation.mode == "restart":
            # A restart cancels the previous run's calls that were still waiting on a delay.
            next_start = np.append(started.times[keep][1:], np.iinfo(np.int64).max)[: int(keep.sum())]
            cancel_at = pl.DataFrame({"run": np.flatnonzero(keep), "cancel_us": next_start})
            calls = calls.join(cancel_at, on="run").filter(pl.col("call_us") < pl.col("cancel_us"))
        return Replay(
            calls=calls.select(list(_CALL_SCHEMA)).sort("call_us", "entity_id"),
            triggered=len(candidates.times),
            runs=int(keep.sum()),
            unsupported=tuple(dict.fromkeys(self._unsupported)),
        )

    def _walk(
        self,
        actions: Sequence[Action],
        runs: _Candidates,
        active: Bool,
        offset_us: int,
        branch: str,
        rows: list[pl.DataFrame],
    ) -> int:
        """Emit the calls of `actions` for the `active` runs, starting `offset_us` after each trigger;
        returns the sequence's end offset (delays in a `choose` branch count only within it)."""
        for index, action in enumerate(actions):
            if isinstance(action, DelayAction):
                offset_us += int(duration_to_timedelta(action.delay).total_seconds() * US_PER_S)
            elif isinstance(action, ServiceAction):
                self._emit(action, runs, active, offset_us, branch, rows)
            elif isinstance(action, ChooseAction):
                here = _Candidates(runs.times + offset_us, runs.ids)
                remaining = active.copy()
                for number, option in enumerate(action.choose):
                    chosen = remaining & self.conditions(option.conditions, here)
                    remaining &= ~chosen
                    self._walk(option.sequence, runs, chosen, offset_us, f"{branch}{index}.{number}/", rows)
                if action.default is not None:
                    self._walk(action.default, runs, remaining, offset_us, f"{branch}{index}.default/", rows)
        return offset_us

    @staticmethod
    def _emit(
        action: ServiceAction,
        runs: _Candidates,
        active: Bool,
        offset_us: int,
        branch: str,
        rows: list[pl.DataFrame],
    ) -> None:
        entities = _listed(action.target.entity_id) if action.target and action.target.entity_id else []
        index = np.flatnonzero(active)
        if not entities or len(index) == 0:
            return
        state = implied_state(action.action, action.data)
        for entity in entities:
            rows.append(
                pl.DataFrame(
                    {
                        "run": index,
                        "trigger_us": runs.times[index],
                        "call_us": runs.times[index] + offset_us,
                        "action": action.action,
                        "entity_id": entity,
                        "state": state,
                        "branch": branch or "main",
                    },
                    schema={"run": pl.Int64, **_CALL_SCHEMA},
                )
            )


def replay(automation: Automation, data: ReplayInput) -> Replay:
    """Replay one automation over `data` (see `Replayer` to replay many over the same home)."""
    return Replayer(data).run(automation)


# ----------------------------------------------------------------------------------------- helpers


def _empty() -> I64:
    return np.zeros(0, dtype=np.int64)


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _seconds(duration: Any) -> int:
    """A trigger/condition `for` in µs (0 when absent)."""
    return 0 if duration is None else int(duration_to_timedelta(duration).total_seconds() * US_PER_S)


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


def _mode_filter(mode: str, starts: I64, duration_us: int) -> Bool:
    """Runs HA would start: in `single` mode a trigger during a run is dropped (HA logs a warning)."""
    keep = np.ones(len(starts), dtype=bool)
    if mode != "single" or duration_us == 0 or len(starts) == 0:
        return keep
    keep[:] = False
    accepted = 0
    # Jumps from one accepted run to the first trigger after it ends: one step per run, not per event.
    while accepted < len(starts):
        keep[accepted] = True
        accepted = int(np.searchsorted(starts, starts[accepted] + duration_us, side="left"))
    return keep


# -------------------------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class Match:
    """Firings of an automation against a pattern's occurrences, matched within a tolerance."""

    occurrences: int
    firings: int
    #: Occurrences with a firing within the tolerance, and firings with an occurrence within it.
    hit_occurrences: int
    matched_firings: int
    tolerance_s: float
    missed_us: tuple[int, ...] = field(default=(), repr=False)

    @property
    def recall(self) -> float | None:
        """Share of the pattern's occurrences the automation would have fired for."""
        return self.hit_occurrences / self.occurrences if self.occurrences else None

    @property
    def precision(self) -> float | None:
        """Share of the automation's firings that coincide with an occurrence."""
        return self.matched_firings / self.firings if self.firings else None

    @property
    def false_firings(self) -> int:
        """Firings when the pattern did not fire."""
        return self.firings - self.matched_firings


def _nearest(sorted_times: I64, at: I64) -> I64:
    """Distance from each moment to the nearest of `sorted_times` (int64 max if there are none)."""
    if len(sorted_times) == 0:
        return np.full(len(at), np.iinfo(np.int64).max, dtype=np.int64)
    index = np.searchsorted(sorted_times, at)
    lower = sorted_times[np.clip(index - 1, 0, len(sorted_times) - 1)]
    upper = sorted_times[np.clip(index, 0, len(sorted_times) - 1)]
    distance: I64 = np.minimum(np.abs(at - lower), np.abs(upper - at))
    return distance


def match(fired_us: I64, occurrences_us: I64, tolerance_s: float) -> Match:
    """Match firing times to occurrence times: each side counts when the other has a time within
    `tolerance_s`."""
    fired, occurrences = np.sort(fired_us), np.sort(occurrences_us)
    reach = int(tolerance_s * US_PER_S)
    hit = _nearest(fired, occurrences) <= reach
    return Match(
        occurrences=len(occurrences),
        firings=len(fired),
        hit_occurrences=int(hit.sum()),
        matched_firings=int((_nearest(occurrences, fired) <= reach).sum()),
        tolerance_s=tolerance_s,
        missed_us=tuple(int(t) for t in occurrences[~hit]),
    )


def pattern_occurrences(events: pa.Table | pl.DataFrame, pattern: Pattern) -> I64:
    """Start times of the pattern's firings: its action events (found by `cause_id`, for scoring only),
    staggered actions of one firing counted once, as the ground truth counts them."""
    frame = _frame(events)
    actions = pl.DataFrame(
        {"entity_id": [a.entity_id for a in pattern.actions], "state": [a.state for a in pattern.actions]}
    )
    times = (
        frame.filter(pl.col("cause_id").cast(pl.Utf8) == pattern.id)
        .select(_epoch_us(frame), pl.col("entity_id").cast(pl.Utf8), "state")
        .join(actions, on=["entity_id", "state"], how="semi")
        .get_column("time_us")
        .sort()
        .to_numpy()
        .astype(np.int64)
    )
    gap = int((max(a.stagger_s for a in pattern.actions) + 60) * US_PER_S)
    new = np.concatenate([[True], np.diff(times) > gap]) if len(times) else np.zeros(0, bool)
    starts: I64 = times[new]
    return starts


def tolerance_s(pattern: Pattern) -> float:
    """How far apart a firing and an occurrence may be and still be the same event.

    Device- and presence-triggered patterns act within seconds of their trigger, so the tolerance covers
    their observed delay. Clock-anchored patterns happen once a day at a time that varies (routine jitter, a
    person's actual wake or sleep time, the day's cheapest hour) while an automation runs at one fixed time,
    so for them matching means "fired for that day's occurrence": the tolerance spans the observed daily
    window (or 6σ of the jitter), capped at 11 h so it never reaches the next day's occurrence.
    """
    params = pattern.parameters
    delay = params.delay
    delay_s = 0.0
    if delay is not None:
        observed = delay.observed_s
        delay_s = observed.p95 if observed is not None else delay.median_s * float(np.exp(2 * delay.sigma))
    base = 120.0 + delay_s
    if pattern.trigger.kind in ("state", "presence"):
        return base
    window = params.time_window
    width_s = ((window.end_h - window.start_h) % 24) * 3600 if window is not None else 0.0
    jitter_s = getattr(pattern.trigger, "jitter_min", 0.0) * 60 * 6
    return min(base + max(width_s, jitter_s), 11 * 3600.0)


def score_pattern(result: Replay, events: pa.Table | pl.DataFrame, pattern: Pattern) -> Match:
    """How the replayed calls that perform the pattern's first action line up with its occurrences."""
    first = pattern.actions[0]
    fired = result.call_times([first.entity_id], first.state)
    return match(fired, pattern_occurrences(events, pattern), tolerance_s(pattern))


def agreement(a: Replay, b: Replay, tolerance_s: float = 60.0) -> float:
    """Behavioural agreement of two replays: F1 of their (entity, state, time) calls matched within
    `tolerance_s` (1.0 when neither would ever act)."""
    keys = pl.concat([a.calls, b.calls]).select("entity_id", "state").unique().sort("entity_id", "state")
    matched = total = 0
    for entity, state in keys.iter_rows():  # one step per distinct target, not per event
        result = match(a.call_times([entity], state), b.call_times([entity], state), tolerance_s)
        matched += result.matched_firings + result.hit_occurrences
        total += result.firings + result.occurrences
    return matched / total if total else 1.0
