"""PatternDetector: the simulation's pattern-detection stage (candidate mining, scoring, labelling). It
prepares events as the independent `ground_truth.verifier.TruthVerifier` does (`state_changes`) but is
the pipeline's own detector, scored against the truth the verifier checks.

Candidates are mined from a home's honest events (`HomeView.events`) and its environment only, each with
a feature vector (`PatternFeatures`), in four kinds:

* `sequence` / `presence`: an (entity, state) change followed within `max_lag_s` by an actuator's
  (entity, state) change; `presence` when the trigger is a person or the derived `zone.home`.
* `time_of_day`: the densest local-clock window of an actuator (entity, state) over the days (up to
  `peaks` windows per key).
* `environment`: the densest window of offsets from sunset or sunrise (computed from the environment's
  sun elevation), and outdoor temperature above/below a threshold at the action.

Candidates are scored by the deployed `pattern_detection` model or by the baseline rule (`baseline_score`)
and only then labelled, by matching the home's ground-truth patterns (`label_candidates`).
Mining is column-wise (numpy/polars); Python loops run over lookback offsets, peaks and candidates only.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from homesim.generation.calendar import US_PER_DAY, US_PER_S
from homesim.ground_truth.accuracy import MIN_OCCURRENCES
from homesim.ground_truth.verifier import ACTUATOR_DOMAINS, state_changes
from homesim.schema.ground_truth import GroundTruth, Pattern
from homesim.schema.patterns import TimeTriggerSpec
from homesim.schema.record_frames import RecordFrame, envelope, record_schema
from homesim.schema.records import (
    BASELINE_VERSION,
    PatternFeatures,
    PatternRecord,
    make_record_id,
)
from homesim.schema.vocabulary import PASSIVE_DOMAINS, sun_crossings
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import ModelProvider

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
_PRESENCE_PREFIXES = ("person.", "zone.")
FEATURES: tuple[str, ...] = tuple(PatternFeatures.model_fields)
#: The scores of a pattern record, against its label.
_SCORES = ("score", "correct")
#: A candidate's natural key: the pattern record's inputs besides its features, in the record's field order.
CANDIDATE_KEY = (
    "kind",
    "trigger_entity",
    "trigger_state",
    "trigger_variable",
    "threshold",
    "action_entity",
    "action_state",
)


class PatternDetectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_lag_s: float = Field(default=300.0, gt=0, description="longest trigger→action lag mined")
    lookback: int = Field(default=16, ge=1, description="preceding state changes paired with each action")
    min_support: int = Field(default=5, ge=1, description="fewest firings of a candidate")
    bin_min: int = Field(default=15, ge=1, description="width of a time-of-day histogram bin (minutes)")
    half_width_bins: int = Field(default=3, ge=0, description="half width of a scanned window, in bins")
    peaks: int = Field(default=2, ge=1, description="time-of-day windows per (entity, state)")
    sun_range_min: float = Field(default=180.0, gt=0, description="offsets from sunset/sunrise considered")
    sun_bin_min: int = Field(default=10, ge=1)
    threshold: float = Field(
        default=0.5, ge=0, le=1, description="score above which a candidate is a pattern"
    )
    #: Ground-truth patterns with fewer occurrences are not expected to be found (recall denominator).
    min_occurrences: int = Field(default=MIN_OCCURRENCES, ge=0)


# ------------------------------------------------------------------------------------------------- inputs


def local_clock(time_us: pl.Series, timezone: str) -> pl.DataFrame:
    """Local hour (float), local day index from the first day, and weekday (Mon=0) of each time."""
    local = pl.from_epoch(time_us, time_unit="us").dt.replace_time_zone("UTC").dt.convert_time_zone(timezone)
    frame = pl.DataFrame({"local": local})
    return frame.select(
        (
            pl.col("local").dt.hour().cast(pl.Float64)
            + pl.col("local").dt.minute() / 60
            + pl.col("local").dt.second() / 3600
        ).alias("hour"),
        pl.col("local").dt.date().cast(pl.Int64).alias("day"),
        (pl.col("local").dt.weekday() - 1).alias("weekday"),
    )


def sun_events(environment: pl.DataFrame) -> dict[str, I64]:
    """Sunset and sunrise times (µs) from the hourly sun elevation: HA's horizon, interpolated."""
    t = environment.get_column("time").dt.epoch("us").to_numpy().astype(np.int64)
    crossings: dict[str, I64] = sun_crossings(t, environment.get_column("sun_elevation_deg").to_numpy())
    return crossings


