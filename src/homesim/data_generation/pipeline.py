"""One home end to end: structure → schedules → environment → behaviours → events → faults → files.

`generate_home(config, i)` is a pure function of (config's home fields, seed, i): the same inputs give the
same home and byte-identical Parquet files, whichever process or machine runs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from homesim.data_generation import ground_truth_generator
from homesim.data_generation.behaviors import BehaviorPlan, plan_behaviors
from homesim.data_generation.calendar import day_grid
from homesim.data_generation.catalog import Catalog, load_catalog
from homesim.data_generation.config import GenerationConfig
from homesim.data_generation.environment import Environment, generate_environment
from homesim.data_generation.event_generator import EventGenerator
from homesim.data_generation.faults import Fault, apply_faults, plan_faults
from homesim.data_generation.home_generator import HomeGenerator
from homesim.data_generation.occupants import realize_schedules
from homesim.data_generation.seeds import Stage, stage_rng
from homesim.data_generation.sensors import SensorReporter
from homesim.io import write_atomic, write_text_atomic
from homesim.schema.home import Home

HOME_FILE = "home.json"
EVENTS_FILE = "events.parquet"
ENVIRONMENT_FILE = "environment.parquet"
BEHAVIORS_FILE = "behaviors.json"
#: Parquet options fixed here so identical tables give identical bytes.
PARQUET_OPTIONS: dict[str, object] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "row_group_size": 1 << 20,
}


@dataclass(frozen=True)
class GeneratedHome:
    home: Home
    plan: BehaviorPlan
    faults: tuple[Fault, ...]
    environment: Environment
    events: pa.Table

    @property
    def key(self) -> str:
        return self.home.metadata.home_key


def generate_home(config: GenerationConfig, index: int, catalog: Catalog | None = None) -> GeneratedHome:
    catalog = catalog or load_catalog()
    home = HomeGenerator(catalog).generate(config, index)
    meta = home.metadata
    grid = day_grid(meta.start, meta.days, meta.timezone)
    climate = catalog.climates[meta.climate_region]
    environment = generate_environment(
        climate, catalog.grids[meta.grid_region], grid, stage_rng(config.seed, index, Stage.ENVIRONMENT)
    )
    schedules = realize_schedules(
        list(meta.occupants), grid, stage_rng(config.seed, index, Stage.OCCUPANTS), config.jitter
    )
    tags = {key: device.tags for key, device in catalog.devices.items()}
    plan = plan_behaviors(home, tags, stage_rng(config.seed, index, Stage.BEHAVIORS))
    generator = EventGenerator(
        home,
        grid,
        environment,
        schedules,
        plan,
        tags,
        stage_rng(config.seed, index, Stage.EVENTS),
        noise=config.noise,
        jitter=config.jitter,
    )
    buffer = generator.run()
    SensorReporter(
        home,
        catalog,
        grid,
        environment,
        schedules,
        buffer,
        stage_rng(config.seed, index, Stage.SENSORS),
        config.sensor_density,
    ).run()
    fault_rng = stage_rng(config.seed, index, Stage.FAULTS)
    faults = plan_faults(home, grid, config.fault_rate, fault_rng)
    apply_faults(buffer, faults, fault_rng)
    events = buffer.finalize(grid.begin_us, grid.end_us, stage_rng(config.seed, index, Stage.CONTEXT_IDS))
    return GeneratedHome(home=home, plan=plan, faults=tuple(faults), environment=environment, events=events)


def write_home(generated: GeneratedHome, directory: Path) -> list[Path]:
    """Write the home's files into `directory`, each atomically; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [
        directory / HOME_FILE,
        directory / EVENTS_FILE,
        directory / ENVIRONMENT_FILE,
        directory / BEHAVIORS_FILE,
    ]
    write_text_atomic(paths[0], generated.home.model_dump_json(indent=2) + "\n")
    write_atomic(paths[1], lambda p: pq.write_table(generated.events, p, **PARQUET_OPTIONS))
    write_atomic(paths[2], lambda p: pq.write_table(generated.environment.to_table(), p, **PARQUET_OPTIONS))
    write_text_atomic(paths[3], generated.plan.model_dump_json(indent=2) + "\n")
    truth = ground_truth_generator.build_ground_truth(generated)
    paths.append(ground_truth_generator.write_ground_truth(truth, directory))
    return paths


def read_home(directory: Path) -> Home:
    return Home.model_validate_json((directory / HOME_FILE).read_text("utf-8"))


def read_events(directory: Path) -> pa.Table:
    return pq.read_table(directory / EVENTS_FILE)
