"""DeviceHealth: the simulation's device-health stage (per-entity daily windows, assessment, labelling).

Every device entity is assessed once per local day of the home's period, including days on which it
reported nothing, from its events only (`HealthFeatures`: unavailable stretches, longest flat run, slope
against same-class neighbours, battery slope, report rate against its own median, duplicate reports,
deviation from neighbours). The rules baseline (`rule_assess`) names a health kind per window, or, when a
`device_intelligence` model is deployed, the model does, given the features and the rules' kind
(`rule_kind`); the label is the kind of the ground-truth fault overlapping the window,
else "healthy".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from homesim.generation.calendar import US_PER_DAY, US_PER_S
from homesim.schema.record_frames import RecordFrame, envelope, record_schema
from homesim.schema.records import (
    BASELINE_VERSION,
    DeviceHealthRecord,
    HealthFeatures,
    HealthKind,
    make_record_id,
)
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import HEALTH_KINDS, ModelProvider

FEATURES: tuple[str, ...] = tuple(HealthFeatures.model_fields)
#: Column of the rules' kind (`rule_assess`) that a deployed model gets beside `FEATURES`.
RULE_KIND = "rule_kind"
#: The scores of a device-health record, against its label.
_SCORES = ("score", "correct", "detected")
#: Domains of entities whose devices can fail (others are virtual: sun, person, zone, …).
_DEVICE_DOMAINS = (
    "sensor",
    "binary_sensor",
    "light",
    "switch",
    "lock",
    "climate",
    "cover",
    "fan",
    "media_player",
)


class DeviceHealthConfig(BaseModel):
    """Thresholds of the rules baseline."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    duplicate_s: float = Field(
        default=3.5, gt=0, description="a repeat within this many seconds is a duplicate"
    )
    battery_drain_per_day: float = Field(default=-8.0, lt=0, description="battery slope (%/day) of a drain")
    steady_battery_per_day: float = Field(
        default=2.0, gt=0, description="median |slope| of a non-cycling battery"
    )
    min_duplicates: int = Field(default=2, ge=1)
    dropped_ratio: float = Field(
        default=0.45, gt=0, le=1, description="report-rate ratio below which reports drop"
    )
    min_daily_reports: float = Field(
        default=6.0, ge=0, description="median reports/day for rate rules to apply"
    )
    steady_share: float = Field(
        default=0.8, ge=0, le=1, description="share of normal days of a steady reporter"
    )
    drift_sigmas: float = Field(
        default=6.0, gt=0, description="neighbour deviation, in entity sigmas, of a drift"
    )


def _day_bounds(view: HomeView) -> pl.DataFrame:
    """Local days of the home's period: day (date), start_us, end_us."""
    meta = view.home.metadata
    days = [meta.start + timedelta(days=i) for i in range(meta.days)]
    frame = pl.DataFrame({"day": days}, schema={"day": pl.Date})
    start = pl.col("day").cast(pl.Datetime("us")).dt.replace_time_zone(meta.timezone)
    return frame.with_columns(
        start.dt.epoch("us").alias("start_us"), start.dt.offset_by("1d").dt.epoch("us").alias("end_us")
    )


