"""Behaviour features per home-day, computed column-wise with polars from a home on the common footing.

Every feature is a number per kept local day of one home (`FEATURES` names and documents each one; the
order is the column order). Quiet spells are measured over a timeline of breakpoints — activation starts,
the starts and ends of absences, and the edges of the day window — so a spell ends when a sensor fires,
somebody leaves, or the window closes, and counts only while somebody is home.
"""

from __future__ import annotations

import math

import polars as pl

from homesim.real_homes.realism.footing import HomeActivity

#: Daytime window for gaps (local hours): quiet spells inside it with somebody home.
DAYTIME = (8, 22)
#: A daytime gap is a quiet spell longer than this (hours).
GAP_H = 1.0
#: Night (local hours) for night activity, and the pause that separates two night episodes.
NIGHT = (0, 5)
NIGHT_EPISODE_GAP_S = 15 * 60
#: Evening hours for the evening share ([19:00, 22:00): the hours 19, 20 and 21).
EVENING = (19, 22)
#: Wake-up is the first activation in this window; bedtime the last one in [18:00, 03:00 next day).
MORNING = (5, 13)
BEDTIME_FROM_H = 18
BEDTIME_TO_H = 27
#: An activation starting this soon after the previous one is part of a burst.
BURST_S = 60
#: An activation on this long is a long one (sitting, lying, an appliance running).
LONG_ON_S = 600
#: Rooms with a share-of-activations feature.
ROOM_SHARES = ("bathroom", "kitchen", "bedroom", "living", "entrance")
#: Three-hour bins of the hour-of-day profile.
HOUR_BINS = tuple((h, h + 3) for h in range(0, 24, 3))

FEATURES: dict[str, str] = {
    "activations": "activations of all compared sensors in the day",
    "activations_per_sensor": "activations per compared sensor of the home",
    "activations_per_home_hour": "activations per hour with somebody home",
    "motion_per_sensor_hour": "motion activations per motion sensor per hour home (null: no motion sensor)",
    **{
        f"share_{a:02d}_{b:02d}": f"share of the day's activations starting {a:02d}:00–{b:02d}:00"
        for a, b in HOUR_BINS
    },
    "night_share": "share of activations starting 00:00–05:00",
    "evening_share": "share of activations starting 19:00–22:00",
    "peak_hour_share": "largest share of the day's activations in one clock hour",
    "hour_entropy": "entropy of activations over the 24 clock hours, divided by ln 24 (1 = spread evenly)",
    "hourly_cv": "coefficient of variation of activations per clock hour (0–23, empty hours as 0)",
    "night_activations": "activations starting 00:00–05:00",
    "night_episodes": "night episodes: runs of night activations with pauses under 15 min",
    "longest_quiet_h": "longest spell with no activation while somebody is home (whole day, hours)",
    "day_gaps_over_1h": "quiet spells over 1 h while somebody is home, 08:00–22:00",
    "day_longest_gap_h": "longest quiet spell while somebody is home, 08:00–22:00 (hours)",
    "day_quiet_share": "share of home time 08:00–22:00 spent in quiet spells over 1 h",
    "median_interarrival_s": "median seconds between consecutive activation starts",
    "burst_share": "share of activations starting under 60 s after the previous one",
    "room_transitions_per_hour": "consecutive activations in different rooms, per hour home",
    "self_transition_share": "share of consecutive activation pairs on the same sensor",
    "rooms_visited": "distinct rooms with an activation",
    **{f"{room}_share": f"share of activations in the {room} room class" for room in ROOM_SHARES},
    "on_median_s": "median on-duration of activations (seconds)",
    "on_p90_s": "90th percentile of on-durations (seconds)",
    "motion_on_median_s": "median on-duration of motion activations (seconds, HA clear time included)",
    "long_on_share": "share of activations on for over 10 min",
    "wake_h": "first activation 05:00–13:00 (local hour)",
    "wake_dev_h": "distance of wake_h from the home's median wake_h (hours): day-to-day spread",
    "bedtime_h": "last activation 18:00–03:00 next day (local hour; past midnight > 24)",
    "bedtime_dev_h": "distance of bedtime_h from the home's median bedtime_h (hours)",
    "active_span_h": "bedtime_h − wake_h (hours)",
    "outside_door_per_day": "activations of outside-door sensors",
    "absences": "absences (nobody home) starting in the day",
    "home_h": "hours with somebody home",
}
FEATURE_NAMES: tuple[str, ...] = tuple(FEATURES)

