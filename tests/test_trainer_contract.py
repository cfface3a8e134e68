"""The `Trainer` contract, checked the same way for every learned model type (`trainer_cases.py`): the type
is registered, fits a model whose predictions survive a save/load round trip, fits deterministically for a
seed, runs inside its stage, scores degenerate subsets without failing, and learns from its labels (real
labels beat shuffled ones on held-out homes). Each trainer's own tests (`test_trainer_<type>.py`) check
what is particular to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from homesim.retraining.models import get_trainer
from homesim.retraining.predictions import PredictionMemo
from trainer_cases import OneModel, TrainerCase


def test_registered_and_examples_of_every_home(trainer_case: TrainerCase) -> None:
    case = trainer_case
    assert type(get_trainer(case.model_type)) is type(case.trainer)
    assert case.trainer.model_type == case.model_type
    assert case.examples.get_column("home_key").n_unique() == len(case.views) == 4
    assert case.trainer.primary_metric in case.trainer.score(case.trainer.predict_examples(None, case.held))


def test_predictions_are_finite_rows(trainer_case: TrainerCase) -> None:
    case = trainer_case
    scores = case.model.predict(case.features(case.held))
    assert scores.shape[0] == case.held.height and scores.dtype == np.float64
    assert np.all((scores >= 0) & (scores <= 1)) and np.ptp(scores) > 0


def test_save_load_round_trip(trainer_case: TrainerCase, tmp_path: Path) -> None:
    case = trainer_case
    files = case.trainer.save(case.model, tmp_path)
    assert {f.name for f in files} == case.artifacts and all(f.parent == tmp_path for f in files)
    loaded = case.trainer.load(tmp_path, "v-round-trip")
    assert loaded.version == "v-round-trip"
    features = case.features(case.held)
    if case.round_trip_atol:
        np.testing.assert_allclose(
            loaded.predict(features), case.model.predict(features), rtol=0, atol=case.round_trip_atol
        )
    else:
        np.testing.assert_array_equal(loaded.predict(features), case.model.predict(features))


def test_fit_is_deterministic_for_a_seed(trainer_case: TrainerCase) -> None:
    case = trainer_case
    trainer, examples = case.refit or (case.trainer, case.train)
    first = case.model if case.refit is None else trainer.fit(examples, seed=case.seed)
    again = trainer.fit(examples, seed=case.seed)
    features = case.features(case.held)
    np.testing.assert_array_equal(again.predict(features), first.predict(features))
    if case.same_weights is not None:
        assert case.same_weights(first, again)


def test_the_stage_runs_the_deployed_model(trainer_case: TrainerCase) -> None:
    case = trainer_case
    view = case.views[-1]
    case.model.version = "v-deployed"
    try:
        records = case.stage(view, OneModel(case.model_type, case.model), 2)
    finally:
        case.model.version = "unregistered"
    assert records and {r.model_version for r in records} == {"v-deployed"}
    assert all(r.cycle == 2 for r in records)


def test_scores_are_zero_on_nothing_and_finite_on_one_class(trainer_case: TrainerCase) -> None:
    case = trainer_case
    trainer = case.trainer
    full = trainer.score(trainer.predict_examples(case.model, case.held))
    empty = trainer.score(trainer.predict_examples(case.model, case.held.head(0)))
    assert empty == dict.fromkeys(full, 0.0)
    for subset in case.single_class_subsets(case.examples):
        assert subset.height > 0
        for model in (None, case.model):
            metrics = trainer.score(trainer.predict_examples(model, subset))
            assert trainer.primary_metric in metrics and all(np.isfinite(v) for v in metrics.values())


def test_primary_is_the_primary_metric_of_score(trainer_case: TrainerCase) -> None:
    """`primary` (what the bootstrap calls per resample) equals `score`'s primary metric, on every home,
    and on single-class subsets."""
    case = trainer_case
    trainer = case.trainer
    frames = [case.held, *case.single_class_subsets(case.examples), case.held.head(0)]
    for frame in frames:
        for model in (None, case.model):
            predictions = trainer.predict_examples(model, frame)
            assert trainer.primary(predictions) == trainer.score(predictions)[trainer.primary_metric]


def test_remembered_predictions_equal_fresh_ones_home_by_home(trainer_case: TrainerCase) -> None:
    """Every trainer predicts a home independently of the others: the memo, which predicts only the homes
    a version has not seen (homes reordered, rows shuffled, some homes already remembered), gives the frame
    `predict_examples` gives, row for row; a home whose rows changed is predicted afresh."""
    case = trainer_case
    trainer, examples = case.trainer, case.examples
    homes = sorted(set(examples.get_column("home_key").to_list()), reverse=True)
    shuffled = pl.concat(  # homes in another order, rows shuffled within each (a home's rows together)
        examples.filter(pl.col("home_key") == home).sample(fraction=1.0, shuffle=True, seed=7)
        for home in homes
    )
    for model, name in ((None, None), (case.model, "v-test")):
        memo = PredictionMemo()
        first = shuffled.filter(pl.col("home_key").is_in(homes[:2]))
        assert_frame_equal(memo.predict(trainer, model, name, first), trainer.predict_examples(model, first))
        assert memo.predicted_homes == 2
        both = memo.predict(trainer, model, name, shuffled)
        assert_frame_equal(both, trainer.predict_examples(model, shuffled))
        assert memo.predicted_homes == len(homes)  # the first two homes came from memory
        changed = shuffled.filter(pl.col("home_key") == homes[0]).head(-1)
        memo.predict(trainer, model, name, changed)
        assert memo.predicted_homes == len(homes) + 1


# Two checks hold for the types whose cases define them (the soft prompt's labels are checked by its own
# tests: the rules baseline against paraphrases; the graph model refuses only an empty frame).
LEARNS = ["pattern", "device", "gnn"]
REFUSES_ONE_CLASS = ["pattern", "device"]


@pytest.mark.parametrize("name", LEARNS)
def test_real_labels_beat_shuffled_labels_on_held_out_homes(
    name: str, request: pytest.FixtureRequest
) -> None:
    case: TrainerCase = request.getfixturevalue(f"{name}_case")
    assert case.shuffle_split is not None and case.beats_shuffled
    train, held = case.shuffle_split
    trainer = case.trainer
    real = trainer.score(trainer.predict_examples(trainer.fit(train, seed=case.seed), held))
    noise = trainer.score(trainer.predict_examples(trainer.fit(case.shuffle(train), seed=case.seed), held))
    for metric, margin in case.beats_shuffled.items():
        assert real[metric] > noise[metric] + margin, metric


@pytest.mark.parametrize("name", REFUSES_ONE_CLASS)
def test_fit_refuses_a_single_class(name: str, request: pytest.FixtureRequest) -> None:
    case: TrainerCase = request.getfixturevalue(f"{name}_case")
    assert case.single_class_error is not None
    with pytest.raises(ValueError, match=case.single_class_error):
        case.trainer.fit(case.single_class_subsets(case.examples)[0], seed=case.seed)
