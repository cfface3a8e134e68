"""The common footing of real and synthetic homes: binary activity sensors as activations, per local day.

Both sides become the same three tables per home (`HomeActivity`), in the home's local wall-clock time:
* `activations` — one row per "on" interval of a binary activity sensor (motion, occupancy, door,
  opening/window, appliance), with its kind, room and whether it is an outside door. Motion is put into
  Home Assistant's form: a motion entity stays on for `MOTION_CLEAR_S` after the last detection, so a
  raw PIR interval (Ordóñez, CASAS) is extended by the clear time and overlapping intervals of one sensor
  merge into one activation. HA histories (synthetic homes, recorder databases) already have that form.
  An appliance switch counts when someone switches it on, not when the home starts it on its own
  (`NOT_BY_HAND` causes: a deferrable load started in the cheapest hour, an automation).
* `away` — intervals with nobody home: synthetic and recorder homes from their `person.*` entities, a
  labelled real home from its `leaving` activities; a home with neither has none.
* `days` — one row per local day with the hours somebody was home, the activations, and whether the day
  is kept: the first and last days when the history covers them only in part, days with nobody home
  (under `MIN_HOME_H` hours at home) and days without any activation are dropped, with the reason.

`harmonise` loads both sides and keeps only the sensor kinds the real homes have, so a kind that exists on
one side only (windows, bed pressure mats) cannot give a side away, and likewise only the sensors in the
room classes the real homes instrument (a garden, basement or laundry sensor is of the class `other`, which
the activity datasets' homes do not have), so every room-based feature counts the same rooms on both sides.
`docs/realism.md` documents this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from pathlib import Path

import polars as pl

from homesim.datasets.home_folder import read_home
from homesim.datasets.verification import home_folders
from homesim.schema.activities import ROOMS, Activity, room_class
from homesim.schema.events import Cause
from homesim.schema.home import Home
from homesim.schema.states import MOTION_CLEAR_S
from homesim.workspace import HomeFolder

#: A day with fewer hours than this with somebody at home counts as a day with nobody home.
MIN_HOME_H = 1.0
#: Real-home formats whose motion intervals are raw PIR detections (no clear time yet).
RAW_PIR_FORMATS = frozenset({"ordonez", "casas"})

#: Sensor kinds, from (domain, device_class) of an entity; anything else is not an activity sensor.
BINARY_KINDS: dict[str, str] = {
    "motion": "motion",
    "occupancy": "occupancy",
    "presence": "occupancy",
    "door": "door",
    "garage_door": "door",
    "opening": "opening",
    "window": "opening",
    "power": "appliance",
    "plug": "appliance",
    "running": "appliance",
}
KINDS: tuple[str, ...] = ("motion", "occupancy", "door", "opening", "appliance")
#: Synthetic device types whose switch is an appliance someone uses by hand (real homes' "Electric").
APPLIANCE_SWITCHES = frozenset({"coffee_maker", "dishwasher", "washing_machine", "kettle", "microwave"})
#: Causes of an appliance switch's `on` that are not someone using it by hand: the home started it on its
#: own (a deferrable load in the cheapest hour, an automation), e.g. the dishwasher while everyone sleeps.
NOT_BY_HAND = frozenset({Cause.ENVIRONMENT.value, Cause.AUTOMATION.value})
#: Devices whose binary sensor reacts to visitors, not residents (a doorbell's `occupancy` "ding").
NOT_RESIDENT_DEVICES = frozenset({"doorbell"})
#: Entity roles of a device's sensing entity (not its battery, a camera's person detection, …).
SENSING_ROLES = frozenset({"main", "extra"})
#: Rooms whose `door` sensors are outside doors.
OUTSIDE_DOOR_ROOMS = frozenset({"entrance"})
#: Schema of the per-home activation table.
ACTIVATION_SCHEMA = {
    "sensor": pl.String,
    "kind": pl.String,
    "room": pl.String,
    "outside_door": pl.Boolean,
    "start": pl.Datetime("us"),
    "end": pl.Datetime("us"),
}
_INTERVALS = {"start": pl.Datetime("us"), "end": pl.Datetime("us")}


class FootingError(ValueError):
    """A home folder that cannot be put on the footing (missing files, no activity sensor)."""


@dataclass(frozen=True)
class HomeActivity:
    """One home on the common footing (times are local wall-clock, naive)."""

    home: str
    real: bool
    timezone: str
    #: The real dataset's citation (None for synthetic homes and a user's own recorder database).
    citation: str | None
    #: Residents, when known (synthetic homes: occupants; real homes: None).
    residents: int | None
    sensors: pl.DataFrame
    activations: pl.DataFrame
    away: pl.DataFrame
    days: pl.DataFrame

    @property
    def kept_days(self) -> pl.DataFrame:
        return self.days.filter(pl.col("kept"))


@dataclass(frozen=True)
class Footing:
    """Both sides on one footing, and the sensor kinds and room classes compared."""

    real: list[HomeActivity]
    synthetic: list[HomeActivity]
    kinds: tuple[str, ...]
    rooms: tuple[str, ...]


def sensor_table(home: Home) -> pl.DataFrame:
    """The home's binary activity sensors: entity id, kind, room class, whether an outside door."""
    devices = {d.id: d for d in home.devices}
    areas = {a.area_id: a for a in home.areas}
    rows = []
    for entity in home.entities:
        domain = entity.entity_id.split(".", 1)[0]
        device = devices.get(entity.device_id) if entity.device_id else None
        device_type = device.device_type if device else ""
        if device_type in NOT_RESIDENT_DEVICES or entity.role not in SENSING_ROLES:
            continue
        if domain == "binary_sensor":
            kind = BINARY_KINDS.get(entity.device_class or "")
        elif domain == "switch" and device_type in APPLIANCE_SWITCHES:
            kind = "appliance"
        else:
            kind = None
        if kind is None:
            continue
        area_id = entity.area_id or (device.area_id if device else None)
        area = areas.get(area_id) if area_id else None
        room = room_class(area.room_type, area.name) if area else "other"
        rows.append((entity.entity_id, kind, room, kind == "door" and room in OUTSIDE_DOOR_ROOMS))
    return pl.DataFrame(rows, schema=["sensor", "kind", "room", "outside_door"], orient="row").cast(
        {"sensor": pl.String, "kind": pl.String, "room": pl.String, "outside_door": pl.Boolean}
    )


