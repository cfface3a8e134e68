"""Near-miss decoys (`generation/decoys.py`, planned in `behaviors.py`): manual co-use habits and evening
scenes make devices switch together seconds apart without causing each other; the truth lists each pair
exactly (cause ids) and never also as a synergy; the synergy stage labels their candidate edges `decoy`."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from homesim.generation.calendar import day_grid
from homesim.generation.config import GenerationConfig
from homesim.generation.decoys import CO_USE_STATES, CoUse, emit_co_uses
from homesim.generation.event_table import EventBuffer
from homesim.generation.home import GeneratedHome, generate_home
from homesim.ground_truth.truth import build_ground_truth, event_frame
from homesim.schema.ground_truth import GroundTruth
from homesim.simulation.home_view import HomeView
from homesim.simulation.model_provider import NoModels
from homesim.simulation.synergy_detection import SynergyDetector


@pytest.fixture(scope="module")
def truths(month_homes: list[GeneratedHome]) -> list[GroundTruth]:
    return [build_ground_truth(generated, verify=False) for generated in month_homes]


def test_co_use_events_carry_their_id_and_come_in_either_order(month_homes: list[GeneratedHome]) -> None:
    uses = [(g, u) for g in month_homes for u in g.plan.co_uses]
    assert uses
    orders: set[bool] = set()
    close: list[bool] = []
    seen: list[bool] = []
    for generated, use in uses:
        events = event_frame(generated.events).filter(pl.col("cause_id") == use.id)
        assert set(events.get_column("cause").unique()) <= {"noise"}
        on = {
            e: events.filter(
                (pl.col("entity_id") == e) & (pl.col("state") == CO_USE_STATES[e.split(".")[0]][0])
            )
            for e in (use.entity_a, use.entity_b)
        }
        a = on[use.entity_a].get_column("time_us").sort().to_numpy()
        b = on[use.entity_b].get_column("time_us").sort().to_numpy()
        seen.append(len(a) > 0 and len(b) > 0)
        if not seen[-1]:  # a rare habit (`sessions_per_day`) can leave no session in the window
            continue
        # Each toggle of a has b's nearest toggle seconds away (a repeat of a state already set, e.g. a
        # motion sensor already on when the person walks in, or a fault, can drop one of the two).
        nearest = b[np.clip(np.searchsorted(b, a), 0, len(b) - 1)]
        before = b[np.clip(np.searchsorted(b, a) - 1, 0, len(b) - 1)]
        gaps = np.where(np.abs(nearest - a) < np.abs(before - a), nearest - a, before - a) / 1e6
        close += (np.abs(gaps) < 300).tolist()
        orders |= set((gaps[np.abs(gaps) < 300] > 0).tolist())
    assert orders == {True, False}
    assert np.mean(close) >= 0.7
    assert 0.5 <= np.mean(seen) < 1  # most co-uses show in a month, a weekly one may not


def test_decoy_devices_are_not_driven_by_synergies_or_linked(
    month_homes: list[GeneratedHome], truths: list[GroundTruth]
) -> None:
    for generated, truth in zip(month_homes, truths, strict=True):
        driven = {
            a.entity_id
            for b in generated.plan.behaviors
            if b.type == "synergy"
            for a in b.actions
            if a.state != "off"
        }
        for use in generated.plan.co_uses:
            assert not {use.entity_a, use.entity_b} & driven
        synergy_pairs = {frozenset((s.trigger_entity, s.action_entity)) for s in truth.synergies}
        for decoy in truth.decoys:
            assert frozenset((decoy.entity_a, decoy.entity_b)) not in synergy_pairs


def test_scene_and_co_use_pairs_are_negative_candidates_in_both_directions_a_sensor_first(
    month_homes: list[GeneratedHome],
) -> None:
    checked = sensors = 0
    for generated in month_homes[:2]:
        view = HomeView.from_generated(generated)
        planned = [d for d in view.truth.decoys if d.behaviors[0] == d.behaviors[1]]
        records = SynergyDetector().detect(view, NoModels(), 1)
        kinds = {(r.inputs.trigger.entity_id, r.inputs.action.entity_id): r.label.kind for r in records}
        for decoy in planned:  # one room's devices: always candidates, whatever their events
            assert kinds[(decoy.entity_a, decoy.entity_b)] == "decoy"
            if decoy.entity_a.startswith("binary_sensor."):  # a sensor is never an action
                assert (decoy.entity_b, decoy.entity_a) not in kinds
                sensors += 1
            else:
                assert kinds[(decoy.entity_b, decoy.entity_a)] == "decoy"
            checked += 1
    assert checked > 0 and sensors > 0
    assert {d.shared_cause.split(":")[0] for t in month_homes for d in t.plan.decoys} >= {"manual", "wake"}


def test_emit_co_uses_is_deterministic_and_only_while_someone_is_awake(
    month_homes: list[GeneratedHome],
) -> None:
    generated = month_homes[0]
    home = generated.home
    lights = [e.entity_id for e in home.entities if e.domain == "light" and e.role == "main"][:2]
    use = CoUse(
        id="c000-co_use",
        area_id="x",
        entity_a=lights[0],
        entity_b=lights[1],
        per_day=2.0,
        swap=0.5,
        lag_median_s=5.0,
        lag_sigma=0.5,
        hold_median_min=30.0,
    )
    meta = home.metadata
    grid = day_grid(meta.start, meta.days, meta.timezone)

    def run(awake: bool) -> list[int]:
        buffer = EventBuffer(home)
        emit_co_uses(
            [use],
            lambda e: e.split(".")[0],
            buffer,
            grid,
            lambda t: np.full(len(t), awake),
            np.random.default_rng(3),
        )
        return [len(buffer.events_of(e, s)[0]) for e in lights for s in ("on", "off")]

    assert run(True) == run(True)
    on_a, off_a, on_b, off_b = run(True)
    assert on_a == off_a == on_b == off_b > meta.days  # each session: both devices on, then off
    assert run(False) == [0, 0, 0, 0]


def test_walk_ins_follow_their_motion_sensors_own_detections_and_are_decoys() -> None:
    """A walk-in's light goes on by hand (its id as cause id) seconds after some of the motion sensor's own
    detections, which it never switches; the truth lists the pair as a decoy, never as a synergy."""
    config = GenerationConfig(homes=8, days=10, seed=3)
    lags: list[float] = []
    walk_ins = 0
    for generated in (generate_home(config, i) for i in range(config.homes)):
        truth = build_ground_truth(generated, verify=False)
        events = event_frame(generated.events)
        decoys = {frozenset((d.entity_a, d.entity_b)) for d in truth.decoys}
        synergies = {frozenset((s.trigger_entity, s.action_entity)) for s in truth.synergies}
        for use in (u for u in generated.plan.co_uses if u.follow_share is not None):
            walk_ins += 1
            assert use.entity_a.startswith("binary_sensor.") and use.entity_b.startswith("light.")
            pair = frozenset((use.entity_a, use.entity_b))
            assert pair in decoys and pair not in synergies
            mine = events.filter(pl.col("cause_id") == use.id)
            assert set(mine.get_column("entity_id").unique()) <= {use.entity_b}
            detections = (
                events.filter((pl.col("entity_id") == use.entity_a) & (pl.col("state") == "on"))
                .get_column("time_us")
                .sort()
                .to_numpy()
            )
            for t in mine.filter(pl.col("state") == "on").get_column("time_us").to_list():
                before = detections[: np.searchsorted(detections, t)]
                lags.append((t - before[-1]) / 1e6 if len(before) else float("inf"))
    assert walk_ins >= 3 and lags
    assert np.median(lags) < 30  # seconds after a detection (a repeat of "on" can drop a few)
