"""The outdoor environment of a home: hourly weather, sun, grid carbon intensity and electricity price.

This module owns the environment model and the `environment.parquet` table (`ENVIRONMENT_SCHEMA`).
Everything is computed per hour of the home's local-day grid, vectorized with numpy, from the climate
and grid regions of the catalog and one `numpy.random.Generator`:

- **Sun**: elevation per hour from the NOAA solar-position equations (the ones astral implements,
  with the same refraction correction), sunrise and sunset per local day from astral, with polar day
  and polar night handled.
- **Clouds**: an hourly AR(1) process mapped through a logistic, with mean ≈ `climate.cloudiness`.
- **Precipitation, wind**: hourly AR(1) latents; rain is more likely the cloudier it is.
- **Temperature**: annual sinusoid (coldest on `climate.coldest_doy`, half a year later south of the
  equator) + diurnal cycle (minimum at sunrise, maximum at 15:00 local, damped by clouds) + a day-to-day
  AR(1) anomaly + small hourly noise.
- **Humidity**: around `climate.humidity`, falling as the day warms, higher with clouds and rain.
- **Condition**: a Home Assistant weather condition string derived from all of the above.
- **Carbon intensity**: the grid's base intensity, lowered by solar generation (sun up, few clouds),
  raised in the 17–21 h evening peak, modulated by wind.
- **Price**: the time-of-use tariff by local hour, nudged by ±10 % with the carbon anomaly.

The same generator state gives the same environment, byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import astral.sun
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from astral import Observer

from homesim.generation.calendar import F64, I64, US_PER_DAY, US_PER_H, US_PER_S, DayGrid
from homesim.generation.catalog import ClimateRegion, GridRegion
from homesim.schema.events import ENVIRONMENT_SCHEMA

__all__ = [
    "CONDITIONS",
    "Environment",
    "generate_environment",
    "solar_elevation_deg",
]

#: Home Assistant weather conditions this model produces; `Environment.condition` holds codes into it.
CONDITIONS: tuple[str, ...] = (
    "sunny",
    "clear-night",
    "partlycloudy",
    "cloudy",
    "rainy",
    "pouring",
    "snowy",
    "fog",
    "windy",
)
_CODE = {name: np.int8(i) for i, name in enumerate(CONDITIONS)}
#: Float columns `Environment.at` interpolates, and their table names.
_FLOAT_COLUMNS = frozenset(
    {"temperature_c", "humidity_pct", "cloud_cover", "sun_elevation_deg", "carbon_g", "price"}
)
_COLUMN_ALIASES = {"carbon_intensity_g_per_kwh": "carbon_g", "price_per_kwh": "price"}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
_YEAR_DAYS = 365.25
_OBLIQUITY_DEG = 23.44

# Model parameters (not in the catalog: shared by all regions).
_ANOMALY_STD_C = 3.0  # day-to-day temperature anomaly, stationary standard deviation
_ANOMALY_PHI = 0.8  # its day-to-day autocorrelation
_NOISE_STD_C = 0.3  # hourly temperature noise
_NOISE_PHI = 0.6
_MAX_HOUR = 15.0  # local clock hour of the diurnal temperature maximum
_CLOUD_STD = 1.6  # latent (logit) cloud process, stationary standard deviation
_CLOUD_PHI = 0.97  # hourly autocorrelation: weather systems last a day or two
_RAIN_PHI = 0.85
_WIND_PHI = 0.95
_RH_PER_C = 0.06  # relative humidity falls ~6 % per °C of warming at constant moisture
_GRID_CLOUD_LOSS = 0.6  # share of regional solar output lost under a fully overcast sky
_EVENING = (17, 21)  # local hours [start, end) of the evening peak (carbon and tariff)
_OFF_PEAK = (7, 23)  # off-peak before 07:00 and from 23:00
_PRICE_CARBON_SHARE = 0.05  # price change per normalized carbon anomaly (clipped to ±2)


def _ar1(innovations: F64, phi: float) -> F64:
    """`x[t] = phi * x[t-1] + e[t]` with `x[-1] = 0`, vectorized.

    The series is cut into blocks short enough that `phi ** -block` stays small; inside a block the
    recursion is a scaled cumulative sum, and the values carried from block to block are themselves an
    AR(1) series with coefficient `phi ** block`, solved the same way (recursively, so no Python loop
    runs per element). Deterministic: only elementwise operations and sequential cumulative sums.
    """
    if not 0.0 <= phi < 1.0:
        raise ValueError(f"AR(1) coefficient must be in [0, 1), got {phi}")
    n = innovations.shape[0]
    if phi == 0.0 or n == 0:
        return innovations.astype(np.float64, copy=True)
    block = int(max(2, min(64, np.floor(np.log(1e6) / -np.log(phi)))))
    powers = phi ** np.arange(min(n, block), dtype=np.float64)
    if n <= block:
        return np.asarray(powers * np.cumsum(innovations / powers), dtype=np.float64)
    rows = -(-n // block)
    padded = np.zeros(rows * block, dtype=np.float64)
    padded[:n] = innovations
    within = powers * np.cumsum(padded.reshape(rows, block) / powers, axis=1)
    ends = _ar1(np.ascontiguousarray(within[:, -1]), phi**block)
    carried = np.concatenate(([0.0], ends[:-1]))
    full = within + carried[:, None] * (phi * powers)
    return np.asarray(full.reshape(-1)[:n], dtype=np.float64)


def _stationary_ar1(rng: np.random.Generator, n: int, phi: float, std: float) -> F64:
    """A stationary AR(1) series of length `n` with standard deviation `std` (starts in equilibrium)."""
    innovations = rng.standard_normal(n) * (std * np.sqrt(1.0 - phi * phi))
    if n:
        innovations[0] = innovations[0] / np.sqrt(1.0 - phi * phi)  # x[0] ~ N(0, std²)
    return _ar1(innovations, phi)


def solar_elevation_deg(latitude: float, longitude: float, times_us: I64) -> F64:
    """Apparent solar elevation (degrees, refraction-corrected) at UTC µs `times_us`.

    The NOAA solar-position equations, as in `astral.sun.elevation`, vectorized over times.
    """
    t = np.asarray(times_us, dtype=np.int64)
    jd = t / (US_PER_DAY * 1.0) + 2440587.5
    jc = (jd - 2451545.0) / 36525.0
    mean_long = np.radians(np.mod(280.46646 + jc * (36000.76983 + 0.0003032 * jc), 360.0))
    anomaly = np.radians(357.52911 + jc * (35999.05029 - 0.0001537 * jc))
    ecc = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc)
    center = (
        np.sin(anomaly) * (1.914602 - jc * (0.004817 + 0.000014 * jc))
        + np.sin(2 * anomaly) * (0.019993 - 0.000101 * jc)
        + np.sin(3 * anomaly) * 0.000289
    )
    omega = np.radians(125.04 - 1934.136 * jc)
    apparent_long = np.radians(np.degrees(mean_long) + center - 0.00569 - 0.00478 * np.sin(omega))
    mean_obliquity = 23.0 + (26.0 + (21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))) / 60.0) / 60.0
    obliquity = np.radians(mean_obliquity + 0.00256 * np.cos(omega))
    declination = np.arcsin(np.sin(obliquity) * np.sin(apparent_long))
    y = np.tan(obliquity / 2.0) ** 2
    eq_time_min = 4.0 * np.degrees(
        y * np.sin(2 * mean_long)
        - 2 * ecc * np.sin(anomaly)
        + 4 * ecc * y * np.sin(anomaly) * np.cos(2 * mean_long)
        - 0.5 * y * y * np.sin(4 * mean_long)
        - 1.25 * ecc * ecc * np.sin(2 * anomaly)
    )
    utc_minutes = np.mod(t, US_PER_DAY) / (60.0 * US_PER_S)
    true_solar_min = np.mod(utc_minutes + eq_time_min + 4.0 * longitude, 1440.0)
    hour_angle = np.radians(true_solar_min / 4.0 - 180.0)
    lat = np.radians(np.clip(latitude, -89.8, 89.8))
    cos_zenith = np.sin(lat) * np.sin(declination) + np.cos(lat) * np.cos(declination) * np.cos(hour_angle)
    elevation = 90.0 - np.degrees(np.arccos(np.clip(cos_zenith, -1.0, 1.0)))
    return np.asarray(elevation + _refraction_deg(elevation), dtype=np.float64)


def _refraction_deg(elevation: F64) -> F64:
    """Atmospheric refraction (degrees) at a geometric elevation, NOAA's piecewise approximation."""
    safe = np.where(np.abs(elevation) < 1e-6, 1e-6, elevation)  # avoid tan(0) in the unused branches
    te = np.tan(np.radians(safe))
    arcsec = np.select(
        [elevation >= 85.0, elevation > 5.0, elevation > -0.575],
        [
            np.zeros_like(elevation),
            58.1 / te - 0.07 / te**3 + 0.000086 / te**5,
            1735.0 + elevation * (-518.2 + elevation * (103.4 + elevation * (-12.79 + elevation * 0.711))),
        ],
        default=-20.774 / te,
    )
    return np.asarray(arcsec / 3600.0, dtype=np.float64)


