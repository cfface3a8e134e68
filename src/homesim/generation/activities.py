"""The daily activity model: each occupant's activity intervals (sleeping, toileting, meals, relaxing, …).

Built on the occupants' schedules (wake, bedtime, absences) with the parameters of `activities.yaml`.
Candidates come in layers by priority (absences over night toilet visits over sleep over short daytime
activities over meals over chores over work over relaxing, the background of the waking day); at each
instant the highest layer covering it wins, so every occupant's intervals are disjoint and cover the whole
period. Everything is column-wise over days; loops run over occupants and layers only.

The intervals are ground truth (`activities.parquet`) and drive the motion sensors (see
`motion_detections`): a PIR fires on entering or leaving a room and while its occupant moves, at the
activity's `motion_per_h`, and stays quiet while they sleep or sit still; each PIR sees what its field of
view covers (`pir_sight`: a whole room, a zone in it, or its doorway); a sensor on a thing people use
(a bed, a seat, a fridge, a cupboard: `objects` in activities.yaml) follows the activities that use it
(`object_activations`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from homesim.generation.activity_params import ActivityModel, ObjectSpec, draw_lognormal, load_activity_model
from homesim.generation.calendar import US_PER_H, US_PER_MIN, US_PER_S, DayGrid
from homesim.generation.occupants import Schedules, merge_intervals
from homesim.schema.activities import ACTIVITIES, ACTIVITIES_SCHEMA, Activity
from homesim.schema.home import Home

I64 = npt.NDArray[np.int64]
BoolArr = npt.NDArray[np.bool_]

_CODE = {a: i for i, a in enumerate(ACTIVITIES)}
#: Layers from highest to lowest priority; a layer is (activity, which candidates feed it).
_LAYERS: tuple[tuple[Activity, str], ...] = (
    (Activity.LEAVING, "away"),
    (Activity.TOILETING, "night"),
    (Activity.SLEEPING, "night"),
    (Activity.TOILETING, "day"),
    (Activity.SHOWERING, "day"),
    (Activity.GROOMING, "day"),
    (Activity.SNACK, "day"),
    (Activity.OTHER, "day"),
    (Activity.BREAKFAST, "day"),
    (Activity.LUNCH, "day"),
    (Activity.DINNER, "day"),
    (Activity.SLEEPING, "nap"),
    (Activity.HOUSEKEEPING, "day"),
    (Activity.WORKING, "day"),
    (Activity.RELAXING, "day"),
)
#: Where a room type is missing, the activity happens in the first of these the home has.
_FALLBACK = {
    "bedroom": ("bedroom", "guest_room", "living_room"),
    "bathroom": ("bathroom", "living_room"),
    "kitchen": ("kitchen", "dining_room", "living_room"),
    "living_room": ("living_room", "bedroom"),
    "office": ("office", "living_room", "bedroom"),
}
_OUTDOOR = frozenset({"garden", "balcony", "garage"})
#: Rooms one passes through (their PIRs see the walks, `transit`); activities happen elsewhere.
_TRANSIT = frozenset({"entrance", "hallway"})
#: What a motion detection is (`motion_detections`), which sets the chance a PIR's view sees it
#: (`pir_sight`): a passage through the room's doorway, movement inside the room, or the continuous
#: movement of doing something at one place (cooking at the cooktop, washing at the basin).
PASSAGE, MOVING, DOING = 0, 1, 2


@dataclass(frozen=True)
class ActivityIntervals:
    """Every occupant's intervals, sorted by (person, start): `room` indexes `home.areas` (-1: none)."""

    person: I64
    activity: npt.NDArray[np.int8]
    start: I64
    end: I64
    room: I64

    def __len__(self) -> int:
        return len(self.start)

    def to_table(self, home: Home) -> pa.Table:
        """The `activities.parquet` table (schema `ACTIVITIES_SCHEMA`)."""
        people = [o.person_id for o in home.metadata.occupants]
        areas = np.array([a.area_id for a in home.areas] + [None], dtype=object)
        area_type = ACTIVITIES_SCHEMA.field("area_id").type
        return pa.table(
            {
                "person": pa.DictionaryArray.from_arrays(
                    pa.array(self.person, pa.int32()), pa.array(people, pa.string())
                ),
                "activity": pa.DictionaryArray.from_arrays(
                    pa.array(self.activity, pa.int8()), pa.array(ACTIVITIES, pa.string())
                ),
                "start": pa.array(self.start, pa.timestamp("us", tz="UTC")),
                "end": pa.array(self.end, pa.timestamp("us", tz="UTC")),
                "area_id": pa.array(areas[self.room], area_type),
            },
            schema=ACTIVITIES_SCHEMA,
        )


