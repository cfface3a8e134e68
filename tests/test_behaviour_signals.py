"""Measured, not eyeballed: the behaviours' signals are present in the events with the configured shape."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from homesim.generation.calendar import US_PER_H
from homesim.generation.config import GenerationConfig
from homesim.generation.home import GeneratedHome, generate_home
from homesim.schema.patterns import CheapestHourTriggerSpec, NumericTriggerSpec, StateTriggerSpec


def _frame(generated: GeneratedHome) -> pl.DataFrame:
    df = pl.from_arrow(generated.events)
    assert isinstance(df, pl.DataFrame)
    return df.with_columns(pl.col("cause_id").cast(pl.String), pl.col("entity_id").cast(pl.String))


def test_motion_light_delay_follows_its_configured_distribution(month_homes: list[GeneratedHome]) -> None:
    checked = 0
    for generated in month_homes:
        df = _frame(generated)
        for b in generated.plan.behaviors:
            if not (
                isinstance(b.trigger, StateTriggerSpec)
                and b.delay
                and b.trigger.entity_id.startswith("binary_sensor")
            ):
                continue
            actions = df.filter((pl.col("cause_id") == b.id) & (pl.col("state") == b.actions[0].state))
            pairs = actions.join(
                df.select("context_id", pl.col("time").alias("t0")),
                left_on="parent_context_id",
                right_on="context_id",
            )
            if pairs.height < 50:
                continue
            delay_s = (pairs["time"] - pairs["t0"]).dt.total_microseconds().to_numpy() / 1e6
            assert abs(np.median(delay_s) / b.delay.median_s - 1) < 0.15
            assert abs(np.std(np.log(delay_s)) - b.delay.sigma) < 0.08
            checked += 1
    assert checked >= 3


@pytest.fixture(scope="module")
def summer_homes() -> list[GeneratedHome]:
    config = GenerationConfig(days=75, seed=4, start=date(2025, 5, 1), climate_regions=("continental_us",))
    return [generate_home(config, i) for i in range(10)]


def test_cooling_events_follow_outdoor_temperature(summer_homes: list[GeneratedHome]) -> None:
    coefficients = []
    for generated in summer_homes:
        acs = [
            b
            for b in generated.plan.behaviors
            if isinstance(b.trigger, NumericTriggerSpec) and b.actions[0].state == "cool"
        ]
        if not acs:
            continue
        df = _frame(generated)
        grid = generated.environment.grid
        cool = df.filter((pl.col("cause_id") == acs[0].id) & (pl.col("state") == "cool"))
        times = cool["time"].dt.epoch("us").to_numpy()
        per_day = np.bincount(grid.day_of(times), minlength=grid.days)
        coefficients.append(np.corrcoef(per_day, generated.environment.daily_max_temperature())[0, 1])
    assert len(coefficients) >= 2
    assert float(np.mean(coefficients)) > 0.4


def test_deferrable_loads_prefer_low_carbon_or_price_hours(summer_homes: list[GeneratedHome]) -> None:
    below_median = []
    for generated in summer_homes:
        df = _frame(generated)
        env = generated.environment
        for b in generated.plan.behaviors:
            if not isinstance(b.trigger, CheapestHourTriggerSpec):
                continue
            starts = df.filter((pl.col("cause_id") == b.id) & (pl.col("state") == b.actions[0].state))
            t = starts["time"].dt.epoch("us").to_numpy()
            column = "carbon_g" if b.trigger.variable == "carbon_intensity" else "price"
            at_start = env.at(column, t)
            lo, hi = b.trigger.window
            # compare with the signal over the same window on the same days
            offsets = np.arange(np.floor(lo), np.ceil(hi))
            days = env.grid.day_of(t - int(lo * US_PER_H))  # the day the window opened
            window = np.stack(
                [env.at(column, env.grid.local_time(days, np.full(len(days), h))) for h in offsets]
            )
            below_median.append(np.mean(at_start <= np.median(window, axis=0)))
    assert len(below_median) >= 3
    assert float(np.mean(below_median)) > 0.7
