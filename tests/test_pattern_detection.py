"""PatternDetector: candidates from events only, features, baseline scoring, labelling against truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest

from homesim.generation.home import GeneratedHome
from homesim.schema.ground_truth import Pattern
from homesim.schema.vocabulary import SUN_HORIZON_DEG
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import Model, ModelType, NoModels
from homesim.simulation.pattern_detection import (
    FEATURES,
    PatternDetector,
    circular_stats,
    eligible_patterns,
    label_candidates,
    matches,
    mine_candidates,
    sun_events,
)


@pytest.fixture(scope="module")
def views(month_homes: list[GeneratedHome]) -> list[HomeView]:
    return [HomeView.from_generated(g) for g in month_homes[:3]]


class ConstantModel:
    version = "pd-v7"

    def predict(self, features: pl.DataFrame) -> npt.NDArray[np.float64]:
        assert set(features.columns) == set(FEATURES)
        return np.full(features.height, 0.9)


class OneModel:
    def __init__(self, model: Model) -> None:
        self.model = model

    def get(self, model_type: ModelType) -> Model | None:
        return self.model if model_type == "pattern_detection" else None


def test_candidates_carry_complete_features_and_are_deterministic(views: list[HomeView]) -> None:
    first = mine_candidates(views[0])
    assert first.height > 20
    assert set(first.get_column("kind").unique()) >= {"sequence", "time_of_day", "environment"}
    assert first.select(FEATURES).null_count().sum_horizontal().item() == 0
    assert (first.get_column("support") >= 5).all()
    assert first.equals(mine_candidates(views[0]))


def test_baseline_finds_most_patterns_with_good_precision(views: list[HomeView]) -> None:
    predicted = true_predicted = eligible = found = 0
    for view in views:
        records = PatternDetector().detect(view, NoModels(), cycle=3)
        assert all(r.cycle == 3 and r.model_version == "baseline" for r in records)
        assert len({r.record_id for r in records}) == len(records)
        hits = [r for r in records if r.outputs.predicted]
        predicted += len(hits)
        true_predicted += sum(r.label.is_pattern for r in hits)
        targets = eligible_patterns(view.truth)
        eligible += len(targets)
        found += len({r.label.pattern_id for r in hits if r.label.is_pattern} & {p.id for p in targets})
    # 0.62 on generator 1.5.0; 1.6.0's habits (a hand-switched trigger an automation follows only sometimes)
    # and sensor co-uses add look-alike sequences and times of day: 118 / 197 on these homes.
    assert true_predicted / predicted >= 0.55
    assert found / eligible >= 0.7


def test_deployed_model_scores_and_labels_do_not_depend_on_it(views: list[HomeView]) -> None:
    baseline = PatternDetector().detect(views[0], NoModels(), 0)
    modelled = PatternDetector().detect(views[0], OneModel(ConstantModel()), 0)
    assert all(r.model_version == "pd-v7" and r.outputs.predicted for r in modelled)
    assert [r.label for r in modelled] == [r.label for r in baseline]
    assert [r.record_id for r in modelled] == [r.record_id for r in baseline]


def _candidate(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "kind": "sequence", "trigger_entity": None, "trigger_state": None, "trigger_variable": None,
        "action_entity": "light.x", "action_state": "on", "median_hour": 7.0,
    }  # fmt: skip
    return {**base, **overrides}


def _pattern(view: HomeView, kind: str, **where: str) -> Pattern:
    for p in view.truth.patterns:
        if p.trigger.kind == kind and all(getattr(p.trigger, k, None) == v for k, v in where.items()):
            return p
    pytest.skip(f"no {kind} pattern in this home")


def test_matching_needs_the_same_action_and_a_compatible_trigger(views: list[HomeView]) -> None:
    state = _pattern(views[0], "state")
    action = state.actions[0]
    assert state.trigger.kind == "state"
    seq = _candidate(
        trigger_entity=state.trigger.entity_id, trigger_state=state.trigger.to,
        action_entity=action.entity_id, action_state=action.state,
    )  # fmt: skip
    assert matches(seq, state)
    assert not matches({**seq, "trigger_state": "something_else"}, state)
    assert not matches({**seq, "action_entity": "light.elsewhere"}, state)
    assert not matches({**seq, "kind": "environment", "trigger_variable": "sunset"}, state)
    sunset = _pattern(views[0], "time", anchor="sunset")
    act = sunset.actions[0]
    env = _candidate(
        kind="environment", trigger_variable="sunset", action_entity=act.entity_id, action_state=act.state
    )
    assert matches(env, sunset) and not matches({**env, "trigger_variable": "sunrise"}, sunset)
    assert not matches({**env, "trigger_variable": "temperature_above"}, sunset)


def test_time_of_day_matching_uses_the_observed_window(views: list[HomeView]) -> None:
    clock = next(
        (p for v in views for p in v.truth.patterns if p.trigger.kind == "time" and p.parameters.time_window),
        None,
    )
    assert clock is not None and clock.parameters.time_window is not None
    act, median = clock.actions[0], clock.parameters.time_window.median_h
    tod = _candidate(
        kind="time_of_day", action_entity=act.entity_id, action_state=act.state, median_hour=median
    )
    assert matches(tod, clock)
    assert not matches({**tod, "median_hour": (median + 12) % 24}, clock)


def test_labels_are_none_for_unmatched_candidates(views: list[HomeView]) -> None:
    frame = pl.DataFrame([_candidate(action_entity="light.not_in_home")])
    assert label_candidates(frame, views[0].truth) == [None]


def test_sun_events_interpolate_the_horizon_crossings() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    times = [start + timedelta(hours=h) for h in range(48)]
    # Elevation rises through 0 at 6:30 and falls through 0 at 18:30 each day; HA's sunrise and sunset
    # are where it crosses SUN_HORIZON_DEG (−0.833°), about 6 minutes before / after.
    elevation = [-np.cos(2 * np.pi * (h - 0.5) / 24) * 30 for h in range(48)]
    env = pl.DataFrame({"time": times, "sun_elevation_deg": elevation})
    events = sun_events(env)
    set_h = (events["sunset"] - int(start.timestamp() * 1e6)) / 3.6e9
    rise_h = (events["sunrise"] - int(start.timestamp() * 1e6)) / 3.6e9
    shift_h = 6 - 24 * np.arccos(-SUN_HORIZON_DEG / 30) / (2 * np.pi)  # 0.106 h: about 6 minutes
    np.testing.assert_allclose(set_h, [18.5 + shift_h, 42.5 + shift_h], atol=0.05)
    np.testing.assert_allclose(rise_h, [6.5 - shift_h, 30.5 - shift_h], atol=0.05)


def test_circular_stats_wrap_around_midnight() -> None:
    mean, spread = circular_stats(pl.col("h"))
    out = pl.DataFrame({"h": [23.5, 0.5, 23.75, 0.25]}).select(mean.alias("m"), spread.alias("s"))
    m, s = out.row(0)
    assert min(m, 24 - m) < 0.01
    assert s < 0.6
