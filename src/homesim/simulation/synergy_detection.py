"""SynergyDetector: the simulation's synergy stage (per-home device graph, pair scoring, labelling).

A home becomes a graph: nodes are its entities (domain, device class, area, floor, activity), edges are
candidate (trigger → action) pairs, an actuator as the action and a sensor, person, media player or other
device as the trigger. Every pair in one area is a candidate; pairs across areas are candidates when the
action follows the trigger's state changes within 5 minutes at least `min_cross_area` times, or when they
are on one floor and their domains are a pair automations commonly link. Edge features are structural
(same area/floor, domain compatibility) and behavioural (co-activations within 1, 5 and 30 minutes, the
excess over chance, lag histogram); an illuminance or humidity sensor activates at its level (its readings
in the dark or humid quarter, `ground_truth.evidence.LEVELS`), so the features see a light switched on in
the dark as they see one switched on after a detection — what a potential synergy's evidence counts.
Edges are scored by the deployed `gnn_synergy` model or by the heuristic (`heuristic_score`), then labelled
from ground truth: active, potential, decoy or none. The model sees the home's whole candidate frame at
once, each edge with the node features of both ends (`with_node_features`), so it can rebuild the device
graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from homesim.generation.calendar import US_PER_S
from homesim.ground_truth.evidence import LEVELS
from homesim.ground_truth.verifier import ACTUATOR_DOMAINS
from homesim.schema.ground_truth import GroundTruth
from homesim.schema.home import Home
from homesim.schema.record_frames import RecordFrame, envelope, record_schema
from homesim.schema.records import (
    BASELINE_VERSION,
    LAG_BINS_S,
    NodeFeatures,
    SynergyClass,
    SynergyFeatures,
    SynergyRecord,
    make_record_id,
)
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import ModelProvider

F64 = npt.NDArray[np.float64]
#: States in which an entity counts as activated (its change to one of them is an activation).
ACTIVE_STATES: tuple[str, ...] = (
    "on",
    "open",
    "opening",
    "playing",
    "home",
    "unlocked",
    "heat",
    "cool",
    "heat_cool",
    "auto",
    "dry",
    "fan_only",
    "cleaning",
    "triggered",
    "armed_away",
    "armed_home",
    "detected",
)
#: Trigger-side node kinds: domain, or `sensor:<device_class>` for the sensor classes automations use.
_TRIGGER_DOMAINS = (
    "binary_sensor",
    "person",
    "media_player",
    "lock",
    "cover",
    "light",
    "switch",
    "fan",
    "climate",
)
_TRIGGER_SENSOR_CLASSES = ("illuminance", "humidity", "temperature", "power", "carbon_dioxide")
#: (trigger kind, action domain) pairs smart-home automations commonly link: domain knowledge, not truth.
COMPATIBLE: frozenset[tuple[str, str]] = frozenset(
    {
        (t, "light")
        for t in (
            "binary_sensor:motion",
            "binary_sensor:occupancy",
            "binary_sensor:door",
            "binary_sensor:presence",
            "sensor:illuminance",
            "binary_sensor:smoke",
            "media_player",
            "person",
            "lock",
            "cover",
        )
    }
    | {
        ("sensor:humidity", "fan"),
        ("binary_sensor:moisture", "fan"),
        ("sensor:temperature", "climate"),
        ("sensor:temperature", "fan"),
        ("binary_sensor:window", "climate"),
        ("binary_sensor:door", "lock"),
        ("person", "lock"),
        ("person", "climate"),
        ("binary_sensor:moisture", "valve"),
        ("binary_sensor:smoke", "fan"),
        ("sensor:power", "switch"),
        ("media_player", "cover"),
    }
)
FEATURES: tuple[str, ...] = tuple(f for f in SynergyFeatures.model_fields if f != "lag_hist")
#: Node features each end of an edge carries into `model.predict`, as `trigger_<name>` and `action_<name>`.
NODE_FEATURES: tuple[str, ...] = tuple(f for f in NodeFeatures.model_fields if f != "entity_id")
#: The scores of a synergy record, against its label.
_SCORES = ("score", "correct")


class SynergyDetectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_cross_area: int = Field(default=5, ge=1, description="co-activations making a cross-area candidate")
    threshold: float = Field(default=0.5, ge=0, le=1)


@dataclass(frozen=True)
class SynergyGraph:
    """One home's graph: `nodes` (one row per entity, `NodeFeatures` columns) and `edges` (one row per
    candidate pair: trigger_entity, action_entity, trigger_state, action_state, `SynergyFeatures` columns
    with `lag_hist` as a list)."""

    nodes: pl.DataFrame
    edges: pl.DataFrame


def _node_kind(domain: str, device_class: str | None) -> str:
    return f"{domain}:{device_class}" if domain in ("binary_sensor", "sensor") else domain


def build_nodes(home: Home, events: pl.DataFrame, days: float) -> pl.DataFrame:
    """Node features of every entity that can take part in a synergy."""
    floors = {a.area_id: a.floor_id for a in home.areas}
    rows = []
    for e in home.entities:
        trigger = e.domain in _TRIGGER_DOMAINS or (
            e.domain == "sensor" and e.device_class in _TRIGGER_SENSOR_CLASSES
        )
        if not trigger and e.domain not in ACTUATOR_DOMAINS:
            continue
        area = home.entity_area(e)
        rows.append(
            {
                "entity_id": e.entity_id,
                "domain": e.domain,
                "device_class": e.device_class,
                "area_id": area,
                "floor_id": floors.get(area) if area else None,
                "kind": _node_kind(e.domain, e.device_class),
                "actuator": e.domain in ACTUATOR_DOMAINS,
            }
        )
    nodes = pl.DataFrame(
        rows,
        schema={
            "entity_id": pl.Utf8,
            "domain": pl.Utf8,
            "device_class": pl.Utf8,
            "area_id": pl.Utf8,
            "floor_id": pl.Utf8,
            "kind": pl.Utf8,
            "actuator": pl.Boolean,
        },
    )
    activity = events.group_by("entity_id").agg(
        (pl.len() / days).alias("events_per_day"),
        pl.col("state").is_in(ACTIVE_STATES).mean().alias("active_share"),
    )
    return (
        nodes.join(activity, on="entity_id", how="left")
        .with_columns(pl.col("events_per_day", "active_share").fill_null(0.0))
        .sort("entity_id")
    )


def _activations(events: pl.DataFrame, categorical: pl.DataFrame, nodes: pl.DataFrame) -> pl.DataFrame:
    """Each trigger activation (t, entity_id, `state`: whether it is a state change, not a reading): a
    change to one of `ACTIVE_STATES`, or a reading of a `LEVELS` sensor at its level (dark, humid for that
    room: against its own readings' quartile), so a light switched on in the dark follows the room's
    illuminance as one switched on after a detection follows the motion sensor."""
    t_us = pl.col("time").dt.epoch("us")
    parts = [
        categorical.filter(pl.col("state").is_in(ACTIVE_STATES)).select(
            t_us.alias("t"), "entity_id", pl.lit(True).alias("state")
        )
    ]
    for device_class, level in sorted(LEVELS.items()):
        sensors = nodes.filter((pl.col("domain") == "sensor") & (pl.col("device_class") == device_class))
        readings = events.filter(
            pl.col("entity_id").is_in(sensors.get_column("entity_id").implode())
            & pl.col("value").is_not_null()
            & pl.col("value").is_not_nan()
        )
        parts.append(
            readings.filter(level.holds_expr(pl.col("value"), "entity_id")).select(
                t_us.alias("t"), "entity_id", pl.lit(False).alias("state")
            )
        )
    return pl.concat(parts)


def _co_activations(categorical: pl.DataFrame, nodes: pl.DataFrame, trig: pl.DataFrame) -> pl.DataFrame:
    """For every (trigger, actuator) pair: lags from each trigger activation (`_activations`) to the
    actuator's next change, summarised as counts, histogram, median, and the action state most often
    reached within 5 minutes."""
    t_us = pl.col("time").dt.epoch("us")
    trig_t = trig.get_column("t").to_numpy()
    trig_e = trig.get_column("entity_id").to_numpy()
    actuators = nodes.filter(pl.col("actuator")).get_column("entity_id").to_list()
    acts = categorical.filter(pl.col("entity_id").is_in(actuators)).select(
        t_us.alias("t"), "entity_id", "state"
    )
    parts = []
    for entity, group in acts.group_by("entity_id", maintain_order=True):  # loop over actuators, not events
        a_t = group.get_column("t").to_numpy()
        a_s = group.get_column("state").to_numpy()
        idx = np.searchsorted(a_t, trig_t, side="right")
        ok = (idx < len(a_t)) & (trig_e != entity[0])
        lag = (a_t[np.minimum(idx, len(a_t) - 1)] - trig_t) / US_PER_S
        ok &= lag <= LAG_BINS_S[-1]
        parts.append(
            pl.DataFrame(
                {
                    "trigger_entity": trig_e[ok],
                    "action_entity": np.full(int(ok.sum()), entity[0]),
                    "lag": lag[ok],
                    "reached": a_s[np.minimum(idx, len(a_t) - 1)][ok],
                },
                schema={
                    "trigger_entity": pl.Utf8,
                    "action_entity": pl.Utf8,
                    "lag": pl.Float64,
                    "reached": pl.Utf8,
                },
            )
        )
    lags = (
        pl.concat(parts)
        if parts
        else pl.DataFrame(
            schema={
                "trigger_entity": pl.Utf8,
                "action_entity": pl.Utf8,
                "lag": pl.Float64,
                "reached": pl.Utf8,
            }
        )
    )
    bins = np.asarray(LAG_BINS_S)
    lags = lags.with_columns(
        pl.Series("bin", np.searchsorted(bins, lags.get_column("lag").to_numpy()), pl.Int64)
    )
    stats = lags.group_by("trigger_entity", "action_entity").agg(
        (pl.col("lag") <= 60).sum().alias("co_1m"),
        (pl.col("lag") <= 300).sum().alias("co_5m"),
        pl.len().alias("co_30m"),
        pl.col("lag").filter(pl.col("lag") <= 300).median().alias("lag_median_s"),
        pl.col("reached").filter(pl.col("lag") <= 300).mode().sort().first().alias("reached_state"),
        *((pl.col("bin") == b).sum().alias(f"bin_{b}") for b in range(len(bins))),
    )
    return stats


def build_graph(view: HomeView, config: SynergyDetectorConfig | None = None) -> SynergyGraph:
    """The home's candidate graph with node and edge features (from events and structure only)."""
    config = config or SynergyDetectorConfig()
    events = view.events
    days = float(view.home.metadata.days)
    nodes = build_nodes(view.home, events, days)
    t_us = pl.col("time").dt.epoch("us")
    categorical = events.filter(pl.col("value").is_null() | pl.col("value").is_nan())  # states, not numbers
    trig_activations = _activations(events, categorical, nodes)
    activations = trig_activations.group_by("entity_id").agg(
        pl.len().alias("n"), pl.col("state").sum().alias("state_changes")
    )
    changes = events.group_by("entity_id").agg(pl.len().alias("changes"))
    span_s = max(float((events.select(t_us.max() - t_us.min()).item() or 0) / US_PER_S), 1.0)
    co = _co_activations(categorical, nodes, trig_activations)
    trig = nodes.select(
        pl.col("entity_id").alias("trigger_entity"),
        pl.col("area_id").alias("t_area"),
        pl.col("floor_id").alias("t_floor"),
        pl.col("kind").alias("t_kind"),
    )
    act = nodes.filter(pl.col("actuator")).select(
        pl.col("entity_id").alias("action_entity"),
        pl.col("area_id").alias("a_area"),
        pl.col("floor_id").alias("a_floor"),
        pl.col("domain").alias("a_domain"),
    )
    compatible = pl.DataFrame(
        sorted(COMPATIBLE), schema={"t_kind": pl.Utf8, "a_domain": pl.Utf8}, orient="row"
    ).with_columns(pl.lit(True).alias("compatible_domains"))
    pairs = (
        trig.join(act, how="cross")
        .filter(pl.col("trigger_entity") != pl.col("action_entity"))
        .join(co, on=["trigger_entity", "action_entity"], how="left")
        .join(compatible, on=["t_kind", "a_domain"], how="left")
        .with_columns(
            pl.col("co_1m", "co_5m", "co_30m", *(f"bin_{b}" for b in range(len(LAG_BINS_S)))).fill_null(0),
            pl.col("compatible_domains").fill_null(False),
        )
        .filter(
            ((pl.col("t_area") == pl.col("a_area")) & pl.col("t_area").is_not_null())
            # A reading at a level (dark) follows no one room's use: only state changes reach across.
            | (
                (pl.col("co_5m") >= config.min_cross_area)
                & ~pl.col("t_kind").is_in([f"sensor:{c}" for c in sorted(LEVELS)])
            )
            # Entrance door → hallway light: neighbouring rooms on one floor, a pair automations link.
            | (pl.col("compatible_domains") & (pl.col("t_floor") == pl.col("a_floor")).fill_null(False))
        )
    )
    n_trig = activations.rename({"entity_id": "trigger_entity", "n": "trigger_activations"})
    n_act = changes.rename({"entity_id": "action_entity", "changes": "action_activations"})
    hist = pl.concat_list(*(f"bin_{b}" for b in range(len(LAG_BINS_S))))
    edges = (
        pairs.join(n_trig, on="trigger_entity", how="left")
        .join(n_act, on="action_entity", how="left")
        .with_columns(
            pl.col("trigger_activations", "action_activations", "state_changes").fill_null(0),
            (pl.col("t_area") == pl.col("a_area")).fill_null(False).alias("same_area"),
            (pl.col("t_floor") == pl.col("a_floor")).fill_null(False).alias("same_floor"),
            pl.col("lag_median_s").fill_null(0.0),
        )
        .with_columns(
            (pl.col("co_5m") / pl.col("trigger_activations").clip(lower_bound=1)).alias("forward_ratio"),
            (pl.col("co_5m") / pl.col("action_activations").clip(lower_bound=1)).alias("backward_ratio"),
            # Expected co-activations if the action changed at random at its own rate (Poisson).
            (
                pl.col("co_5m")
                - pl.col("trigger_activations")
                * (1 - (pl.col("action_activations").cast(pl.Float64) * (-300.0 / span_s)).exp())
            ).alias("excess_5m"),
            (hist.list.eval(pl.element() / pl.element().sum().clip(lower_bound=1))).alias("lag_hist"),
            # A sensor activated by its readings only (at its level) stays a numeric trigger.
            pl.when(pl.col("state_changes") > 0)
            .then(pl.lit("on"))
            .otherwise(pl.lit("numeric"))
            .alias("trigger_state"),
        )
    )
    # Each trigger reports its most common active state; the action the state it most often reached.
    trigger_states = (
        events.filter(pl.col("state").is_in(ACTIVE_STATES))
        .group_by("entity_id", "state")
        .agg(pl.len().alias("n"))
        .sort("n", "state", descending=[True, False])
        .unique("entity_id", keep="first", maintain_order=True)
        .select(pl.col("entity_id").alias("trigger_entity"), pl.col("state").alias("top_state"))
    )
    edges = (
        edges.join(trigger_states, on="trigger_entity", how="left")
        .with_columns(
            pl.coalesce("top_state", "trigger_state").alias("trigger_state"),
            pl.coalesce("reached_state", pl.lit("on")).alias("action_state"),
        )
        .select("trigger_entity", "action_entity", "trigger_state", "action_state", *FEATURES, "lag_hist")
        .sort("trigger_entity", "action_entity")
    )
    return SynergyGraph(nodes=nodes, edges=edges)


def with_node_features(edges: pl.DataFrame, nodes: pl.DataFrame, keys: tuple[str, ...] = ()) -> pl.DataFrame:
    """`edges` with the `NODE_FEATURES` of both ends as `trigger_<name>` and `action_<name>` columns: the
    frame a `gnn_synergy` model predicts on. `keys` are extra columns both frames are matched on (e.g.
    `cycle`, `home_key` for exported tables holding many homes)."""
    for end in ("trigger", "action"):
        edges = edges.join(
            nodes.select(
                *keys,
                pl.col("entity_id").alias(f"{end}_entity"),
                *(pl.col(f).alias(f"{end}_{f}") for f in NODE_FEATURES),
            ),
            on=[*keys, f"{end}_entity"],
            how="left",
            maintain_order="left",
        )
    return edges


def heuristic_score(edges: pl.DataFrame) -> F64:
    """The documented baseline heuristic: a logistic score dominated by structural priors (same area, a
    domain pair automations commonly link), raised by behaviour (the action following within a minute
    rather than within five, the action mostly following this trigger). Same-floor pairs outside one area
    are lowered: they share a floor but rarely a purpose. Fixed weights, fitted once by logistic regression
    on a tuning dataset (seed 1, never an evaluated one) and rounded.
    """
    e = edges
    co1_share = (e.get_column("co_1m") / e.get_column("co_5m").clip(lower_bound=1)).to_numpy()
    z = (
        3.5 * e.get_column("same_area").cast(pl.Float64).to_numpy()
        + 3.5 * e.get_column("compatible_domains").cast(pl.Float64).to_numpy()
        + 2.0 * co1_share
        + 0.3 * e.get_column("backward_ratio").clip(upper_bound=1).to_numpy()
        - 1.3 * e.get_column("same_floor").cast(pl.Float64).to_numpy()
        - 5.5
    )
    return np.asarray(1 / (1 + np.exp(-z)), dtype=np.float64)


def label_edges(
    edges: pl.DataFrame, truth: GroundTruth | None
) -> list[tuple[SynergyClass, str | None, str | None]]:
    """(class, synergy id, relation) of each edge from ground truth: active or potential synergies by
    (trigger, action) pair; decoys in either direction; else none (always, without a truth: a real home)."""
    synergies = {(s.trigger_entity, s.action_entity): s for s in (truth.synergies if truth else ())}
    decoys = {frozenset((d.entity_a, d.entity_b)) for d in (truth.decoys if truth else ())}
    labels: list[tuple[SynergyClass, str | None, str | None]] = []
    for trigger, action in edges.select("trigger_entity", "action_entity").iter_rows():
        s = synergies.get((trigger, action))
        if s is not None:
            labels.append((s.status, s.id, s.relation))
        else:
            labels.append(("decoy" if frozenset((trigger, action)) in decoys else "none", None, None))
    return labels


class SynergyDetector:
    def __init__(self, config: SynergyDetectorConfig | None = None) -> None:
        self.config = config or SynergyDetectorConfig()

    def detect(self, view: HomeView, models: ModelProvider, cycle: int) -> RecordFrame[SynergyRecord]:
        """One record per candidate edge, as a record frame (built column-wise)."""
        graph = build_graph(view, self.config)
        edges = graph.edges
        if edges.height == 0:
            return RecordFrame(SynergyRecord, pl.DataFrame(schema=record_schema(SynergyRecord, _SCORES)))
        model = models.get("gnn_synergy")
        scores = (
            np.asarray(model.predict(with_node_features(edges, graph.nodes)), dtype=np.float64)
            if model
            else heuristic_score(edges)
        )
        version = model.version if model else BASELINE_VERSION
        labels = label_edges(edges, view.truth)
        frame = self._frame(edges, graph.nodes, scores, labels, view.key, cycle, version)
        return RecordFrame(SynergyRecord, frame)

    def _frame(
        self,
        edges: pl.DataFrame,
        nodes: pl.DataFrame,
        scores: F64,
        labels: list[tuple[SynergyClass, str | None, str | None]],
        home_key: str,
        cycle: int,
        version: str,
    ) -> pl.DataFrame:
        """The edges' records as a `record_schema` frame: the values (and so the JSON) the records built
        one by one had; the record id is `make_record_id`'s (trigger and action entity)."""
        ids = [
            make_record_id("synergy", home_key, cycle, trigger, action)
            for trigger, action in edges.select("trigger_entity", "action_entity").iter_rows()
        ]
        kinds, synergy_ids, relations = zip(*labels, strict=True)
        threshold = self.config.threshold
        node = pl.struct(tuple(NodeFeatures.model_fields))
        ends = {
            end: nodes.select(pl.col("entity_id").alias(f"{end}_entity"), node.alias(end))
            for end in ("trigger", "action")
        }
        predicted = (pl.col("score").fill_nan(None) >= threshold).fill_null(False)  # NaN: not predicted
        positive = pl.col("kind").is_in(["active", "potential"])
        frame = (
            edges.with_columns(
                pl.Series("score", np.asarray(scores, dtype=np.float64), pl.Float64),
                pl.Series("kind", kinds, pl.String),
                pl.Series("synergy_id", synergy_ids, pl.String),
                pl.Series("relation", relations, pl.String),
            )
            .join(ends["trigger"], on="trigger_entity", how="left", maintain_order="left")
            .join(ends["action"], on="action_entity", how="left", maintain_order="left")
            .select(
                *envelope(
                    ids,
                    cycle,
                    home_key,
                    pl.struct("score", (predicted == positive).cast(pl.Float64).alias("correct")),
                    version,
                    "synergy",
                ),
                pl.struct(
                    "trigger",
                    "action",
                    "trigger_state",
                    "action_state",
                    pl.struct(tuple(SynergyFeatures.model_fields)).alias("features"),
                ).alias("inputs"),
                pl.struct(
                    "score", predicted.alias("predicted"), pl.lit(threshold, pl.Float64).alias("threshold")
                ).alias("outputs"),
                pl.struct("kind", "synergy_id", "relation").alias("label"),
            )
        )
        return frame.cast(dict(record_schema(SynergyRecord, _SCORES)))  # type: ignore[arg-type]


def synergy_stage(view: HomeView, models: ModelProvider, cycle: int) -> RecordFrame[SynergyRecord]:
    """The synergy-detection stage with the default configuration."""
    return SynergyDetector().detect(view, models, cycle)
