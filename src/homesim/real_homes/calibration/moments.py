"""Matching each calibrated sensor's activations per day and repeats, the episodes per day, the hourly
profile, the spread of episode sizes and the share of activations in bursts to the real home's fit days, by
simulation.

The rates `fit` reads per activity are only as good as the match between real labels and the synthetic
activity model (a label's length, unlabelled time, how often an activity recurs), and how often a sensor
fires twice in a row depends on everything else in the generator. A pilot generation — a few homes from
the fitted calibration alone, put on the realism footing — measures each sensor's activations per day and
the share of them followed by the same sensor, the episodes per day, the share of activations in each
hour, the episode sizes' coefficient of variation and the burst share (gaps under a minute); each sensor's
rates, its chance of firing again in an episode, the episode rate and the hourly multipliers are rescaled
by real ÷ pilot, the episodes' size shape by the squared ratio of the CVs, and the gaps inside episodes by
the ratio of the burst shares' odds, over a few rounds: the method of simulated moments. Only the fit
days' figures go in, so the held-out days stay out.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl

from homesim.datasets.home_folder import write_home
from homesim.generation.calibration import layout_entities
from homesim.generation.catalog import load_catalog
from homesim.generation.config import GenerationConfig
from homesim.generation.home import generate_home
from homesim.real_homes.calibration.fit import (
    FittedHome,
    burst_share,
    episode_size_cv,
    episodes_per_day,
    hourly_share,
)
from homesim.real_homes.realism.footing import load_home

#: Calibrated homes are apartments: one home type with no vacation stays (the real home's absences are
#: its fitted outings); the layout replaces the type's rooms anyway.
HOME_TYPE = "apartment"
#: Pilot generation: homes, days each, and its seed (fixed: the fit is a function of the real home alone).
PILOT_HOMES = 3
PILOT_DAYS = 28
PILOT_SEED = 20_240_614
#: Rounds of pilot generation and scaling.
PILOT_ROUNDS = 8
#: A sensor's rates are scaled by at most this factor either way.
MAX_SCALE = 5.0
#: Bounds on the episodes' fitted size shape (gamma: 0.2 spreads sizes far wider than geometric, 50 makes
#: them nearly even).
SHAPES = (0.2, 50.0)
#: The hourly profile matched is the fit days' shrunk towards the activity model's own (the first pilot's)
#: by this many pseudo-activations: 24 shares fitted from a few hundred activations would copy the fit
#: days' chance peaks (a Dirichlet prior centred on the model's profile).
HOURLY_PRIOR = 400.0
#: Bounds on the factor the gaps inside episodes are scaled by (the fitted gaps lengthen in the generator:
#: an activation waits until its sensor clears, thinning and merging leave longer gaps).
GAP_SCALES = (0.2, 5.0)


def calibration_config(fitted: FittedHome, homes: int, days: int, seed: int) -> GenerationConfig:
    """The generation config of `homes` homes like the fitted real home, `days` days each from the fit
    period's first day, in the real home's climate region when homesim has it."""
    climate = fitted.climate_region if fitted.climate_region in load_catalog().climates else None
    return GenerationConfig(
        homes=homes,
        days=days,
        seed=seed,
        start=fitted.split.fit_days[0],
        home_types={HOME_TYPE: 1.0},
        climate_regions=(climate,) if climate else None,
        occupants=(fitted.calibration.residents, fitted.calibration.residents),
        calibration=fitted.calibration,
    )


class Pilot(NamedTuple):
    """What a pilot generation measures: per layout sensor (`[room][sensor]`) its activations per kept
    day and the share of them the home's next activation is the same sensor again; episodes per kept day;
    the share of the activations in each local hour; the episode sizes' coefficient of variation and the
    burst share (means over the homes)."""

    per_day: list[list[float]]
    repeat: list[list[float]]
    episodes: float
    hourly: list[float]
    size_cv: float
    burst: float


def pilot_rates(fitted: FittedHome) -> Pilot:
    """The pilot homes' figures (`Pilot`), from the fitted calibration alone."""
    config = calibration_config(fitted, PILOT_HOMES, PILOT_DAYS, PILOT_SEED)
    counts = [[0.0] * len(room.sensors) for room in fitted.calibration.layout]
    repeats = [[0.0] * len(room.sensors) for room in fitted.calibration.layout]
    days = 0
    episodes = 0.0
    size_cv = 0.0
    burst = 0.0
    kept_acts = []
    with tempfile.TemporaryDirectory(prefix="homesim-pilot-") as tmp:
        for i in range(PILOT_HOMES):
            generated = generate_home(config, i)
            folder = Path(tmp) / str(i)
            write_home(generated, folder)
            home = load_home(folder, real=False)
            kept = home.kept_days["day"].implode()
            acts = home.activations.filter(pl.col("start").dt.date().is_in(kept))
            episodes += episodes_per_day(acts, 1)
            size_cv += episode_size_cv(acts) / PILOT_HOMES
            burst += burst_share(acts) / PILOT_HOMES
            kept_acts.append(acts)
            per_sensor = _per_sensor(acts)
            for entity_id, (r, j) in layout_entities(generated.home, fitted.calibration).items():
                n, again = per_sensor.get(entity_id, (0, 0))
                counts[r][j] += n
                repeats[r][j] += again
            days += home.kept_days.height
    return Pilot(
        per_day=[[c / max(days, 1) for c in room] for room in counts],
        repeat=[
            [a / max(c, 1) for a, c in zip(ra, rc, strict=True)]
            for ra, rc in zip(repeats, counts, strict=True)
        ],
        episodes=episodes / max(days, 1),
        hourly=hourly_share(pl.concat(kept_acts)),
        size_cv=size_cv,
        burst=burst,
    )