def plan_activities(
    home: Home,
    grid: DayGrid,
    schedules: Schedules,
    rng: np.random.Generator,
    model: ActivityModel | None = None,
) -> ActivityIntervals:
    """Each occupant's activity intervals over the whole period, disjoint per person; `model` replaces
    the packaged activity model (a calibrated home's)."""
    model = model or load_activity_model()
    rooms = _RoomChooser(home, model)
    parts = []
    for o, occ in enumerate(home.metadata.occupants):
        layers = _candidates(model, grid, schedules, o, occ.role, occ.work_from_home_days, rng)
        start, end, label = _resolve(layers, grid.begin_us, grid.end_us)
        room = rooms.assign(label, o, occ.role, rng)
        parts.append((np.full(len(start), o, dtype=np.int64), label, start, end, room))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return ActivityIntervals(empty, empty.astype(np.int8), empty, empty, empty)
    cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
    return ActivityIntervals(
        person=cols[0], activity=cols[1].astype(np.int8), start=cols[2], end=cols[3], room=cols[4]
    )


# -- candidates --------
def _candidates(
    model: ActivityModel,
    grid: DayGrid,
    schedules: Schedules,
    o: int,
    role: str,
    wfh_days: tuple[int, ...],
    rng: np.random.Generator,
) -> dict[tuple[Activity, str], tuple[I64, I64]]:
    """Candidate (starts, ends) per layer for occupant `o`."""
    days = grid.days
    wake, bed = schedules.wake[o], schedules.sleep[o]
    span = (bed - wake).astype(np.float64)
    out: dict[tuple[Activity, str], list[tuple[I64, I64]]] = {key: [] for key in _LAYERS}
    # Absences, from the presence transitions.
    t, home_flag = schedules.transitions[o]
    left = t[~home_flag]
    back = t[home_flag]
    out[(Activity.LEAVING, "away")].append((left, np.append(back, grid.end_us)[: len(left)]))
    # Nights: bedtime of day d to wake-up of day d+1 (the first night ends at the first wake-up).
    night_start = np.concatenate([[grid.begin_us], bed[:-1]]).astype(np.int64)
    night_end = wake.astype(np.int64)
    tail = (np.array([bed[-1]]), np.array([grid.end_us]))
    out[(Activity.SLEEPING, "night")] += [(night_start, night_end), tail]
    factor = {"senior": model.sleep.senior_factor, "child": model.sleep.child_factor}.get(role, 1.0)
    median, sigma = model.sleep.night_wakeups
    rate = float(rng.lognormal(np.log(median), sigma)) * factor
    nights = np.repeat(np.arange(days), rng.poisson(rate, days))
    length = (night_end[nights] - night_start[nights]).astype(np.float64)
    # The night's first visit comes after its time to first void (`first_void_h`), the others at random
    # between it and the window's end; all inside the window `wakeup_at` (shares of the night).
    low, high = model.sleep.wakeup_at
    first_void = draw_lognormal(rng, model.sleep.first_void_h, len(nights)) * US_PER_H
    first_void = np.clip(first_void, low * length, high * length)
    first = np.ones(len(nights), dtype=bool)
    first[1:] = nights[1:] != nights[:-1]
    nights_first = first_void[np.maximum.accumulate(np.where(first, np.arange(len(nights)), 0))]
    later = nights_first + rng.random(len(nights)) * (high * length - nights_first)
    at = night_start[nights] + np.where(first, first_void, later).astype(np.int64)
    out[(Activity.TOILETING, "night")].append(_lasting(model, Activity.TOILETING, at, rng))
    # Naps.
    p_nap = model.sleep.senior_nap_per_day if role == "senior" else model.sleep.nap_per_day
    nap = np.flatnonzero(rng.random(days) < p_nap)
    mean, sd = model.sleep.nap_at
    at = wake[nap] + (rng.normal(mean, sd, len(nap)) * span[nap]).astype(np.int64)
    dur = (draw_lognormal(rng, model.sleep.nap_duration, len(nap)) * US_PER_MIN).astype(np.int64)
    out[(Activity.SLEEPING, "nap")].append((at, at + dur))
    # Routines anchored on the waking day; they and the returns home are the anchors activity clusters on.
    anchors: list[I64] = [back]
    for spec in model.routines.values():
        d = np.flatnonzero(rng.random(days) < spec.p)
        if spec.after_wake_h is not None:
            at = wake[d] + (rng.normal(*spec.after_wake_h, len(d)).clip(0) * US_PER_H).astype(np.int64)
        elif spec.before_bed_h is not None:
            at = bed[d] - (rng.normal(*spec.before_bed_h, len(d)).clip(0) * US_PER_H).astype(np.int64)
        else:
            share = rng.normal(*(spec.day_share or (0.5, 0.0)), len(d)).clip(0, 1)
            at = wake[d] + (share * span[d]).astype(np.int64)
        anchors.append(at)
        out[(Activity(spec.kind), "day")].append(_lasting(model, Activity(spec.kind), at, rng))
    anchor = np.sort(np.concatenate(anchors))
    # Scattered through the waking day: some uniformly, the rest clustered near an anchor of the same day.
    for kind, per_day in model.scattered.items():
        d = np.repeat(np.arange(days), rng.poisson(per_day, days))
        at = wake[d] + (rng.random(len(d)) * span[d]).astype(np.int64)
        at = _cluster(at, anchor, wake[d], bed[d], model.clustering, rng)
        out[(Activity(kind), "day")].append(_lasting(model, Activity(kind), at, rng))
    # Working from home, and relaxing as the background of every waking day.
    wfh = np.flatnonzero(np.isin(grid.weekday, wfh_days))
    lo, hi = model.work_from_home_h
    out[(Activity.WORKING, "day")].append(
        (grid.local_time(wfh, np.full(len(wfh), lo)), grid.local_time(wfh, np.full(len(wfh), hi)))
    )
    out[(Activity.RELAXING, "day")].append((np.array([grid.begin_us]), np.array([grid.end_us])))
    merged: dict[tuple[Activity, str], tuple[I64, I64]] = {}
    for key, pieces in out.items():
        s = np.concatenate([p[0] for p in pieces]).astype(np.int64) if pieces else np.zeros(0, np.int64)
        e = np.concatenate([p[1] for p in pieces]).astype(np.int64) if pieces else np.zeros(0, np.int64)
        merged[key] = merge_intervals(s, np.maximum(e, s))
    return merged


