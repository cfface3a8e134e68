"""Activity recognition stage: one record per labelled activity window of a home, for the sixth training-data
type (`activity_recognition`).

A window is one interval of `activities.parquet` (a generated home's ground truth, an imported real home's
own labels); its features are what the binary activity sensors (motion, occupancy, door) did inside it,
counted per room class, plus the window's length, clock hour and weekday. The baseline recogniser is a
rule: nobody home → leaving, the room with most activations and the hour → the activity. Windows are
sampled per label (at most `MAX_PER_LABEL` per home, chosen by a generator seeded with the home key) so a
long history does not flood the store. Homes without `activities.parquet` give no records.
"""

from __future__ import annotations

import zlib
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import polars as pl

from homesim.schema.activities import ROOMS, Activity, room_class
from homesim.schema.records import (
    BASELINE_VERSION,
    ActivityFeatures,
    ActivityInputs,
    ActivityLabel,
    ActivityOutputs,
    ActivityRecord,
    make_record_id,
)
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import ModelProvider

I64 = npt.NDArray[np.int64]

MAX_PER_LABEL = 40
_KINDS = {"motion": "motion", "occupancy": "motion", "presence": "motion", "door": "door"}


def activity_stage(view: HomeView, models: ModelProvider, cycle: int) -> list[ActivityRecord]:
    """Records of the home's sampled activity windows, predicted by the baseline rule."""
    windows = activity_windows(view)
    records = []
    for row in windows.iter_rows(named=True):
        features = ActivityFeatures(**{k: row[k] for k in ActivityFeatures.model_fields})
        predicted, score = baseline_activity(features)
        start, end = row["start"].isoformat(), row["end"].isoformat()
        records.append(
            ActivityRecord(
                record_id=make_record_id("activity", view.key, cycle, row["person"], start),
                cycle=cycle,
                home_key=view.key,
                inputs=ActivityInputs(
                    person_id=row["person"], window_start=start, window_end=end, features=features
                ),
                outputs=ActivityOutputs(predicted=predicted, score=score),
                label=ActivityLabel(activity=row["activity"], area_id=row["area_id"]),
                scores={"correct": float(predicted == row["activity"])},
                model_version=BASELINE_VERSION,
            )
        )
    return records


def activity_windows(view: HomeView) -> pl.DataFrame:
    """The sampled windows with their features: person, activity, area_id, start, end, then the features."""
    if view.activities is None or view.activities.height == 0:
        return pl.DataFrame()
    acts = view.activities.with_columns(pl.col("person", "activity").cast(pl.String)).sort("person", "start")
    rng = np.random.default_rng(zlib.crc32(view.key.encode()))
    acts = (
        acts.with_columns(pl.Series("_order", rng.permutation(acts.height)))
        .filter(pl.col("_order").rank("ordinal").over("activity") <= MAX_PER_LABEL)
        .drop("_order")
        .sort("person", "start")
    )
    start = acts["start"].dt.epoch("us").to_numpy()
    end = acts["end"].dt.epoch("us").to_numpy()
    counts = _activation_counts(view, start, end)
    tz = ZoneInfo(view.timezone)
    local = acts["start"].dt.convert_time_zone(tz.key)
    return acts.with_columns(
        duration_s=(pl.col("end") - pl.col("start")).dt.total_microseconds() / 1e6,
        start_hour=(local.dt.hour() + local.dt.minute() / 60 + local.dt.second() / 3600).cast(pl.Float64),
        weekday=(local.dt.weekday() - 1).cast(pl.Int64),
        away=pl.Series(_away(view, start, end)),
        **{name: pl.Series(values) for name, values in counts.items()},
    )


def _activation_counts(view: HomeView, start: I64, end: I64) -> dict[str, I64]:
    """Activations ("on") of binary activity sensors starting in each window: total, by kind, by room."""
    area_room = {a.area_id: room_class(a.room_type, a.name) for a in view.home.areas}
    sensors: dict[str, tuple[str, str]] = {}
    for entity in view.home.entities:
        kind = _KINDS.get(entity.device_class or "")
        if entity.domain == "binary_sensor" and entity.role == "main" and kind is not None:
            sensors[entity.entity_id] = (kind, area_room.get(view.home.entity_area(entity) or "", "other"))
    on = view.events.filter(pl.col("entity_id").is_in(list(sensors)) & (pl.col("state") == "on")).select(
        "entity_id", t=pl.col("time").dt.epoch("us")
    )
    meta = pl.DataFrame(
        {
            "entity_id": list(sensors),
            "kind": [k for k, _ in sensors.values()],
            "room": [r for _, r in sensors.values()],
        },
        schema={"entity_id": pl.String, "kind": pl.String, "room": pl.String},
    )
    on = on.join(meta, on="entity_id").sort("t")

    def within(mask: pl.Expr | None) -> I64:
        t = np.sort((on.filter(mask) if mask is not None else on)["t"].to_numpy())
        return (np.searchsorted(t, end) - np.searchsorted(t, start)).astype(np.int64)

    counts = {"activations": within(None)}
    counts |= {kind: within(pl.col("kind") == kind) for kind in ("motion", "door")}
    counts |= {room: within(pl.col("room") == room) for room in ROOMS}
    return counts


def _away(view: HomeView, start: I64, end: I64) -> npt.NDArray[np.bool_]:
    """Whether every resident's person entity was `not_home` for the whole window (False: no entities)."""
    people = [p.entity_id for p in view.home.people]
    if not people:
        return np.zeros(len(start), dtype=bool)
    away = np.ones(len(start), dtype=bool)
    for person in people:
        changes = view.events.filter(pl.col("entity_id") == person).sort("time")
        t = changes["time"].dt.epoch("us").to_numpy()
        home = (changes["state"] == "home").to_numpy()
        idx = np.searchsorted(t, start, side="right") - 1
        gone = (idx >= 0) & ~home[np.maximum(idx, 0)] if len(t) else np.zeros(len(start), dtype=bool)
        stays = np.searchsorted(t, end) - np.searchsorted(t, start, side="right") == 0
        away &= gone & stays
    return away


def baseline_activity(f: ActivityFeatures) -> tuple[str, float]:
    """The rule: (predicted activity, the share of activations in the room that decided it)."""
    rooms = {room: getattr(f, room) for room in ROOMS}
    if f.away:
        return Activity.LEAVING.value, 1.0
    if f.activations == 0 or max(rooms.values()) == 0:
        night = f.start_hour >= 22 or f.start_hour < 6
        return (Activity.SLEEPING if night or f.duration_s > 3 * 3600 else Activity.RELAXING).value, 0.5
    room = max(ROOMS, key=lambda r: rooms[r])
    share = rooms[room] / max(f.activations, 1)
    h = f.start_hour
    if room == "bathroom":
        activity = Activity.TOILETING if f.duration_s < 240 else Activity.SHOWERING
    elif room == "kitchen":
        if f.duration_s < 480:
            activity = Activity.SNACK
        elif h < 10.5:
            activity = Activity.BREAKFAST
        elif h < 15:
            activity = Activity.LUNCH
        else:
            activity = Activity.DINNER
    elif room == "bedroom":
        activity = Activity.SLEEPING
    elif room == "entrance":
        activity = Activity.LEAVING if f.door else Activity.OTHER
    else:
        activity = Activity.RELAXING
    return activity.value, float(min(share, 1.0))