def health_windows(view: HomeView, config: DeviceHealthConfig | None = None) -> pl.DataFrame:
    """One row per (device entity, local day): entity_id, domain, device_class, state_class, day, start_us,
    end_us, median_events and one column per `HealthFeatures` field."""
    config = config or DeviceHealthConfig()
    entities = pl.DataFrame(
        [
            {
                "entity_id": e.entity_id,
                "domain": e.domain,
                "device_class": e.device_class,
                "state_class": e.state_class,
            }
            for e in view.home.entities
            if e.device_id is not None and e.domain in _DEVICE_DOMAINS
        ],
        schema={"entity_id": pl.Utf8, "domain": pl.Utf8, "device_class": pl.Utf8, "state_class": pl.Utf8},
    )
    bounds = _day_bounds(view)
    tz = view.timezone
    ev = (
        view.events.join(entities.select("entity_id"), on="entity_id")
        .with_columns(
            pl.col("time").dt.epoch("us").alias("t"),
            pl.col("time").dt.convert_time_zone(tz).dt.date().alias("day"),
            pl.col("value").fill_nan(None).alias("v"),
        )
        .sort("entity_id", "t")
        .with_columns(
            pl.col("t").shift(-1).over("entity_id").alias("next_t"),
            pl.col("t").shift(1).over("entity_id").alias("prev_t"),
            pl.col("state").shift(1).over("entity_id").alias("prev_state"),
        )
    )
    end_us = int(bounds.get_column("end_us").max())  # type: ignore[arg-type]
    duplicate = (
        (pl.col("state") == pl.col("prev_state"))
        & ((pl.col("t") - pl.col("prev_t")) <= config.duplicate_s * US_PER_S)
    ).fill_null(False)
    # A flat run is a stretch of consecutive reports with one numeric value.
    ev = ev.with_columns(
        duplicate.alias("duplicate"),
        (pl.col("v") != pl.col("v").shift(1).over("entity_id"))
        .fill_null(True)
        .cum_sum()
        .over("entity_id")
        .alias("run"),
        ((pl.col("t") - pl.col("t").min().over("entity_id")) / US_PER_DAY).alias("td"),
    )
    runs = (
        ev.filter(pl.col("v").is_not_null())
        .group_by("entity_id", "run")
        .agg(pl.len().alias("run_len"), pl.col("day").first())
    )
    flat = runs.group_by("entity_id", "day").agg(pl.col("run_len").max().alias("longest_flat_run"))
    # Unavailable stretches, split over the days they cover.
    unavailable = (
        ev.filter(pl.col("state") == "unavailable")
        .select("entity_id", "t", pl.col("next_t").fill_null(end_us).alias("u_end"))
        .join(bounds, how="cross")
        .with_columns(
            ((pl.min_horizontal("u_end", "end_us") - pl.max_horizontal("t", "start_us")) / US_PER_S).alias(
                "overlap"
            )
        )
        .filter(pl.col("overlap") > 0)
        .group_by("entity_id", "day")
        .agg(pl.col("overlap").sum().alias("unavailable_s"))
    )
    slope = (pl.cov("td", "v") / pl.col("td").var()).fill_nan(0.0).fill_null(0.0)
    daily = ev.group_by("entity_id", "day").agg(
        pl.len().alias("events"),
        (pl.col("state") == "unavailable").sum().alias("unavailable_count"),
        pl.col("duplicate").sum().alias("duplicate_reports"),
        slope.alias("slope"),
        pl.col("v").mean().alias("mean_v"),
    )
    grid = entities.join(bounds, how="cross")
    w = (
        grid.join(daily, on=["entity_id", "day"], how="left")
        .join(flat, on=["entity_id", "day"], how="left")
        .join(unavailable, on=["entity_id", "day"], how="left")
        .with_columns(
            pl.col("events", "unavailable_count", "duplicate_reports", "longest_flat_run").fill_null(0),
            pl.col("unavailable_s", "slope").fill_null(0.0),
        )
        .with_columns(pl.col("events").median().over("entity_id").alias("median_events"))
        .with_columns(
            (pl.col("events") / pl.col("median_events").clip(lower_bound=1)).alias("report_rate_ratio"),
            # Each entity's daily mean relative to its own typical level, compared with its class's shift.
            (pl.col("mean_v") - pl.col("mean_v").median().over("entity_id")).alias("shift"),
        )
        .with_columns(
            (pl.col("slope") - pl.col("slope").median().over("device_class", "day")).alias(
                "slope_vs_neighbours"
            ),
            pl.when(pl.col("device_class") == "battery")
            .then(pl.col("slope"))
            .otherwise(0.0)
            .alias("battery_slope"),
            (pl.col("shift") - pl.col("shift").median().over("device_class", "day"))
            .abs()
            .truediv(pl.col("mean_v").std().over("entity_id").clip(lower_bound=1e-6))
            .fill_null(0.0)
            .fill_nan(0.0)
            .alias("neighbour_deviation"),
        )
    )
    return w.select(
        "entity_id",
        "domain",
        "device_class",
        "state_class",
        "day",
        "start_us",
        "end_us",
        "median_events",
        *FEATURES,
    ).sort("entity_id", "day")


