"""Reading exports back: per-format table readers (used by the exporters' post-write validation) and
`load_training_data`, the one call trainers use to get a model type's data.

What trainers get (`TrainingData`): the export's `metadata` (checked for a readable `schema_version`) and
its `tables` as polars DataFrames validated against the pandera schemas of `schemas.py`, read from the best
columnar file present (Parquet, then SQLite, CSV, JSON), each parsed from bytes whose sha256 was just
checked against `metadata.json` (`IntegrityError` naming the file otherwise). `graphs()` groups gnn_synergy
tables into one `HomeGraph` (nodes + candidate edges with labels) per cycle and home.
"""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from homesim.io import read_verified
from homesim.simulation.model_provider import ModelType
from homesim.training_data.schemas import (
    TABLES,
    Format,
    TableSpec,
    check_schema_version,
)
from homesim.workspace import EXPORT_METADATA_FILE, Workspace

#: File suffix of each tabular format (`chat` is `<table>.chat.jsonl`).
SUFFIX: dict[Format, str] = {
    "json": ".json",
    "parquet": ".parquet",
    "sqlite": ".sqlite",
    "csv": ".csv",
    "chat": ".chat.jsonl",
}
#: Formats `load_training_data` prefers, best first.
_READ_ORDER: tuple[Format, ...] = ("parquet", "sqlite", "csv", "json")
CHAT_ROLES = ("system", "user", "assistant")


class ExportFormatError(ValueError):
    """An exported file does not match its format or table contract."""


def _to_sqlite_type(dtype: pl.DataType) -> str:
    if dtype == pl.Int64 or dtype == pl.Boolean:
        return "INTEGER"
    return "REAL" if dtype == pl.Float64 else "TEXT"


def sqlite_create_table(spec: TableSpec) -> str:
    """The CREATE TABLE statement of `spec` (booleans as 0/1 integers; SQLite holds no list columns)."""
    cols = ", ".join(f'"{c.name}" {_to_sqlite_type(c.dtype)}' for c in spec.columns)
    return f'CREATE TABLE "{spec.name}" ({cols})'


def read_table(path: Path, spec: TableSpec, fmt: Format, data: bytes | None = None) -> pl.DataFrame:
    """Read one exported table file into a frame with `spec`'s schema and validate it (pandera).

    With `data` (the file's already verified bytes) those are parsed and `path` only names them.
    """
    source: Path | io.BytesIO = path if data is None else io.BytesIO(data)
    try:
        if fmt == "parquet":
            frame = pl.read_parquet(source)
        elif fmt == "csv":
            frame = pl.read_csv(source, schema=spec.polars_schema)
        elif fmt == "json":
            frame = _read_json_table(source, path, spec)
        elif fmt == "sqlite":
            with closing(_open_sqlite(path, data)) as db:
                cursor = db.execute(f'SELECT * FROM "{spec.name}"')
                names = [d[0] for d in cursor.description]
                rows = cursor.fetchall()
            # Every row read for the types: a column null in the first rows (a query's `reason`) is not
            # taken for a null column.
            raw = pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None) if rows else None
            frame = spec.empty() if raw is None else raw.cast(spec.polars_schema, strict=True)
        else:
            raise ExportFormatError(f"{path}: {fmt!r} is not a table format")
    except (OSError, ValueError, sqlite3.Error, pl.exceptions.PolarsError) as exc:
        raise ExportFormatError(f"{path}: cannot read as {fmt} table {spec.name!r}: {exc}") from exc
    return validate_table(frame, spec, str(path))


def _open_sqlite(path: Path, data: bytes | None) -> sqlite3.Connection:
    """The export's SQLite database read-only from `path`, or from its verified bytes in memory."""
    if data is None:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db = sqlite3.connect(":memory:")
    db.deserialize(data)
    return db


def _read_json_table(source: Path | io.BytesIO, path: Path, spec: TableSpec) -> pl.DataFrame:
    """A JSON table document (`{"schema_version", "model_type", "table", "rows": [...]}`), parsed by polars
    into `spec`'s schema (fields outside it are ignored, missing ones read as null)."""
    header = {"schema_version": pl.String(), "model_type": pl.String(), "table": pl.String()}
    doc = pl.read_json(source, schema={**header, "rows": pl.List(pl.Struct(spec.polars_schema))})
    if doc.height != 1:
        raise ExportFormatError(f"{path}: not a single table document")
    check_schema_version(str(doc["schema_version"][0]), str(path))
    if doc["table"][0] != spec.name or doc["rows"][0] is None:
        raise ExportFormatError(f"{path}: not a {spec.name!r} table document")
    rows: pl.Series = doc["rows"][0]
    return rows.struct.unnest() if rows.len() else spec.empty()


