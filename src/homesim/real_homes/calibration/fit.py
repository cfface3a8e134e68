"""Fitting one real home's behaviour: its layout, household clock and activity-model parameters.

The home's kept days (on the realism footing) are split in time: one contiguous block of them is held out
for scoring, the rest is fitted on — the last (holdout) share (`split_days`), or the j-th of k blocks
for a cross-fitted score (`fold_splits`). Everything the fit reads — activations, absences, labelled
activities — that overlaps the held-out block's midnights (`FitSplit.cutoff` to `FitSplit.resume`) is
dropped, so nothing held out reaches the fitted values. What is fitted overrides fields of the packaged
`ActivityModel` (`activities.yaml`); `FittedHome.sources` says where each fitted value came from.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from homesim.datasets.home_folder import read_home
from homesim.generation.activity_params import ActivityModel, KindSpec, RoutineSpec, load_activity_model
from homesim.generation.calibration import DEFAULT_ON_S, Calibration, Episodes, RoomLayout, SensorFit
from homesim.generation.catalog import load_catalog
from homesim.real_homes.realism.features import BURST_S, NIGHT_EPISODE_GAP_S, day_features
from homesim.real_homes.realism.footing import HomeActivity, load_home, sensor_table
from homesim.schema.activities import room_class
from homesim.schema.home import Home
from homesim.workspace import HomeFolder

#: Default share of the kept days held out of the fit.
HOLDOUT_SHARE = 0.3
#: Each side of the split needs at least this many kept days.
MIN_SPLIT_DAYS = 2
#: Sleeping labels closer than this belong to one night (the gap is a night wake-up).
NIGHT_GAP = timedelta(hours=1)
#: A night's sleep spans at least this long; shorter sleeping is a nap.
MIN_NIGHT = timedelta(hours=3)
#: Room class (footing) → catalog room type, for areas whose room type is not the catalog's.
_CLASS_ROOMS = {
    "bathroom": "bathroom",
    "kitchen": "kitchen",
    "bedroom": "bedroom",
    "living": "living_room",
    "entrance": "entrance",
    "other": "hallway",
}
#: Activations with pauses up to this (seconds) form one episode of activity (as the features' night
#: episodes do).
EPISODE_S = NIGHT_EPISODE_GAP_S
#: Quantiles kept of a fitted distribution (every 2.5 %).
QUANTILES = 41
#: Default and clip of a sensor's gap to its own next activation (s).
REPEAT_GAP_S = (300.0, 1.0, 30.0, 7_200.0)
_MEALS = {"breakfast": "after_wake_h", "lunch": "day_share", "dinner": "before_bed_h"}


class CalibrationError(ValueError):
    """A real home that cannot be calibrated from (too few kept days to split, no usable routine)."""


class FitSplit(BaseModel):
    """Which kept days were fitted on and which are held out; `cutoff` is the first held-out midnight,
    `resume` the first fit day's midnight after the held-out block (None: the block runs to the end)."""

    model_config = ConfigDict(frozen=True)

    holdout_share: float = Field(gt=0, lt=1)
    fit_days: list[date]
    held_out_days: list[date]
    cutoff: datetime
    resume: datetime | None = None
    #: (j, k): the held-out block is the j-th of k (cross-fitting); None: the last `holdout_share`.
    fold: tuple[int, int] | None = None


class FittedHome(BaseModel):
    """What `homesim calibrate` writes as `calibration.json`: the split, the fitted calibration, and
    where each fitted value came from (`labels`, `activations`, `absences`; fields not listed keep
    `activities.yaml`'s values)."""

    model_config = ConfigDict(frozen=True)

    home: str
    #: The real home's climate region (calibrated homes get it when homesim's catalog has it).
    climate_region: str
    split: FitSplit
    calibration: Calibration
    #: Activations per fit day of each layout sensor (`[room][sensor]`): what `match_rates` matches.
    activations_per_day: list[list[float]]
    #: Episodes per fit day (`episodes_per_day`): what `match_rates` matches the episode rate to.
    episodes_per_day: float = 0.0
    #: Share of the fit days' activations in each local hour (`hourly_share`): what `match_rates` matches
    #: the calibration's hourly multipliers to (empty: not matched).
    hourly_share: list[float] = Field(default_factory=list)
    #: Coefficient of variation of the fit days' episode sizes (`episode_size_cv`): what `match_rates`
    #: matches the episodes' `size_shape` to (0: not matched).
    episode_size_cv: float = 0.0
    #: Share of the fit days' gaps between consecutive activations under a minute (`burst_share`): what
    #: `match_rates` matches the scale of the gaps inside episodes to (0: not matched).
    burst_share: float = 0.0
    sources: dict[str, str]