def _cluster(
    at: I64, anchors: I64, day_start: I64, day_end: I64, spec: tuple[float, float], rng: np.random.Generator
) -> I64:
    """Move a share `spec[0]` of the times `at` next to a random anchor of their own waking day (normal
    offset of sd `spec[1]` minutes); times whose day has no anchor stay where they are."""
    share, sd_min = spec
    lo = np.searchsorted(anchors, day_start)
    count = np.searchsorted(anchors, day_end) - lo
    moved = (rng.random(len(at)) < share) & (count > 0)
    pick = lo + (rng.random(len(at)) * np.maximum(count, 1)).astype(np.int64)
    near = anchors[np.minimum(pick, max(len(anchors) - 1, 0))] if len(anchors) else at
    offset = (rng.normal(0, sd_min, len(at)) * US_PER_MIN).astype(np.int64)
    result: I64 = np.where(moved, near + offset, at).astype(np.int64)
    return result


def _lasting(model: ActivityModel, kind: Activity, at: I64, rng: np.random.Generator) -> tuple[I64, I64]:
    spec = model.kinds[kind.value].duration or (1.0, 0.0, 1.0, 1.0)
    return at, at + (draw_lognormal(rng, spec, len(at)) * US_PER_MIN).astype(np.int64)


def _resolve(
    layers: dict[tuple[Activity, str], tuple[I64, I64]], begin: int, end: int
) -> tuple[I64, I64, I64]:
    """Highest layer wins at each instant: (starts, ends, activity codes) of the runs of one layer."""
    bounds = np.unique(
        np.clip(np.concatenate([np.concatenate(v) for v in layers.values()] + [[begin, end]]), begin, end)
    ).astype(np.int64)
    mid = bounds[:-1] + (bounds[1:] - bounds[:-1]) // 2
    winner = np.full(len(mid), -1, dtype=np.int64)
    for i, key in enumerate(_LAYERS):
        s, e = layers[key]
        if len(s) == 0:
            continue
        idx = np.searchsorted(s, mid, side="right") - 1
        covered = (idx >= 0) & (mid < e[np.maximum(idx, 0)]) & (winner < 0)
        winner[covered] = i
    label = np.array([_CODE[a.value] for a, _ in _LAYERS], dtype=np.int64)[winner]
    # Runs of one layer merge; zero-length pieces were never created (bounds are unique).
    change = np.ones(len(mid), dtype=bool)
    change[1:] = winner[1:] != winner[:-1]
    first = np.flatnonzero(change)
    ends = np.append(bounds[first[1:]], bounds[-1])
    return bounds[first], ends, label[first]