def _per_sensor(activations: pl.DataFrame) -> dict[str, tuple[int, int]]:
    """Sensor → (activations, how many of them the home's next activation is the same sensor)."""
    table = activations.sort("start", "sensor").with_columns(
        again=pl.col("sensor").shift(-1) == pl.col("sensor")
    )
    return {
        sensor: (n, again)
        for sensor, n, again in table.group_by("sensor").agg(pl.len(), pl.col("again").sum()).iter_rows()
    }


def _scaled(
    fitted: FittedHome,
    sensor_scales: list[list[float]],
    again: list[list[float]],
    episode_scale: float,
    hourly: list[float] | None,
    size_shape: float | None,
    gap_scale: float | None,
) -> FittedHome:
    """`fitted` with each responding sensor's rates and the episode rate multiplied by their scales, each
    sensor's chance of firing again in an episode set, the hourly multipliers and size shape set and the
    gaps inside episodes scaled (when given)."""
    layout = []
    for room, scales, chances in zip(fitted.calibration.layout, sensor_scales, again, strict=True):
        sensors = tuple(
            s.model_copy(update={"per_hour": {a: v * scale for a, v in s.per_hour.items()}, "again": chance})
            for s, scale, chance in zip(room.sensors, scales, chances, strict=True)
        )
        layout.append(room.model_copy(update={"sensors": sensors}))
    update: dict[str, object] = {"layout": tuple(layout)}
    sources = {**fitted.sources, "layout.sensors.per_hour.scale": "pilot generation vs fit-day activations"}
    if hourly is not None:
        update["hourly"] = tuple(hourly)
        sources["hourly"] = "pilot generation vs fit-day hourly profile"
    episodes = fitted.calibration.episodes
    if episodes is not None:
        gaps: dict[str, object] = {}
        if gap_scale is not None:
            gaps = {
                name: None if q is None else tuple(v * gap_scale for v in q)
                for name, q in (
                    ("gap_s", episodes.gap_s),
                    ("room_gap_s", episodes.room_gap_s),
                    ("same_gap_s", episodes.same_gap_s),
                )
            }
            sources["episodes.gap_scale"] = "pilot generation vs fit-day burst share"
        update["episodes"] = episodes.model_copy(
            update={"per_h": episodes.per_h * episode_scale, "size_shape": size_shape, **gaps}
        )
        if size_shape is not None:
            sources["episodes.size_shape"] = "pilot generation vs fit-day episode sizes"
        sources["episodes.per_h.scale"] = "pilot generation vs fit-day episodes"
        sources["layout.sensors.again"] = "pilot generation vs fit-day repeats"
    calibration = fitted.calibration.model_copy(update=update)
    return fitted.model_copy(update={"calibration": calibration, "sources": dict(sorted(sources.items()))})


