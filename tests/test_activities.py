"""The daily activity model: disjoint intervals per occupant, night activity, PIRs on movement, seeds."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from homesim.generation.activities import (
    DOING,
    MOVING,
    PASSAGE,
    ActivityIntervals,
    motion_detections,
    object_activations,
    pir_sight,
    view_stream,
)
from homesim.generation.activity_params import ActivityModel, PirViewSpec, load_activity_model
from homesim.generation.calendar import US_PER_S
from homesim.generation.config import GenerationConfig
from homesim.generation.home import GeneratedHome, generate_home
from homesim.schema.activities import ACTIVITIES, ACTIVITIES_SCHEMA

US_PER_H = 3_600_000_000


@pytest.fixture(scope="module")
def homes() -> list[GeneratedHome]:
    config = GenerationConfig(homes=6, days=21, seed=5)
    return [generate_home(config, i) for i in range(6)]


def _frame(generated: GeneratedHome) -> pl.DataFrame:
    table = generated.activities.to_table(generated.home)
    assert table.schema.equals(ACTIVITIES_SCHEMA, check_metadata=True)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.with_columns(pl.col("person", "activity").cast(pl.String))


def test_intervals_are_disjoint_and_cover_the_period(homes: list[GeneratedHome]) -> None:
    for generated in homes:
        meta = generated.home.metadata
        acts = generated.activities
        for o in range(len(meta.occupants)):
            mine = acts.person == o
            start, end = acts.start[mine], acts.end[mine]
            assert np.all(end > start)
            assert np.all(start[1:] == end[:-1]), "gaps or overlaps between one person's intervals"
            assert start[0] == int(np.min(acts.start)) and end[-1] == int(np.max(acts.end))


def test_labels_and_rooms(homes: list[GeneratedHome]) -> None:
    for generated in homes:
        frame = _frame(generated)
        assert set(frame["activity"]) <= set(ACTIVITIES)
        assert {"sleeping", "toileting", "relaxing"} <= set(frame["activity"])
        areas = {a.area_id for a in generated.home.areas}
        placed = frame.filter(pl.col("activity") != "leaving")
        assert placed["area_id"].null_count() == 0 and set(placed["area_id"]) <= areas
        assert (
            frame.filter(pl.col("activity") == "leaving")["area_id"].null_count()
            == frame.filter(pl.col("activity") == "leaving").height
        )


def test_people_get_up_at_night(homes: list[GeneratedHome]) -> None:
    """Toilet visits interrupt sleep, and the PIRs see them: motion between 00:00 and 05:00 local."""
    night_toilet = 0
    night_motion = 0
    for generated in homes:
        tz = ZoneInfo(generated.home.metadata.timezone)
        frame = _frame(generated).with_columns(h=pl.col("start").dt.convert_time_zone(str(tz)).dt.hour())
        night_toilet += frame.filter((pl.col("activity") == "toileting") & (pl.col("h") < 5)).height
        events = pl.from_arrow(generated.events)
        assert isinstance(events, pl.DataFrame)
        night_motion += events.filter(
            pl.col("entity_id").cast(pl.String).str.ends_with("_motion")
            & (pl.col("state") == "on")
            & (pl.col("time").dt.convert_time_zone(str(tz)).dt.hour() < 5)
        ).height
    assert night_toilet > 10
    assert night_motion > 10


def test_pir_is_quiet_while_people_sit_still() -> None:
    """Motion activations per hour inside long relaxing spells are far fewer than inside meals."""
    rates: dict[str, list[float]] = {"relaxing": [], "meal": []}
    # Eight homes: whether a home's kitchen or dining PIR sees its meals depends on its layout, so a
    # handful of homes decides the comparison by which layouts it happens to draw.
    config = GenerationConfig(homes=8, days=14, seed=3, occupants=(1, 1))
    for generated in (generate_home(config, i) for i in range(8)):
        frame = _frame(generated)
        events = pl.from_arrow(generated.events)
        assert isinstance(events, pl.DataFrame)
        sensors = [
            e.entity_id for e in generated.home.entities if e.device_class == "motion" and e.role == "main"
        ]
        on = np.sort(
            events.filter(pl.col("entity_id").cast(pl.String).is_in(sensors) & (pl.col("state") == "on"))[
                "time"
            ]
            .dt.epoch("us")
            .to_numpy()
        )
        for label, kinds in (("relaxing", ["relaxing"]), ("meal", ["lunch", "dinner", "breakfast"])):
            spans = frame.filter(pl.col("activity").is_in(kinds))
            start = spans["start"].dt.epoch("us").to_numpy()
            end = spans["end"].dt.epoch("us").to_numpy()
            # Relaxing counts in spells over an hour; any span needs more than the two margins below.
            long = end - start > (US_PER_H if label == "relaxing" else 120_000_000)
            start, end = start[long], end[long]
            # Activations starting strictly inside (the one on entering the room is excluded by the margin).
            inside = np.searchsorted(on, end - 60_000_000) - np.searchsorted(on, start + 60_000_000)
            hours = (end - start).sum() / US_PER_H
            if hours > 0:
                rates[label].append(float(inside.sum() / hours))
    assert rates["relaxing"] and rates["meal"]
    assert np.mean(rates["relaxing"]) < 1.5
    assert np.mean(rates["relaxing"]) * 2 < np.mean(rates["meal"])


def test_leaving_matches_presence(homes: list[GeneratedHome]) -> None:
    """Each occupant's `leaving` intervals are exactly their person entity's not_home spells."""
    generated = next(g for g in homes if g.home.people)
    frame = _frame(generated)
    events = pl.from_arrow(generated.events)
    assert isinstance(events, pl.DataFrame)
    for person in generated.home.people:
        away = frame.filter((pl.col("person") == person.person_id) & (pl.col("activity") == "leaving"))
        changes = events.filter(pl.col("entity_id").cast(pl.String) == person.entity_id).sort("time")
        left = changes.filter(pl.col("state") == "not_home")["time"]
        assert away.height == left.len()
        assert away["start"].to_list() == left.to_list()


def test_same_seed_same_activities() -> None:
    """Byte-identical files are checked in test_generation; here the intervals themselves."""
    config = GenerationConfig(homes=2, days=7, seed=9)
    a, b = generate_home(config, 1), generate_home(config, 1)
    assert a.activities.to_table(a.home).equals(b.activities.to_table(b.home))
    other = generate_home(GenerationConfig(homes=2, days=7, seed=10), 1)
    assert not a.activities.to_table(a.home).equals(other.activities.to_table(other.home))


def test_model_rejects_unknown_activities() -> None:
    data = load_activity_model().model_dump()
    data["scattered"] = {**data["scattered"], "juggling": 1.0}
    with pytest.raises(ValidationError, match="juggling"):
        ActivityModel.model_validate(data)


def test_object_sensors_follow_their_activities() -> None:
    """A bed sensor is on through sleep in its room only; a fridge opens only during meals and snacks."""
    model = load_activity_model()
    start = 1_700_000_000_000_000
    h = US_PER_H
    code = {a: i for i, a in enumerate(ACTIVITIES)}
    # One person: sleeps in room 0, breakfast in room 1, relaxes in room 2, sleeps again in room 0.
    plan = [
        ("sleeping", 0, 0, 8),
        ("breakfast", 1, 8, 8.5),
        ("relaxing", 2, 8.5, 22),
        ("sleeping", 0, 22, 30),
    ]
    intervals = ActivityIntervals(
        person=np.zeros(len(plan), dtype=np.int64),
        activity=np.array([code[a] for a, *_ in plan], dtype=np.int8),
        start=np.array([start + int(s * h) for *_, s, _ in plan], dtype=np.int64),
        end=np.array([start + int(e * h) for *_, e in plan], dtype=np.int64),
        room=np.array([r for _, r, *_ in plan], dtype=np.int64),
    )
    rng = np.random.default_rng(0)
    on, off = object_activations(intervals, 0, model.objects["bed"], rng)
    assert len(on) == 2 and np.all(off - on > 7 * h)  # both nights (p 0.97 each for this seed)
    assert np.all(on >= intervals.start[[0, 3]]) and np.all(off <= intervals.end[[0, 3]])
    fridge = [object_activations(intervals, 1, model.objects["fridge"], rng) for _ in range(50)]
    opened = np.concatenate([f[0] for f in fridge])
    assert len(opened) > 0
    assert np.all((opened >= intervals.start[1]) & (opened < intervals.end[1]))
    assert len(object_activations(intervals, 2, model.objects["fridge"], rng)[0]) == 0  # no meal in room 2


def _intervals(plan: list[tuple[str, int, float, float]]) -> ActivityIntervals:
    """One person's intervals from (activity, room, start h, end h)."""
    start = 1_700_000_000_000_000
    code = {a: i for i, a in enumerate(ACTIVITIES)}
    return ActivityIntervals(
        person=np.zeros(len(plan), dtype=np.int64),
        activity=np.array([code[a] for a, *_ in plan], dtype=np.int8),
        start=np.array([start + int(s * US_PER_H) for *_, s, _ in plan], dtype=np.int64),
        end=np.array([start + int(e * US_PER_H) for *_, e in plan], dtype=np.int64),
        room=np.array([r for _, r, *_ in plan], dtype=np.int64),
    )