# -- rooms --------
class _RoomChooser:
    """Maps activities onto the home's areas: own bedroom, a bathroom, the kitchen, the living room."""

    def __init__(self, home: Home, model: ActivityModel) -> None:
        self.by_type: dict[str, list[int]] = {}
        for i, area in enumerate(home.areas):
            self.by_type.setdefault(area.room_type, []).append(i)
        indoor = [i for i, a in enumerate(home.areas) if a.room_type not in _OUTDOOR | _TRANSIT]
        self.any = np.array(indoor or list(range(len(home.areas))) or [-1], dtype=np.int64)
        self.model = model

    def _first(self, room_type: str, person: int) -> int:
        for candidate in _FALLBACK.get(room_type, (room_type,)):
            areas = self.by_type.get(candidate)
            if not areas:
                continue
            if candidate == "bedroom":  # adults 0 and 1 share the first; others get their own if there are
                return areas[min(max(person - 1, 0), len(areas) - 1)]
            return areas[person % len(areas)]
        return int(self.any[0])

    def _errand_rooms(self, person: int) -> tuple[I64, npt.NDArray[np.float64]]:
        """The rooms a short errand goes to (`errand_rooms`, each room type where the home has one, else its
        fallback) and their weights; every indoor room alike when none applies."""
        weights: dict[int, float] = {}
        for room_type, weight in self.model.errand_rooms.items():
            area = self._first(room_type, person)
            if area >= 0:
                weights[area] = weights.get(area, 0.0) + weight
        if not weights:
            return self.any, np.full(len(self.any), 1 / len(self.any))
        w = np.array(list(weights.values()))
        return np.array(list(weights), dtype=np.int64), w / w.sum()

    def assign(self, label: I64, person: int, role: str, rng: np.random.Generator) -> I64:
        room = np.full(len(label), -1, dtype=np.int64)
        for activity in dict.fromkeys(a for a, _ in _LAYERS):
            code = _CODE[activity.value]
            mask = label == code
            spec = self.model.kinds[activity.value].room
            if spec == "none" or not mask.any():
                continue
            if spec == "any":
                room[mask] = self.any[rng.integers(0, len(self.any), int(mask.sum()))]
                continue
            if spec == "errand":
                rooms, weights = self._errand_rooms(person)
                room[mask] = rooms[rng.choice(len(rooms), int(mask.sum()), p=weights)]
                continue
            if spec == "bedroom" and role == "child" and self.by_type.get("kids_room"):
                room[mask] = self.by_type["kids_room"][0]
                continue
            room[mask] = self._first(spec, person)
        return room