@lru_cache(maxsize=1 << 16)
def _astral_us(event: Callable[..., Any], latitude: float, longitude: float, day: date, timezone: str) -> int:
    """UTC µs of an astral sun event on a local day, or -1 where the sun never crosses the horizon.

    Memoised: the homes of one climate region share its location, so a worker making many homes asks the
    same days again (astral is scalar Python, about 0.1 ms a call)."""
    observer = Observer(latitude=latitude, longitude=longitude, elevation=0.0)
    try:
        moment: datetime = event(observer, day, ZoneInfo(timezone))
    except ValueError:
        return -1
    return (moment - _EPOCH) // _ONE_US


def _sun_times(climate: ClimateRegion, grid: DayGrid, daily_max_elevation: F64) -> tuple[I64, I64]:
    """Sunrise and sunset (UTC µs) per local day from astral, always `begin ≤ sunrise ≤ sunset ≤ end`.

    Polar day (astral: the sun never sets): sunrise at local midnight, sunset at the next one. Polar
    night (never rises): both at solar noon, a day of zero length. Where only one event exists the
    missing one is the day's edge, and a sunset reported before the sunrise (the previous evening's,
    after midnight) is replaced by the day's end.
    """
    loc = climate.location
    place = (loc.latitude, loc.longitude)
    begin, end = grid.midnights[:-1], grid.midnights[1:]
    rise = np.empty(grid.days, dtype=np.int64)
    fall = np.empty(grid.days, dtype=np.int64)
    noon = begin + 12 * US_PER_H
    for d in range(grid.days):  # astral is scalar: one pair of calls per day
        day = grid.start + timedelta(days=d)
        rise[d] = _astral_us(astral.sun.sunrise, *place, day, grid.timezone)
        fall[d] = _astral_us(astral.sun.sunset, *place, day, grid.timezone)
        if rise[d] < 0 and fall[d] < 0 and daily_max_elevation[d] <= 0:
            noon[d] = _astral_us(astral.sun.noon, *place, day, grid.timezone)
    no_rise, no_set = rise < 0, fall < 0
    polar_night = no_rise & no_set & (daily_max_elevation <= 0)
    rise = np.where(no_rise, np.where(polar_night, noon, begin), rise)
    fall = np.where(no_set, np.where(polar_night, noon, end), fall)
    rise = np.clip(rise, begin, end)
    fall = np.clip(fall, begin, end)
    fall = np.where(fall < rise, end, fall)
    return rise.astype(np.int64), fall.astype(np.int64)