def circular_stats(hours: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Circular mean hour in [0, 24) and circular standard deviation (hours) of an hour column."""
    angle = hours * (2 * np.pi / 24)
    s, c = angle.sin().mean(), angle.cos().mean()
    mean = ((pl.arctan2(s, c) * (24 / (2 * np.pi))) + 24) % 24
    r = (s * s + c * c).sqrt().clip(1e-12, 1.0)
    spread = (-2 * r.log()).sqrt() * (24 / (2 * np.pi))
    return mean, spread


# ------------------------------------------------------------------------------------------------- mining


class _Mined:
    """Shared arrays of one home's state changes."""

    def __init__(self, view: HomeView, config: PatternDetectorConfig) -> None:
        self.c = config
        changes = state_changes(view.events, PASSIVE_DOMAINS).rename({"time": "time_us"})
        clock = local_clock(changes.get_column("time_us"), view.timezone)
        self.table = pl.concat([changes, clock], how="horizontal").with_row_index("row")
        self.days = max(int(self.table.get_column("day").n_unique()), 1)
        span = self.table.select(pl.col("time_us").max() - pl.col("time_us").min()).item()
        self.span_us = max(int(span or 0), 1)
        counts = self.table.group_by("entity_id", "state").agg(pl.len().alias("n"))
        self.counts = counts
        actuator = pl.col("entity_id").str.split(".").list.first().is_in(list(ACTUATOR_DOMAINS))
        self.actions = counts.filter(actuator & (pl.col("n") >= config.min_support)).rename(
            {"entity_id": "action_entity", "state": "action_state", "n": "action_n"}
        )
        self.action_events = self.table.join(
            self.actions, left_on=["entity_id", "state"], right_on=["action_entity", "action_state"]
        ).rename({"entity_id": "action_entity", "state": "action_state"})
        self.entity_events = self.table.group_by("entity_id").agg(pl.len().alias("action_events"))

    def _firing_stats(self, firings: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
        """Per-candidate statistics of its firings (rows: keys…, hour, day, weekday, lag_s)."""
        mean_h, spread_h = circular_stats(pl.col("hour"))
        return firings.group_by(keys).agg(
            pl.len().alias("support"),
            pl.col("day").n_unique().alias("firing_days"),
            mean_h.alias("median_hour"),
            spread_h.alias("time_spread_h"),
            pl.col("lag_s").median().alias("lag_median_s"),
            (pl.col("lag_s").quantile(0.75) - pl.col("lag_s").quantile(0.25)).alias("lag_iqr_s"),
            (pl.col("weekday") < 5).mean().alias("weekday_share"),
        )

    def sequences(self) -> pl.DataFrame:
        t = self.table.get_column("time_us").to_numpy()
        entity = self.table.get_column("entity_id").to_numpy()
        rows = self.action_events.get_column("row").to_numpy().astype(np.int64)
        limit = int(self.c.max_lag_s * US_PER_S)
        parts = []
        for k in range(1, self.c.lookback + 1):  # vectorized over actions; the loop runs over offsets only
            j = rows - k
            ok = j >= 0
            a, j = rows[ok], j[ok]
            ok = (t[a] - t[j] <= limit) & (entity[a] != entity[j])
            parts.append(
                pl.DataFrame({"row": a[ok], "trigger_row": j[ok], "lag_s": (t[a[ok]] - t[j[ok]]) / 1e6})
            )
        pairs = pl.concat(parts)
        triggers = self.table.select(
            pl.col("row").alias("trigger_row"),
            pl.col("entity_id").alias("trigger_entity"),
            pl.col("state").alias("trigger_state"),
        )
        pairs = (
            pairs.join(triggers, on="trigger_row")
            .join(
                self.action_events.select("row", "action_entity", "action_state", "hour", "day", "weekday"),
                on="row",
            )
            # Only the latest change of each trigger before an action counts (one firing per action event).
            .sort("lag_s")
            .unique(["row", "trigger_entity", "trigger_state"], keep="first", maintain_order=True)
        )
        keys = ["trigger_entity", "trigger_state", "action_entity", "action_state"]
        stats = self._firing_stats(pairs, keys).filter(pl.col("support") >= self.c.min_support)
        window_days = self.c.max_lag_s * US_PER_S / US_PER_DAY
        opportunities = self.counts.rename(
            {"entity_id": "trigger_entity", "state": "trigger_state", "n": "opportunities"}
        )
        stats = stats.join(opportunities, on=["trigger_entity", "trigger_state"]).join(
            self.actions, on=["action_entity", "action_state"]
        )
        days_span = self.span_us / US_PER_DAY
        # Chance that a random window of max_lag_s holds the action (Poisson at the action's rate).
        base = 1 - (-(pl.col("action_n") / days_span) * window_days).exp()
        return stats.with_columns(
            pl.when(
                pl.col("trigger_entity").str.starts_with(_PRESENCE_PREFIXES[0])
                | pl.col("trigger_entity").str.starts_with(_PRESENCE_PREFIXES[1])
            )
            .then(pl.lit("presence"))
            .otherwise(pl.lit("sequence"))
            .alias("kind"),
            (pl.col("support").clip(upper_bound=pl.col("opportunities")) / pl.col("opportunities")).alias(
                "confidence"
            ),
        ).with_columns(
            (pl.col("confidence") / base).alias("lift"),
            pl.lit(None, pl.Utf8).alias("trigger_variable"),
            pl.lit(None, pl.Float64).alias("threshold"),
        )

    def _window_peaks(
        self, position: pl.DataFrame, n_bins: int, bin_width: float, circular: bool
    ) -> pl.DataFrame:
        """Densest windows of `pos` (per action key) over days: key, peak, center, lo, hi (in `pos` units).

        `position` has action_entity, action_state, key_id, day, pos (in [0, n_bins * bin_width))."""
        n_keys = int(position.select(pl.col("key_id").max()).item() or 0) + 1
        binned = position.select(
            "key_id", "day", (pl.col("pos") // bin_width).cast(pl.Int64).clip(0, n_bins - 1).alias("bin")
        ).unique()
        days_in_bin = np.zeros((n_keys, n_bins))
        np.add.at(
            days_in_bin, (binned.get_column("key_id").to_numpy(), binned.get_column("bin").to_numpy()), 1.0
        )
        h = self.c.half_width_bins
        padded = np.pad(days_in_bin, ((0, 0), (h, h)), mode="wrap" if circular else "constant")
        window = np.lib.stride_tricks.sliding_window_view(padded, 2 * h + 1, axis=1).sum(axis=2)
        rows = []
        for peak in range(self.c.peaks):  # loop over peaks: each masks the window it took
            best = window.argmax(axis=1)
            rows.append(pl.DataFrame({"key_id": np.arange(n_keys), "peak": peak, "bin": best}))
            offsets = (
                (best[:, None] + np.arange(-2 * h, 2 * h + 1)[None, :]) % n_bins
                if circular
                else np.clip(best[:, None] + np.arange(-2 * h, 2 * h + 1)[None, :], 0, n_bins - 1)
            )
            np.put_along_axis(window, offsets, -1.0, axis=1)
        peaks = pl.concat(rows).with_columns(
            ((pl.col("bin") + 0.5) * bin_width).alias("center"), pl.lit((h + 0.5) * bin_width).alias("half")
        )
        return peaks

    def time_windows(self) -> pl.DataFrame:
        """Time-of-day candidates: per action key, the `peaks` densest local-clock windows."""
        ev = self.action_events.with_columns(
            pl.struct("action_entity", "action_state").rank("dense").cast(pl.Int64).sub(1).alias("key_id"),
            (pl.col("hour") * 60).alias("pos"),
        )
        peaks = self._window_peaks(ev, 1440 // self.c.bin_min, float(self.c.bin_min), circular=True)
        joined = ev.join(peaks, on="key_id")
        diff = ((pl.col("pos") - pl.col("center") + 720) % 1440 - 720).abs()
        firings = (
            joined.filter(diff <= pl.col("half"))
            .sort("time_us")
            .unique(["key_id", "peak", "day"], keep="first", maintain_order=True)  # one firing per day
            .with_columns(pl.lit(0.0).alias("lag_s"))
        )
        stats = self._firing_stats(firings, ["action_entity", "action_state", "peak", "half"])
        width_days = (2 * pl.col("half")) / 1440
        base = 1 - (-(pl.col("action_n") / (self.span_us / US_PER_DAY)) * width_days).exp()
        return (
            stats.filter(pl.col("support") >= self.c.min_support)
            .join(self.actions, on=["action_entity", "action_state"])
            .with_columns(
                pl.lit("time_of_day").alias("kind"),
                pl.lit(self.days).alias("opportunities"),
                (pl.col("firing_days") / self.days).alias("confidence"),
            )
            .with_columns((pl.col("confidence") / base).alias("lift"))
            .with_columns(
                pl.lit(None, pl.Utf8).alias("trigger_entity"),
                pl.lit(None, pl.Utf8).alias("trigger_state"),
                pl.lit(None, pl.Utf8).alias("trigger_variable"),
                pl.lit(None, pl.Float64).alias("threshold"),
            )
        )

    def sun_windows(self, environment: pl.DataFrame) -> pl.DataFrame:
        """Environment candidates anchored on sunset/sunrise: the densest window of offsets from the event."""
        t = self.action_events.get_column("time_us").to_numpy()
        frames = []
        span = self.c.sun_range_min
        for name, times in sun_events(environment).items():  # two anchors
            if len(times) == 0:
                continue
            idx = np.searchsorted(times, t)
            before = times[np.clip(idx - 1, 0, len(times) - 1)]
            after = times[np.clip(idx, 0, len(times) - 1)]
            nearest = np.where(np.abs(t - before) <= np.abs(after - t), before, after)
            offset_min = (t - nearest) / 60e6
            ev = self.action_events.with_columns(
                pl.Series("offset_min", offset_min),
                pl.struct("action_entity", "action_state")
                .rank("dense")
                .cast(pl.Int64)
                .sub(1)
                .alias("key_id"),
            ).filter(pl.col("offset_min").abs() < span)
            if ev.height == 0:
                continue
            ev = ev.with_columns((pl.col("offset_min") + span).alias("pos"))
            n_bins = int(2 * span // self.c.sun_bin_min)
            peaks = self._window_peaks(ev, n_bins, float(self.c.sun_bin_min), circular=False).filter(
                pl.col("peak") == 0
            )
            firings = (
                ev.join(peaks, on="key_id")
                .filter((pl.col("pos") - pl.col("center")).abs() <= pl.col("half"))
                .sort("time_us")
                .unique(["key_id", "day"], keep="first", maintain_order=True)
                .with_columns(pl.col("offset_min").abs().mul(60).alias("lag_s"))
            )
            stats = self._firing_stats(firings, ["action_entity", "action_state", "half"])
            n_days = max(len(times), 1)
            width_days = (2 * pl.col("half")) / 1440
            base = 1 - (-(pl.col("action_n") / (self.span_us / US_PER_DAY)) * width_days).exp()
            frames.append(
                stats.filter(pl.col("support") >= self.c.min_support)
                .join(self.actions, on=["action_entity", "action_state"])
                .with_columns(
                    pl.lit("environment").alias("kind"),
                    pl.lit(name).alias("trigger_variable"),
                    pl.lit(n_days).alias("opportunities"),
                    (pl.col("firing_days") / n_days).clip(upper_bound=1.0).alias("confidence"),
                    pl.lit(None, pl.Utf8).alias("trigger_entity"),
                    pl.lit(None, pl.Utf8).alias("trigger_state"),
                    pl.lit(None, pl.Float64).alias("threshold"),
                )
                .with_columns((pl.col("confidence") / base).alias("lift"))
            )
        return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()

    def temperature(self, environment: pl.DataFrame) -> pl.DataFrame:
        """Environment candidates on outdoor temperature: above the 10th / below the 90th percentile of the
        temperatures at the action's events; lift against the share of hours beyond that threshold."""
        env_t = environment.get_column("time").dt.epoch("us").to_numpy()
        temp = environment.get_column("temperature_c").to_numpy()
        at_event = np.interp(self.action_events.get_column("time_us").to_numpy(), env_t, temp)
        ev = self.action_events.with_columns(pl.Series("temp", at_event), pl.lit(0.0).alias("lag_s"))
        frames = []
        for variable, quantile, above in (
            ("temperature_above", 0.1, True),
            ("temperature_below", 0.9, False),
        ):
            thresholds = ev.group_by("action_entity", "action_state").agg(
                pl.col("temp").quantile(quantile).alias("threshold")
            )
            joined = ev.join(thresholds, on=["action_entity", "action_state"])
            beyond = pl.col("temp") >= pl.col("threshold") if above else pl.col("temp") <= pl.col("threshold")
            firings = (
                joined.filter(beyond)
                .sort("time_us")
                .unique(["action_entity", "action_state", "day"], keep="first", maintain_order=True)
            )
            stats = self._firing_stats(firings, ["action_entity", "action_state", "threshold"])
            grid = np.sort(temp)
            thr = stats.get_column("threshold").to_numpy()
            # Share of hours beyond the threshold: the chance level the firing days are compared with.
            share = (
                1 - np.searchsorted(grid, thr, side="left") / len(grid)
                if above
                else np.searchsorted(grid, thr, side="right") / len(grid)
            )
            frames.append(
                stats.with_columns(pl.Series("hour_share", share))
                .filter(pl.col("support") >= self.c.min_support)
                .join(self.actions, on=["action_entity", "action_state"])
                .with_columns(
                    pl.lit("environment").alias("kind"),
                    pl.lit(variable).alias("trigger_variable"),
                    pl.lit(self.days).alias("opportunities"),
                    (pl.col("firing_days") / self.days).alias("confidence"),
                    pl.lit(None, pl.Utf8).alias("trigger_entity"),
                    pl.lit(None, pl.Utf8).alias("trigger_state"),
                )
                .with_columns((0.9 / pl.col("hour_share").clip(lower_bound=1e-3)).alias("lift"))
                .drop("hour_share")
            )
        return pl.concat(frames, how="diagonal_relaxed")


def mine_candidates(view: HomeView, config: PatternDetectorConfig | None = None) -> pl.DataFrame:
    """Every candidate of a home: natural-key columns plus one column per `PatternFeatures` field."""
    config = config or PatternDetectorConfig()
    mined = _Mined(view, config)
    if mined.actions.height == 0:
        return pl.DataFrame()
    parts = [
        mined.sequences(),
        mined.time_windows(),
        mined.sun_windows(view.environment),
        mined.temperature(view.environment),
    ]
    frame = pl.concat([p for p in parts if p.height], how="diagonal_relaxed")
    frame = frame.join(mined.entity_events.rename({"entity_id": "action_entity"}), on="action_entity")
    frame = frame.with_columns(
        (pl.col("firing_days") / mined.days).clip(upper_bound=1.0).alias("regularity"),
        pl.lit(mined.days).alias("days"),
        pl.col("lag_median_s", "lag_iqr_s", "time_spread_h", "lift").fill_null(0.0).fill_nan(0.0),
        pl.col("median_hour").clip(0.0, 23.999),
    )
    return frame.select(*CANDIDATE_KEY, *FEATURES).sort([*CANDIDATE_KEY, "median_hour"], nulls_last=True)


# ------------------------------------------------------------------------------------------------ scoring


def baseline_score(candidates: pl.DataFrame) -> F64:
    """The documented baseline rule: a logistic score with fixed weights on log-scaled evidence.

    Association above chance (lift) and many firings (support, per 30 days so that the rule does not
    depend on the period's length) raise the score; a loose trigger→action
    lag (IQR) and a wide time window (spread) lower it. Confidence and regularity weigh negatively once
    lift is accounted for: an action seen in every window every day is a busy entity, not a routine. The
    weights were fitted once by logistic regression on a tuning dataset (seed 1, never an evaluated one)
    and rounded; they are constants here, not learned per home. One structural veto: an actuator followed
    by another actuator at a fixed lag (IQR under a second) is two staggered actions of one scene, not a
    trigger and its action, so its score is divided by ten.
    """
    f = candidates
    z = (
        1.7 * np.log1p(f.get_column("lift").to_numpy())
        + 0.8 * np.log1p(30 * f.get_column("support").to_numpy() / f.get_column("days").to_numpy())
        - 1.3 * f.get_column("confidence").clip(upper_bound=1.0).to_numpy()
        - 1.1 * f.get_column("regularity").to_numpy()
        - 1.3 * np.log1p(f.get_column("lag_iqr_s").to_numpy() / 10)
        - 0.2 * f.get_column("time_spread_h").to_numpy()
        - 3.9
    )
    trigger_domain = f.get_column("trigger_entity").str.split(".").list.first()
    co_action = (
        trigger_domain.is_in(list(ACTUATOR_DOMAINS)).fill_null(False) & (f.get_column("lag_iqr_s") < 1.0)
    ).to_numpy()
    score = 1 / (1 + np.exp(-z))
    return np.asarray(np.where(co_action, score / 10, score), dtype=np.float64)


# ----------------------------------------------------------------------------------------------- labelling


def _allowed_states(pattern: Pattern) -> set[tuple[str, str]]:
    """Action (entity, state) pairs of a pattern, including the revert state of each action."""
    pairs = {(a.entity_id, a.state) for a in pattern.actions}
    if pattern.parameters.revert is not None:
        pairs |= {(a.entity_id, pattern.parameters.revert.state) for a in pattern.actions}
    return pairs


def _hour_distance(a: float, b: float) -> float:
    return abs((a - b + 12) % 24 - 12)


def matches(candidate: dict[str, object], pattern: Pattern, tolerance_h: float = 1.0) -> bool:
    """Whether a candidate (a row of `mine_candidates`) describes the ground-truth `pattern`: the same
    action (or its revert), and a compatible trigger (same trigger entity and state; the same sun anchor;
    the same temperature direction; or, for time-of-day, a window within `tolerance_h` of the pattern's)."""
    if (candidate["action_entity"], candidate["action_state"]) not in _allowed_states(pattern):
        return False
    trigger, kind = pattern.trigger, candidate["kind"]
    if kind in ("sequence", "presence"):
        entity, state = candidate["trigger_entity"], candidate["trigger_state"]
        if trigger.kind == "state":
            revert = pattern.parameters.revert
            # A revert that follows the trigger clearing is triggered by the same entity's other state.
            clears = (
                revert is not None
                and revert.after_trigger_clears
                and candidate["action_state"] == revert.state
            )
            return trigger.entity_id == entity and (trigger.to == state or clears)
        if trigger.kind == "presence":
            wanted = ("occupied", "home") if trigger.event == "first_arrival" else ("empty", "not_home")
            return kind == "presence" and state in wanted
        return entity in pattern.trigger_entities
    variable = candidate["trigger_variable"]
    if kind == "environment" and variable in ("sunset", "sunrise"):
        return isinstance(trigger, TimeTriggerSpec) and trigger.anchor == variable
    if kind == "environment":
        direction = "above" if variable == "temperature_above" else "below"
        return (
            trigger.kind == "numeric"
            and trigger.variable == "outdoor_temperature"
            and getattr(trigger, direction) is not None
        )
    params = pattern.parameters
    acts = (candidate["action_entity"], candidate["action_state"]) in {
        (a.entity_id, a.state) for a in pattern.actions
    }
    # A daily revert (the TV going off at night) is compared with the window the reverts were seen in.
    window = params.time_window if acts else params.revert_time_window
    hour = candidate["median_hour"]
    assert isinstance(hour, float)
    return (
        trigger.kind in ("time", "numeric", "cheapest_hour")
        and window is not None
        and _hour_distance(hour, window.median_h)
        <= tolerance_h + _hour_distance(window.start_h, window.end_h) / 2
    )


def label_candidates(candidates: pl.DataFrame, truth: GroundTruth | None) -> list[Pattern | None]:
    """The ground-truth pattern each candidate matches (None: a false candidate, or no truth to match:
    a real home). Loops over candidates, each tried only against the patterns whose actions (or reverts)
    it performs, since `matches` rejects every other one first."""
    patterns = truth.patterns if truth is not None else ()
    by_action: dict[tuple[str, str], list[Pattern]] = {}
    for pattern in patterns:  # in truth order: the first matching pattern is the label
        for pair in _allowed_states(pattern):
            by_action.setdefault(pair, []).append(pattern)
    return [
        next(
            (p for p in by_action.get((row["action_entity"], row["action_state"]), ()) if matches(row, p)),
            None,
        )
        for row in candidates.iter_rows(named=True)
    ]


def eligible_patterns(truth: GroundTruth, min_occurrences: int = MIN_OCCURRENCES) -> list[Pattern]:
    """Ground-truth patterns a detector is expected to find (enough occurrences in the events)."""
    return [p for p in truth.patterns if p.occurrences >= min_occurrences]


# ------------------------------------------------------------------------------------------------- stage


class PatternDetector:
    """Mines, scores and labels one home's pattern candidates."""

    def __init__(self, config: PatternDetectorConfig | None = None) -> None:
        self.config = config or PatternDetectorConfig()

    def detect(self, view: HomeView, models: ModelProvider, cycle: int) -> RecordFrame[PatternRecord]:
        """One record per candidate, as a record frame (built column-wise)."""
        candidates = mine_candidates(view, self.config)
        if candidates.height == 0:
            return RecordFrame(PatternRecord, pl.DataFrame(schema=record_schema(PatternRecord, _SCORES)))
        model = models.get("pattern_detection")
        # Prediction happens before any ground truth is read: labels come strictly afterwards.
        scores = (
            np.asarray(model.predict(candidates.select(FEATURES)), dtype=np.float64)
            if model
            else baseline_score(candidates)
        )
        version = model.version if model else BASELINE_VERSION
        labels = label_candidates(candidates, view.truth)
        return RecordFrame(PatternRecord, self._frame(candidates, scores, labels, view.key, cycle, version))

    def _frame(
        self,
        candidates: pl.DataFrame,
        scores: F64,
        labels: list[Pattern | None],
        home_key: str,
        cycle: int,
        version: str,
    ) -> pl.DataFrame:
        """The candidates' records as a `record_schema` frame: the values (and so the JSON) the records
        built one by one had; the record id is `make_record_id`'s (the natural key, the hour to 3 places)."""
        natural = tuple(c for c in CANDIDATE_KEY if c != "threshold")  # the record id's key has no threshold
        ids = [
            make_record_id("pattern", home_key, cycle, *key, round(hour, 3))
            for *key, hour in candidates.select(*natural, "median_hour").iter_rows()
        ]
        threshold = self.config.threshold
        score = pl.Series("score", np.asarray(scores, dtype=np.float64), pl.Float64)
        predicted = (pl.col("score").fill_nan(None) >= threshold).fill_null(False)  # NaN: not predicted
        is_pattern = pl.col("pattern_id").is_not_null()
        frame = candidates.with_columns(
            score,
            pl.Series("pattern_id", [p.id if p else None for p in labels], pl.String),
            pl.Series("pattern_type", [p.type if p else None for p in labels], pl.String),
        ).select(
            *envelope(
                ids,
                cycle,
                home_key,
                pl.struct("score", (predicted == is_pattern).cast(pl.Float64).alias("correct")),
                version,
                "pattern",
            ),
            pl.struct(
                *CANDIDATE_KEY,
                pl.struct(FEATURES).alias("features"),
            ).alias("inputs"),
            pl.struct(
                "score", predicted.alias("predicted"), pl.lit(threshold, pl.Float64).alias("threshold")
            ).alias("outputs"),
            pl.struct(is_pattern.alias("is_pattern"), "pattern_id", "pattern_type").alias("label"),
        )
        return frame.cast(dict(record_schema(PatternRecord, _SCORES)))  # type: ignore[arg-type]


def pattern_stage(view: HomeView, models: ModelProvider, cycle: int) -> RecordFrame[PatternRecord]:
    """The pattern-detection stage with the default configuration."""
    return PatternDetector().detect(view, models, cycle)
