"""One home end to end: structure → schedules → activities → environment → behaviours → events → faults.

`generate_home(config, i)` is a pure function of (config's home fields, seed, i): the same inputs give the
same home and byte-identical Parquet files, whichever process or machine runs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from homesim.generation.activities import ActivityIntervals, plan_activities
from homesim.generation.behaviors import BehaviorPlan, plan_behaviors
from homesim.generation.calendar import day_grid
from homesim.generation.calibration import calibrated_sensors, draw_home
from homesim.generation.catalog import Catalog, load_catalog
from homesim.generation.config import GenerationConfig
from homesim.generation.environment import Environment, generate_environment
from homesim.generation.event_generator import EventGenerator
from homesim.generation.faults import Fault, apply_faults, plan_faults
from homesim.generation.occupants import realize_schedules
from homesim.generation.seeds import Stream, stream_rng
from homesim.generation.sensors import SensorReporter
from homesim.generation.structure import HomeGenerator
from homesim.schema.home import Home


@dataclass(frozen=True)
class GeneratedHome:
    home: Home
    plan: BehaviorPlan
    faults: tuple[Fault, ...]
    environment: Environment
    events: pa.Table
    #: What each occupant did (ground truth, written as `activities.parquet`).
    activities: ActivityIntervals

    @property
    def key(self) -> str:
        return self.home.metadata.home_key


def generate_home(config: GenerationConfig, index: int, catalog: Catalog | None = None) -> GeneratedHome:
    catalog = catalog or load_catalog()
    home = HomeGenerator(catalog).generate(config, index)
    cal = config.calibration
    model = draw_home(cal, config.seed, index).activities if cal is not None else None
    meta = home.metadata
    grid = day_grid(meta.start, meta.days, meta.timezone)
    climate = catalog.climates[meta.climate_region]
    environment = generate_environment(
        climate, catalog.grids[meta.grid_region], grid, stream_rng(config.seed, index, Stream.ENVIRONMENT)
    )
    schedules = realize_schedules(
        list(meta.occupants), grid, stream_rng(config.seed, index, Stream.OCCUPANTS), config.jitter, model
    )
    activities = plan_activities(
        home, grid, schedules, stream_rng(config.seed, index, Stream.ACTIVITIES), model
    )
    tags = {key: device.tags for key, device in catalog.devices.items()}
    plan = plan_behaviors(home, tags, stream_rng(config.seed, index, Stream.BEHAVIORS))
    calibrated = calibrated_sensors(home, cal) if cal is not None else {}
    if calibrated:  # a calibrated sensor's events are its fitted responses only (its appliance, too)
        kept = tuple(b for b in plan.behaviors if not any(a.entity_id in calibrated for a in b.actions))
        uses = tuple(u for u in plan.co_uses if not {u.entity_a, u.entity_b} & calibrated.keys())
        causes = {b.id for b in kept} | {u.id for u in uses}
        decoys = tuple(d for d in plan.decoys if set(d.behaviors) <= causes)
        manual = tuple(u for u in plan.manual_uses if u.behavior_id in causes)
        plan = plan.model_copy(
            update={"behaviors": kept, "co_uses": uses, "decoys": decoys, "manual_uses": manual}
        )
    generator = EventGenerator(
        home,
        grid,
        environment,
        schedules,
        activities,
        plan,
        tags,
        stream_rng(config.seed, index, Stream.EVENTS),
        noise=config.noise,
        jitter=config.jitter,
        activity_model=model,
        calibrated=calibrated,
        episodes=cal.episodes if cal is not None else None,
        hourly=cal.hourly if cal is not None else None,
    )
    buffer = generator.run()
    SensorReporter(
        home,
        catalog,
        grid,
        environment,
        schedules,
        buffer,
        stream_rng(config.seed, index, Stream.SENSORS),
        config.sensor_density,
    ).run()
    fault_rng = stream_rng(config.seed, index, Stream.FAULTS)
    faults = plan_faults(home, grid, config.fault_rate, fault_rng)
    apply_faults(buffer, faults, fault_rng)
    events = buffer.finalize(grid.begin_us, grid.end_us, stream_rng(config.seed, index, Stream.CONTEXT_IDS))
    return GeneratedHome(
        home=home,
        plan=plan,
        faults=tuple(faults),
        environment=environment,
        events=events,
        activities=activities,
    )