def rule_assess(
    windows: pl.DataFrame, config: DeviceHealthConfig | None = None
) -> tuple[list[HealthKind], npt.NDArray[np.float64]]:
    """The rules baseline, first match wins:

    1. battery_drain: a usually steady battery falling faster than `battery_drain_per_day`;
    2. unavailable: any unavailable time in the window;
    3. duplicated: at least `min_duplicates` near-instant repeats;
    4. stuck: a steadily reporting sensor (median at least `min_daily_reports`, normal on `steady_share`
       of its days) reporting nothing;
    5. dropped: such a sensor reporting under `dropped_ratio` of its median;
    6. drift: a measurement sensor's daily level `drift_sigmas` away from its class's shift;
    7. else healthy. The score is a fixed confidence per rule.
    """
    config = config or DeviceHealthConfig()
    # Rate rules only apply to entities that report steadily: an appliance's power sensor is silent on
    # days the appliance is not used, which is no fault.
    usual = (pl.col("median_events") >= config.min_daily_reports) & (
        (pl.col("report_rate_ratio") >= config.dropped_ratio).mean().over("entity_id") >= config.steady_share
    )
    numeric = pl.col("domain") == "sensor"
    measurement = numeric & (pl.col("state_class") == "measurement").fill_null(False)
    # Phones charge and discharge daily: only a battery that is usually flat can be draining abnormally.
    steady = pl.col("battery_slope").abs().median().over("entity_id") < config.steady_battery_per_day
    kind = (
        pl.when(steady & (pl.col("battery_slope") <= config.battery_drain_per_day))
        .then(pl.lit("battery_drain"))
        .when(pl.col("unavailable_s") > 0)
        .then(pl.lit("unavailable"))
        .when(pl.col("duplicate_reports") >= config.min_duplicates)
        .then(pl.lit("duplicated"))
        .when(usual & numeric & (pl.col("events") == 0))
        .then(pl.lit("stuck"))
        .when(usual & numeric & (pl.col("report_rate_ratio") < config.dropped_ratio))
        .then(pl.lit("dropped"))
        # Cumulative meters (energy totals) climb by design: only measurements can drift.
        .when(measurement & (pl.col("neighbour_deviation") >= config.drift_sigmas))
        .then(pl.lit("drift"))
        .otherwise(pl.lit("healthy"))
    )
    kinds = windows.select(kind.alias("kind")).get_column("kind").to_list()
    confidence = {
        "healthy": 0.1,
        "battery_drain": 0.9,
        "unavailable": 0.95,
        "duplicated": 0.8,
        "stuck": 0.6,
        "dropped": 0.6,
        "drift": 0.6,
    }
    return kinds, np.array([confidence[k] for k in kinds])


def label_windows(windows: pl.DataFrame, view: HomeView) -> pl.DataFrame:
    """kind and fault_id of each window: the ground-truth fault of the entity overlapping it, else healthy."""
    faults = pl.DataFrame(
        [
            {
                "entity_id": f.entity_id,
                "fault_id": f.id,
                "fault_kind": f.kind,
                "f_start": int(f.start.timestamp() * US_PER_S),
                "f_end": int(f.end.timestamp() * US_PER_S),
            }
            for f in (view.truth.faults if view.truth is not None else ())
        ],
        schema={
            "entity_id": pl.Utf8,
            "fault_id": pl.Utf8,
            "fault_kind": pl.Utf8,
            "f_start": pl.Int64,
            "f_end": pl.Int64,
        },
    )
    keyed = windows.select("entity_id", "day", "start_us", "end_us").with_row_index("i")
    hits = (
        keyed.join(faults, on="entity_id")
        .filter((pl.col("f_start") < pl.col("end_us")) & (pl.col("f_end") > pl.col("start_us")))
        .sort("i", "f_start")
        .unique("i", keep="first", maintain_order=True)
        .select("i", "fault_id", "fault_kind")
    )
    return (
        keyed.join(hits, on="i", how="left")
        .sort("i")
        .select(pl.col("fault_kind").fill_null("healthy").alias("kind"), "fault_id")
    )


