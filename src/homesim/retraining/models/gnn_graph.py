"""The device graph gnn_synergy learns on, column-wise from the synergy stage's candidate edges: node
features (kind, room type and floor one-hots, actuator flag, activity), message edges (shared areas and
strong candidate edges, never labels), edge features, the fitted `Encoding` (vocabularies and
standardisation) that turns a frame into a `GraphBatch`, and random non-candidate negatives."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl
import torch
from torch import Tensor

from homesim.ground_truth.verifier import ACTUATOR_DOMAINS
from homesim.schema.records import LAG_BINS_S
from homesim.simulation.synergy_detection import COMPATIBLE, FEATURES, NODE_FEATURES, heuristic_score

F64 = npt.NDArray[np.float64]

#: A candidate edge also carries messages when its action follows the trigger at least this many times
#: more than chance predicts (`excess_5m`) and after at least this share of its activations (`forward_ratio`).
STRONG_EXCESS = 3.0
STRONG_FORWARD = 0.1
#: Column naming the graph an edge belongs to (a home; all one graph when the frame has no `home_key`).
_GRAPH = "_graph"

#: Columns `predict` reads (the stage's frame); examples add `home_key`, `cycle` and `label`.
NODE_COLUMNS = tuple(f"{end}_{f}" for end in ("trigger", "action") for f in NODE_FEATURES)
FRAME_COLUMNS = ("trigger_entity", "action_entity", "trigger_state", "action_state", *FEATURES, "lag_hist")


def _room_type(area: pl.Expr) -> pl.Expr:
    """`bedroom_2` → `bedroom`: area ids are room-type slugs with collision suffixes."""
    return area.str.replace(r"_\d+$", "")


def _kind(domain: pl.Expr, device_class: pl.Expr) -> pl.Expr:
    return (
        pl.when(domain.is_in(["sensor", "binary_sensor"]))
        .then(pl.concat_str(domain, pl.lit(":"), device_class.fill_null("none")))
        .otherwise(domain)
    )


@dataclass(frozen=True)
class Encoding:
    """How frames become tensors: vocabularies of the one-hots and the standardisation of the training
    homes' node and edge features (JSON-serialisable, saved in `config.json`)."""

    kinds: list[str]
    rooms: list[str]
    floors: list[str]
    node_mean: list[float]
    node_std: list[float]
    edge_mean: list[float]
    edge_std: list[float]

    @property
    def node_dim(self) -> int:
        return len(self.node_mean)

    @property
    def edge_dim(self) -> int:
        return len(self.edge_mean)


@dataclass(frozen=True)
class GraphBatch:
    """One or more home graphs as a disjoint union: node features `x`, directed message edges
    `src → dst`, and the scored edges (`trigger`, `action` node indices and edge features `edge_x`)."""

    x: Tensor
    src: Tensor
    dst: Tensor
    trigger: Tensor
    action: Tensor
    edge_x: Tensor


def _with_graph(frame: pl.DataFrame) -> pl.DataFrame:
    graph = pl.col("home_key") if "home_key" in frame.columns else pl.lit("")
    return frame.with_columns(graph.alias(_GRAPH))