def test_a_pir_sees_what_its_field_of_view_covers() -> None:
    """A doorway PIR sees people pass and not move about; a whole-room one sees both."""
    model = load_activity_model()
    moving = np.arange(10_000) % 2 == 0
    rng = np.random.default_rng(0)
    doorway = model.model_copy(
        update={"pir_views": {"doorway": PirViewSpec(share=1, passage=1, moving=0.1, doing=0.1)}}
    )
    seen = pir_sight(doorway, moving, rng)
    assert seen[~moving].all() and 0.05 < seen[moving].mean() < 0.15
    room = model.model_copy(
        update={"pir_views": {"room": PirViewSpec(share=1, passage=0.9, moving=0.9, doing=0.9)}}
    )
    assert 0.85 < pir_sight(room, moving, rng)[moving].mean() < 0.95
    # Each call draws one view for all of a sensor's detections: with two views, calls differ in kind.
    both = model.model_copy(
        update={
            "pir_views": {
                "doorway": PirViewSpec(share=1, passage=1, moving=0, doing=0),
                "room": PirViewSpec(share=1, passage=1, moving=1, doing=1),
            }
        }
    )
    views = {bool(pir_sight(both, moving, rng)[moving].any()) for _ in range(20)}
    assert views == {True, False}


def test_lying_down_again_after_a_night_toilet_visit_is_no_new_settling_in() -> None:
    """Settling-in and getting-up detections come at the night's ends, not around a break in it."""
    home = generate_home(GenerationConfig(homes=1, days=1, seed=1), 0).home
    model = load_activity_model()
    loud = model.kinds["sleeping"].model_copy(update={"settling": (20.0, 20.0, 10.0), "motion_per_h": 0.0})
    model = model.model_copy(update={"kinds": {**model.kinds, "sleeping": loud}})
    plan = [("sleeping", 0, 0, 3), ("toileting", 1, 3, 3.1), ("sleeping", 0, 3.1, 8), ("relaxing", 1, 8, 9)]
    intervals = _intervals(plan)
    t, _, room, what = motion_detections(home, intervals, np.random.default_rng(0), model)
    hours = (t - intervals.start[0]) / US_PER_H
    settling = (what == MOVING) & (room == 0)
    assert (settling & (hours < 0.2)).sum() > 5 and (settling & (hours > 7.8)).sum() > 5
    assert not (settling & (hours > 2.5) & (hours < 3.6)).any()