class DeviceHealthAssessor:
    def __init__(self, config: DeviceHealthConfig | None = None) -> None:
        self.config = config or DeviceHealthConfig()

    def assess(self, view: HomeView, models: ModelProvider, cycle: int) -> RecordFrame[DeviceHealthRecord]:
        """One record per window, as a record frame (built column-wise: the stage's records are the bulk of
        a cycle's)."""
        windows = health_windows(view, self.config)
        if windows.height == 0:
            return RecordFrame(
                DeviceHealthRecord, pl.DataFrame(schema=record_schema(DeviceHealthRecord, _SCORES))
            )
        model = models.get("device_intelligence")
        if model is not None:
            # The model is stacked on the rules: it sees their verdict beside the features.
            rule_kinds, _ = rule_assess(windows, self.config)
            features = windows.select(FEATURES).with_columns(pl.Series(RULE_KIND, rule_kinds, dtype=pl.Utf8))
            probs = np.asarray(model.predict(features), dtype=np.float64)
            kinds: list[HealthKind] = [HEALTH_KINDS[i] for i in probs.argmax(axis=1)]
            scores = 1 - probs[:, HEALTH_KINDS.index("healthy")]
        else:
            kinds, scores = rule_assess(windows, self.config)
        version = model.version if model else BASELINE_VERSION
        labels = label_windows(windows, view)
        frame = _record_frame(windows, kinds, scores, labels, view.key, cycle, version)
        return RecordFrame(DeviceHealthRecord, frame)


def _record_frame(
    windows: pl.DataFrame,
    kinds: Sequence[HealthKind],
    scores: npt.NDArray[np.float64],
    labels: pl.DataFrame,
    home_key: str,
    cycle: int,
    version: str,
) -> pl.DataFrame:
    """The windows' records as a `record_schema` frame: the values (and so the JSON) the records built one by
    one had; the record id is `make_record_id`'s (entity and window start as its key)."""
    schema = record_schema(DeviceHealthRecord, _SCORES)
    n = windows.height
    start = pl.col("day").cast(pl.String)
    ids = [
        make_record_id("device_health", home_key, cycle, entity, day)
        for entity, day in zip(
            windows["entity_id"].to_list(), windows.select(start)["day"].to_list(), strict=True
        )
    ]
    kind, label = pl.col("kind"), pl.col("label_kind")
    frame = windows.with_columns(
        pl.Series("kind", kinds, pl.String),
        pl.Series("raw_score", np.asarray(scores, dtype=np.float64), pl.Float64),
        labels["kind"].alias("label_kind"),
        labels["fault_id"],
    ).select(
        *envelope(
            ids,
            cycle,
            home_key,
            pl.struct(
                pl.col("raw_score").alias("score"),
                (kind == label).cast(pl.Float64).alias("correct"),
                ((kind != "healthy") == (label != "healthy")).cast(pl.Float64).alias("detected"),
            ),
            version,
            "device_health",
        ),
        pl.struct(
            "entity_id",
            "domain",
            "device_class",
            start.alias("window_start"),
            pl.col("day").dt.offset_by("1d").cast(pl.String).alias("window_end"),
            pl.struct(FEATURES).alias("features"),
        ).alias("inputs"),
        pl.struct(kind.alias("predicted"), pl.col("raw_score").clip(0.0, 1.0).alias("score")).alias(
            "outputs"
        ),
        pl.struct(label.alias("kind"), "fault_id").alias("label"),
    )
    assert frame.height == n
    return frame.cast(dict(schema))  # type: ignore[arg-type]


def device_health_stage(view: HomeView, models: ModelProvider, cycle: int) -> RecordFrame[DeviceHealthRecord]:
    """The device-health stage with the default configuration."""
    return DeviceHealthAssessor().assess(view, models, cycle)