def _local(column: str, tz: str) -> pl.Expr:
    return pl.col(column).dt.convert_time_zone(tz).dt.replace_time_zone(None)


def _on_intervals(events: pl.DataFrame) -> pl.DataFrame:
    """`on` → next `off` of each entity (repeated states collapse), with the cause of the `on`; an `on`
    never turned off is dropped."""
    return (
        events.filter(pl.col("state").is_in(["on", "off"]))
        .sort("sensor", "time", maintain_order=True)
        .filter(pl.col("state") != pl.col("state").shift(1).over("sensor").fill_null(""))
        .with_columns(end=pl.col("time").shift(-1).over("sensor"))
        .filter((pl.col("state") == "on") & pl.col("end").is_not_null())
        .select("sensor", "cause", start=pl.col("time"), end=pl.col("end"))
    )


def merge_overlaps(intervals: pl.DataFrame, by: str, extend_s: float = 0.0) -> pl.DataFrame:
    """Extend each interval's end by `extend_s`, then merge intervals of one `by` key that overlap."""
    extended = intervals.with_columns(pl.col("end") + pl.duration(microseconds=int(extend_s * 1e6)))
    return (
        extended.sort(by, "start")
        .with_columns(
            new=(pl.col("start") > pl.col("end").cum_max().shift(1).over(by)).fill_null(True),
        )
        .with_columns(run=pl.col("new").cast(pl.Int64).cum_sum().over(by))
        .group_by(by, "run", maintain_order=True)
        .agg(pl.col("start").min(), pl.col("end").max())
        .drop("run")
    )