# -- motion --------
def motion_detections(
    home: Home, intervals: ActivityIntervals, rng: np.random.Generator, model: ActivityModel | None = None
) -> tuple[I64, I64, I64, npt.NDArray[np.int8]]:
    """PIR detections implied by the activities: (starts, ends, area index, what), sorted by start;
    `what` is `PASSAGE`, `MOVING` or `DOING` (see `pir_sight`).

    One on entering a room and one on the way out of it, a transition time (`transition_s`) before the
    next room's (a hallway walk-through between the two on some room changes; the entrance on every leave
    and return), continuous movement over an activity's `moving_share`, and short Poisson detections at
    its `motion_per_h` while it lasts.
    """
    model = model or load_activity_model()
    rate = np.array([model.kinds[a].motion_per_h if a in model.kinds else 0.0 for a in ACTIVITIES])
    moving = np.array([model.kinds[a].moving_share if a in model.kinds else 0.0 for a in ACTIVITIES])
    hallways = [i for i, a in enumerate(home.areas) if a.room_type == "hallway"]
    entrances = [i for i, a in enumerate(home.areas) if a.room_type == "entrance"]
    times, rooms = [], []
    person, room, start, end = intervals.person, intervals.room, intervals.start, intervals.end
    n = len(start)
    same_person_next = np.zeros(n, dtype=bool)
    same_person_next[:-1] = person[1:] == person[:-1]
    prev_room = np.full(n, -2, dtype=np.int64)
    prev_room[1:] = np.where(same_person_next[:-1], room[:-1], -2)
    next_room = np.full(n, -2, dtype=np.int64)
    next_room[:-1] = np.where(same_person_next[:-1], room[1:], -2)
    dur = end - start
    # Entering a room: seen within 15 s of crossing into it. Leaving one: seen on the way out, a transition
    # time (`transition_s`) before the next room's entering detection, not before the person came in.
    seen_in = start + (rng.random(n) * np.minimum(dur, 15 * US_PER_S)).astype(np.int64)
    enter = (room >= 0) & (room != prev_room)
    times.append(seen_in[enter])
    rooms.append(room[enter])
    leave = (room >= 0) & (room != next_room) & (next_room != -2)
    next_in = np.append(seen_in[1:], 0)[leave]
    way = (draw_lognormal(rng, model.transition_s, int(leave.sum())) * US_PER_S).astype(np.int64)
    out = np.clip(next_in - way, start[leave], end[leave])
    times.append(out)
    rooms.append(room[leave])
    # Walking through a hallway between two other rooms (on the way, between the two detections); through
    # the entrance on leaving and returning.
    if hallways:
        hall = np.array(hallways)
        walk = (next_room[leave] >= 0) & ~np.isin(room[leave], hall) & ~np.isin(next_room[leave], hall)
        walk &= rng.random(len(walk)) < model.transit["hallway"]
        mid = rng.uniform(0.3, 0.7, int(walk.sum()))
        times.append(out[walk] + (mid * (next_in[walk] - out[walk])).astype(np.int64))
        rooms.append(hall[rng.integers(0, len(hall), int(walk.sum()))])
    if entrances:
        away = intervals.activity == _CODE[Activity.LEAVING.value]
        times += [start[away] - 20 * US_PER_S, end[away] + 10 * US_PER_S]
        rooms += [np.full(int(away.sum()), entrances[0]), np.full(int(away.sum()), entrances[0])]
    passages = sum(len(t) for t in times)
    # Moving about during the activity.
    k = rng.poisson(rate[intervals.activity] * dur / US_PER_H)
    k[room < 0] = 0
    idx = np.repeat(np.arange(n), k)
    times.append(start[idx] + (rng.random(len(idx)) * dur[idx]).astype(np.int64))
    rooms.append(room[idx])
    # Settling in at the start and getting up at the end (turning in: the bedroom PIR before sleep), but not
    # around a short break of the same activity (lying down again after a night toilet visit).
    code = intervals.activity.astype(np.int64)
    resumed = np.zeros(n, dtype=bool)  # the same person did the same activity two intervals before
    resumed[2:] = (code[2:] == code[:-2]) & (person[2:] == person[:-2])
    paused = np.zeros(n, dtype=bool)  # ... and will again two intervals after
    paused[:-2] = resumed[2:]
    for a, spec in model.kinds.items():
        if spec.settling is None:
            continue
        first, last, minutes = spec.settling
        mine = (intervals.activity == _CODE[a]) & (room >= 0)
        window = np.minimum(dur[mine], int(minutes * US_PER_MIN))
        for expected, base, skip in (
            (first, start[mine], resumed[mine]),
            (last, end[mine] - window, paused[mine]),
        ):
            k = rng.poisson(expected, int(mine.sum())) * ~skip
            idx = np.repeat(np.arange(int(mine.sum())), k)
            times.append(base[idx] + (rng.random(len(idx)) * window[idx]).astype(np.int64))
            rooms.append(room[mine][idx])
    t = np.concatenate(times).astype(np.int64)
    r = np.concatenate(rooms).astype(np.int64)
    e = t + (draw_lognormal(rng, model.detection_s, len(t)) * US_PER_S).astype(np.int64)
    # Continuous movement: one detection spanning the busy part of the activity.
    busy = (room >= 0) & (moving[intervals.activity] > 0)
    t = np.concatenate([t, start[busy]])
    e = np.concatenate([e, start[busy] + (moving[intervals.activity[busy]] * dur[busy]).astype(np.int64)])
    r = np.concatenate([r, room[busy]])
    what = np.full(len(t), MOVING, dtype=np.int8)
    what[:passages] = PASSAGE
    what[len(t) - int(busy.sum()) :] = DOING
    order = np.argsort(t, kind="stable")
    return t[order], e[order], r[order], what[order]


