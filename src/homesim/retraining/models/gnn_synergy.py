"""gnn_synergy: a GraphSAGE link predictor over each home's device graph, in plain torch.

The graph (`gnn_graph`): nodes are a home's entities: kind one-hot (domain, or `domain:device_class` for
sensors), room-type and floor one-hots, actuator flag, log events per day, active share and candidate
degrees. Messages pass along structure and behaviour, never labels: between entities sharing an area, and
along candidate edges whose action follows the trigger clearly more often than chance (`STRONG_EXCESS`,
`STRONG_FORWARD`). Two SAGE layers (mean aggregation written with `index_add_`) embed the nodes; an MLP
scores each candidate edge from [h_trigger, h_action, edge features] — the detector's co-activation
counts, ratios, lag histogram, structure, and the baseline heuristic's logit, so the model starts from
what the baseline knows.

Training: binary cross-entropy on the labelled candidate edges of the training homes plus random
non-candidate (trigger, actuator) pairs of the same homes as negatives. The epoch count and the decision
threshold (best F1) come from an internal validation split of the training homes; the model is then refit
on all of them for that many epochs. `predict` maps P(synergy) monotonically so that this threshold lands
on the stage's own threshold (`SynergyDetectorConfig`): the stage's `score >= threshold` decision is the
model's best-F1 decision, and rankings (PR-AUC, precision@k) are unchanged.

Artifacts: `model.safetensors` (weights) and `config.json` (vocabularies, standardisation, dims,
threshold); nothing is pickled.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import polars as pl
import structlog
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from homesim.io import write_atomic, write_json_atomic
from homesim.retraining.models.base import CONFIG_FILE, ProgressFn, Trainer
from homesim.retraining.models.gnn_graph import (
    F64,
    FRAME_COLUMNS,
    NODE_COLUMNS,
    STRONG_EXCESS,
    STRONG_FORWARD,
    Encoding,
    GraphBatch,
    build_batch,
    fit_encoding,
    sample_negatives,
)
from homesim.retraining.models.metrics import to_stage_scale
from homesim.scores import best_f1_threshold, binary_scores, pr_auc
from homesim.simulation.model_provider import Model, ModelType
from homesim.simulation.synergy_detection import SynergyDetectorConfig, heuristic_score, with_node_features
from homesim.training_data.loading import TrainingData

log = structlog.get_logger("homesim.retraining.gnn_synergy")

WEIGHTS_FILE = "model.safetensors"
#: Version of `config.json`'s layout; `load` refuses others.
ARTIFACT_FORMAT = 1

#: The stage's decision threshold on `score` (the baseline's and, after `to_stage_scale`, the model's).
STAGE_THRESHOLD = SynergyDetectorConfig().threshold


class SageLayer(nn.Module):
    """GraphSAGE with mean aggregation: h'_v = W_self h_v + W_neigh mean_{u→v} h_u."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.self_lin = nn.Linear(d_in, d_out)
        self.neigh_lin = nn.Linear(d_in, d_out, bias=False)

    def forward(self, h: Tensor, src: Tensor, dst: Tensor) -> Tensor:
        total = torch.zeros_like(h).index_add_(0, dst, h[src])
        degree = torch.zeros(h.shape[0], dtype=h.dtype).index_add_(
            0, dst, torch.ones(dst.shape[0], dtype=h.dtype)
        )
        out: Tensor = self.self_lin(h) + self.neigh_lin(total / degree.clamp(min=1.0)[:, None])
        return out


