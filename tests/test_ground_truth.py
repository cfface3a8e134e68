"""Tests of the ground truth (`homesim.ground_truth.truth`) on generated homes: counts
come from the events' provenance, synergies, decoys and faults are consistent, and the automations are
valid Home Assistant automations for their home."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from homesim.generation.behaviors import (
    Action,
    Behavior,
    BehaviorPlan,
    Conditions,
)
from homesim.generation.calendar import US_PER_S
from homesim.generation.config import GenerationConfig
from homesim.generation.home import GeneratedHome, generate_home
from homesim.ground_truth.evidence import MIN_USES, USE_CAUSES, WINDOW_S
from homesim.ground_truth.truth import (
    _decoys,
    _faults,
    _measured_rows,
    _p05_median_p95,
    _synergies,
    build_ground_truth,
    build_patterns,
    event_frame,
    read_ground_truth,
    write_ground_truth,
    write_ground_truth_parquet,
)
from homesim.ha.automation import parse_automation
from homesim.ha.automation_validation import validate_against_home
from homesim.schema.ground_truth import GroundTruth, schema_errors
from homesim.schema.home import Entity, Home
from homesim.schema.patterns import (
    CheapestHourTriggerSpec,
    NumericTriggerSpec,
    StateTriggerSpec,
    TimeTriggerSpec,
)


@pytest.fixture(scope="module")
def truths(month_homes: list[GeneratedHome]) -> list[GroundTruth]:
    return [build_ground_truth(generated) for generated in month_homes]


def _frame(generated: GeneratedHome) -> pl.DataFrame:
    return event_frame(generated.events)


def test_occurrences_and_events_are_counted_from_the_events(
    month_homes: list[GeneratedHome], truths: list[GroundTruth]
) -> None:
    for generated, truth in zip(month_homes, truths, strict=True):
        events = _frame(generated)
        by_id = dict(events.group_by("cause_id").len().iter_rows())
        for pattern in truth.patterns:
            assert pattern.events == by_id.get(pattern.id, 0)
            states = {(a.entity_id, a.state) for a in pattern.actions}
            actions = events.filter(
                (pl.col("cause_id") == pattern.id)
                & pl.struct("entity_id", "state").is_in([{"entity_id": e, "state": s} for e, s in states])
            )
            # A firing counts once however many of its staggered actions were recorded.
            assert pattern.occurrences <= actions.height
            if len(pattern.actions) == 1:
                assert pattern.occurrences == actions.height
            if pattern.occurrences:
                assert pattern.first_seen == actions.get_column("time").min()
                assert pattern.last_seen == actions.get_column("time").max()
                assert pattern.parameters.time_window is not None
            assert 0 <= pattern.confidence <= 1
        # Planned is not recorded: at least one behaviour lost actions to HA's change-only recording.
    assert any(p.occurrences < p.opportunities * p.probability * 0.9 for t in truths for p in t.patterns)


def test_scene_firings_count_once(month_homes: list[GeneratedHome], truths: list[GroundTruth]) -> None:
    scenes = [
        (g, p) for g, t in zip(month_homes, truths, strict=True) for p in t.patterns if len(p.actions) > 2
    ]
    assert scenes
    for generated, pattern in scenes:
        local = pl.col("time").dt.convert_time_zone(generated.home.metadata.timezone)
        nights = (
            _frame(generated)
            .filter(pl.col("cause_id") == pattern.id)
            .select((local - pl.duration(hours=12)).dt.date().n_unique())
            .item()
        )
        assert pattern.occurrences == nights  # a bedtime scene fires once a night, whatever it changed


def test_observed_delays_follow_the_configured_delays(truths: list[GroundTruth]) -> None:
    delayed = [p for t in truths for p in t.patterns if p.parameters.delay and p.parameters.delay.observed_s]
    assert delayed
    for pattern in delayed:
        delay = pattern.parameters.delay
        assert delay is not None and delay.observed_s is not None
        if pattern.occurrences >= 10:  # a median of a few lognormal delays is too noisy to hold to 35 %
            assert delay.observed_s.median == pytest.approx(delay.median_s, rel=0.35)
        assert delay.observed_s.p05 <= delay.observed_s.median <= delay.observed_s.p95


def test_active_synergies_match_their_behaviours_events(
    month_homes: list[GeneratedHome], truths: list[GroundTruth]
) -> None:
    active_total = 0
    for generated, truth in zip(month_homes, truths, strict=True):
        events = _frame(generated)
        active = [s for s in truth.synergies if s.status == "active"]
        active_total += len(active)
        for synergy in active:
            assert synergy.behavior_id is not None
            caused = events.filter(
                (pl.col("cause_id") == synergy.behavior_id)
                & (pl.col("entity_id") == synergy.action_entity)
                & (pl.col("state") == synergy.action_state)
            )
            assert synergy.occurrences == caused.height > 0
            triggers = events.filter(pl.col("entity_id") == synergy.trigger_entity).select("context_id")
            # Actions name their trigger event as parent context, except while a fault hid the trigger's
            # events (its sensor unavailable: the event that caused the action was never recorded).
            hidden = pl.lit(False)
            for fault in truth.faults:
                if fault.entity_id == synergy.trigger_entity:
                    hidden = hidden | pl.col("time").is_between(fault.start, fault.end)
            seen = caused.filter(~hidden)
            linked = seen.join(triggers, left_on="parent_context_id", right_on="context_id").height
            assert linked >= 0.9 * seen.height
        pairs = {(s.trigger_entity, s.action_entity) for s in active}
        for decoy in truth.decoys:
            assert (decoy.entity_a, decoy.entity_b) not in pairs
            assert (decoy.entity_b, decoy.entity_a) not in pairs
    assert active_total > 0


def test_potential_synergies_are_unlinked_pairs_in_one_area(
    month_homes: list[GeneratedHome], truths: list[GroundTruth]
) -> None:
    for generated, truth in zip(month_homes, truths, strict=True):
        home = generated.home
        areas = {e.entity_id: home.entity_area(e) for e in home.entities}
        linked = {(s.trigger_entity, s.action_entity) for s in truth.synergies if s.behavior_id}
        potential = [s for s in truth.synergies if s.id.startswith("potential-")]
        assert potential
        for synergy in potential:
            assert synergy.area_id == areas[synergy.trigger_entity] == areas[synergy.action_entity]
            assert (synergy.trigger_entity, synergy.action_entity) not in linked
            assert synergy.behavior_id is None
        assert len({s.id for s in truth.synergies}) == len(truth.synergies)


def test_potential_pairs_are_the_used_ones(
    month_homes: list[GeneratedHome], truths: list[GroundTruth]
) -> None:
    """Each potential pair (not a behaviour that never fired) has at least `MIN_USES` uses, recounted here
    with an as-of join; some rule pairs of one area are left out for want of them."""
    checked = 0
    for generated, truth in zip(month_homes, truths, strict=True):
        events = event_frame(generated.events.unify_dictionaries().combine_chunks()).sort("time_us")
        for synergy in (s for s in truth.synergies if s.id.startswith("potential-")):
            assert synergy.occurrences >= MIN_USES
            if synergy.trigger_state is None:
                continue
            trigger = events.filter(pl.col("entity_id") == synergy.trigger_entity).select(
                "time_us", pl.col("state").alias("trigger_state")
            )
            entered = trigger.filter(pl.col("trigger_state") == synergy.trigger_state).select(
                "time_us", pl.col("time_us").alias("entered_us")
            )
            used = (
                events.filter(
                    (pl.col("entity_id") == synergy.action_entity)
                    & (pl.col("state") == synergy.action_state)
                    & pl.col("cause").is_in(USE_CAUSES)
                )
                .select("time_us")
                .join_asof(trigger, on="time_us")
                .join_asof(entered, on="time_us")
                .filter(
                    (pl.col("trigger_state") == synergy.trigger_state)
                    | (pl.col("time_us") - pl.col("entered_us") <= int(WINDOW_S * US_PER_S))
                )
            )
            assert used.height == synergy.occurrences
            checked += 1
    assert checked > 0


def test_decoys_co_occur_through_a_shared_cause(
    month_homes: list[GeneratedHome], truths: list[GroundTruth]
) -> None:
    decoys = [(g, t, d) for g, t in zip(month_homes, truths, strict=True) for d in t.decoys]
    assert decoys
    for generated, truth, decoy in decoys:
        patterns = {p.id: p for p in truth.patterns}
        uses = {u.id: u for u in generated.plan.co_uses}
        first, second = decoy.behaviors
        if first in uses:  # a manual co-use: its two devices, one cause id
            assert first == second
            assert {decoy.entity_a, decoy.entity_b} == {uses[first].entity_a, uses[first].entity_b}
        else:  # actions of two behaviours with one anchor, or of one scene
            assert decoy.entity_a in {a.entity_id for a in patterns[first].actions}
            assert decoy.entity_b in {a.entity_id for a in patterns[second].actions}
        assert decoy.entity_a != decoy.entity_b
        # A behaviour's decoys co-occur; a rare co-use (`decoys.sessions_per_day`) may not in a month.
        assert decoy.co_occurrences > 0 or first in uses
    manual = [d.co_occurrences > 0 for _, _, d in decoys if d.shared_cause.startswith("manual:")]
    assert np.mean(manual) >= 0.5
    causes = {d.shared_cause.split(":")[0] for _, _, d in decoys}
    assert {"wake", "manual"} <= causes
    assert any(d.behaviors[0] == d.behaviors[1] and d.behaviors[0].endswith("-scene") for _, _, d in decoys)


def test_fault_windows_contain_their_anomalous_events(
    month_homes: list[GeneratedHome], truths: list[GroundTruth]
) -> None:
    checked = 0
    for generated, truth in zip(month_homes, truths, strict=True):
        events = _frame(generated)
        assert [f.id for f in truth.faults] == [f.id for f in generated.faults]
        for fault in truth.faults:
            caused = events.filter(pl.col("cause_id") == fault.id).get_column("time")
            assert fault.anomalous_events == len(caused)
            if len(caused):
                checked += 1
                assert fault.start <= caused.min() and caused.max() <= fault.end  # type: ignore[operator]
    assert checked > 0


def test_baselines_describe_the_events(month_homes: list[GeneratedHome], truths: list[GroundTruth]) -> None:
    for generated, truth in zip(month_homes, truths, strict=True):
        baselines = truth.baselines
        assert baselines.events == generated.events.num_rows
        total = sum(rate * baselines.days for rate in baselines.events_per_day_by_domain.values())
        assert total == pytest.approx(baselines.events, rel=1e-3)
        assert sum(baselines.cause_share.values()) == pytest.approx(1.0, abs=1e-4)
        detector = baselines.detector
        assert sum(c.eligible for c in detector.by_type) == sum(p.occurrences >= 10 for p in truth.patterns)
        assert [c.name for c in detector.by_type] == [
            "time_of_day",
            "synergy",
            "environment",
            "presence",
            "scene",
        ]
        assert sum(c.extracted for c in detector.by_type) == sum(c.extracted for c in detector.by_kind)
        assert detector.recall is not None and detector.recall >= 0.8
        assert detector.precision is not None and detector.precision >= 0.8
        assert len(detector.missed) == sum(c.eligible - c.recovered for c in detector.by_type)


def test_ground_truth_is_valid_against_the_checked_in_schema(
    truths: list[GroundTruth], tmp_path: Path
) -> None:
    for truth in truths:
        path = write_ground_truth(truth, tmp_path)
        assert schema_errors(json.loads(path.read_text("utf-8"))) == []
        assert read_ground_truth(tmp_path) == truth


def test_automations_are_valid_home_assistant_automations(
    month_homes: list[GeneratedHome], truths: list[GroundTruth]
) -> None:
    kinds = set()
    for generated, truth in zip(month_homes, truths, strict=True):
        for pattern in truth.patterns:
            automation = parse_automation(pattern.automation.model_dump(mode="json"))
            issues = validate_against_home(automation, generated.home)
            assert issues == [], (pattern.id, issues)
            kinds.add(pattern.trigger.kind)
    assert kinds == {"time", "state", "numeric", "cheapest_hour", "presence"}


def test_automations_reproduce_the_behaviour(truths: list[GroundTruth]) -> None:
    patterns = {p.trigger.kind: p for t in truths for p in t.patterns}
    state = patterns["state"]
    assert state.automation.triggers[0]["entity_id"] in state.trigger_entities
    presence = patterns["presence"]
    assert presence.automation.triggers[0]["entity_id"] == [
        e for e in presence.trigger_entities if e != "zone.home"
    ]
    sun = next(p for t in truths for p in t.patterns if getattr(p.trigger, "anchor", None) == "sunset")
    assert sun.automation.triggers[0]["trigger"] == "sun" and sun.trigger_entities == ("sun.sun",)
    motion = next(
        p
        for t in truths
        for p in t.patterns
        if p.parameters.revert and p.parameters.revert.after_trigger_clears
    )
    assert [t["id"] for t in motion.automation.triggers] == ["triggered", "cleared"]
    assert motion.automation.mode == "restart"


def _home_and_plan(month_homes: list[GeneratedHome]) -> tuple[Home, GeneratedHome]:
    generated = month_homes[0]
    return generated.home, generated


def test_automation_variants(month_homes: list[GeneratedHome]) -> None:
    """Triggers the sample homes may not have: weekday-only anchors, a numeric source the home lacks."""
    home, generated = _home_and_plan(month_homes)
    who = home.metadata.occupants[0].person_id
    light = next(e.entity_id for e in home.entities if e.domain == "light")
    heater = Action(entity_id=light, state="on")
    plan = BehaviorPlan(
        behaviors=(
            Behavior(
                id="x-wake",
                type="time_of_day",
                description="weekday wake",
                probability=1,
                trigger=TimeTriggerSpec(anchor="wake", occupant=who, weekdays=(0, 1, 2)),
                actions=(heater,),
            ),
            Behavior(
                id="x-weekend",
                type="time_of_day",
                description="weekend sleep",
                probability=1,
                trigger=TimeTriggerSpec(anchor="sleep", occupant=who, weekdays=(5, 6)),
                actions=(heater,),
            ),
            Behavior(
                id="x-price",
                type="environment",
                description="cheap price",
                probability=1,
                trigger=NumericTriggerSpec(variable="price", below=0.1, window=(22, 30)),
                actions=(heater,),
                conditions=Conditions(nobody_home=True),
            ),
            Behavior(
                id="x-cheap",
                type="environment",
                description="cheapest",
                probability=1,
                trigger=CheapestHourTriggerSpec(variable="price", window=(1, 5), preference=4.0),
                actions=(heater,),
            ),
        )
    )
    patterns = {p.id: p for p in build_patterns(home, plan, _frame(generated))}
    wake = patterns["x-wake"].automation
    assert wake.triggers == ({"trigger": "time", "at": wake.triggers[0]["at"]},)
    assert wake.conditions == ({"condition": "time", "weekday": ["mon", "tue", "wed"]},)
    assert len(patterns["x-weekend"].automation.triggers) == 1
    price = patterns["x-price"].automation
    assert price.triggers[0]["trigger"] == "template" and "< 0.1" in str(price.triggers[0]["value_template"])
    assert {"condition": "time", "after": "22:00:00", "before": "06:00:00"} in price.conditions
    assert price.conditions[-1]["condition"] == "not"
    assert patterns["x-price"].occurrences == 0 and patterns["x-price"].confidence == 0
    assert patterns["x-cheap"].automation.triggers == ({"trigger": "time", "at": "01:00:00"},)
    for pattern in patterns.values():
        assert validate_against_home(parse_automation(pattern.automation.model_dump(mode="json")), home) == []


def test_truth_stays_exact_when_noise_rises() -> None:
    for noise in (1.0, 5.0):
        generated = generate_home(GenerationConfig(homes=1, days=14, seed=3, noise=noise), 0)
        truth = build_ground_truth(generated)
        counts = dict(_frame(generated).group_by("cause_id").len().iter_rows())
        assert [p.events for p in truth.patterns] == [counts.get(p.id, 0) for p in truth.patterns]
        assert truth.baselines.cause_share["noise"] > 0


def test_parquet_flattening(truths: list[GroundTruth], tmp_path: Path) -> None:
    paths = write_ground_truth_parquet(truths, tmp_path)
    tables = {p.stem.removeprefix("ground_truth_"): pq.read_table(p) for p in paths}
    assert tables["patterns"].num_rows == sum(len(t.patterns) for t in truths)
    assert tables["synergies"].num_rows == sum(len(t.synergies) for t in truths)
    assert tables["decoys"].num_rows == sum(len(t.decoys) for t in truths)
    assert tables["faults"].num_rows == sum(len(t.faults) for t in truths)
    patterns = pl.from_arrow(tables["patterns"])
    assert isinstance(patterns, pl.DataFrame)
    assert set(patterns.get_column("home_key")) == {t.home_key for t in truths}
    first = truths[0].patterns[0]
    row = patterns.row(0, named=True)
    assert row["pattern_id"] == first.id and row["occurrences"] == first.occurrences
    assert json.loads(row["automation_json"])["id"] == first.id
    assert tables["faults"].schema.field("start").type.tz == "UTC"
    assert truths[0].start < truths[0].end and truths[0].start.tzinfo == UTC
    assert isinstance(truths[0].start, datetime)


def test_automation_edge_cases(month_homes: list[GeneratedHome]) -> None:
    """A home without people or with an outdoor sensor, a state no service sets, an unknown relation."""
    generated = month_homes[0]
    outdoor = Entity(entity_id="sensor.outdoor_temperature", unique_id="outdoor", role="outdoor_temperature")
    indoor = tuple(e for e in generated.home.entities if e.role != "outdoor_temperature")  # this one alone
    home = generated.home.model_copy(update={"people": (), "entities": (*indoor, outdoor)})
    light = next(e.entity_id for e in home.entities if e.domain == "light")
    switch = next(e.entity_id for e in home.entities if e.domain == "switch")
    hot = Behavior(
        id="x-hot",
        type="environment",
        description="hot",
        probability=1,
        actions=(Action(entity_id=light, state="on"),),
        trigger=NumericTriggerSpec(variable="outdoor_temperature", above=25),
        conditions=Conditions(someone_home=True),
    )
    chained = Behavior(
        id="x-chain",
        type="synergy",
        description="switch drives light",
        probability=1,
        trigger=StateTriggerSpec(entity_id=switch, to="on"),
        actions=(Action(entity_id=light, state="on"),),
    )
    plan = BehaviorPlan(behaviors=(hot, chained))
    patterns = {p.id: p for p in build_patterns(home, plan, _frame(generated))}
    automation = patterns["x-hot"].automation
    assert automation.triggers == (
        {"trigger": "numeric_state", "entity_id": outdoor.entity_id, "above": 25.0},
        {"trigger": "time", "at": "00:00:00"},  # already hot when the (all-day) window opens
    )
    assert patterns["x-hot"].trigger_entities == (outdoor.entity_id,)
    assert automation.conditions == (
        {"condition": "numeric_state", "entity_id": outdoor.entity_id, "above": 25.0},
        {"condition": "template", "value_template": "{{ states('zone.home') | int(0) > 0 }}"},
    )
    table = generated.events.unify_dictionaries().combine_chunks()
    synergies = _synergies(home, plan, tuple(patterns.values()), table)
    assert [(s.relation, s.status) for s in synergies if s.behavior_id or s.id == "synergy-x-chain"] == [
        ("state_trigger", "potential")
    ]
    jammed = Behavior(
        id="x-jam",
        type="scene",
        description="jam",
        probability=1,
        trigger=TimeTriggerSpec(anchor="clock", hour=3),
        actions=(
            Action(entity_id=next(e.entity_id for e in home.entities if e.domain == "lock"), state="jammed"),
        ),
    )
    with pytest.raises(ValueError, match="no service sets"):
        build_patterns(home, BehaviorPlan(behaviors=(jammed,)), _frame(generated))
    homebody = home.metadata.occupants[0].model_copy(update={"leave_h": None, "person_id": "homebody"})
    nobody = home.model_copy(update={"metadata": home.metadata.model_copy(update={"occupants": (homebody,)})})
    leaving = jammed.model_copy(
        update={
            "trigger": TimeTriggerSpec(anchor="leave", occupant="homebody"),
            "actions": (Action(entity_id=light, state="on"),),
        }
    )
    with pytest.raises(ValueError, match="has no leave time"):
        build_patterns(nobody, BehaviorPlan(behaviors=(leaving,)), _frame(generated))


def test_truth_measured_on_its_rows_equals_truth_measured_on_every_event(
    month_homes: list[GeneratedHome], truths: list[GroundTruth]
) -> None:
    """`build_ground_truth` measures on the rows that carry provenance (and their parents, people, state
    triggers); the same measures over every event give the same truth."""
    faults = decoys = 0
    for generated, truth in zip(month_homes, truths, strict=True):
        events = _frame(generated)
        patterns = build_patterns(generated.home, generated.plan, events)
        assert truth.patterns == patterns
        assert truth.decoys == _decoys(generated.plan, patterns, events)
        assert truth.faults == _faults(generated, events)
        faults, decoys = faults + len(truth.faults), decoys + len(truth.decoys)
        days = generated.home.metadata.days
        domains = events.group_by(pl.col("entity_id").str.split(".").list.first()).len().sort("entity_id")
        assert truth.baselines.events_per_day_by_domain == {
            d: round(n / days, 4) for d, n in domains.iter_rows()
        }
        causes = events.group_by("cause").len().sort("cause")
        assert truth.baselines.cause_share == {c: round(n / events.height, 6) for c, n in causes.iter_rows()}
        assert truth.baselines.events == events.height
    assert faults and decoys  # the homes exercise both


def test_the_measured_rows_hold_every_parent_they_name(month_homes: list[GeneratedHome]) -> None:
    """What lets the truth skip an id lookup over every event: each parent a measured row names (a
    behaviour's trigger event, a revert's action) is itself a measured row."""
    linked = 0
    for generated in month_homes:
        table = generated.events.combine_chunks()
        measured = table.filter(_measured_rows(table, generated.home, generated.plan))
        parents = set(measured.column("parent_context_id").drop_null().to_pylist())
        linked += len(parents)
        assert parents <= set(measured.column("context_id").to_pylist())
    assert linked  # behaviours with triggers and reverts link their events


@given(
    st.lists(
        st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.0, -0.0, 1.5, -12.0])),
        min_size=1,
        max_size=60,
    )
)
def test_p05_median_p95_is_np_quantile_bit_for_bit(values: list[float]) -> None:
    # The truth's windows and delays round these; any difference could change ground_truth.json.
    array = np.array(values)
    assert (
        np.array(_p05_median_p95(array.copy())).tobytes() == np.quantile(array, [0.05, 0.5, 0.95]).tobytes()
    )