def test_a_room_change_is_seen_leaving_a_transition_time_before_entering() -> None:
    """The room left fires `transition_s` before the room entered (not in the same few seconds), never
    before the person came into it; a hallway PIR sees the walk between the two."""
    home = generate_home(GenerationConfig(homes=1, days=1, seed=1), 0).home
    hall = next(i for i, a in enumerate(home.areas) if a.room_type == "hallway")
    rooms = [i for i, a in enumerate(home.areas) if a.room_type in ("living_room", "kitchen", "bedroom")][:2]
    model = load_activity_model()
    still = {
        k: v.model_copy(update={"motion_per_h": 0.0, "moving_share": 0.0}) for k, v in model.kinds.items()
    }
    model = model.model_copy(
        update={"kinds": still, "transition_s": (40.0, 1e-6, 40.0, 40.0), "transit": {"hallway": 1.0}}
    )
    plan = [
        ("relaxing", rooms[0], 0, 1),
        ("relaxing", rooms[1], 1, 2),
        ("relaxing", rooms[0], 2, 2.005),
        ("relaxing", rooms[1], 2.005, 3),
    ]
    intervals = _intervals(plan)
    t, _, room, what = motion_detections(home, intervals, np.random.default_rng(0), model)
    passages = t[what == PASSAGE]
    second = intervals.start[1]
    entered = passages[
        (room[what == PASSAGE] == rooms[1]) & (passages >= second) & (passages < second + 60 * US_PER_S)
    ]
    left = passages[
        (room[what == PASSAGE] == rooms[0]) & (passages < second) & (passages > second - US_PER_H // 2)
    ]
    assert len(entered) == 1 and len(left) == 1
    assert entered[0] - left[0] == 40 * US_PER_S
    walked = passages[room[what == PASSAGE] == hall]
    assert ((walked > left[0]) & (walked < entered[0])).sum() == 1
    # A stay of 18 s (the third interval) is left no earlier than it was entered.
    third = passages[(room[what == PASSAGE] == rooms[0]) & (passages >= intervals.start[1])]
    assert len(third) == 2 and (third >= intervals.start[2]).all() and (third <= intervals.end[2]).all()


def test_short_errands_go_to_the_rooms_people_use(homes: list[GeneratedHome]) -> None:
    """`other` errands happen in the living room, kitchen or bedroom (or their fallbacks), not in bathrooms,
    offices or guest rooms picked at random."""
    allowed = {"living_room", "kitchen", "bedroom", "dining_room", "guest_room"}
    for generated in homes:
        kinds = {a.area_id: a.room_type for a in generated.home.areas}
        errands = _frame(generated).filter(pl.col("activity") == "other")
        assert errands.height > 0
        assert {kinds[a] for a in errands["area_id"]} <= allowed


def test_a_zone_pir_sees_the_place_it_is_aimed_at() -> None:
    """Cooking is one continuous `DOING` detection: a zone PIR (aimed at the cooktop) sees it as a room PIR
    does, a doorway PIR rarely; passages and movement keep their own chances."""
    home = generate_home(GenerationConfig(homes=1, days=1, seed=1), 0).home
    model = load_activity_model()
    plan = [("relaxing", 1, 0, 1), ("lunch", 0, 1, 1.5), ("relaxing", 1, 1.5, 3)]
    t, e, room, what = motion_detections(home, _intervals(plan), np.random.default_rng(0), model)
    doing = what == DOING
    assert doing.sum() == 1 and room[doing][0] == 0
    assert (e[doing] - t[doing])[0] > 0.2 * US_PER_H  # the busy half of a 30-min meal
    assert {PASSAGE, MOVING} <= set(what[~doing].tolist())
    codes = np.repeat(np.array([PASSAGE, MOVING, DOING], dtype=np.int8), 5000)
    rng = np.random.default_rng(1)
    for view, low, high in (("zone", 0.85, 0.95), ("doorway", 0.1, 0.2)):
        only = model.model_copy(update={"pir_views": {view: model.pir_views[view]}})
        seen = pir_sight(only, codes, rng)
        assert low < seen[codes == DOING].mean() < high
    zone = model.model_copy(update={"pir_views": {"zone": model.pir_views["zone"]}})
    assert pir_sight(zone, codes, rng)[codes == PASSAGE].mean() < 0.5


def test_night_wake_ups_fall_where_the_model_puts_them(homes: list[GeneratedHome]) -> None:
    """A night toilet visit falls inside `wakeup_at` (shares of its night), never at the night's ends; the
    night's first comes after the time to first void (`first_void_h`, median 1.71 h)."""
    sleep = load_activity_model().sleep
    lo, hi = sleep.wakeup_at
    shares, first_h = [], []
    for generated in homes:
        acts = generated.activities
        code = {a: i for i, a in enumerate(ACTIVITIES)}
        for o in range(len(generated.home.metadata.occupants)):
            mine = np.flatnonzero(acts.person == o)
            label = acts.activity[mine]
            # toileting between two sleeping intervals: a night wake-up
            inner = np.flatnonzero(
                (label[1:-1] == code["toileting"])
                & (label[:-2] == code["sleeping"])
                & (label[2:] == code["sleeping"])
            )
            for i in mine[inner + 1]:
                first, last = i - 1, i + 1
                while first > mine[0] and acts.activity[first - 1] in (code["sleeping"], code["toileting"]):
                    first -= 1
                while last < mine[-1] and acts.activity[last + 1] in (code["sleeping"], code["toileting"]):
                    last += 1
                night = acts.end[last] - acts.start[first]
                if night > 5 * US_PER_H:
                    shares.append((acts.start[i] - acts.start[first]) / night)
                    if i == first + 1:  # the night's first visit
                        first_h.append((acts.start[i] - acts.start[first]) / US_PER_H)
    assert len(shares) > 20
    assert np.quantile(shares, 0.05) > lo - 0.05 and np.max(shares) < hi + 0.05
    assert len(first_h) > 15
    assert 0.6 * sleep.first_void_h[0] < np.median(first_h) < 1.5 * sleep.first_void_h[0]


def test_wake_up_window_must_lie_inside_the_night() -> None:
    raw = load_activity_model().model_dump()
    raw["sleep"]["wakeup_at"] = (0.8, 0.2)
    with pytest.raises(ValidationError, match="wakeup_at"):
        ActivityModel.model_validate(raw)


def test_flush_and_microwave_sensors_fire_on_their_activities_only() -> None:
    """The toilet's flush sensor fires during toilet visits, the microwave during meals, nowhere else."""
    model = load_activity_model()
    plan = [
        ("toileting", 0, 0, 0.05),
        ("relaxing", 1, 0.05, 1),
        ("lunch", 1, 1, 1.5),
        ("grooming", 0, 1.5, 1.6),
    ]
    intervals = _intervals(plan)
    rng = np.random.default_rng(3)
    for tag, activity, room in (("toilet", 0, 0), ("microwave", 2, 1)):
        spec = model.objects[tag]
        runs = [object_activations(intervals, room, spec, rng) for _ in range(100)]
        on = np.concatenate([r[0] for r in runs])
        expected = 100 * spec.uses[plan[activity][0]]  # a Poisson number of uses per interval
        assert 0.6 * expected <= len(on) <= 1.4 * expected, tag
        inside = (on >= intervals.start[activity]) & (on < intervals.end[activity])
        assert inside.all(), tag


def test_a_studio_sleeps_in_its_own_sleeping_area() -> None:
    # The sleeping corner is its own HA area (a bedroom), as the kitchenette is: not the living room.
    config = GenerationConfig(homes=1, days=3, seed=3, home_types={"studio": 1.0})
    generated = generate_home(config, 0)
    rooms = {a.area_id: a.room_type for a in generated.home.areas}
    assert generated.home.metadata.home_type == "studio"
    assert sorted(rooms.values()).count("bedroom") == 1
    sleeping = _frame(generated).filter(pl.col("activity") == "sleeping")
    assert sleeping.height > 0 and {rooms[a] for a in sleeping["area_id"]} == {"bedroom"}


def test_a_pirs_view_does_not_follow_the_activity_draws() -> None:
    """The fields of view come from a stream of their own (`view_stream`): drawing more or less before
    (a changed activity model) leaves every sensor's view as it was."""
    model = load_activity_model()
    every = np.full(2_000, MOVING, dtype=np.int8)

    chances = np.array([v.moving for v in model.pir_views.values()])

    def views(extra_draws: int) -> list[int]:
        """Each of 12 sensors' view: the one whose chance of seeing movement is nearest what it saw."""
        rng = np.random.default_rng(np.random.SeedSequence(entropy=11, spawn_key=(0, 5)))
        rng.random(extra_draws)
        own = view_stream(rng)
        seen = [pir_sight(model, every, rng, own).mean() for _ in range(12)]
        return [int(np.argmin(np.abs(chances - s))) for s in seen]

    assert views(0) == views(1_000)
    assert len(set(views(0))) > 1  # the sensors do draw different views