def _away_from_people(home: Home, events: pl.DataFrame, window: tuple[datetime, datetime]) -> pl.DataFrame:
    """Intervals with no `person.*` entity `home`: a sweep over arrivals (+1) and departures (−1)."""
    people = [p.entity_id for p in home.people]
    changes = (
        events.filter(pl.col("sensor").is_in(people))
        .with_columns(at_home=pl.col("state") == "home")
        .sort("sensor", "time", maintain_order=True)
        .filter(pl.col("at_home") != pl.col("at_home").shift(1).over("sensor").fill_null(~pl.col("at_home")))
    )
    # Before its first change a person was in the opposite state (home if the first change is leaving).
    initial = changes.group_by("sensor").agg(pl.col("at_home").first()).filter(~pl.col("at_home")).height
    initial += len(people) - changes.select(pl.col("sensor").n_unique()).item()  # never changed: home
    sweep = (
        changes.sort("time")
        .with_columns(count=initial + pl.when(pl.col("at_home")).then(1).otherwise(-1).cum_sum())
        .with_columns(end=pl.col("time").shift(-1).fill_null(window[1]))
    )
    away = sweep.filter(pl.col("count") == 0).select(start=pl.col("time"), end=pl.col("end"))
    if initial == 0:
        first = sweep.select(pl.col("time").first()).item() if sweep.height else window[1]
        away = pl.concat([pl.DataFrame({"start": [window[0]], "end": [first]}, schema=_INTERVALS), away])
    return away


def _away_from_activities(directory: Path, tz: str) -> pl.DataFrame:
    path = HomeFolder(directory).activities
    if not path.is_file():
        return pl.DataFrame(schema=_INTERVALS)
    acts = pl.read_parquet(path, columns=["activity", "start", "end"])
    return merge_overlaps(
        acts.filter(pl.col("activity").cast(pl.String) == Activity.LEAVING.value).select(
            key=pl.lit(0), start=_local("start", tz), end=_local("end", tz)
        ),
        "key",
    ).drop("key")


def _day_table(
    activations: pl.DataFrame, away: pl.DataFrame, window: tuple[datetime, datetime]
) -> pl.DataFrame:
    """Per local day: hours at home, activations, and whether the day is kept (with the reason if not)."""
    first_day, last_day = window[0].date(), (window[1] - timedelta(microseconds=1)).date()
    days = pl.DataFrame({"day": pl.date_range(first_day, last_day, "1d", eager=True)}).with_columns(
        day_start=pl.col("day").cast(pl.Datetime("us")),
        day_end=pl.col("day").cast(pl.Datetime("us")) + pl.duration(days=1),
    )
    away_h = (
        days.join(away, how="cross")
        .with_columns(
            overlap=(pl.min_horizontal("end", "day_end") - pl.max_horizontal("start", "day_start"))
            .dt.total_microseconds()
            .clip(lower_bound=0)
        )
        .group_by("day")
        .agg(away_h=pl.col("overlap").sum() / 3.6e9)
    )
    counts = activations.group_by(day=pl.col("start").dt.date()).agg(activations=pl.len())
    hours = (pl.col("day_end") - pl.col("day_start")).dt.total_microseconds() / 3.6e9
    partial = (pl.col("day_start") < window[0]) | (pl.col("day_end") > window[1])
    return (
        days.join(away_h, on="day", how="left")
        .join(counts, on="day", how="left")
        .with_columns(
            home_h=(hours - pl.col("away_h").fill_null(0.0)).clip(lower_bound=0.0),
            activations=pl.col("activations").fill_null(0).cast(pl.Int64),
        )
        .with_columns(
            reason=pl.when(partial)
            .then(pl.lit("partial day"))
            .when(pl.col("home_h") < MIN_HOME_H)
            .then(pl.lit("nobody home"))
            .when(pl.col("activations") == 0)
            .then(pl.lit("no activation"))
        )
        .select("day", "home_h", "activations", kept=pl.col("reason").is_null(), reason="reason")
    )


def _read(directory: Path) -> Home:
    try:
        return read_home(directory)
    except (OSError, ValueError) as exc:
        raise FootingError(f"{directory}: cannot read home.json ({exc.__class__.__name__})") from exc