def _diurnal_shape(clock_h: F64, sunrise_h: F64) -> F64:
    """-1 at sunrise, +1 at 15:00 local, half-cosines in between (rise by day, slow fall overnight)."""
    rise = np.clip(sunrise_h, 3.0, 10.0)
    warming = (clock_h >= rise) & (clock_h < _MAX_HOUR)
    up = -np.cos(np.pi * (clock_h - rise) / (_MAX_HOUR - rise))
    since_max = np.mod(clock_h - _MAX_HOUR, 24.0)
    down = np.cos(np.pi * since_max / (24.0 - _MAX_HOUR + rise))
    return np.where(warming, up, down)


@dataclass(frozen=True)
class Environment:
    """Hourly outdoor conditions over a home's day grid (all arrays have one value per hour)."""

    grid: DayGrid
    hours_us: I64  # UTC µs of each hour, grid.begin_us (inclusive) to grid.end_us (exclusive)
    temperature_c: F64
    humidity_pct: F64
    cloud_cover: F64  # 0..1
    sun_elevation_deg: F64
    carbon_g: F64  # grid carbon intensity, g CO2 per kWh
    price: F64  # electricity price per kWh, in the grid region's currency
    condition: npt.NDArray[np.int8]  # codes into CONDITIONS
    sunrise_us: I64  # per local day
    sunset_us: I64  # per local day

    def hour_index(self, times_us: I64) -> I64:
        """Index of the hour containing each UTC µs time, clipped to the first and last hour."""
        idx = (np.asarray(times_us, dtype=np.int64) - self.hours_us[0]) // US_PER_H
        return np.asarray(np.clip(idx, 0, self.hours_us.shape[0] - 1), dtype=np.int64)

    def at(self, column: str, times_us: I64) -> F64:
        """A float column linearly interpolated at UTC µs times (held constant beyond the ends).

        `column` is a field name (`temperature_c`, `carbon_g`, ...) or its table name
        (`carbon_intensity_g_per_kwh`, `price_per_kwh`).
        """
        name = _COLUMN_ALIASES.get(column, column)
        if name not in _FLOAT_COLUMNS:
            raise KeyError(f"not a float environment column: {column!r}")
        values: F64 = getattr(self, name)
        x = (np.asarray(times_us, dtype=np.int64) - self.hours_us[0]).astype(np.float64)
        xp = (self.hours_us - self.hours_us[0]).astype(np.float64)
        return np.asarray(np.interp(x, xp, values), dtype=np.float64)

    def daily_max_temperature(self) -> F64:
        """Maximum hourly temperature of each local day (length `grid.days`)."""
        starts = np.searchsorted(self.hours_us, self.grid.midnights[:-1])
        return np.maximum.reduceat(self.temperature_c, starts).astype(np.float64)

    def to_table(self) -> pa.Table:
        """The `environment.parquet` table: exactly `ENVIRONMENT_SCHEMA`, sorted by time."""
        order = np.argsort(self.hours_us, kind="stable")
        condition = pa.DictionaryArray.from_arrays(
            pa.array(self.condition[order], type=pa.int8()), pa.array(CONDITIONS, type=pa.string())
        )
        columns = [
            pa.array(self.hours_us[order], type=pa.timestamp("us", tz="UTC")),
            pa.array(self.temperature_c[order], type=pa.float64()),
            pa.array(self.humidity_pct[order], type=pa.float64()),
            pa.array(self.cloud_cover[order], type=pa.float64()),
            condition,
            pa.array(self.sun_elevation_deg[order], type=pa.float64()),
            pa.array(self.carbon_g[order], type=pa.float64()),
            pa.array(self.price[order], type=pa.float64()),
        ]
        return pa.Table.from_arrays(columns, schema=ENVIRONMENT_SCHEMA)