def validate_table(frame: pl.DataFrame, spec: TableSpec, where: str) -> pl.DataFrame:
    """Validate a collected frame against `spec`'s pandera schema; raise ExportFormatError on failure."""
    import pandera.errors

    try:
        return spec.pandera.validate(frame)
    except (pandera.errors.SchemaError, pandera.errors.SchemaErrors) as exc:
        raise ExportFormatError(f"{where}: table {spec.name!r} fails its schema: {exc}") from exc


def read_chat(path: Path) -> list[dict[str, Any]]:
    """Read a chat JSONL file, checking each line is `{"messages": [system, user, assistant]}` with text."""
    examples: list[dict[str, Any]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            example = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ExportFormatError(f"{path}:{n}: not JSON: {exc}") from exc
        messages = example.get("messages") if isinstance(example, dict) else None
        ok = (
            isinstance(messages, list)
            and set(example) == {"messages"}
            and tuple(m.get("role") for m in messages if isinstance(m, dict)) == CHAT_ROLES
            and all(isinstance(m.get("content"), str) and m["content"] for m in messages)
        )
        if not ok:
            raise ExportFormatError(
                f"{path}:{n}: expected {{'messages': [system, user, assistant]}} with text"
            )
        examples.append(example)
    return examples


def read_metadata(directory: Path) -> dict[str, Any]:
    """An export folder's metadata, after checking its schema version is readable."""
    path = directory / EXPORT_METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"no export at {directory} (missing {EXPORT_METADATA_FILE}); run `homesim export`"
        )
    metadata: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    check_schema_version(str(metadata.get("schema_version")), str(path))
    return metadata


@dataclass(frozen=True)
class HomeGraph:
    """One home's entity graph in one cycle: `nodes` (entities with features) and candidate `edges`
    (trigger → action pairs with features, the detector's score and the ground-truth `label`)."""

    cycle: int
    home_key: str
    nodes: pl.DataFrame
    edges: pl.DataFrame


@dataclass(frozen=True)
class TrainingData:
    """A model type's exported training data, as trainers consume it."""

    model_type: ModelType
    directory: Path
    metadata: dict[str, Any]
    #: Table name (`synergies`, `entities`, `patterns`, `ground_truth`, `queries`, `yaml_pairs`,
    #: `validation_results`, `devices`) → validated frame.
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)

    def graphs(self) -> list[HomeGraph]:
        """gnn_synergy only: one graph per (cycle, home), in that order."""
        if self.model_type != "gnn_synergy":
            raise ValueError(f"graphs() is for gnn_synergy data, not {self.model_type}")
        nodes, edges = self.tables["entities"], self.tables["synergies"]
        homes = edges.select("cycle", "home_key").unique().sort("cycle", "home_key").iter_rows()
        return [
            HomeGraph(
                cycle=cycle,
                home_key=home,
                nodes=nodes.filter((pl.col("home_key") == home) & (pl.col("cycle") == cycle)),
                edges=edges.filter((pl.col("home_key") == home) & (pl.col("cycle") == cycle)),
            )
            for cycle, home in homes
        ]


def load_training_data(model_type: ModelType, workspace: Workspace, cycle: int | None = None) -> TrainingData:
    """Load a model type's export: of cycle `cycle`, or the aggregated (deduplicated) one when None.

    Each table is read from the best format present, its bytes checked against the sha256 `metadata.json`
    records for that file, and validated; raises FileNotFoundError when the export is missing,
    SchemaVersionError when it was written with an unreadable schema version and `homesim.io.IntegrityError`
    (naming the file) when a file's bytes differ from its recorded sha256 or it has none recorded.
    """
    directory = workspace.export_dir(model_type, cycle)
    metadata = read_metadata(directory)
    recorded = metadata.get("files")
    recorded = recorded if isinstance(recorded, dict) else {}
    tables: dict[str, pl.DataFrame] = {}
    for spec in TABLES[model_type]:
        for fmt in _READ_ORDER:
            path = directory / f"{spec.name}{SUFFIX[fmt]}"
            if path.is_file():
                entry = recorded.get(path.name)
                sha256 = entry.get("sha256") if isinstance(entry, dict) else None
                data = read_verified(
                    path, sha256 if isinstance(sha256, str) else None, directory / EXPORT_METADATA_FILE
                )
                tables[spec.name] = read_table(path, spec, fmt, data)
                break
        else:
            raise FileNotFoundError(f"{directory}: no file for table {spec.name!r}")
    return TrainingData(model_type=model_type, directory=directory, metadata=metadata, tables=tables)