_SECOND_US = 1_000_000
_HOUR_US = 3_600 * _SECOND_US


def _hour_of_day(column: str = "start") -> pl.Expr:
    return (pl.col(column) - pl.col(column).dt.truncate("1d")).dt.total_microseconds() / _HOUR_US


def _quiet_spells(home: HomeActivity, window: tuple[int, int]) -> pl.DataFrame:
    """Per day: quiet spells (hours) inside the daily `window` while somebody is home.

    A sweep over breakpoints: after each one the state is (absences open, windows open); the time to the
    next breakpoint is a quiet spell when no absence and one window are open.
    """
    days = home.days.select("day")
    day_start = pl.col("day").cast(pl.Datetime("us"))
    edges = pl.concat(
        [
            days.select(t=day_start + pl.duration(hours=window[0]), d_away=pl.lit(0), d_win=pl.lit(1)),
            days.select(t=day_start + pl.duration(hours=window[1]), d_away=pl.lit(0), d_win=pl.lit(-1)),
            home.away.select(t=pl.col("start"), d_away=pl.lit(1), d_win=pl.lit(0)),
            home.away.select(t=pl.col("end"), d_away=pl.lit(-1), d_win=pl.lit(0)),
            home.activations.select(t=pl.col("start"), d_away=pl.lit(0), d_win=pl.lit(0)),
        ]
    ).cast({"d_away": pl.Int32, "d_win": pl.Int32})
    return (
        edges.sort("t", "d_win")
        .with_columns(
            away=pl.col("d_away").cum_sum(),
            win=pl.col("d_win").cum_sum(),
            length_h=(pl.col("t").shift(-1) - pl.col("t")).dt.total_microseconds() / _HOUR_US,
        )
        .filter((pl.col("away") <= 0) & (pl.col("win") == 1) & (pl.col("length_h") > 0))
        .select(day=pl.col("t").dt.date(), length_h="length_h")
    )


def _in_hours(start: int, end: int) -> pl.Expr:
    return (pl.col("hour") >= start) & (pl.col("hour") < end)


def _hourly(acts: pl.DataFrame, days: pl.DataFrame) -> pl.DataFrame:
    """Hour-of-day profile features from a zero-filled day × hour grid of activation counts."""
    grid = days.select("day").join(
        pl.DataFrame({"hour": list(range(24))}, schema={"hour": pl.Int8}), how="cross"
    )
    counts = acts.group_by("day", "hour").agg(n=pl.len())
    per_hour = grid.join(counts, on=["day", "hour"], how="left").with_columns(pl.col("n").fill_null(0))
    share = pl.col("n") / pl.col("n").sum()
    return per_hour.group_by("day").agg(
        *(share.filter(_in_hours(a, b)).sum().alias(f"share_{a:02d}_{b:02d}") for a, b in HOUR_BINS),
        share.filter(_in_hours(*NIGHT)).sum().alias("night_share"),
        share.filter(_in_hours(*EVENING)).sum().alias("evening_share"),
        share.max().alias("peak_hour_share"),
        (pl.col("n").filter(pl.col("n") > 0).entropy(normalize=True) / math.log(24)).alias("hour_entropy"),
        (pl.col("n").std() / pl.col("n").mean()).alias("hourly_cv"),
        pl.col("n").filter(_in_hours(*NIGHT)).sum().alias("night_activations"),
    )