def split_days(home: HomeActivity, holdout_share: float) -> FitSplit:
    """The first (1 − `holdout_share`) of the kept days to fit on, the rest held out."""
    days = home.kept_days.sort("day")["day"].to_list()
    n_fit = round(len(days) * (1 - holdout_share))
    if min(n_fit, len(days) - n_fit) < MIN_SPLIT_DAYS:
        raise CalibrationError(
            f"{home.home}: {len(days)} kept days cannot be split {1 - holdout_share:.0%}/{holdout_share:.0%} "
            f"with at least {MIN_SPLIT_DAYS} days on each side"
        )
    return FitSplit(
        holdout_share=holdout_share,
        fit_days=days[:n_fit],
        held_out_days=days[n_fit:],
        cutoff=datetime.combine(days[n_fit], time()),
    )


def fold_splits(home: HomeActivity, folds: int) -> list[FitSplit]:
    """The k-fold cross-fitting splits: the kept days cut into `folds` contiguous blocks of (nearly) equal
    length, each held out once while the others are fitted on."""
    days = home.kept_days.sort("day")["day"].to_list()
    edges = np.linspace(0, len(days), folds + 1).round().astype(int).tolist()
    if folds < 2 or min(np.diff(edges)) < MIN_SPLIT_DAYS:
        raise CalibrationError(
            f"{home.home}: {len(days)} kept days cannot be cut into {folds} blocks of at least "
            f"{MIN_SPLIT_DAYS} days"
        )
    return [
        FitSplit(
            holdout_share=(b - a) / len(days),
            fit_days=days[:a] + days[b:],
            held_out_days=days[a:b],
            cutoff=datetime.combine(days[a], time()),
            resume=datetime.combine(days[b], time()) if b < len(days) else None,
            fold=(j, folds),
        )
        for j, (a, b) in enumerate(itertools.pairwise(edges))
    ]


def restrict_days(home: HomeActivity, days: list[date], reason: str) -> HomeActivity:
    """The same home with only `days` kept (the others dropped with `reason`)."""
    keep = pl.col("day").is_in(days)
    return replace(
        home,
        days=home.days.with_columns(
            reason=pl.when(pl.col("kept") & ~keep).then(pl.lit(reason)).otherwise(pl.col("reason")),
            kept=pl.col("kept") & keep,
        ),
    )


def _outside(split: FitSplit) -> pl.Expr:
    """Intervals (`start`, `end`) wholly outside the held-out block: ending by its first midnight, or
    starting from the midnight the fit resumes at."""
    before = pl.col("end") <= split.cutoff
    return before if split.resume is None else before | (pl.col("start") >= split.resume)


def _fit_period(home: HomeActivity, split: FitSplit) -> HomeActivity:
    """Only what happened outside the held-out block: its activations and absences."""
    return replace(
        home, activations=home.activations.filter(_outside(split)), away=home.away.filter(_outside(split))
    )


def _labels(directory: Path, tz: str, split: FitSplit) -> pl.DataFrame | None:
    path = HomeFolder(directory).activities
    if not path.is_file():
        return None
    local = {c: pl.col(c).dt.convert_time_zone(tz).dt.replace_time_zone(None) for c in ("start", "end")}
    labels = (
        pl.read_parquet(path, columns=["person", "activity", "start", "end"])
        .select(person=pl.col("person").cast(pl.String), activity=pl.col("activity").cast(pl.String), **local)
        .filter(_outside(split))
        .sort("person", "start")
    )
    return labels if labels.height else None


