from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from homesim.generation.activity_params import ActivityModel, load_activity_model
from homesim.generation.calendar import US_PER_H, day_grid
from homesim.generation.catalog import load_catalog
from homesim.generation.config import GenerationConfig
from homesim.generation.occupants import (
    Schedules,
    household_vacations,
    make_occupants,
    realize_schedules,
)
from homesim.generation.structure import HomeGenerator


def test_presence_without_any_transition_is_home() -> None:
    empty = np.zeros(0, dtype=np.int64)
    schedules = Schedules(
        wake=np.zeros((1, 1), np.int64),
        sleep=np.zeros((1, 1), np.int64),
        leave=np.full((1, 1), -1, np.int64),
        back=np.full((1, 1), -1, np.int64),
        away_day=np.zeros((1, 1), bool),
        transitions=((empty, np.zeros(0, bool)),),
    )
    assert schedules.at_home(0, np.array([0, 10, 20], np.int64)).all()


def test_schedules_are_ordered_and_follow_presence() -> None:
    rng = np.random.default_rng(3)
    home_type = load_catalog().home_types["single_family"]
    occupants = make_occupants(home_type, rng)
    grid = day_grid(date(2025, 6, 2), 28, "America/Chicago")
    schedules = realize_schedules(occupants, grid, rng, jitter=1.0)
    assert schedules.occupants == len(occupants)
    assert np.all(schedules.sleep > schedules.wake)
    for o in range(len(occupants)):
        times, flags = schedules.transitions[o]
        assert np.all(np.diff(times) >= 0)
        assert np.all(flags[1:] != flags[:-1]), "transitions alternate"
        away = schedules.leave[o] >= 0
        if away.any():
            mid = (schedules.leave[o][away] + schedules.back[o][away]) // 2
            assert not schedules.at_home(o, mid).any()


def test_vacation_homes_are_mostly_vacant() -> None:
    rng = np.random.default_rng(5)
    trips = household_vacations(rng, date(2025, 1, 1), 90, vacant_share=0.7)
    away_days = sum((last - first).days + 1 for first, last in trips)
    assert away_days > 40
    regular = household_vacations(np.random.default_rng(5), date(2025, 1, 1), 365, vacant_share=0.0)
    assert all((last - first).days < 11 for first, last in regular)


def test_local_time_keeps_wall_clock_across_dst() -> None:
    grid = day_grid(date(2025, 3, 29), 3, "Europe/Amsterdam")  # DST starts 30 March
    t = grid.local_time(np.arange(3, dtype=np.int64), np.full(3, 7.0))
    hours_after_midnight = (t - grid.midnights[:3]) / US_PER_H
    assert list(hours_after_midnight) == [7.0, 6.0, 7.0]  # the 30th has only 23 hours
    assert list(grid.day_of(t)) == [0, 1, 2]


def test_household_sizes_follow_census_shares() -> None:
    """About a third of homes that can hold one person do (EU/US: 29–36 % of households are one person)."""
    catalog = load_catalog()
    apartment, studio = catalog.home_types["apartment"], catalog.home_types["studio"]
    sizes = [len(make_occupants(apartment, np.random.default_rng(i))) for i in range(600)]
    assert set(sizes) <= {1, 2, 3, 4}
    assert 0.28 < sizes.count(1) / len(sizes) < 0.42
    assert sizes.count(2) > sizes.count(3) > sizes.count(4)
    alone = [len(make_occupants(studio, np.random.default_rng(i))) == 1 for i in range(600)]
    assert 0.4 < np.mean(alone) < 0.6
    # A fixed size is kept.
    assert all(len(make_occupants(apartment, np.random.default_rng(i), (3, 3))) == 3 for i in range(20))


def test_some_employed_adults_work_at_home_every_weekday() -> None:
    """Eurostat: about 12 % of the employed usually work from home; they never leave for work."""
    apartment = load_catalog().home_types["apartment"]
    employed = [
        o
        for i in range(1500)
        for o in make_occupants(apartment, np.random.default_rng(i), (1, 1))
        if o.role == "adult" and o.leave_h is not None
    ]
    at_home = [o for o in employed if o.work_from_home_days == (0, 1, 2, 3, 4)]
    assert 0.08 < len(at_home) / len(employed) < 0.2
    hybrid = [o for o in employed if 0 < len(o.work_from_home_days) < 5]
    assert 0.3 < len(hybrid) / len(employed) < 0.5
    grid = day_grid(date(2025, 6, 2), 56, "Europe/Amsterdam")
    schedules = realize_schedules([at_home[0]], grid, np.random.default_rng(0), jitter=1.0)
    noon = grid.local_time(np.arange(56, dtype=np.int64), np.full(56, 12.5))
    weekday = grid.weekday < 5
    # Home at 12:30 on most weekdays (outings, not a job, take them out).
    assert schedules.at_home(0, noon[weekday]).mean() > 0.6


