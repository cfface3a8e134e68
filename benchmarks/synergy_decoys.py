"""How much harder near-miss decoys make the gnn_synergy task: baseline and trained model, old and new task.

Each workspace holds one exported `gnn_synergy` cycle (`homesim generate` → `simulate --cycle 1` →
`export --cycle 1 --model-type gnn_synergy`), made by the tree under test (e.g. one workspace by the tree
before the decoys, one after). For each workspace a model is trained on its training homes
(`split_by_home`, the loop's split at `--share`), then the baseline heuristic and every workspace's model
are scored on every workspace's held-out homes: PR-AUC, the decoy edges among the candidates, and the
paired bootstrap (by home) of model − baseline, as the loop's gate computes it.

Usage: python benchmarks/synergy_decoys.py old=/tmp/ws-old new=/tmp/ws-new [--share 0.35]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from homesim.retraining.model_evaluator import paired_bootstrap, split_by_home
from homesim.retraining.models.gnn_synergy import GraphSageTrainer
from homesim.simulation.model_provider import Model
from homesim.training_data.loading import load_training_data
from homesim.workspace import Workspace


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workspaces", nargs="+", help="NAME=PATH of a workspace with an exported cycle 1")
    parser.add_argument("--share", type=float, default=0.35, help="held-out share (configs/make_run.yaml)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    trainer = GraphSageTrainer()
    tasks: dict[str, tuple[pl.DataFrame, pl.DataFrame]] = {}
    for item in args.workspaces:
        name, path = item.split("=", 1)
        data = load_training_data("gnn_synergy", Workspace(Path(path)), cycle=1)
        examples = trainer.examples(data)
        kinds = data.tables["synergies"].select("home_key", "trigger_entity", "action_entity", "label_kind")
        tasks[name] = split_by_home(
            examples.join(kinds, on=["home_key", "trigger_entity", "action_entity"]), args.share
        )
    models: dict[str, Model | None] = {"baseline": None}
    for name, (train, _) in tasks.items():
        models[f"model({name})"] = trainer.fit(train.drop("label_kind"), args.seed)
    rows: list[str] = []
    print("| task | held-out homes | edges | positives | decoys | arm | PR-AUC | arm − baseline (95 % CI) |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: | --- |")
    for name, (_, held) in tasks.items():
        homes = held.get_column("home_key").n_unique()
        positives = int(held.get_column("label").sum())
        decoys = int((held.get_column("label_kind") == "decoy").sum())
        frame = held.drop("label_kind")
        base = trainer.predict_examples(None, frame)
        for arm, model in models.items():
            predictions = trainer.predict_examples(model, frame)
            value = trainer.primary(predictions)
            diff = "" if model is None else paired_bootstrap(trainer, predictions, base, reference_name="b")
            ci = "" if isinstance(diff, str) else f"{diff.diff:+.4f} {diff.ci_text()}"
            print(
                f"| {name} | {homes} | {frame.height} | {positives} | {decoys} | {arm} | {value:.4f} | {ci} |"
            )
            rows += _by_kind(name, arm, held, predictions)
    print("\nMean score by label kind: player → light edges (the look-alike pairs) | all edges")
    print("| task | arm | kind | player → light: edges, mean score | all: edges, mean score |")
    print("| --- | --- | --- | ---: | ---: |")
    print("\n".join(rows))


def _by_kind(task: str, arm: str, held: pl.DataFrame, predictions: pl.DataFrame) -> list[str]:
    """One row per label kind: mean score on player → light edges and on all edges."""
    frame = held.select("trigger_entity", "action_entity", "label_kind").with_columns(
        predictions.get_column("score"),
        (
            pl.col("trigger_entity").str.starts_with("media_player.")
            & pl.col("action_entity").str.starts_with("light.")
        ).alias("look_alike"),
    )
    out = []
    for kind in ("active", "potential", "decoy", "none"):
        part = frame.filter(pl.col("label_kind") == kind)
        look = part.filter(pl.col("look_alike"))
        scores = look.get_column("score").to_numpy()
        mean_look = f"{float(scores.mean()):.3f}" if len(scores) else "–"
        mean_all = float(part.get_column("score").to_numpy().mean()) if part.height else float("nan")
        out.append(
            f"| {task} | {arm} | {kind} | {look.height}, {mean_look} | {part.height}, {mean_all:.3f} |"
        )
    return out


if __name__ == "__main__":
    main()