def _layout(home: Home, fits: dict[str, SensorFit]) -> tuple[tuple[RoomLayout, ...], list[list[str]]]:
    """Each area as a catalog room, with its binary activity sensors (from home.json) and their fits; and
    the real sensors' entity ids in layout order."""
    rooms = load_catalog().rooms
    areas = pl.DataFrame(
        [(e.entity_id, home.entity_area(e)) for e in home.entities],
        schema={"sensor": pl.String, "area_id": pl.String},
        orient="row",
    )
    sensors = sensor_table(home).join(areas, on="sensor", how="left")
    layout = []
    ids: list[list[str]] = []
    for area in home.areas:
        mine = sensors.filter(pl.col("area_id") == area.area_id)
        room_type = (
            area.room_type if area.room_type in rooms else _CLASS_ROOMS[room_class(area.room_type, area.name)]
        )
        if room_type in rooms:
            mine_ids = [s for s in mine["sensor"] if s in fits]
            layout.append(RoomLayout(room_type=room_type, sensors=tuple(fits[s] for s in mine_ids)))
            ids.append(mine_ids)
    if not layout:
        raise CalibrationError(f"{home.metadata.home_key}: no area maps onto a room homesim knows")
    return tuple(layout), ids


def _hour(column: str) -> pl.Expr:
    return pl.col(column).dt.hour() + pl.col(column).dt.minute() / 60 + pl.col(column).dt.second() / 3600


