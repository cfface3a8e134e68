"""PredictionMemo: a process's memory of `Trainer.predict_examples`, per model version and home.

Every cycle of `homesim run` scores the baseline and the champion on all held-out homes of the aggregated
export, most of which earlier cycles already scored with the same versions; the degradation check scores
the champion on the newest cycle's homes, and the final comparison scores baseline, first model and champion
on the very held-out homes the last cycle's gate just scored. Predictions of a version on a home depend only
on that version (registered artifacts are immutable and sha-verified) and on that home's example rows (every
trainer predicts a home independently of the others: row by row, or one call per home), so they are
remembered by (model type, version or `baseline`, home key, fingerprint of the home's rows) and each home is
predicted once per version. A home whose rows changed in any byte has another fingerprint and is predicted
afresh. A candidate's predictions are kept under a provisional name until the registry gives it a version
(`adopt`). The memory is never on disk: it vouches only for what this process computed itself.
"""

from __future__ import annotations

import hashlib
from typing import Final

import polars as pl

from homesim.retraining.models.base import Trainer
from homesim.simulation.model_provider import Model, ModelType

#: The name the stage's rule (`predict_examples(None, …)`) is remembered under.
BASELINE: Final = "baseline"
#: The name of a candidate's predictions until `adopt` names them by the version it was registered as.
CANDIDATE: Final = "\0candidate"
_ROW: Final = "\0row"


def _fingerprint(rows: pl.DataFrame) -> bytes:
    """sha256 over the columns' names and types and the rows' hashes, in order (in-process only: polars'
    row hash is not stable across versions, which the memory never outlives)."""
    digest = hashlib.sha256(repr(list(rows.schema.items())).encode())
    digest.update(rows.hash_rows(seed=0).to_numpy().tobytes())
    return digest.digest()


class PredictionMemo:
    """`predict_examples` answered from memory for the homes a version already predicted."""

    def __init__(self) -> None:
        self._memory: dict[tuple[ModelType, str, str, bytes], pl.DataFrame] = {}
        #: Homes predicted (not answered from memory), for the tests and the benchmark's accounting.
        self.predicted_homes = 0

    def predict(
        self, trainer: Trainer, model: Model | None, name: str | None, examples: pl.DataFrame
    ) -> pl.DataFrame:
        """`trainer.predict_examples(model, examples)`: one row per example, in the examples' order (which
        is what every trainer returns for examples that hold each home's rows together, as theirs do).
        `name`: the model's registered version, `CANDIDATE` for an unregistered one, None for the
        baseline."""
        if model is None:
            name = BASELINE
        elif name is None:
            return trainer.predict_examples(model, examples)
        if examples.is_empty():
            return trainer.predict_examples(model, examples)
        indexed = examples.with_row_index(_ROW)
        homes = indexed.partition_by("home_key", maintain_order=True, as_dict=True)
        keys = {
            home: (trainer.model_type, name, str(home[0]), _fingerprint(rows.drop(_ROW)))
            for home, rows in homes.items()
        }
        missing = [home for home, key in keys.items() if key not in self._memory]
        if missing:
            rows = pl.concat([homes[h] for h in missing]).sort(_ROW)
            fresh = trainer.predict_examples(model, rows.drop(_ROW))
            by_home = fresh.partition_by("home_key", maintain_order=True, as_dict=True)
            for home in missing:
                self._memory[keys[home]] = by_home[home]
            self.predicted_homes += len(missing)
        # Each home's predictions are in its rows' order: put them back where its rows were.
        parts = [self._memory[keys[home]].with_columns(homes[home].get_column(_ROW)) for home in homes]
        return pl.concat(parts).sort(_ROW).drop(_ROW)

    def adopt(self, model_type: ModelType, version: str) -> None:
        """Name the candidate predictions of `model_type` by the version it was registered as."""
        for key in [k for k in self._memory if k[0] == model_type and k[1] == CANDIDATE]:
            self._memory[(model_type, version, key[2], key[3])] = self._memory.pop(key)

    def forget_candidate(self, model_type: ModelType) -> None:
        """Drop unregistered candidate predictions of `model_type` (a new candidate is about to be scored)."""
        for key in [k for k in self._memory if k[0] == model_type and k[1] == CANDIDATE]:
            del self._memory[key]