def load_home(directory: Path, *, real: bool, kinds: Sequence[str] = KINDS) -> HomeActivity:
    """One home folder on the footing, keeping sensors of `kinds`."""
    home = _read(directory)
    files = HomeFolder(directory)
    if not files.events.is_file():
        raise FootingError(f"{directory}: no {files.events.name}")
    meta = home.metadata
    tz = meta.timezone
    sensors = sensor_table(home).filter(pl.col("kind").is_in(list(kinds)))
    wanted = [*sensors["sensor"], *(p.entity_id for p in home.people)]
    events = (
        pl.scan_parquet(files.events)
        .select(
            sensor=pl.col("entity_id").cast(pl.String),
            state=pl.col("state"),
            time=_local("time", tz),
            cause=pl.col("cause").cast(pl.String),
        )
        .filter(pl.col("sensor").is_in(wanted))
        .collect()
    )
    real_source = meta.real_source
    raw_pir = real_source is not None and real_source.format in RAW_PIR_FORMATS
    if real_source is None:  # a generated home covers whole local days
        start = datetime.combine(meta.start, time())
        window = (start, start + timedelta(days=meta.days))
    elif events.height:
        window = (events["time"].min(), events["time"].max())  # type: ignore[assignment]
    else:
        raise FootingError(f"{directory}: no events of a binary activity sensor")
    intervals = (
        _on_intervals(events)
        .join(sensors, on="sensor")
        .filter(~((pl.col("kind") == "appliance") & pl.col("cause").is_in(list(NOT_BY_HAND))))
    )
    motion = intervals.filter(pl.col("kind") == "motion")
    if raw_pir:
        motion = merge_overlaps(motion.select("sensor", "start", "end"), "sensor", MOTION_CLEAR_S).join(
            sensors, on="sensor"
        )
    activations = (
        pl.concat([motion, intervals.filter(pl.col("kind") != "motion")], how="diagonal")
        .select(list(ACTIVATION_SCHEMA))
        .cast(ACTIVATION_SCHEMA)  # type: ignore[arg-type]
        .sort("start", "sensor")
    )
    away = _away_from_people(home, events, window) if home.people else _away_from_activities(directory, tz)
    residents = None if real_source is not None else len(meta.occupants)
    return HomeActivity(
        home=meta.home_key,
        real=real,
        timezone=tz,
        citation=real_source.citation if real_source is not None else None,
        residents=residents,
        sensors=sensors,
        activations=activations,
        away=away.sort("start"),
        days=_day_table(activations, away, window),
    )


def restrict_kinds(home: HomeActivity, kinds: Sequence[str], rooms: Sequence[str] = ROOMS) -> HomeActivity:
    """The same home with only sensors of `kinds` in room classes `rooms` (days are re-derived: a day may
    lose its activations)."""
    keep = pl.col("kind").is_in(list(kinds)) & pl.col("room").is_in(list(rooms))
    activations = home.activations.filter(keep)
    days = home.days.drop("kept", "reason", "activations").join(
        activations.group_by(day=pl.col("start").dt.date()).agg(n=pl.len()), on="day", how="left"
    )
    old = home.days.select("day", "reason")
    days = (
        days.join(old, on="day")
        .with_columns(activations=pl.col("n").fill_null(0).cast(pl.Int64))
        .with_columns(
            reason=pl.when(pl.col("reason").is_null() & (pl.col("activations") == 0))
            .then(pl.lit("no activation"))
            .otherwise(pl.col("reason"))
        )
        .select("day", "home_h", "activations", kept=pl.col("reason").is_null(), reason="reason")
    )
    return replace(home, sensors=home.sensors.filter(keep), activations=activations, days=days)


def harmonise(
    real_dirs: Sequence[Path], synthetic_dirs: Sequence[Path], *, residents: int | None = None
) -> Footing:
    """Load both sides; keep the sensor kinds and room classes the real homes have; `residents` filters
    synthetic homes."""
    real = [load_home(d, real=True) for d in real_dirs]
    if residents is not None:  # from home.json alone: the events of homes left out are never read
        synthetic_dirs = [d for d in synthetic_dirs if len(_read(d).metadata.occupants) == residents]
    synthetic = [load_home(d, real=False) for d in synthetic_dirs]
    kinds = tuple(k for k in KINDS if any(k in set(h.sensors["kind"]) for h in real))
    # The room classes where a real home has a sensor of a compared kind.
    instrumented = {r for h in real for r in h.sensors.filter(pl.col("kind").is_in(kinds))["room"]}
    rooms = tuple(r for r in ROOMS if r in instrumented)
    return Footing(
        real=[restrict_kinds(h, kinds, rooms) for h in real],
        synthetic=[restrict_kinds(h, kinds, rooms) for h in synthetic],
        kinds=kinds,
        rooms=rooms,
    )


def resolve_homes(path: Path) -> list[Path]:
    """Home folders at `path`: the folder itself when it is a home, else a dataset's or a folder's homes."""
    if not path.is_dir():
        raise FootingError(f"{path}: not a folder")
    if HomeFolder(path).is_home():
        return [path]
    homes = home_folders(path)
    if not homes:
        raise FootingError(f"{path}: no home folder (home.json + events.parquet) in it")
    return homes
