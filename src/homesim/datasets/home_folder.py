"""A home folder's contents: the generated home written atomically with fixed Parquet options (one file
each for structure, events, environment, behaviours, the occupants' activities and ground truth), and read
back through `HomeFiles`, which checks each file against the folder's manifest as it reads it. The file names
are the workspace's (`homesim.workspace.HomeFolder`)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from homesim.datasets.cache import FileEntry, HomeManifest
from homesim.generation.home import GeneratedHome
from homesim.ground_truth.truth import build_ground_truth, write_ground_truth
from homesim.io import IntegrityError, read_verified, write_atomic, write_text_atomic
from homesim.schema.ground_truth import GroundTruth
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
    paths = [folder.home_json, folder.events, folder.environment, folder.behaviors, folder.activities]
    write_text_atomic(paths[0], generated.home.model_dump_json(indent=2) + "\n")
    write_atomic(paths[1], lambda p: pq.write_table(generated.events, p, **PARQUET_OPTIONS))
    write_atomic(paths[2], lambda p: pq.write_table(generated.environment.to_table(), p, **PARQUET_OPTIONS))
    write_text_atomic(paths[3], generated.plan.model_dump_json(indent=2) + "\n")
    activities = generated.activities.to_table(generated.home)
    write_atomic(paths[4], lambda p: pq.write_table(activities, p, **PARQUET_OPTIONS))
    paths.append(write_ground_truth(build_ground_truth(generated), directory))
    return paths


class HomeFiles:
    """One home folder's files read for use, each checked against the folder's `manifest.json` sha256 as it
    is read (the digest is of the bytes parsed, so a file changed under the same size and mtime is caught).

    A folder with no manifest has no recorded hashes (an imported real home, a pilot home written with
    `write_home` outside the cache) and is read unchecked, unless `manifest_required` (a home of a generated
    dataset in the workspace cache, which always has one). Raises `IntegrityError` naming the file.
    """

    def __init__(self, directory: Path, *, manifest_required: bool = False) -> None:
        self.folder = HomeFolder(directory)
        self._entries: dict[str, FileEntry] | None = None
        if self.folder.manifest.is_file():
            try:
                self._entries = HomeManifest.model_validate_json(self.folder.manifest.read_bytes()).files
            except ValidationError as exc:
                raise IntegrityError(f"{self.folder.manifest}: not a readable home manifest") from exc
        elif manifest_required:
            raise IntegrityError(
                f"{self.folder.manifest} is missing, so this generated home's files cannot be checked; "
                "regenerate it with `homesim generate`"
            )

    def read(self, path: Path) -> bytes:
        """`path`'s bytes (a file of this folder), verified against the manifest when the home has one."""
        if self._entries is None:
            return path.read_bytes()
        entry = self._entries.get(path.name)
        return read_verified(path, None if entry is None else entry.sha256, self.folder.manifest)

    def home(self) -> Home:
        return Home.model_validate_json(self.read(self.folder.home_json))

    def parquet(self, path: Path, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(pa.BufferReader(self.read(path)), columns=columns)


def read_home(directory: Path) -> Home:
    return HomeFiles(directory).home()


def read_events(directory: Path) -> pa.Table:
    files = HomeFiles(directory)
    return files.parquet(files.folder.events)


def read_truth(directory: Path) -> GroundTruth:
    """The home's `ground_truth.json`, verified (`homesim.ground_truth.truth.read_ground_truth` is not)."""
    files = HomeFiles(directory)
    return GroundTruth.model_validate_json(files.read(files.folder.ground_truth))
