"""One set of classification scores with one zero rule (`homesim.scores`), used by the stages' metric
table, the A/B test and the trainers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, average_precision_score, f1_score, precision_recall_fscore_support

from homesim.retraining.ab_testing import compare_arms
from homesim.scores import (
    ZERO_DIVISION,
    accuracy,
    best_f1_threshold,
    binary_scores,
    f1_from_counts,
    macro_f1,
    pr_auc,
    pr_auc_of_draws,
)
from homesim.simulation.metrics import F1_COUNTS, f1, stage_metrics

_COUNT = st.integers(min_value=0, max_value=10_000)


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=60))
def test_counts_of_one_confusion_matrix_give_sklearns_f1_bit_for_bit(pairs: list[tuple[bool, bool]]) -> None:
    t = np.array([a for a, _ in pairs])
    p = np.array([b for _, b in pairs])
    tp = int(np.sum(t & p))
    expected = f1_score(t, p, labels=[False, True], zero_division=ZERO_DIVISION)
    assert float(f1_from_counts(tp, p.sum(), tp, t.sum())) == expected
    assert binary_scores(t, p)["f1"] == pytest.approx(expected, abs=1e-15)


@given(_COUNT, _COUNT, _COUNT, _COUNT)
def test_the_zero_rule(a: int, b: int, c: int, d: int) -> None:
    """An undefined side counts as 0 once the other has something; F1 is undefined only with neither."""
    predicted_true, predicted = min(a, b), b
    truth_found, truth = min(c, d), d
    value = float(f1_from_counts(predicted_true, predicted, truth_found, truth))
    nan = float(f1_from_counts(predicted_true, predicted, truth_found, truth, zero_division=np.nan))
    if predicted == 0 and truth == 0:
        assert value == ZERO_DIVISION and np.isnan(nan)
    elif predicted_true == 0 or truth_found == 0:
        assert value == nan == 0.0
    else:
        precision, recall = predicted_true / predicted, truth_found / truth
        assert value == pytest.approx(2 * precision * recall / (precision + recall), rel=1e-12) == nan


def test_the_stage_table_and_the_ab_test_use_the_same_f1() -> None:
    nothing_predicted = {"predicted": 0, "predicted_true": 0, "truth": 5, "truth_found": 0}
    nothing_at_all = {"predicted": 0, "predicted_true": 0, "truth": 0, "truth_found": 0}
    some = {"predicted": 4, "predicted_true": 3, "truth": 6, "truth_found": 2}
    assert f1(nothing_predicted) == 0.0  # there was something to find and nothing was found
    assert f1(nothing_at_all) is None  # a report shows "no data"
    # Homes without ground truth measure no recall: F1 is n/a, never 0.
    assert f1({"predicted": 4, "predicted_true": 3, "unscored": 4}) is None
    assert f1(some) == pytest.approx(2 * 0.75 * (1 / 3) / (0.75 + 1 / 3))
    metrics = stage_metrics("pattern", nothing_predicted, homes=1, errors=0, records=0)
    assert (metrics.precision, metrics.recall, metrics.f1) == (None, 0.0, 0.0)
    champion, challenger, _ = compare_arms([nothing_at_all, nothing_at_all], [some, some])
    assert champion == ZERO_DIVISION and challenger == f1({k: 2 * v for k, v in some.items()})


def test_label_scores_on_degenerate_input() -> None:
    empty = np.zeros(0, dtype=bool)
    assert binary_scores(empty, empty) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    negatives = np.zeros(4, dtype=bool)
    assert binary_scores(negatives, negatives) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert binary_scores(negatives, ~negatives) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert pr_auc(negatives, np.linspace(0, 1, 4)) == 0.0
    assert accuracy(np.array([]), np.array([])) == 0.0
    assert accuracy(np.array(["a", "b"]), np.array(["a", "c"])) == 0.5
    assert macro_f1(np.array(["x"]), np.array(["x"]), ["a", "b"]) == 0.0  # no label of interest occurs
    # Labels absent from both sides do not dilute the mean.
    assert macro_f1(np.array(["a", "a"]), np.array(["a", "b"]), ["a", "b", "c"]) == pytest.approx(
        (2 / 3 + 0) / 2
    )


def test_pr_auc_is_average_precision_with_tied_scores() -> None:
    labels = np.array([True, False, True, False, True])
    scores = np.array([0.9, 0.9, 0.5, 0.5, 0.1])
    # Thresholds 0.9 (P 1/2, R 1/3), 0.5 (P 2/4, R 2/3), 0.1 (P 3/5, R 1): AP = Σ ΔR·P.
    assert pr_auc(labels, scores) == pytest.approx((1 / 3) * 0.5 + (1 / 3) * 0.5 + (1 / 3) * 0.6)


@given(st.lists(st.tuples(st.booleans(), st.integers(min_value=0, max_value=20)), min_size=1, max_size=50))
def test_best_f1_threshold_is_the_best_confusion_f1(rows: list[tuple[bool, int]]) -> None:
    labels = np.array([r[0] for r in rows])
    proba = np.array([r[1] / 20 for r in rows])
    threshold = best_f1_threshold(labels, proba)
    if not labels.any():
        assert threshold == 0.5
        return
    cuts = np.unique(proba)
    f1s = np.array([f1_score(labels, proba >= cut, zero_division=ZERO_DIVISION) for cut in cuts])
    best_cut = cuts[np.flatnonzero(np.isclose(f1s, f1s.max(), rtol=0, atol=1e-12))].max()  # highest of ties
    if 0.01 < threshold < 0.99:  # the midpoint admits exactly the best cut's rows
        assert np.array_equal(proba >= threshold, proba >= best_cut)
    else:
        assert threshold in (0.01, 0.99)


def _brute_force_p(champion: list[dict[str, float]], challenger: list[dict[str, float]]) -> float:
    """Every split of the homes into arms of the observed sizes; share at least as far apart."""
    homes = [*champion, *challenger]

    def arm_f1(members: list[dict[str, float]]) -> float:
        return float(f1_from_counts(*(sum(h[k] for h in members) for k in F1_COUNTS)))

    observed = abs(arm_f1(challenger) - arm_f1(champion))
    splits = list(itertools.combinations(range(len(homes)), len(challenger)))
    extreme = 0
    for chosen in splits:
        inside = [homes[i] for i in chosen]
        outside = [homes[i] for i in range(len(homes)) if i not in chosen]
        extreme += abs(arm_f1(inside) - arm_f1(outside)) >= observed - 1e-12
    return extreme / len(splits)


@pytest.mark.parametrize(("n_champion", "n_challenger"), [(1, 1), (1, 4), (4, 1), (2, 2), (3, 5)])
def test_the_permutation_test_enumerates_every_split(n_champion: int, n_challenger: int) -> None:
    rng = np.random.default_rng(n_champion * 10 + n_challenger)

    def homes(n: int) -> list[dict[str, float]]:
        out = []
        for _ in range(n):
            predicted, truth = int(rng.integers(1, 8)), int(rng.integers(1, 8))
            out.append(
                {
                    "predicted": predicted,
                    "predicted_true": int(rng.integers(0, predicted + 1)),
                    "truth": truth,
                    "truth_found": int(rng.integers(0, truth + 1)),
                }
            )
        return out

    champion, challenger = homes(n_champion), homes(n_challenger)
    assert compare_arms(champion, challenger)[2] == pytest.approx(_brute_force_p(champion, challenger))


_LABELS = ("a", "b", "c", "d")


@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=80))
def test_binary_scores_are_sklearns(pairs: list[tuple[bool, bool]]) -> None:
    t = np.array([a for a, _ in pairs])
    p = np.array([b for _, b in pairs])
    precision, recall, f, _ = precision_recall_fscore_support(
        t, p, labels=[False, True], pos_label=True, average="binary", zero_division=ZERO_DIVISION
    )
    assert binary_scores(t, p) == pytest.approx(
        {"precision": precision, "recall": recall, "f1": f}, abs=1e-15
    )


@given(st.lists(st.tuples(st.sampled_from(_LABELS), st.sampled_from(_LABELS)), min_size=1, max_size=80))
def test_macro_f1_and_accuracy_are_sklearns(pairs: list[tuple[str, str]]) -> None:
    t = np.array([a for a, _ in pairs])
    p = np.array([b for _, b in pairs])
    of_interest = ["a", "b", "c"]
    present = [k for k in of_interest if k in t or k in p]
    expected = (
        f1_score(t, p, labels=present, average="macro", zero_division=ZERO_DIVISION) if present else 0.0
    )
    assert macro_f1(t, p, of_interest) == pytest.approx(expected, abs=1e-12)
    assert accuracy(t, p) == pytest.approx(accuracy_score(t, p), abs=1e-15)


@given(
    st.lists(
        st.tuples(st.booleans(), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0])),
        min_size=1,
        max_size=80,
    )
)
def test_pr_auc_is_sklearns_average_precision(pairs: list[tuple[bool, float]]) -> None:
    """Ties included: the area steps once per distinct score, as scikit-learn's curve does."""
    t = np.array([a for a, _ in pairs])
    s = np.array([b for _, b in pairs])
    expected = average_precision_score(t, s) if t.any() else 0.0
    assert pr_auc(t, s) == pytest.approx(expected, abs=1e-12)


@given(
    st.lists(
        st.tuples(st.booleans(), st.sampled_from([0.0, 0.25, 0.5, 0.5, 0.75, 1.0])), min_size=1, max_size=40
    ),
    st.lists(st.lists(st.integers(0, 3), min_size=40, max_size=40), min_size=1, max_size=5),
)
def test_pr_auc_of_draws_is_pr_auc_of_the_repeated_rows_bit_for_bit(
    pairs: list[tuple[bool, float]], draws: list[list[int]]
) -> None:
    t = np.array([a for a, _ in pairs])
    s = np.array([b for _, b in pairs])
    times = np.array(draws)[:, : len(pairs)]
    values = pr_auc_of_draws(t, s, times)
    for row, value in zip(times, values, strict=True):
        assert value == pr_auc(np.repeat(t, row), np.repeat(s, row))  # == : the same floats