def test_a_regions_social_clock_shifts_the_households_day() -> None:
    """Spain's day runs about an hour later (regions.yaml): the same household, its clock an hour on."""
    catalog = load_catalog()
    assert catalog.climates["mediterranean"].social_clock_h == 1.0
    assert catalog.climates["temperate_eu"].social_clock_h == 0.0
    house = catalog.home_types["single_family"]
    for seed in range(20):
        base = make_occupants(house, np.random.default_rng(seed))
        later = make_occupants(house, np.random.default_rng(seed), social_clock_h=1.0)
        for a, b in zip(base, later, strict=True):
            assert (a.name, a.role) == (b.name, b.role)
            if 5.0 < a.wake_weekday_h < 10.5:
                assert b.wake_weekday_h == pytest.approx(a.wake_weekday_h + 1.0)
            if a.sleep_h < 26.0:
                assert b.sleep_h == pytest.approx(a.sleep_h + 1.0)
            if a.leave_h is not None and b.leave_h is not None and 6.0 < a.leave_h < 9.5:
                assert b.leave_h == pytest.approx(a.leave_h + 1.0)
    # A generated home takes its region's clock.
    config = GenerationConfig(homes=1, days=7, seed=3)
    homes = {
        region: HomeGenerator().generate(config.model_copy(update={"climate_regions": (region,)}), 0)
        for region in ("mediterranean", "temperate_eu")
    }
    madrid, amsterdam = (homes[r].metadata.occupants for r in ("mediterranean", "temperate_eu"))
    assert [o.sleep_h for o in madrid] == pytest.approx([o.sleep_h + 1.0 for o in amsterdam])


def test_a_household_comes_home_from_a_trip_one_after_another() -> None:
    """Members returning together never arrive in the same instant (a "first person arrives" automation
    sees one of them first), but within minutes of each other."""
    rng = np.random.default_rng(5)
    home_type = load_catalog().home_types["single_family"]
    occupants = make_occupants(home_type, rng)
    while len(occupants) < 2:
        occupants = make_occupants(home_type, rng)
    trip = ((date(2025, 6, 10), date(2025, 6, 14)),)
    occupants = [o.model_copy(update={"vacations": trip}) for o in occupants]
    grid = day_grid(date(2025, 6, 2), 21, "Europe/Madrid")
    schedules = realize_schedules(occupants, grid, rng, jitter=1.0)
    end_of_trip = grid.local_time(np.array([12]), np.array([18.0]))[0]
    arrivals = []
    for times, at_home in schedules.transitions:
        back = times[at_home & (times >= end_of_trip) & (times < end_of_trip + US_PER_H)]
        arrivals.append(int(back[0]))
    assert len(set(arrivals)) == len(occupants)
    assert max(arrivals) - min(arrivals) < 10 * 60 * 1_000_000


def test_without_an_alarm_a_late_night_is_slept_off() -> None:
    """On free days the wake-up follows the bedtime that began the night (`wake_follows_bedtime`, fitted
    on the Ordóñez nights); set to 0 the two are independent."""
    senior = next(
        o
        for i in range(200)
        for o in make_occupants(load_catalog().home_types["apartment"], np.random.default_rng(i), (1, 1))
        if o.role == "senior"
    )
    grid = day_grid(date(2025, 1, 6), 700, "UTC")  # hours of the day read off UTC times
    model = load_activity_model()
    assert model.sleep.wake_follows_bedtime > 0

    def night_r(m: ActivityModel) -> float:
        s = realize_schedules([senior], grid, np.random.default_rng(5), jitter=1.0, model=m)
        bed, wake = s.sleep[0][:-1] / US_PER_H, s.wake[0][1:] / US_PER_H
        weekdays = np.isin(grid.weekday[1:], (1, 2, 3, 4))  # a weekday's night and morning (no lie-in)
        bed, wake = bed[weekdays] % 24, wake[weekdays] % 24
        return float(np.corrcoef(np.where(bed < 12, bed + 24, bed), wake)[0, 1])

    apart = model.sleep.model_copy(update={"wake_follows_bedtime": 0.0})
    independent = model.model_copy(update={"sleep": apart})
    assert night_r(model) > 0.2
    assert abs(night_r(independent)) < 0.12
