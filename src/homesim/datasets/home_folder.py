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
from homesim.ground_truth.truth import build_ground_truth, ground_truth_json
from homesim.io import IntegrityError, read_verified, write_bytes_atomic
from homesim.schema.ground_truth import GroundTruth
from homesim.schema.home import Home
from homesim.workspace import HomeFolder

#: Columns of random ids, one per event (context ids): a dictionary or min/max statistics cannot help them
#: and cost time per value, so they get neither; they are prefix-encoded instead (DELTA_BYTE_ARRAY: a ULID
#: starts with its millisecond, which the event before mostly shares, so zstd gets ~20 % fewer bytes to
#: compress; measured: docs/benchmarks.md, "Parquet encoding").
UNIQUE_ID_COLUMNS = frozenset({"context_id", "parent_context_id"})


def parquet_options(schema: pa.Schema) -> dict[str, object]:
    """Parquet options fixed here so identical tables give identical bytes, chosen by measurement
    (docs/benchmarks.md, "Parquet encoding"): zstd level 1; dictionaries for text (entity ids, states,
    causes repeat) but not for numbers or times (a home's ~10^5 distinct times and readings make the
    dictionary a wasted first try); times delta-encoded (sorted microseconds: 2–3 bytes each); min/max
    statistics on times only, the one thing a reader might filter row groups by; context ids
    prefix-encoded."""
    text = [
        f.name
        for f in schema
        if f.name not in UNIQUE_ID_COLUMNS and (pa.types.is_string(f.type) or pa.types.is_dictionary(f.type))
    ]
    times = [f.name for f in schema if pa.types.is_timestamp(f.type)]
    ids = [f.name for f in schema if f.name in UNIQUE_ID_COLUMNS]
    return {
        "compression": "zstd",
        "compression_level": 1,
        "use_dictionary": text,
        "write_statistics": times,
        "column_encoding": dict.fromkeys(times, "DELTA_BINARY_PACKED")
        | dict.fromkeys(ids, "DELTA_BYTE_ARRAY"),
        "row_group_size": 1 << 20,
    }


def parquet_bytes(table: pa.Table) -> pa.Buffer:
    """`table` as the bytes of a Parquet file, written with `parquet_options`."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **parquet_options(table.schema))
    return sink.getvalue()


def write_home_files(generated: GeneratedHome, directory: Path) -> dict[str, FileEntry]:
    """Write the home's files into `directory`, each atomically; returns each file's entry, hashed from the
    bytes as written (no file is read back)."""
    directory.mkdir(parents=True, exist_ok=True)
    folder = HomeFolder(directory)
    contents: list[tuple[Path, bytes | memoryview]] = [
        (folder.home_json, (generated.home.model_dump_json(indent=2) + "\n").encode("utf-8")),
        (folder.events, memoryview(parquet_bytes(generated.events))),
        (folder.environment, memoryview(parquet_bytes(generated.environment.to_table()))),
        (folder.behaviors, (generated.plan.model_dump_json(indent=2) + "\n").encode("utf-8")),
        (folder.activities, memoryview(parquet_bytes(generated.activities.to_table(generated.home)))),
        (folder.ground_truth, ground_truth_json(build_ground_truth(generated))),
    ]
    return {
        path.name: FileEntry(sha256=write_bytes_atomic(path, data), bytes=len(data))
        for path, data in contents
    }


def write_home(generated: GeneratedHome, directory: Path) -> list[Path]:
    """Write the home's files into `directory`, each atomically; returns the paths written."""
    return [directory / name for name in write_home_files(generated, directory)]


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
