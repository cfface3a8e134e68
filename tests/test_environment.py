"""Tests of the hourly environment model (`homesim.generation.environment`)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import astral.sun
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astral import Observer

from homesim.generation.calendar import US_PER_H, US_PER_S, DayGrid, day_grid
from homesim.generation.catalog import Catalog, ClimateRegion, load_catalog
from homesim.generation.environment import (
    CONDITIONS,
    Environment,
    _ar1,
    generate_environment,
    solar_elevation_deg,
)
from homesim.schema.events import ENVIRONMENT_SCHEMA


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _env(catalog: Catalog, key: str, start: date, days: int, seed: int = 7) -> Environment:
    climate = catalog.climates[key]
    grid = day_grid(start, days, climate.location.timezone)
    return generate_environment(climate, catalog.grids[climate.grid], grid, np.random.default_rng(seed))


def _at_latitude(climate: ClimateRegion, latitude: float) -> ClimateRegion:
    return climate.model_copy(update={"location": climate.location.model_copy(update={"latitude": latitude})})


def _local_hours(env: Environment) -> np.ndarray:
    tz = ZoneInfo(env.grid.timezone)
    return np.array([datetime.fromtimestamp(int(t) // US_PER_S, tz).hour for t in env.hours_us])


@pytest.fixture(scope="module")
def year_eu(catalog: Catalog) -> Environment:
    return _env(catalog, "temperate_eu", date(2024, 1, 1), 366)


def test_one_value_per_hour(catalog: Catalog) -> None:
    env = _env(catalog, "continental_us", date(2024, 1, 8), 10)
    n = 24 * 10
    assert env.hours_us.shape == (n,)
    assert env.hours_us[0] == env.grid.begin_us
    assert np.all(np.diff(env.hours_us) == US_PER_H)
    assert env.hours_us[-1] + US_PER_H == env.grid.end_us
    for column in (
        env.temperature_c,
        env.humidity_pct,
        env.cloud_cover,
        env.sun_elevation_deg,
        env.carbon_g,
        env.price,
        env.condition,
    ):
        assert column.shape == (n,)
    assert env.sunrise_us.shape == env.sunset_us.shape == (10,)


@pytest.mark.parametrize("timezone", ["Europe/Madrid", "America/Chicago", "Australia/Sydney", "UTC"])
def test_utc_offsets_are_zoneinfo_s_inside_and_outside_the_grid(timezone: str) -> None:
    # 4–30 March 2024 every 7 minutes, from a day before the grid to a day after it: the US change
    # (10 March) inside the grid, Europe's (31 March, 02:00) in the day past its end.
    grid = day_grid(date(2024, 3, 4), 27, timezone)
    times = np.arange(grid.begin_us - 24 * US_PER_H, grid.end_us + 24 * US_PER_H, 7 * 60 * US_PER_S)
    tz = ZoneInfo(timezone)
    expected = [
        int(datetime.fromtimestamp(int(t) // US_PER_S, tz).utcoffset().total_seconds()) * US_PER_S  # type: ignore[union-attr]
        for t in times
    ]
    assert grid.utc_offsets(times).tolist() == expected


@pytest.mark.parametrize(
    ("start", "hours"), [(date(2024, 3, 25), 7 * 24 - 1), (date(2024, 10, 21), 7 * 24 + 1)]
)
def test_dst_weeks_have_hours_of_real_time(catalog: Catalog, start: date, hours: int) -> None:
    env = _env(catalog, "temperate_eu", start, 7)
    assert env.hours_us.shape == (hours,)
    assert hours == (env.grid.end_us - env.grid.begin_us) // US_PER_H
    # Tariff bands follow the local clock across the change (checked against zoneinfo hour by hour).
    tariff = catalog.grids["eu_west"].tariff
    local = _local_hours(env)
    band = np.where(
        (local >= 17) & (local < 21),
        tariff["peak"],
        np.where((local < 7) | (local >= 23), tariff["off_peak"], tariff["standard"]),
    )
    assert np.all(np.abs(env.price / band - 1.0) <= 0.1 + 1e-12)


def test_table_matches_schema_and_is_sorted(catalog: Catalog) -> None:
    env = _env(catalog, "mediterranean", date(2024, 5, 1), 5)
    table = env.to_table()
    assert table.schema.equals(ENVIRONMENT_SCHEMA, check_metadata=True)
    assert table.num_rows == env.hours_us.shape[0]
    times = table.column("time").cast(pa.int64()).to_numpy()
    assert np.all(np.diff(times) > 0)
    condition = table.column("condition").combine_chunks()
    assert condition.dictionary.to_pylist() == list(CONDITIONS)
    assert condition.indices.to_numpy().tolist() == env.condition.tolist()
    assert table.column("carbon_intensity_g_per_kwh").to_numpy().tolist() == env.carbon_g.tolist()


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_deterministic_per_seed(catalog: Catalog) -> None:
    a = _env(catalog, "nordic", date(2024, 2, 1), 20, seed=3).to_table()
    b = _env(catalog, "nordic", date(2024, 2, 1), 20, seed=3).to_table()
    c = _env(catalog, "nordic", date(2024, 2, 1), 20, seed=4).to_table()
    assert a.equals(b)
    assert _parquet_bytes(a) == _parquet_bytes(b)
    assert not a.equals(c)


def test_seasons_follow_the_hemisphere(catalog: Catalog) -> None:
    north = catalog.climates["continental_us"]
    grid = day_grid(date(2024, 1, 1), 366, north.location.timezone)
    grid_region = catalog.grids[north.grid]
    january, july = slice(0, 31 * 24), slice(182 * 24, 213 * 24)
    env_n = generate_environment(north, grid_region, grid, np.random.default_rng(1))
    assert env_n.temperature_c[july].mean() - env_n.temperature_c[january].mean() > 15
    south = _at_latitude(north, -35.0)
    env_s = generate_environment(south, grid_region, grid, np.random.default_rng(1))
    assert env_s.temperature_c[january].mean() - env_s.temperature_c[july].mean() > 15
    # Southern summer days are long, winter days short.
    length_h = (env_s.sunset_us - env_s.sunrise_us) / US_PER_H
    assert length_h[:31].mean() > 13 > 11 > length_h[182:213].mean()


def test_diurnal_cycle_peaks_in_the_afternoon(year_eu: Environment) -> None:
    local = _local_hours(year_eu)
    by_hour = np.array([year_eu.temperature_c[local == h].mean() for h in range(24)])
    assert 13 <= int(np.argmax(by_hour)) <= 16
    assert 3 <= int(np.argmin(by_hour)) <= 8
    assert by_hour.max() - by_hour.min() > 2.0


def test_clouds_humidity_and_ranges(year_eu: Environment, catalog: Catalog) -> None:
    climate = catalog.climates["temperate_eu"]
    assert np.all((year_eu.cloud_cover >= 0) & (year_eu.cloud_cover <= 1))
    assert abs(year_eu.cloud_cover.mean() - climate.cloudiness) < 0.08
    assert np.all((year_eu.humidity_pct >= 5) & (year_eu.humidity_pct <= 100))
    assert abs(np.median(year_eu.humidity_pct) - climate.humidity) < 10
    # Within a day, humidity falls as it warms: deviations from the daily means are anti-correlated.
    day = year_eu.grid.day_of(year_eu.hours_us)
    counts = np.bincount(day)

    def deviation(x: np.ndarray) -> np.ndarray:
        return x - (np.bincount(day, weights=x) / counts)[day]

    r = np.corrcoef(deviation(year_eu.temperature_c), deviation(year_eu.humidity_pct))[0, 1]
    assert r < -0.5
    assert np.corrcoef(year_eu.cloud_cover, year_eu.humidity_pct)[0, 1] > 0.1


def test_daily_max_temperature(year_eu: Environment) -> None:
    daily = year_eu.daily_max_temperature()
    assert daily.shape == (year_eu.grid.days,)
    day = year_eu.grid.day_of(year_eu.hours_us)
    expected = np.full(year_eu.grid.days, -np.inf)
    np.maximum.at(expected, day, year_eu.temperature_c)
    np.testing.assert_array_equal(daily, expected)


def test_carbon_lower_in_the_sun_on_a_solar_grid(catalog: Catalog) -> None:
    env = _env(catalog, "hot_dry_us", date(2024, 6, 1), 30)
    day, night = env.sun_elevation_deg > 20, env.sun_elevation_deg < 0
    assert env.carbon_g[day].mean() < 0.8 * env.carbon_g[night].mean()
    assert np.corrcoef(env.carbon_g, env.sun_elevation_deg)[0, 1] < -0.5
    assert np.all(env.carbon_g > 0)
    # Clouds take the solar dip away: clear middays are cleaner than overcast ones.
    sunny, overcast = day & (env.cloud_cover < 0.2), day & (env.cloud_cover > 0.5)
    if overcast.any():
        assert env.carbon_g[sunny].mean() < env.carbon_g[overcast].mean()


def test_evening_peak_raises_carbon(catalog: Catalog) -> None:
    env = _env(catalog, "nordic", date(2024, 1, 1), 60)  # winter: the sun barely matters
    local = _local_hours(env)
    evening = (local >= 17) & (local < 21)
    assert env.carbon_g[evening].mean() > 1.1 * env.carbon_g[(local >= 0) & (local < 5)].mean()


def test_price_bands(catalog: Catalog) -> None:
    env = _env(catalog, "humid_subtropical", date(2024, 4, 1), 21)
    tariff = catalog.grids["us_southeast"].tariff
    local = _local_hours(env)
    off_peak, peak = (local < 7) | (local >= 23), (local >= 17) & (local < 21)
    standard = ~off_peak & ~peak
    bands = ((off_peak, tariff["off_peak"]), (standard, tariff["standard"]), (peak, tariff["peak"]))
    for mask, price in bands:
        assert np.all(env.price[mask] >= 0.9 * price - 1e-12)
        assert np.all(env.price[mask] <= 1.1 * price + 1e-12)
    assert env.price[off_peak].mean() < env.price[standard].mean() < env.price[peak].mean()
    assert np.all(env.price > 0)
    assert np.corrcoef(env.price[standard], env.carbon_g[standard])[0, 1] > 0.5


def test_sunrise_before_sunset_and_matches_astral(catalog: Catalog) -> None:
    env = _env(catalog, "temperate_eu", date(2024, 3, 1), 60)
    begin, end = env.grid.midnights[:-1], env.grid.midnights[1:]
    assert np.all((begin < env.sunrise_us) & (env.sunrise_us < env.sunset_us) & (env.sunset_us < end))
    loc = catalog.climates["temperate_eu"].location
    observer = Observer(latitude=loc.latitude, longitude=loc.longitude)
    expected = astral.sun.sunrise(observer, date(2024, 4, 15), ZoneInfo(loc.timezone))
    got = datetime.fromtimestamp(env.sunrise_us[45] / US_PER_S, UTC)
    assert abs(got - expected) < timedelta(seconds=1)
    # The hourly elevation agrees: the sun is up between sunrise and sunset.
    day = env.grid.day_of(env.hours_us)
    up = (env.hours_us > env.sunrise_us[day] + US_PER_H) & (env.hours_us < env.sunset_us[day] - US_PER_H)
    assert np.all(env.sun_elevation_deg[up] > 0)


def test_conditions_are_consistent(year_eu: Environment, catalog: Catalog) -> None:
    code = year_eu.condition
    assert code.dtype == np.int8
    assert np.all((code >= 0) & (code < len(CONDITIONS)))
    names = np.array(CONDITIONS)[code]
    night = year_eu.sun_elevation_deg <= 0
    assert not np.any(names[night] == "sunny")
    assert not np.any(names[~night] == "clear-night")
    assert np.all(year_eu.temperature_c[names == "snowy"] < 0)
    wet = np.isin(names, ["rainy", "pouring", "snowy"])
    assert 0.02 < wet.mean() < 0.25
    assert year_eu.cloud_cover[wet].mean() > year_eu.cloud_cover[~wet].mean()
    assert {"sunny", "clear-night", "partlycloudy", "cloudy", "rainy"} <= set(names.tolist())
    # A cold continental winter brings snow.
    winter = _env(catalog, "continental_us", date(2024, 1, 1), 60)
    assert np.any(np.array(CONDITIONS)[winter.condition] == "snowy")


def test_hour_index_and_interpolation(catalog: Catalog) -> None:
    env = _env(catalog, "temperate_eu", date(2024, 6, 1), 3)
    n, h0 = env.hours_us.shape[0], int(env.hours_us[0])
    times = np.array([h0 - 1, h0, h0 + US_PER_H - 1, h0 + 5 * US_PER_H + 7, env.grid.end_us, h0 + 10**12])
    np.testing.assert_array_equal(env.hour_index(times), [0, 0, 0, 5, n - 1, n - 1])
    np.testing.assert_array_equal(env.at("temperature_c", env.hours_us), env.temperature_c)
    mid = env.at("carbon_intensity_g_per_kwh", np.array([h0 + US_PER_H // 2]))
    assert mid[0] == pytest.approx((env.carbon_g[0] + env.carbon_g[1]) / 2)
    edges = env.at("price_per_kwh", np.array([h0 - US_PER_H, env.grid.end_us + US_PER_H]))
    np.testing.assert_array_equal(edges, [env.price[0], env.price[-1]])
    with pytest.raises(KeyError):
        env.at("condition", env.hours_us)


@pytest.mark.parametrize(("start", "sun_up"), [(date(2024, 6, 10), True), (date(2024, 12, 10), False)])
def test_polar_day_and_night(catalog: Catalog, start: date, sun_up: bool) -> None:
    arctic = _at_latitude(catalog.climates["nordic"], 78.2)
    grid: DayGrid = day_grid(start, 14, arctic.location.timezone)
    env = generate_environment(arctic, catalog.grids["nordic"], grid, np.random.default_rng(5))
    begin, end = grid.midnights[:-1], grid.midnights[1:]
    assert np.all((begin <= env.sunrise_us) & (env.sunrise_us <= env.sunset_us) & (env.sunset_us <= end))
    names = np.array(CONDITIONS)[env.condition]
    if sun_up:
        assert np.all(env.sun_elevation_deg > 0)
        np.testing.assert_array_equal(env.sunrise_us, begin)
        np.testing.assert_array_equal(env.sunset_us, end)
        assert not np.any(names == "clear-night")
    else:
        assert np.all(env.sun_elevation_deg < 0)
        np.testing.assert_array_equal(env.sunrise_us, env.sunset_us)
        assert np.all(np.abs(env.sunrise_us - begin - 12 * US_PER_H) < 2 * US_PER_H)  # solar noon
        assert not np.any(names == "sunny")
    assert np.all(np.isfinite(env.temperature_c))


def test_arctic_year_has_ordered_sun_times(catalog: Catalog) -> None:
    arctic = _at_latitude(catalog.climates["nordic"], 78.2)
    grid = day_grid(date(2024, 1, 1), 366, arctic.location.timezone)
    env = generate_environment(arctic, catalog.grids["nordic"], grid, np.random.default_rng(2))
    begin, end = grid.midnights[:-1], grid.midnights[1:]
    assert np.all((begin <= env.sunrise_us) & (env.sunrise_us <= env.sunset_us) & (env.sunset_us <= end))
    length_h = (env.sunset_us - env.sunrise_us) / US_PER_H
    assert np.any(length_h == 0) and np.any(length_h >= 23)  # polar night and polar day
    assert np.any((length_h > 0) & (length_h < 23))  # and the transitions between them
    assert np.max(np.abs(np.diff(length_h))) < 3  # no jumps beyond a transition day's


def test_solar_elevation_matches_astral() -> None:
    rng = np.random.default_rng(0)
    base = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp()) * US_PER_S
    times = base + rng.integers(0, 3650 * 24 * US_PER_H, 60)
    for lat, lon in ((52.37, 4.90), (-33.9, 151.2), (78.2, 15.6), (0.0, -60.0)):
        ours = solar_elevation_deg(lat, lon, times)
        observer = Observer(latitude=lat, longitude=lon)
        theirs = [
            astral.sun.elevation(observer, datetime.fromtimestamp(int(t) / US_PER_S, UTC)) for t in times
        ]
        assert np.max(np.abs(ours - np.array(theirs))) < 1.0
    assert ours.min() < -5 and ours.max() > 60  # both refraction branches exercised


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.8, 0.97])
def test_ar1_matches_the_recursion(phi: float) -> None:
    e = np.random.default_rng(1).standard_normal(1000)
    expected, previous = np.empty_like(e), 0.0
    for i, value in enumerate(e):
        previous = phi * previous + value
        expected[i] = previous
    np.testing.assert_allclose(_ar1(e, phi), expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(_ar1(e[:10], phi), expected[:10], rtol=0, atol=1e-12)


def test_ar1_rejects_unstable_coefficients() -> None:
    with pytest.raises(ValueError, match="AR"):
        _ar1(np.zeros(3), 1.0)
