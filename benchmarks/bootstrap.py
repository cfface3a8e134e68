"""The evaluator's paired bootstrap per model type: over a matrix of draws (`primary_counts` /
`primary_ranking`) against scoring each resample's rows, on random predictions sized like `make run`'s final
comparison (27 held-out homes; rows per type as its seed-42 run had), 1000 resamples, one process.

    python benchmarks/bootstrap.py [--repeat 3]

Prints CPU seconds per comparison each way and checks both give the same comparison.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl

from homesim.retraining import models as trainers
from homesim.retraining.model_evaluator import Comparison, paired_bootstrap
from homesim.retraining.models.base import Trainer
from homesim.simulation.model_provider import HEALTH_KINDS, ModelType

#: Held-out prediction rows of each type in `make run`'s final comparison (seed 42, 27 homes).
ROWS: dict[ModelType, int] = {
    "pattern_detection": 3173,
    "gnn_synergy": 15187,
    "device_intelligence": 12945,
    "soft_prompt": 639,
}
HOMES = 27


def arm(model_type: ModelType, rng: np.random.Generator) -> pl.DataFrame:
    n = ROWS[model_type]
    keys = np.sort(rng.choice([f"h{i:03d}" for i in range(HOMES)], n))
    if model_type in ("pattern_detection", "gnn_synergy"):
        label = rng.random(n) < 0.3
        score = np.clip(label * 0.3 + rng.random(n) * 0.7, 0, 1).round(3)
        return pl.DataFrame({"home_key": keys, "label": label, "predicted": score >= 0.5, "score": score})
    if model_type == "device_intelligence":
        label = rng.choice(HEALTH_KINDS, n)
        predicted = np.where(rng.random(n) < 0.6, label, rng.choice(HEALTH_KINDS, n))
        return pl.DataFrame({"home_key": keys, "label": label, "predicted": predicted})
    return pl.DataFrame({"home_key": keys, "correct": rng.random(n) < 0.8})


def timed(trainer: Trainer, a: pl.DataFrame, b: pl.DataFrame) -> tuple[float, Comparison]:
    started = time.process_time()
    comparison = paired_bootstrap(trainer, a, b, reference_name="baseline", resamples=1000, seed=0)
    return time.process_time() - started, comparison


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print("| model type | rows | per resample, CPU s | over draws, CPU s | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for model_type in ROWS:
        trainer = trainers.get_trainer(model_type)
        rng = np.random.default_rng(0)
        a, b = arm(model_type, rng), arm(model_type, rng)
        fast, slow = [], []
        for _ in range(args.repeat):
            seconds, vectorised = timed(trainer, a, b)
            fast.append(seconds)
            cls = type(trainer)
            counts, ranking = cls.primary_counts, cls.primary_ranking
            cls.primary_counts = lambda self, predictions: None  # type: ignore[method-assign]
            cls.primary_ranking = lambda self, predictions: None  # type: ignore[method-assign]
            try:
                seconds, per_resample = timed(trainer, a, b)
            finally:
                cls.primary_counts, cls.primary_ranking = counts, ranking  # type: ignore[method-assign]
            slow.append(seconds)
            assert vectorised == per_resample, model_type
        best_slow, best_fast = min(slow), min(fast)
        print(
            f"| {model_type} | {ROWS[model_type]:,} | {best_slow:.3f} | {best_fast:.3f} | "
            f"{best_slow / best_fast:.1f}× |"
        )


if __name__ == "__main__":
    main()