class SynergySage(nn.Module):
    """Two SAGE layers and an edge-scoring MLP over [h_trigger, h_action, edge features] → logit."""

    def __init__(self, node_dim: int, edge_dim: int, hidden: int) -> None:
        super().__init__()
        self.sage1 = SageLayer(node_dim, hidden)
        self.sage2 = SageLayer(hidden, hidden)
        self.scorer = nn.Sequential(nn.Linear(2 * hidden + edge_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, batch: GraphBatch) -> Tensor:
        h = torch.relu(self.sage1(batch.x, batch.src, batch.dst))
        h = self.sage2(h, batch.src, batch.dst)
        z = torch.cat([h[batch.trigger], h[batch.action], batch.edge_x], dim=1)
        logits: Tensor = self.scorer(z).squeeze(1)
        return logits


@contextmanager
def _torch_state(seed: int) -> Iterator[None]:
    """Seeded, single-threaded, deterministic torch; the caller's RNG and settings are restored after."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic)


class GraphSageSynergyModel:
    """A fitted link predictor: the simulation `Model` of `gnn_synergy`."""

    def __init__(
        self,
        net: SynergySage,
        encoding: Encoding,
        threshold: float,
        hidden: int,
        version: str = "unregistered",
    ) -> None:
        self.net = net
        self.encoding = encoding
        self.threshold = threshold
        self.hidden = hidden
        self.version = version

    def proba(self, features: pl.DataFrame) -> F64:
        """P(synergy) of each candidate edge of `features` (the stage's frame: one home; a frame with
        `home_key` may hold several), before the threshold mapping."""
        if features.height == 0:
            return np.zeros(0, dtype=np.float64)
        missing = [c for c in (*FRAME_COLUMNS, *NODE_COLUMNS) if c not in features.columns]
        if missing:
            raise ValueError(
                f"gnn_synergy model needs columns {missing} (see synergy_detection.with_node_features)"
            )
        batch = build_batch(features, self.encoding)
        self.net.eval()
        with torch.no_grad():
            return torch.sigmoid(self.net(batch)).double().numpy()

    def predict(self, features: pl.DataFrame) -> F64:
        return to_stage_scale(self.proba(features), self.threshold, STAGE_THRESHOLD)


def _best(history: list[tuple[int, float, F64]]) -> tuple[int, float, F64]:
    """The evaluation with the highest validation PR-AUC, the earliest among equals."""
    return max(history, key=lambda h: (h[1], -h[0]))


class GraphSageTrainer(Trainer):
    """Trains `GraphSageSynergyModel` on exported `gnn_synergy` data (candidate edges + entities)."""

    model_type: ClassVar[ModelType] = "gnn_synergy"
    primary_metric: ClassVar[str] = "pr_auc"

    def __init__(
        self,
        hidden: int = 32,
        max_epochs: int = 200,
        eval_every: int = 10,
        patience: int = 5,
        lr: float = 0.01,
        weight_decay: float = 1e-4,
        negative_ratio: float = 1.0,
        validation_share: float = 0.2,
        top_k: int = 5,
    ) -> None:
        self.hidden = hidden
        self.max_epochs = max_epochs
        self.eval_every = eval_every
        self.patience = patience
        self.lr = lr
        self.weight_decay = weight_decay
        self.negative_ratio = negative_ratio
        self.validation_share = validation_share
        self.top_k = top_k

    def params(self) -> dict[str, Any]:
        return {
            "hidden": self.hidden,
            "max_epochs": self.max_epochs,
            "eval_every": self.eval_every,
            "patience": self.patience,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "negative_ratio": self.negative_ratio,
            "validation_share": self.validation_share,
            "top_k": self.top_k,
            "strong_excess": STRONG_EXCESS,
            "strong_forward": STRONG_FORWARD,
        }

    def examples(self, data: TrainingData) -> pl.DataFrame:
        """One row per candidate edge: the frame the stage gives the model, plus home_key, cycle, label.
        A home seen in several cycles keeps its newest edges and nodes (one graph per home)."""
        edges = (
            data.tables["synergies"]
            .sort("cycle", descending=True)
            .unique(["home_key", "trigger_entity", "action_entity"], keep="first")
        )
        nodes = (
            data.tables["entities"]
            .sort("cycle", descending=True)
            .unique(["home_key", "entity_id"], keep="first")
            .drop("cycle")
        )
        return (
            with_node_features(edges, nodes, keys=("home_key",))
            .select("home_key", "cycle", *FRAME_COLUMNS, *NODE_COLUMNS, "label")
            .sort("home_key", "trigger_entity", "action_entity")
        )

    def _split(self, homes: Sequence[str], seed: int) -> tuple[list[str], list[str]]:
        """Internal (train, validation) homes; with one home both are that home."""
        ordered = sorted(homes)
        if len(ordered) < 2:
            return ordered, ordered
        perm = np.random.default_rng(seed).permutation(len(ordered))
        n_val = min(len(ordered) - 1, max(1, round(self.validation_share * len(ordered))))
        val = sorted(ordered[i] for i in perm[:n_val])
        return [h for h in ordered if h not in val], val

    def _train(
        self,
        train: pl.DataFrame,
        enc: Encoding,
        epochs: int,
        seed: int,
        val: pl.DataFrame | None,
        progress: ProgressFn | None,
    ) -> tuple[SynergySage, list[tuple[int, float, F64]]]:
        """Fit a fresh net for `epochs`; with `val`, its (epoch, PR-AUC, scores) every `eval_every` epochs,
        stopping once `patience` evaluations in a row have not beaten the best."""
        negatives = sample_negatives(train, self.negative_ratio, np.random.default_rng(seed))
        batch = build_batch(train, enc, negatives)
        target = torch.from_numpy(
            np.r_[train.get_column("label").to_numpy(), np.zeros(negatives.height)].astype(np.float32)
        )
        val_batch = build_batch(val, enc) if val is not None else None
        val_labels = val.get_column("label").to_numpy() if val is not None else None
        net = SynergySage(enc.node_dim, enc.edge_dim, self.hidden)
        optimiser = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss_fn = nn.BCEWithLogitsLoss()
        history: list[tuple[int, float, F64]] = []
        for epoch in range(1, epochs + 1):
            net.train()
            optimiser.zero_grad()
            loss = loss_fn(net(batch), target)
            loss.backward()
            optimiser.step()
            if epoch % self.eval_every == 0 or epoch == epochs:
                line = f"epoch {epoch}/{epochs} loss {loss.item():.4f}"
                if val_batch is not None and val_labels is not None:
                    net.eval()
                    with torch.no_grad():
                        scores = torch.sigmoid(net(val_batch)).double().numpy()
                    history.append((epoch, pr_auc(val_labels, scores), scores))
                    line += f" val_pr_auc {history[-1][1]:.4f}"
                if progress is not None:
                    progress(line)
                if history and epoch - _best(history)[0] >= self.patience * self.eval_every:
                    break
        return net, history

    def fit(self, examples: pl.DataFrame, seed: int, progress: ProgressFn | None = None) -> Model:
        if examples.height == 0 or "label" not in examples.columns:
            raise ValueError(
                "gnn_synergy fit needs labelled candidate edges (examples with a `label` column)"
            )
        # Sorted, so the sampled negatives depend on the seed and the data, not on the row order.
        examples = examples.sort("home_key", "trigger_entity", "action_entity")
        homes = examples.get_column("home_key").unique().to_list()
        inner, val_homes = self._split(homes, seed)
        train = examples.filter(pl.col("home_key").is_in(inner))
        val = examples.filter(pl.col("home_key").is_in(val_homes))
        with _torch_state(seed):
            _, history = self._train(train, fit_encoding(train), self.max_epochs, seed, val, None)
        best_epoch, best_ap, val_scores = _best(history)
        threshold = best_f1_threshold(val.get_column("label").to_numpy(), val_scores)
        log.info("gnn_synergy_validation", epochs=best_epoch, pr_auc=best_ap, threshold=threshold)
        if progress is not None:
            progress(f"validation: best epoch {best_epoch}, PR-AUC {best_ap:.4f}, threshold {threshold:.3f}")
        encoding = fit_encoding(examples)
        with _torch_state(seed):
            net, _ = self._train(examples, encoding, best_epoch, seed, None, progress)
        net.eval()
        return GraphSageSynergyModel(net, encoding, threshold, self.hidden)

    def predict_examples(self, model: Model | None, examples: pl.DataFrame) -> pl.DataFrame:
        """Scores per example — the model's, one home at a time as the stage calls it, or the stage's
        heuristic recomputed from the features (not the recorded `score`, which a deployed model made);
        `predicted` is the stage's decision, `score >= STAGE_THRESHOLD`."""
        if model is None:
            scores = heuristic_score(examples)
        else:
            scores = np.zeros(examples.height)
            indexed = examples.with_row_index("_row")
            for _, home in indexed.group_by("home_key", maintain_order=True):  # one call per home
                scores[home.get_column("_row").to_numpy()] = model.predict(home.drop("_row"))
        return examples.select("home_key", "trigger_entity", "action_entity", "label").with_columns(
            pl.Series("score", scores, pl.Float64),
            pl.Series("predicted", scores >= STAGE_THRESHOLD, pl.Boolean),
        )

    def primary(self, predictions: pl.DataFrame) -> float:
        """PR-AUC alone (precision@k's sort and group-by are most of `score`'s time)."""
        return pr_auc(
            predictions.get_column("label").to_numpy().astype(bool),
            predictions.get_column("score").to_numpy().astype(np.float64),
        )

    def primary_ranking(self, predictions: pl.DataFrame) -> tuple[np.ndarray[Any, np.dtype[np.bool_]], F64]:
        return (
            predictions.get_column("label").to_numpy().astype(bool),
            predictions.get_column("score").to_numpy().astype(np.float64),
        )

    def score(self, predictions: pl.DataFrame) -> dict[str, float]:
        labels = predictions.get_column("label").to_numpy().astype(bool)
        scores = predictions.get_column("score").to_numpy().astype(np.float64)
        metrics = {
            "pr_auc": pr_auc(labels, scores),
            **binary_scores(labels, predictions.get_column("predicted").to_numpy()),
        }
        top = (
            predictions.sort("score", descending=True, maintain_order=True)
            .group_by("home_key")
            .agg(pl.col("label").head(self.top_k).mean().alias("p"))
        )
        metrics["precision_at_k"] = float(top.get_column("p").to_numpy().mean()) if top.height else 0.0
        return metrics

    def save(self, model: Model, directory: Path) -> list[Path]:
        if not isinstance(model, GraphSageSynergyModel):
            raise TypeError(f"gnn_synergy can save only a GraphSageSynergyModel, not {type(model).__name__}")
        directory.mkdir(parents=True, exist_ok=True)
        weights, config = directory / WEIGHTS_FILE, directory / CONFIG_FILE
        tensors = {k: v.detach().contiguous() for k, v in model.net.state_dict().items()}
        write_atomic(weights, lambda tmp: save_file(tensors, str(tmp)))
        write_json_atomic(
            config,
            {
                "format": ARTIFACT_FORMAT,
                "model_type": self.model_type,
                "hidden": model.hidden,
                "node_dim": model.encoding.node_dim,
                "edge_dim": model.encoding.edge_dim,
                "threshold": model.threshold,
                "encoding": asdict(model.encoding),
            },
        )
        return [weights, config]

    def load(self, directory: Path, version: str) -> Model:
        try:
            config = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
            if config.get("format") != ARTIFACT_FORMAT or config.get("model_type") != self.model_type:
                raise ValueError(f"not a gnn_synergy artifact of format {ARTIFACT_FORMAT}")
            encoding = Encoding(**config["encoding"])
            net = SynergySage(encoding.node_dim, encoding.edge_dim, int(config["hidden"]))
            net.load_state_dict(load_file(str(directory / WEIGHTS_FILE)), strict=True)
        except (OSError, KeyError, TypeError, ValueError, RuntimeError, SafetensorError) as exc:
            raise ValueError(f"{directory}: cannot load gnn_synergy model: {exc}") from exc
        net.eval()
        return GraphSageSynergyModel(
            net, encoding, float(config["threshold"]), int(config["hidden"]), version
        )
