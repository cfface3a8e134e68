"""A home folder's contents: the generated home written atomically with fixed Parquet options (one file
each for structure, events, environment, behaviours and ground truth), and read back. The file names are
the workspace's (`homesim.workspace.HomeFolder`)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from homesim.generation.home import GeneratedHome
from homesim.ground_truth.truth import build_ground_truth, write_ground_truth
from homesim.io import write_atomic, write_text_atomic
from homesim.schema.home import Home
from homesim.workspace import HomeFolder

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
    folder = HomeFolder(directory)
    paths = [folder.home_json, folder.events, folder.environment, folder.behaviors]
    write_text_atomic(paths[0], generated.home.model_dump_json(indent=2) + "\n")
    write_atomic(paths[1], lambda p: pq.write_table(generated.events, p, **PARQUET_OPTIONS))
    write_atomic(paths[2], lambda p: pq.write_table(generated.environment.to_table(), p, **PARQUET_OPTIONS))
    write_text_atomic(paths[3], generated.plan.model_dump_json(indent=2) + "\n")
    paths.append(write_ground_truth(build_ground_truth(generated), directory))
    return paths


def read_home(directory: Path) -> Home:
    return Home.model_validate_json(HomeFolder(directory).home_json.read_text("utf-8"))


def read_events(directory: Path) -> pa.Table:
    return pq.read_table(HomeFolder(directory).events)