def _odds(share: float) -> float:
    return share / (1.0 - share)


def _rescale(scale: float, real: float, synthetic: float) -> float:
    """`scale` times real ÷ synthetic, the product kept within ×`MAX_SCALE` either way."""
    if synthetic <= 0:
        return scale
    return float(np.clip(scale * real / synthetic, 1 / MAX_SCALE, MAX_SCALE))


def match_rates(fitted: FittedHome) -> FittedHome:
    """`fitted` with each responding sensor's rates scaled so a pilot generation gives the real home's
    activations per fit day, and its episode rate so the pilot gives the real episodes per fit day: the
    method of simulated moments, `PILOT_ROUNDS` rounds of pilot and rescaling (the pilot's response to a
    scale is not proportional: activations of one sensor merge, episodes close together join)."""
    layout = fitted.calibration.layout
    scales = [[1.0] * len(room.sensors) for room in layout]
    again = [[s.again for s in room.sensors] for room in layout]
    episode_scale = 1.0
    hourly = np.ones(24) if len(fitted.hourly_share) == 24 else None
    fit_n = sum(map(sum, fitted.activations_per_day)) * len(fitted.split.fit_days)
    target: list[float] = []
    matched_sizes = fitted.episode_size_cv > 0 and fitted.calibration.episodes is not None
    size_shape = 1.0 if matched_sizes else None
    matched_bursts = 0 < fitted.burst_share < 1 and fitted.calibration.episodes is not None
    gap_scale = 1.0 if matched_bursts else None
    current = fitted
    for _ in range(PILOT_ROUNDS):
        pilot = pilot_rates(current)
        scales = [
            [_rescale(s, real, synthetic) for s, real, synthetic in zip(*row, strict=True)]
            for row in zip(scales, fitted.activations_per_day, pilot.per_day, strict=True)
        ]
        again = [
            [
                float(np.clip(a * s.repeat / p, 0.0, 1.0)) if p > 0 else a
                for a, s, p in zip(chances, room.sensors, repeats, strict=True)
            ]
            for chances, room, repeats in zip(again, layout, pilot.repeat, strict=True)
        ]
        episode_scale = _rescale(episode_scale, fitted.episodes_per_day, pilot.episodes)
        if hourly is not None:
            target = target or [
                (fit_n * r + HOURLY_PRIOR * p) / (fit_n + HOURLY_PRIOR)
                for r, p in zip(fitted.hourly_share, pilot.hourly, strict=True)
            ]
            pairs = zip(hourly, target, pilot.hourly, strict=True)
            hourly = np.array([_rescale(w, r, p) for w, r, p in pairs])
        if size_shape is not None and pilot.size_cv > 0:
            # A gamma's coefficient of variation goes as 1/√shape.
            size_shape = float(np.clip(size_shape * (pilot.size_cv / fitted.episode_size_cv) ** 2, *SHAPES))
        if gap_scale is not None and 0 < pilot.burst < 1:
            # Shorter gaps, more of them under a minute: scaled by the ratio of the shares' odds.
            gap_scale = float(
                np.clip(gap_scale * _odds(pilot.burst) / _odds(fitted.burst_share), *GAP_SCALES)
            )
        current = _scaled(
            fitted,
            scales,
            again,
            episode_scale,
            None if hourly is None else [float(w) for w in hourly],
            size_shape,
            gap_scale,
        )
    return current