def generate_environment(
    climate: ClimateRegion, grid_region: GridRegion, grid: DayGrid, rng: np.random.Generator
) -> Environment:
    """Generate the hourly environment of a home in `climate`, on `grid_region`, over `grid`.

    Draws, in a fixed order, from `rng` only; see the module docstring for the model.
    """
    hours = np.arange(grid.begin_us, grid.end_us, US_PER_H, dtype=np.int64)
    n = hours.shape[0]
    day = grid.day_of(hours)
    local_us = hours + grid.utc_offsets(hours)
    clock_h = np.mod(local_us, US_PER_DAY) / US_PER_H
    hour_of_day = np.floor(clock_h).astype(np.int64)
    lat, lon = climate.location.latitude, climate.location.longitude

    # --- Sun ----------------------------------------------------------------------------------------
    elevation = solar_elevation_deg(lat, lon, hours)
    day_starts = np.searchsorted(hours, grid.midnights[:-1])
    sunrise, sunset = _sun_times(climate, grid, np.maximum.reduceat(elevation, day_starts))
    sunrise_h = (sunrise - grid.midnights[:-1]) / US_PER_H  # elapsed hours (≤ 1 h off on DST days)

    # --- Random processes (fixed draw order) --------------------------------------------------------
    cloud_latent = _stationary_ar1(rng, n, _CLOUD_PHI, _CLOUD_STD)
    rain_latent = _stationary_ar1(rng, n, _RAIN_PHI, 1.0)
    wind_latent = _stationary_ar1(rng, n, _WIND_PHI, 1.0)
    daily_anomaly = _stationary_ar1(rng, grid.days, _ANOMALY_PHI, _ANOMALY_STD_C)
    temp_noise = _stationary_ar1(rng, n, _NOISE_PHI, _NOISE_STD_C)
    humidity_noise = rng.standard_normal(n) * 2.0
    carbon_noise = rng.standard_normal(n)

    # --- Clouds: logistic of a Gaussian AR(1); the probit-style correction makes the mean ≈ cloudiness
    target = float(np.clip(climate.cloudiness, 0.02, 0.98))
    centre = np.log(target / (1.0 - target)) * np.sqrt(1.0 + np.pi * _CLOUD_STD**2 / 8.0)
    cloud = 1.0 / (1.0 + np.exp(-(centre + cloud_latent)))

    # --- Precipitation: more likely (lower threshold) the cloudier it is; only from real cloud cover -
    threshold = 2.9 - 2.4 * cloud
    precipitating = (rain_latent > threshold) & (cloud > 0.4)
    pouring = precipitating & (rain_latent > threshold + 1.0)

    # --- Temperature --------------------------------------------------------------------------------
    doy = (np.datetime64(grid.start, "D") + np.arange(grid.days)).astype("datetime64[D]")
    day_of_year = (doy - doy.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64) + 1
    coldest = climate.coldest_doy + (_YEAR_DAYS / 2.0 if lat < 0 else 0.0)
    fractional_doy = day_of_year[day] + clock_h / 24.0
    seasonal = climate.mean_c - climate.seasonal_c * np.cos(
        2 * np.pi * (fractional_doy - coldest) / _YEAR_DAYS
    )
    diurnal = climate.diurnal_c * (1.0 - 0.5 * cloud) * _diurnal_shape(clock_h, sunrise_h[day])
    day_centres = grid.midnights[:-1] + 12 * US_PER_H - grid.begin_us
    anomaly = np.interp(
        (hours - grid.begin_us).astype(np.float64), day_centres.astype(np.float64), daily_anomaly
    )
    temperature = seasonal + diurnal + anomaly + temp_noise

    # --- Humidity: constant moisture → RH falls as the day warms; clouds and rain raise it ----------
    humidity = (
        climate.humidity * np.exp(-_RH_PER_C * diurnal)
        + 12.0 * (cloud - climate.cloudiness)
        + 10.0 * precipitating
        + humidity_noise
    )
    humidity = np.clip(humidity, 5.0, 100.0)

    # --- Condition ----------------------------------------------------------------------------------
    daylight = elevation > 0.0
    condition = np.select(
        [
            precipitating & (temperature < 0.0),
            pouring,
            precipitating,
            (humidity >= 97.0) & (wind_latent < 0.0) & (elevation < 5.0),
            wind_latent > 2.0,
            cloud >= 0.8,
            cloud >= 0.35,
            daylight,
        ],
        [_CODE[c] for c in ("snowy", "pouring", "rainy", "fog", "windy", "cloudy", "partlycloudy", "sunny")],
        default=_CODE["clear-night"],
    ).astype(np.int8)

    # --- Carbon intensity ---------------------------------------------------------------------------
    peak_elevation = np.radians(min(90.0, 90.0 - abs(lat) + _OBLIQUITY_DEG))
    clear_sky = np.clip(np.sin(np.radians(elevation)) / np.sin(peak_elevation), 0.0, 1.0)
    solar = clear_sky * (1.0 - _GRID_CLOUD_LOSS * cloud)
    evening = (hour_of_day >= _EVENING[0]) & (hour_of_day < _EVENING[1])
    wind_term = np.exp(-0.08 * wind_latent + 0.03 * carbon_noise)  # windy hours: more wind power
    carbon = (
        grid_region.base_g
        * (1.0 - grid_region.solar_drop * solar)
        * (1.0 + grid_region.evening_peak * evening)
        * wind_term
    )

    # --- Price: time-of-use band, ±10 % with the carbon anomaly -------------------------------------
    tariff = grid_region.tariff
    standard = tariff.get("standard", float(np.mean(list(tariff.values()))))
    band = np.where(
        evening,
        tariff.get("peak", standard),
        np.where(
            (hour_of_day < _OFF_PEAK[0]) | (hour_of_day >= _OFF_PEAK[1]),
            tariff.get("off_peak", standard),
            standard,
        ),
    )
    carbon_anomaly = np.clip((carbon / grid_region.base_g - 1.0) / 0.25, -2.0, 2.0)
    price = band * (1.0 + _PRICE_CARBON_SHARE * carbon_anomaly)

    return Environment(
        grid=grid,
        hours_us=hours,
        temperature_c=temperature.astype(np.float64),
        humidity_pct=humidity.astype(np.float64),
        cloud_cover=cloud.astype(np.float64),
        sun_elevation_deg=elevation,
        carbon_g=carbon.astype(np.float64),
        price=price.astype(np.float64),
        condition=condition,
        sunrise_us=sunrise,
        sunset_us=sunset,
    )