def _nodes(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per (graph, entity) with its node features and candidate degrees; `node` is its index."""
    ends = [
        frame.select(
            _GRAPH,
            pl.col(f"{end}_entity").alias("entity_id"),
            *(pl.col(f"{end}_{f}").alias(f) for f in NODE_FEATURES),
        )
        for end in ("trigger", "action")
    ]
    out_deg = frame.group_by(_GRAPH, "trigger_entity").agg(pl.len().alias("out_degree"))
    in_deg = frame.group_by(_GRAPH, "action_entity").agg(pl.len().alias("in_degree"))
    return (
        pl.concat(ends)
        .unique([_GRAPH, "entity_id"], keep="first")
        .sort(_GRAPH, "entity_id")
        .join(out_deg.rename({"trigger_entity": "entity_id"}), on=[_GRAPH, "entity_id"], how="left")
        .join(in_deg.rename({"action_entity": "entity_id"}), on=[_GRAPH, "entity_id"], how="left")
        .with_columns(pl.col("out_degree", "in_degree").fill_null(0))
        .with_row_index("node")
    )


def _raw_node_matrix(nodes: pl.DataFrame, kinds: list[str], rooms: list[str], floors: list[str]) -> F64:
    def one_hot(values: pl.Series, vocab: list[str]) -> F64:
        index = {v: i for i, v in enumerate(vocab)}
        out = np.zeros((len(values), len(vocab) + 1))
        for row, value in enumerate(values.to_list()):  # one entry per entity of a home
            if value is not None:
                out[row, index.get(value, len(vocab))] = 1.0
        return out

    n = nodes.with_columns(
        _kind(pl.col("domain"), pl.col("device_class")).alias("kind"),
        _room_type(pl.col("area_id")).alias("room"),
    )
    numeric = n.select(
        pl.col("domain").is_in(list(ACTUATOR_DOMAINS)).cast(pl.Float64),
        pl.col("events_per_day").log1p(),
        pl.col("active_share").cast(pl.Float64),
        pl.col("out_degree").cast(pl.Float64).log1p(),
        pl.col("in_degree").cast(pl.Float64).log1p(),
    ).to_numpy()
    return np.hstack(
        [
            one_hot(n.get_column("kind"), kinds),
            one_hot(n.get_column("room"), rooms),
            one_hot(n.get_column("floor_id"), floors),
            numeric.astype(np.float64),
        ]
    )


def _raw_edge_matrix(edges: pl.DataFrame) -> F64:
    """Edge features from the detector's columns (counts log-scaled, ratios capped), baseline logit last."""
    count = ("co_1m", "co_5m", "co_30m", "trigger_activations", "action_activations")
    base = edges.select(
        *(pl.col(c).cast(pl.Float64) for c in ("same_area", "same_floor", "compatible_domains")),
        *(pl.col(c).cast(pl.Float64).log1p() for c in count),
        pl.col("forward_ratio").clip(upper_bound=2.0),
        pl.col("backward_ratio").clip(upper_bound=2.0),
        pl.col("excess_5m").sign() * pl.col("excess_5m").abs().log1p(),
        pl.col("lag_median_s").log1p(),
        (pl.col("co_1m") / pl.col("co_5m").clip(lower_bound=1)).alias("co_1m_share"),
        (pl.col("co_5m") / pl.col("co_30m").clip(lower_bound=1)).alias("co_5m_share"),
    ).to_numpy()
    hist = np.asarray(edges.get_column("lag_hist").to_list(), dtype=np.float64).reshape(-1, len(LAG_BINS_S))
    p = np.clip(heuristic_score(edges), 1e-6, 1 - 1e-6)
    return np.hstack([base.astype(np.float64), hist, np.log(p / (1 - p))[:, None]])


def _standardise(raw: F64, mean: list[float], std: list[float]) -> Tensor:
    return torch.from_numpy(((raw - np.asarray(mean)) / np.asarray(std)).astype(np.float32))


def _stats(raw: F64) -> tuple[list[float], list[float]]:
    std = raw.std(axis=0)
    return raw.mean(axis=0).tolist(), np.where(std > 1e-6, std, 1.0).tolist()


def _message_edges(frame: pl.DataFrame, nodes: pl.DataFrame) -> tuple[Tensor, Tensor]:
    """Directed message edges both ways: same-area entity pairs and strongly co-activating candidates."""
    located = nodes.filter(pl.col("area_id").is_not_null()).select(_GRAPH, "area_id", "node")
    same_area = (
        located.join(located, on=[_GRAPH, "area_id"], suffix="_b")
        .filter(pl.col("node") != pl.col("node_b"))
        .select(pl.col("node").alias("a"), pl.col("node_b").alias("b"))
    )
    index = nodes.select(_GRAPH, "entity_id", "node")
    strong = (
        frame.filter((pl.col("excess_5m") >= STRONG_EXCESS) & (pl.col("forward_ratio") >= STRONG_FORWARD))
        .join(index, left_on=[_GRAPH, "trigger_entity"], right_on=[_GRAPH, "entity_id"])
        .join(index, left_on=[_GRAPH, "action_entity"], right_on=[_GRAPH, "entity_id"], suffix="_b")
        .select(pl.col("node").alias("a"), pl.col("node_b").alias("b"))
    )
    both = pl.concat([same_area, strong, strong.select(pl.col("b").alias("a"), pl.col("a").alias("b"))])
    pairs = both.unique().sort("a", "b")
    return (
        torch.from_numpy(pairs.get_column("a").to_numpy().astype(np.int64)),
        torch.from_numpy(pairs.get_column("b").to_numpy().astype(np.int64)),
    )


def _endpoints(edges: pl.DataFrame, nodes: pl.DataFrame) -> tuple[Tensor, Tensor]:
    index = nodes.select(_GRAPH, "entity_id", "node")
    ends = edges.select(_GRAPH, "trigger_entity", "action_entity").join(
        index, left_on=[_GRAPH, "trigger_entity"], right_on=[_GRAPH, "entity_id"], maintain_order="left"
    )
    ends = ends.join(
        index,
        left_on=[_GRAPH, "action_entity"],
        right_on=[_GRAPH, "entity_id"],
        suffix="_b",
        maintain_order="left",
    )
    return (
        torch.from_numpy(ends.get_column("node").to_numpy().astype(np.int64)),
        torch.from_numpy(ends.get_column("node_b").to_numpy().astype(np.int64)),
    )


def fit_encoding(frame: pl.DataFrame) -> Encoding:
    """Vocabularies and standardisation from the training homes' candidate edges."""
    frame = _with_graph(frame)
    nodes = _nodes(frame)
    vocab = nodes.select(
        _kind(pl.col("domain"), pl.col("device_class")).alias("kind"),
        _room_type(pl.col("area_id")).alias("room"),
        "floor_id",
    )
    kinds, rooms, floors = (
        sorted(vocab.get_column(c).drop_nulls().unique().to_list()) for c in vocab.columns
    )
    node_mean, node_std = _stats(_raw_node_matrix(nodes, kinds, rooms, floors))
    edge_mean, edge_std = _stats(_raw_edge_matrix(frame))
    return Encoding(kinds, rooms, floors, node_mean, node_std, edge_mean, edge_std)


def build_batch(frame: pl.DataFrame, enc: Encoding, extra: pl.DataFrame | None = None) -> GraphBatch:
    """The graphs of `frame`'s candidate edges (one per `home_key`, or one when there is none). Scored edges
    are the candidates, then the rows of `extra` (sampled non-candidate pairs of the same graphs)."""
    frame = _with_graph(frame)
    nodes = _nodes(frame)
    src, dst = _message_edges(frame, nodes)
    columns = [_GRAPH, *FRAME_COLUMNS, *NODE_COLUMNS]
    scored = frame if extra is None else pl.concat([frame.select(columns), extra.select(columns)])
    trigger, action = _endpoints(scored, nodes)
    return GraphBatch(
        x=_standardise(
            _raw_node_matrix(nodes, enc.kinds, enc.rooms, enc.floors), enc.node_mean, enc.node_std
        ),
        src=src,
        dst=dst,
        trigger=trigger,
        action=action,
        edge_x=_standardise(_raw_edge_matrix(scored), enc.edge_mean, enc.edge_std),
    )


def sample_negatives(frame: pl.DataFrame, ratio: float, rng: np.random.Generator) -> pl.DataFrame:
    """Random (trigger, actuator) pairs of each home that are not candidates, `ratio` per labelled positive
    (at least one per home), as negative edges. Their co-activation columns are 0: a non-candidate's
    counts fall below the detector's bar and are not recorded; structure comes from the node features."""
    frame = _with_graph(frame)
    pieces = []
    for _, edges in frame.group_by(_GRAPH, maintain_order=True):  # one iteration per home
        triggers = edges.unique("trigger_entity", keep="first").sort("trigger_entity")
        actions = edges.unique("action_entity", keep="first").sort("action_entity")
        wanted = max(1, math.ceil(ratio * int(edges.get_column("label").sum())))
        draws = 4 * wanted  # oversample: some draws are candidates or self-pairs
        t = rng.integers(0, triggers.height, draws)
        a = rng.integers(0, actions.height, draws)
        pairs = (
            pl.concat(
                [
                    triggers[t].select(
                        _GRAPH,
                        "trigger_entity",
                        "trigger_activations",
                        *(f"trigger_{f}" for f in NODE_FEATURES),
                    ),
                    actions[a].select(
                        "action_entity", "action_activations", *(f"action_{f}" for f in NODE_FEATURES)
                    ),
                ],
                how="horizontal",
            )
            .filter(pl.col("trigger_entity") != pl.col("action_entity"))
            .join(
                edges.select("trigger_entity", "action_entity"),
                on=["trigger_entity", "action_entity"],
                how="anti",
            )
            .unique(["trigger_entity", "action_entity"], keep="first", maintain_order=True)
            .head(wanted)
        )
        pieces.append(pairs)
    pairs = pl.concat(pieces)
    compatible = pl.DataFrame(
        sorted(COMPATIBLE), schema={"t_kind": pl.Utf8, "a_domain": pl.Utf8}, orient="row"
    )
    return (
        pairs.with_columns(
            _kind(pl.col("trigger_domain"), pl.col("trigger_device_class")).alias("t_kind"),
            pl.col("action_domain").alias("a_domain"),
        )
        .join(
            compatible.with_columns(pl.lit(True).alias("compatible_domains")),
            on=["t_kind", "a_domain"],
            how="left",
        )
        .with_columns(
            pl.col("compatible_domains").fill_null(False),
            (pl.col("trigger_area_id") == pl.col("action_area_id")).fill_null(False).alias("same_area"),
            (pl.col("trigger_floor_id") == pl.col("action_floor_id")).fill_null(False).alias("same_floor"),
            *(pl.lit(0, pl.Int64).alias(c) for c in ("co_1m", "co_5m", "co_30m")),
            *(pl.lit(0.0).alias(c) for c in ("forward_ratio", "backward_ratio", "excess_5m", "lag_median_s")),
            pl.lit([0.0] * len(LAG_BINS_S), pl.List(pl.Float64)).alias("lag_hist"),
            pl.lit("on").alias("trigger_state"),
            pl.lit("on").alias("action_state"),
            pl.lit(False).alias("label"),
        )
        .drop("t_kind", "a_domain")
    )