def pir_sight(
    model: ActivityModel,
    what: npt.NDArray[np.int8] | BoolArr,
    rng: np.random.Generator,
    view_rng: np.random.Generator | None = None,
) -> BoolArr:
    """Which of a room's detections (`what`: `PASSAGE`, `MOVING` or `DOING`; a boolean reads as moving
    or not) one PIR in it sees: the sensor draws its field of view (`pir_views`) from `view_rng` (default
    `rng`), which sets the chance of each."""
    views = list(model.pir_views.values())
    shares = np.array([v.share for v in views])
    view = views[int((view_rng or rng).choice(len(views), p=shares / shares.sum()))]
    chance = np.array([view.passage, view.moving, view.doing])[np.asarray(what, dtype=np.int64)]
    seen: BoolArr = rng.random(len(what)) < chance
    return seen


def view_stream(rng: np.random.Generator) -> np.random.Generator:
    """A stream of its own for the PIRs' fields of view, spawned from `rng`'s seed (no draw from `rng`):
    a home's PIRs keep their views when the draws of its activities change (generator 1.8.0; until then a
    change to the activity model redrew them, like a new layout, which swamped before/after comparisons)."""
    seed = rng.bit_generator.seed_seq
    assert isinstance(seed, np.random.SeedSequence)
    return np.random.default_rng(seed.spawn(1)[0])


def object_activations(
    intervals: ActivityIntervals, area: int, spec: ObjectSpec, rng: np.random.Generator
) -> tuple[I64, I64]:
    """A sensor on a thing in `area` (a bed, a seat, a fridge): on while an activity there `holds` it, and
    for each short use during one; (on, off) times merged over occupants."""
    starts, ends = [], []
    here = intervals.room == area
    dur = intervals.end - intervals.start
    for activity, p in sorted(spec.holds.items()):
        mine = np.flatnonzero(
            here & (intervals.activity == _CODE[activity]) & (dur >= int(spec.min_hold_min * US_PER_MIN))
        )
        mine = mine[rng.random(len(mine)) < p]
        # Sitting or lying down a little after coming in, getting up a little before leaving.
        starts.append(intervals.start[mine] + (rng.uniform(5, 60, len(mine)) * US_PER_S).astype(np.int64))
        ends.append(intervals.end[mine] - (rng.uniform(3, 30, len(mine)) * US_PER_S).astype(np.int64))
    for activity, expected in sorted(spec.uses.items()):
        mine = np.flatnonzero(here & (intervals.activity == _CODE[activity]))
        k = rng.poisson(expected, len(mine))
        idx = np.repeat(mine, k)
        first = np.ones(len(idx), dtype=bool)
        first[1:] = idx[1:] != idx[:-1]
        first &= rng.random(len(idx)) < spec.first_use_soon
        soon = np.minimum(rng.uniform(5, 60, len(idx)) * US_PER_S, dur[idx] * 0.5)
        later = rng.random(len(idx)) * dur[idx]
        t = intervals.start[idx] + np.where(first, soon, later).astype(np.int64)
        starts.append(t)
        ends.append(t + (draw_lognormal(rng, spec.use_s, len(idx)) * US_PER_S).astype(np.int64))
    s = np.concatenate(starts).astype(np.int64) if starts else np.zeros(0, np.int64)
    e = np.concatenate(ends).astype(np.int64) if ends else np.zeros(0, np.int64)
    keep = e > s
    return merge_intervals(s[keep], e[keep])


def presence_spans(intervals: ActivityIntervals, area: int) -> tuple[I64, I64]:
    """When anyone is in `area` (merged over occupants): what a presence (mmWave) sensor reports."""
    mask = intervals.room == area
    return merge_intervals(intervals.start[mask], intervals.end[mask])