def _nights(labels: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Sleeping labels joined into sleeps (gaps under `NIGHT_GAP` are wake-ups): (nights, naps), each
    with person, bed, wake and the wake-ups inside."""
    sleeps = (
        labels.filter(pl.col("activity") == "sleeping")
        .with_columns(
            new=(
                (pl.col("start") - pl.col("end").shift(1).over("person") > NIGHT_GAP)
                .fill_null(True)
                .cast(pl.Int64)
            )
        )
        .with_columns(run=pl.col("new").cum_sum().over("person"))
        .group_by("person", "run", maintain_order=True)
        .agg(bed=pl.col("start").min(), wake=pl.col("end").max(), wakeups=pl.len() - 1)
        .drop("run")
    )
    long = (pl.col("wake") - pl.col("bed")) >= MIN_NIGHT
    return sleeps.filter(long), sleeps.filter(~long)


def _quantiles(values: np.ndarray, default: tuple[float, ...]) -> tuple[float, ...]:
    """`QUANTILES` evenly spaced quantiles of `values`, or `default` with fewer than `MIN_SPLIT_DAYS`."""
    if len(values) < MIN_SPLIT_DAYS:
        return default
    return tuple(float(q) for q in np.quantile(values, np.linspace(0.0, 1.0, QUANTILES)))


def _mean_sd(values: pl.Series, default: tuple[float, float]) -> tuple[float, float]:
    v = values.drop_nulls().to_numpy().astype(np.float64)
    if len(v) < MIN_SPLIT_DAYS:
        return default
    return float(np.mean(v)), float(max(np.std(v, ddof=1), 0.05))


def _lognormal(
    minutes: np.ndarray, default: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    """Lognormal (median, log-sd) of durations by scipy's maximum likelihood, clipped like `default`."""
    if len(minutes) < MIN_SPLIT_DAYS:
        return default
    sigma, _, scale = stats.lognorm.fit(minutes, floc=0)
    low, high = default[2], max(default[3], float(np.max(minutes)))
    return (float(np.clip(scale, low, high)), float(np.clip(sigma, 0.2, 2.0)), low, high)


def _gaps(activations: pl.DataFrame) -> np.ndarray:
    """Seconds from each activation's start to the next one's (any sensor)."""
    starts = activations.sort("start", "sensor").select(
        g=pl.col("start").diff().dt.total_seconds(fractional=True)
    )
    return starts["g"].drop_nulls().to_numpy().astype(np.float64)


def episode_sizes(gaps: np.ndarray) -> np.ndarray:
    """Activations per episode among (one or more) activations `gaps` apart, in order: an episode is a run
    whose pauses are up to `EPISODE_S`."""
    cuts = np.flatnonzero(gaps > EPISODE_S) + 1
    return np.diff(np.concatenate([[0], cuts, [len(gaps) + 1]]))


def episodes_of(gaps: np.ndarray) -> int:
    """Episodes among (one or more) activations `gaps` apart (`episode_sizes`)."""
    return len(episode_sizes(gaps))


def episodes_per_day(activations: pl.DataFrame, days: int) -> float:
    """Episodes of `activations` per day over `days` days."""
    return episodes_of(_gaps(activations)) / max(days, 1) if activations.height else 0.0


def episode_size_cv(activations: pl.DataFrame) -> float:
    """Coefficient of variation of the number of activations per episode (0 with fewer than two)."""
    sizes = episode_sizes(_gaps(activations))
    return float(sizes.std() / sizes.mean()) if len(sizes) > 1 else 0.0


def burst_share(activations: pl.DataFrame) -> float:
    """Share of the gaps between consecutive `activations` (any sensor) under `BURST_S` — the realism
    features' burst share (0 with no gap)."""
    gaps = _gaps(activations)
    return float(np.mean(gaps < BURST_S)) if len(gaps) else 0.0


def hourly_share(activations: pl.DataFrame) -> list[float]:
    """Share of `activations` starting in each local hour of the day (24; zeros when there are none)."""
    counts = np.bincount(activations["start"].dt.hour().to_numpy(), minlength=24).astype(np.float64)
    return [float(c) for c in counts / max(counts.sum(), 1.0)]


class _Fit:
    """The fitted values of one home's fit period, collected field by field with their sources."""

    def __init__(self, home: HomeActivity, labels: pl.DataFrame | None, split: FitSplit, residents: int):
        self.home = home
        self.labels = labels
        self.person_days = max(len(split.fit_days) * residents, 1)
        self.fit_days = split.fit_days
        self.sources: dict[str, str] = {}
        self.model = load_activity_model()

    def clock(self) -> tuple[float, float, dict[str, object]]:
        """Wake-up and bedtime (mean local hours), and the sleep fields: from sleeping labels when there
        are, else from the first and last activation of each fit day."""
        sleep = self.model.sleep
        if self.labels is not None:
            nights, naps = _nights(self.labels)
            if nights.height >= MIN_SPLIT_DAYS:
                wake = _mean_sd(nights.select(_hour("wake")).to_series(), (0.0, 0.0))
                bed_h = pl.when(_hour("bed") < 12).then(_hour("bed") + 24).otherwise(_hour("bed"))
                bed = _mean_sd(nights.select(bed_h).to_series(), (0.0, 0.0))
                rate = float(nights["wakeups"].mean() or 0.0)  # type: ignore[arg-type]
                fields = {
                    "wake_sd_h": wake[1],
                    "workday_wake_sd_h": wake[1],
                    "bedtime_sd_h": bed[1],
                    "night_wakeups": (max(rate, 0.01), sleep.night_wakeups[1]),
                    "nap_per_day": min(naps.height / self.person_days, 1.0),
                }
                self.sources.update(
                    {f"sleep.{k}": "labels" for k in fields} | {"wake_h": "labels", "bedtime_h": "labels"}
                )
                return wake[0], bed[0], fields
        features = day_features(self.home)
        if features.height < MIN_SPLIT_DAYS:
            raise CalibrationError(f"{self.home.home}: fewer than {MIN_SPLIT_DAYS} fit days with activity")
        wake = _mean_sd(features["wake_h"], (7.0, sleep.wake_sd_h))
        bed = _mean_sd(features["bedtime_h"], (23.0, sleep.bedtime_sd_h))
        rate = float(features["night_episodes"].mean() or 0.0)  # type: ignore[arg-type]
        fields = {
            "wake_sd_h": wake[1],
            "workday_wake_sd_h": wake[1],
            "bedtime_sd_h": bed[1],
            "night_wakeups": (max(rate, 0.01), sleep.night_wakeups[1]),
        }
        self.sources.update(
            {f"sleep.{k}": "activations" for k in fields}
            | {"wake_h": "activations", "bedtime_h": "activations"}
        )
        return wake[0], bed[0], fields

    def routines(self, night_wakeups: float) -> tuple[dict[str, RoutineSpec], dict[str, float]]:
        """Meal, shower and scattered activity rates and times from the labels (unchanged without)."""
        routines = dict(self.model.routines)
        scattered = dict(self.model.scattered)
        if self.labels is None:
            return routines, scattered
        nights, _ = _nights(self.labels)
        days = nights.sort("person", "wake").select(
            "person",
            day=pl.col("wake").dt.date(),
            wake="wake",
            next_bed=pl.col("bed").shift(-1).over("person"),
        )
        labels = self.labels.with_columns(day=pl.col("start").dt.date()).join(
            days, on=["person", "day"], how="left"
        )
        counts = dict(labels.group_by("activity").len().sort("activity").iter_rows())
        for key, spec in self.model.routines.items():
            kind = spec.kind
            if kind in _MEALS and key == kind:
                meals = labels.filter(pl.col("activity") == kind)
                p = min(meals.select(pl.struct("person", "day").n_unique()).item() / self.person_days, 1.0)
                anchor = _MEALS[kind]
                h = (pl.col("start") - pl.col("wake")).dt.total_seconds() / 3600
                span = (pl.col("next_bed") - pl.col("wake")).dt.total_seconds() / 3600
                before = (pl.col("next_bed") - pl.col("start")).dt.total_seconds() / 3600
                expr = {"after_wake_h": h, "day_share": h / span, "before_bed_h": before}[anchor]
                values = meals.select(expr.alias("v")).filter(pl.col("v") >= 0)["v"]
                old = getattr(spec, anchor)
                timing = _mean_sd(values, old)
                routines[key] = spec.model_copy(update={"p": p, anchor: timing})
                self.sources[f"routines.{key}"] = "labels"
            elif key == "morning_shower":
                routines[key] = spec.model_copy(
                    update={"p": min(counts.get("showering", 0) / self.person_days, 1.0)}
                )
                self.sources[f"routines.{key}"] = "labels"
        for kind in scattered:
            if kind not in counts:  # never labelled: its time is the background's, as the rates count it
                scattered[kind] = 0.0
                self.sources[f"scattered.{kind}"] = "labels (none)"
                continue
            per_day = counts.get(kind, 0) / self.person_days
            routine = sum(r.p for r in routines.values() if r.kind == kind)
            night = night_wakeups if kind == "toileting" else 0.0
            scattered[kind] = max(per_day - routine - night, 0.0)
            self.sources[f"scattered.{kind}"] = "labels"
        return routines, scattered

    def outings(self) -> tuple[float, tuple[float, float, float, float]]:
        """Outings per fit day and their lognormal duration, from the home's absences."""
        away = self.home.away.filter(pl.col("start").dt.date().is_in(self.fit_days))
        leaving = self.model.kinds["leaving"].duration or (110.0, 1.0, 10.0, 360.0)
        if not self.home.away.height:
            return self.model.outings.free_day, leaving
        minutes = (
            away.select((pl.col("end") - pl.col("start")).dt.total_seconds() / 60).to_series().to_numpy()
        )
        self.sources.update({"outings.free_day": "absences", "kinds.leaving.duration": "absences"})
        return away.height / len(self.fit_days), _lognormal(minutes, leaving)

    def episodes(self, wake_h: float, bedtime_h: float) -> Episodes | None:
        """Episodes of activity (runs of activations, any sensor, with pauses up to `EPISODE_S`) per
        awake hour at home (the fit days' hours at home less the hours asleep), and the quantiles of the
        gaps between consecutive activations within them: of one sensor, of two in one room, of two in
        two rooms."""
        acts = self.home.activations.filter(pl.col("start").dt.date().is_in(self.fit_days))
        gaps = _gaps(acts)
        ordered = acts.sort("start", "sensor")
        sensors, rooms = ordered["sensor"].to_numpy(), ordered["room"].to_numpy()
        same = sensors[1:] == sensors[:-1]
        room = (rooms[1:] == rooms[:-1]) & ~same
        inside = gaps[(gaps <= EPISODE_S) & ~same & ~room]
        inside_room = gaps[(gaps <= EPISODE_S) & room]
        inside_same = gaps[(gaps <= EPISODE_S) & same]
        home_h = float(self.home.kept_days["home_h"].sum())
        awake_h = home_h - len(self.fit_days) * (24 - (bedtime_h - wake_h))
        if len(inside) < MIN_SPLIT_DAYS or awake_h <= 0:
            return None
        self.sources["episodes"] = "activations"
        other = _quantiles(inside, ())
        return Episodes(
            per_h=episodes_of(gaps) / awake_h,
            gap_s=other,
            room_gap_s=_quantiles(inside_room, other),
            same_gap_s=_quantiles(inside_same, other),
        )

    def durations(self) -> dict[str, KindSpec]:
        """Each labelled activity's duration (lognormal, minutes) where the model gives it one."""
        kinds = dict(self.model.kinds)
        if self.labels is None:
            return kinds
        for name, spec in self.model.kinds.items():
            mine = self.labels.filter(pl.col("activity") == name)
            if spec.duration is None or mine.height < MIN_SPLIT_DAYS:
                continue
            minutes = mine.select((pl.col("end") - pl.col("start")).dt.total_seconds() / 60).to_series()
            low = min(spec.duration[2], float(minutes.min()))  # type: ignore[arg-type]
            fitted = _lognormal(
                minutes.to_numpy(), (spec.duration[0], spec.duration[1], max(low, 0.05), spec.duration[3])
            )
            kinds[name] = spec.model_copy(update={"duration": fitted})
            self.sources[f"kinds.{name}.duration"] = "labels"
        return kinds

    def sensors(self, wake_h: float, bedtime_h: float, kinds: dict[str, KindSpec]) -> dict[str, SensorFit]:
        """Each sensor's activations per hour of each activity and its on-time. Labelled: activations
        are matched to the label they start in (unlabelled time counts as relaxing, the model's
        background); unlabelled: one rate while awake and one while asleep, from the fitted clock.
        Doors keep the default model (they open on leaving and returning)."""
        acts = self.home.activations.filter(pl.col("start").dt.date().is_in(self.fit_days))
        total_h = 24.0 * len(self.fit_days)
        if self.labels is not None:
            spans = self.labels.filter(
                pl.col("start").dt.date().is_in(self.fit_days) & (pl.col("activity") != "leaving")
            ).sort("start")
            hours = dict(
                spans.group_by("activity")
                .agg((pl.col("end") - pl.col("start")).dt.total_seconds().sum() / 3600)
                .sort("activity")
                .iter_rows()
            )
            hours["relaxing"] = hours.get("relaxing", 0.0) + max(total_h - sum(hours.values()), 0.0)
            # A short activity's rate is per interval, spread over the model's (fitted) mean duration (of a
            # lognormal: median·exp(σ²/2)), so synthetic intervals get the real count per interval on average.
            labels_n = dict(spans.group_by("activity").len().sort("activity").iter_rows())
            for name, n in labels_n.items():
                duration = kinds[name].duration if name in kinds else None
                if duration is not None and name != "relaxing":
                    hours[name] = n * duration[0] * float(np.exp(duration[1] ** 2 / 2)) / 60
            matched = (
                acts.sort("start")
                .join_asof(
                    spans.select("activity", label_start="start", label_end="end"),
                    left_on="start",
                    right_on="label_start",
                )
                .with_columns(
                    activity=pl.when(pl.col("start") < pl.col("label_end"))
                    .then(pl.col("activity"))
                    .otherwise(pl.lit("relaxing"))
                )
            )
            self.sources["layout.sensors.per_hour"] = "labels+activations"
        else:
            awake_h = (bedtime_h - wake_h) % 24
            hour = _hour("start")
            awake = ((hour - wake_h) % 24) < awake_h
            matched = acts.with_columns(
                activity=pl.when(awake).then(pl.lit("awake")).otherwise(pl.lit("sleeping"))
            )
            days = len(self.fit_days)
            hours = {"awake": awake_h * days, "sleeping": (24 - awake_h) * days}
            self.sources["layout.sensors.per_hour"] = "activations (awake/asleep)"
        counts = matched.group_by("sensor", "activity").len().sort("sensor", "activity")
        fits = {}
        for sensor, kind in self.home.sensors.select("sensor", "kind").iter_rows():
            if kind == "door":
                fits[sensor] = SensorFit(kind=kind)
                continue
            mine = dict(counts.filter(pl.col("sensor") == sensor).select("activity", "len").iter_rows())
            per_hour = {a: n / hours[a] for a, n in mine.items() if hours.get(a, 0.0) > 0}
            if "awake" in per_hour:  # unlabelled: the awake rate for every waking activity
                rate = per_hour.pop("awake")
                per_hour |= {a: rate for a in self.model.kinds if a not in ("sleeping", "leaving")}
            on_s = (
                acts.filter(pl.col("sensor") == sensor)
                .select((pl.col("end") - pl.col("start")).dt.total_seconds())
                .to_series()
                .to_numpy()
                .astype(np.float64)
            )
            # The home's next activation after each of this sensor's: the same sensor again, and how soon.
            nxt = acts.sort("start").select(
                "sensor",
                same=pl.col("sensor").shift(-1) == pl.col("sensor"),
                gap=(pl.col("start").shift(-1) - pl.col("start")).dt.total_seconds(),
            )
            mine_next = nxt.filter(pl.col("sensor") == sensor)
            again = mine_next.filter(pl.col("same"))["gap"].to_numpy().astype(np.float64)
            fits[sensor] = SensorFit(
                kind=kind,
                per_hour={a: r for a, r in per_hour.items() if r > 0},
                on_s=_quantiles(on_s, DEFAULT_ON_S),
                repeat=min(len(again) / max(mine_next.height, 1), 0.95),
                repeat_gap_s=_lognormal(np.maximum(again, 1.0), REPEAT_GAP_S)
                if len(again) >= 3
                else REPEAT_GAP_S,
            )
        if any(f.repeat > 0 for f in fits.values()):
            self.sources["layout.sensors.repeat"] = "activations"
        return fits


def fit_home(
    directory: Path, holdout_share: float = HOLDOUT_SHARE, fold: tuple[int, int] | None = None
) -> FittedHome:
    """Fit the calibration of the real home in `directory` on its first (1 − `holdout_share`) kept days,
    or, with `fold` = (j, k), on all but the j-th of k contiguous blocks of them (`fold_splits`)."""
    home_json = read_home(directory)
    footing = load_home(directory, real=True)
    split = split_days(footing, holdout_share) if fold is None else fold_splits(footing, fold[1])[fold[0]]
    fit = restrict_days(_fit_period(footing, split), split.fit_days, "held out")
    labels = _labels(directory, footing.timezone, split)
    people = labels["person"].n_unique() if labels is not None else len(home_json.people)
    residents = max(1, min(people, 12))
    f = _Fit(fit, labels, split, residents)
    wake_h, bedtime_h, sleep = f.clock()
    rate = sleep["night_wakeups"]
    routines, scattered = f.routines(rate[0] if isinstance(rate, tuple) else 0.0)
    free_day, leaving = f.outings()
    kinds = f.durations()
    sensors = f.sensors(wake_h, bedtime_h, kinds)
    kinds["leaving"] = kinds["leaving"].model_copy(update={"duration": leaving})
    base = f.model
    model = ActivityModel.model_validate(
        base.model_copy(
            update={
                "sleep": base.sleep.model_copy(update=sleep),
                "routines": routines,
                "scattered": scattered,
                "outings": base.outings.model_copy(update={"free_day": free_day, "workday": free_day}),
                "kinds": kinds,
            }
        ).model_dump()
    )
    layout, ids = _layout(home_json, sensors)
    fit_acts = fit.activations.filter(pl.col("start").dt.date().is_in(split.fit_days))
    per_day = dict(fit_acts.group_by("sensor").len().sort("sensor").iter_rows())
    calibration = Calibration(
        source=footing.home,
        residents=residents,
        layout=layout,
        wake_h=float(np.clip(wake_h, 3.0, 12.0)),
        bedtime_h=float(np.clip(bedtime_h, 19.0, 27.5)),
        activities=model,
        episodes=f.episodes(wake_h, bedtime_h),
    )
    return FittedHome(
        home=footing.home,
        climate_region=home_json.metadata.climate_region,
        split=split,
        calibration=calibration,
        activations_per_day=[[per_day.get(s, 0) / len(split.fit_days) for s in room] for room in ids],
        episodes_per_day=episodes_per_day(fit_acts, len(split.fit_days)),
        hourly_share=hourly_share(fit_acts),
        episode_size_cv=episode_size_cv(fit_acts),
        burst_share=burst_share(fit_acts),
        sources=dict(sorted(f.sources.items())),
    )