def day_features(home: HomeActivity) -> pl.DataFrame:
    """One row per kept day of `home`: `home`, `real`, `day`, then `FEATURE_NAMES` (Float64, null = n/a)."""
    days = home.kept_days.select("day", "home_h")
    n_sensors = max(home.sensors.height, 1)
    n_motion = home.sensors.filter(pl.col("kind") == "motion").height
    acts = (
        home.activations.sort("start", "sensor")
        .with_columns(
            day=pl.col("start").dt.date(),
            hour=pl.col("start").dt.hour().cast(pl.Int8),
            tod=_hour_of_day(),
            on_s=(pl.col("end") - pl.col("start")).dt.total_microseconds() / _SECOND_US,
        )
        .with_columns(
            since_prev_s=(pl.col("start") - pl.col("start").shift(1)).dt.total_microseconds().over("day")
            / _SECOND_US,
            other_room=(pl.col("room") != pl.col("room").shift(1)).over("day"),
            same_sensor=(pl.col("sensor") == pl.col("sensor").shift(1)).over("day"),
        )
    )
    # Night episodes: the pause is measured between night activations only.
    night = acts.filter(pl.col("hour") < NIGHT[1]).with_columns(
        new=((pl.col("start") - pl.col("start").shift(1)).dt.total_microseconds().over("day") / _SECOND_US)
        .gt(NIGHT_EPISODE_GAP_S)
        .fill_null(True)
    )
    per_day = acts.group_by("day").agg(
        activations=pl.len(),
        motion=(pl.col("kind") == "motion").sum(),
        median_interarrival_s=pl.col("since_prev_s").median(),
        burst_share=(pl.col("since_prev_s") < BURST_S).sum() / pl.len(),
        room_transitions=pl.col("other_room").sum(),
        self_transition_share=pl.col("same_sensor").sum() / pl.col("same_sensor").count(),
        rooms_visited=pl.col("room").n_unique(),
        **{f"{room}_share": (pl.col("room") == room).sum() / pl.len() for room in ROOM_SHARES},
        on_median_s=pl.col("on_s").median(),
        on_p90_s=pl.col("on_s").quantile(0.9, interpolation="linear"),
        motion_on_median_s=pl.col("on_s").filter(pl.col("kind") == "motion").median(),
        long_on_share=(pl.col("on_s") > LONG_ON_S).sum() / pl.len(),
        wake_h=pl.col("tod").filter(pl.col("tod").is_between(*MORNING, closed="left")).min(),
        outside_door_per_day=pl.col("outside_door").sum(),
    )
    # Bedtime: the clock shifted back 3 h, so 00:00–03:00 belongs to the evening before.
    shift = BEDTIME_TO_H - 24
    shifted = acts.select(s=pl.col("start") - pl.duration(hours=shift))
    bedtime = (
        shifted.with_columns(day=pl.col("s").dt.date(), tod=_hour_of_day("s") + shift)
        .filter(pl.col("tod") >= BEDTIME_FROM_H)
        .group_by("day")
        .agg(bedtime_h=pl.col("tod").max())
    )
    whole = _quiet_spells(home, (0, 24)).group_by("day").agg(longest_quiet_h=pl.col("length_h").max())
    daytime = (
        _quiet_spells(home, DAYTIME)
        .group_by("day")
        .agg(
            day_gaps_over_1h=(pl.col("length_h") > GAP_H).sum(),
            day_longest_gap_h=pl.col("length_h").max(),
            day_quiet_share=pl.col("length_h").filter(pl.col("length_h") > GAP_H).sum()
            / pl.col("length_h").sum(),
        )
    )
    absences = home.away.group_by(day=pl.col("start").dt.date()).agg(absences=pl.len())
    episodes = night.group_by("day").agg(night_episodes=pl.col("new").sum())
    table = (
        days.join(per_day, on="day", how="left")
        .join(_hourly(acts, days), on="day", how="left")
        .join(episodes, on="day", how="left")
        .join(bedtime, on="day", how="left")
        .join(whole, on="day", how="left")
        .join(daytime, on="day", how="left")
        .join(absences, on="day", how="left")
        .with_columns(
            pl.col("night_episodes", "absences", "day_gaps_over_1h").fill_null(0),
            activations_per_sensor=pl.col("activations") / n_sensors,
            activations_per_home_hour=pl.col("activations") / pl.col("home_h"),
            motion_per_sensor_hour=(pl.col("motion") / (n_motion * pl.col("home_h"))) if n_motion else None,
            room_transitions_per_hour=pl.col("room_transitions") / pl.col("home_h"),
        )
        .with_columns(
            wake_dev_h=(pl.col("wake_h") - pl.col("wake_h").median()).abs(),
            bedtime_dev_h=(pl.col("bedtime_h") - pl.col("bedtime_h").median()).abs(),
            active_span_h=pl.col("bedtime_h") - pl.col("wake_h"),
        )
    )
    return table.select(
        pl.lit(home.home).alias("home"),
        pl.lit(home.real).alias("real"),
        "day",
        *(pl.col(name).cast(pl.Float64) for name in FEATURE_NAMES),
    ).sort("day")
