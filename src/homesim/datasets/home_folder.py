"""A home folder: the files of one home (`home.json`, `events.parquet`, `environment.parquet`,
`behaviors.json`, `ground_truth.json`), written atomically with fixed Parquet options, and read back."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from homesim.generation.home import GeneratedHome
from homesim.ground_truth.truth import build_ground_truth, write_ground_truth
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
    paths.append(write_ground_truth(build_ground_truth(generated), directory))
    return paths


def read_home(directory: Path) -> Home:
    return Home.model_validate_json((directory / HOME_FILE).read_text("utf-8"))


def read_events(directory: Path) -> pa.Table:
    return pq.read_table(directory / EVENTS_FILE)
