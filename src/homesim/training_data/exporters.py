"""Exporters: accepted records → `training_data/cycle_<n>/<model_type>/` and `training_data/aggregated/
<model_type>/` in every format each trainer and outside tool expects, plus retention (`prune`).

Owns the export folder layout and its guarantees: every file is written atomically into a staging folder,
re-read and validated (format + pandera schema, row counts equal to the frame written), described in
`metadata.json` (schema version, counts, sha256 of every file, source cycles, record-id count), each
table's rows again split by home (`splits/<split>/`, the format Hugging Face reads) and a Hugging Face
dataset card (`README.md`, `cards.py`); only then does the staging folder replace the export, so a crash
never leaves a partial export. Aggregated exports deduplicate records across cycles by natural key, the
newest cycle winning. Exported files are registered with the lineage tracker when one is given.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from homesim.datasets.home_folder import read_truth
from homesim.io import atomic_path, process_alive, write_json_atomic, write_text_atomic
from homesim.schema.ground_truth import GroundTruth
from homesim.schema.records import AnyRecord
from homesim.simulation.model_provider import MODEL_TYPES, ModelType
from homesim.training_data.cards import (
    HELD_OUT_SHARE as HELD_OUT,
)
from homesim.training_data.cards import (
    SPLITS_DIR,
    TEST_SHARE,
    Split,
    dataset_card,
    split_frame,
)
from homesim.training_data.collector import DEFAULT_POINTS
from homesim.training_data.formatters import chat_examples, format_payloads, newest_by_key
from homesim.training_data.loading import (
    SUFFIX,
    ExportFormatError,
    read_chat,
    read_table,
    sqlite_create_table,
)
from homesim.training_data.recheck import Rechecked, recheck
from homesim.training_data.schemas import (
    FORMATS,
    SCHEMA_VERSION,
    TABLES,
    Format,
    TableSpec,
)
from homesim.training_data.store import PayloadRow, content_hash
from homesim.workspace import EXPORT_METADATA_FILE, Workspace

README_FILE = "README.md"


class RecordSource(Protocol):
    """What exporters read: the record store's accepted records per model type (record id, cycle, JSON
    payload; by cycle then record id), the content hashes recorded per cycle, and its cycles."""

    def accepted_rows(self, model_type: str, cycles: Sequence[int] | None = None) -> list[PayloadRow]: ...

    def content_hashes(self, cycle: int) -> dict[str, str]: ...

    def cycles(self) -> list[int]: ...


class MemorySource:
    """A `RecordSource` over records held in memory (tests, notebooks, exports without a store): each record
    feeds the model types of its stage's collection point (`feeds`: stage → model types)."""

    def __init__(
        self, records: Iterable[AnyRecord], feeds: Mapping[str, Sequence[str]] | None = None
    ) -> None:
        self.records = list(records)
        self.feeds = feeds if feeds is not None else {p.name: p.model_types for p in DEFAULT_POINTS}

    def accepted_rows(self, model_type: str, cycles: Sequence[int] | None = None) -> list[PayloadRow]:
        mine = [
            r
            for r in self.records
            if model_type in self.feeds.get(r.stage, ()) and (cycles is None or r.cycle in cycles)
        ]
        mine.sort(key=lambda r: (r.cycle, r.record_id))
        return [(r.record_id, r.cycle, r.model_dump_json()) for r in mine]

    def content_hashes(self, cycle: int) -> dict[str, str]:
        return {content_hash(r): r.record_id for r in self.records if r.cycle == cycle}

    def cycles(self) -> list[int]:
        return sorted({r.cycle for r in self.records})


class ExportTracker(Protocol):
    """The lineage hook: told which records each exported file holds (its return value is not used)."""

    def record_export(
        self, path: Path, model_type: str, cycle: int | None, record_ids: Sequence[str]
    ) -> object: ...


#: Ground truth of a home key, or None when the home's truth is not available.
TruthSource = Callable[[str], GroundTruth | None]


def workspace_truths(workspace: Workspace) -> TruthSource:
    """Read each home's `ground_truth.json` from the workspace (None where it is missing)."""

    def load(home_key: str) -> GroundTruth | None:
        home = workspace.home(home_key)
        return read_truth(home.path) if home.ground_truth.is_file() else None

    return load


@dataclass(frozen=True)
class ExportResult:
    """One model type's export: where, the rows per file and the cycles its records came from."""

    model_type: ModelType
    cycle: int | None
    directory: Path
    #: File name → rows written (and re-read).
    counts: dict[str, int]
    source_cycles: list[int]
    records: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_table(path: Path, frame: pl.DataFrame, spec: TableSpec, fmt: Format, model_type: str) -> None:
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            frame.write_parquet(tmp, compression="zstd")
        elif fmt == "csv":
            frame.write_csv(tmp)
        elif fmt == "json":
            # The header by json, the rows by polars (row-oriented JSON, written without Python per row).
            doc = {"schema_version": SCHEMA_VERSION, "model_type": model_type, "table": spec.name}
            header = json.dumps(doc, ensure_ascii=False)[:-1]
            tmp.write_text(f'{header}, "rows": {frame.write_json()}}}', encoding="utf-8")
        elif fmt == "sqlite":
            with sqlite3.connect(tmp) as db:
                db.execute(sqlite_create_table(spec))
                marks = ", ".join("?" * frame.width)
                db.executemany(f'INSERT INTO "{spec.name}" VALUES ({marks})', frame.iter_rows())
            db.close()


def _hf_files(files: Mapping[str, int], model_type: ModelType) -> dict[str, str]:
    """Table → the file Hugging Face reads (parquet, else CSV, else JSON; tables in none are left out)."""
    stored = {}
    for spec in TABLES[model_type]:
        names = (f"{spec.name}{SUFFIX[fmt]}" for fmt in ("parquet", "csv", "json"))
        found = next((name for name in names if name in files), None)
        if found is not None:
            stored[spec.name] = found
    return stored


class Exporter:
    """Writes the exports of a record source into a workspace's `training_data/` folder."""

    def __init__(
        self,
        workspace: Workspace,
        store: RecordSource,
        *,
        tracker: ExportTracker | None = None,
        truths: TruthSource | None = None,
        rechecked: Rechecked | None = None,
    ) -> None:
        self.workspace = workspace
        self.store = store
        self.tracker = tracker
        self.truths = truths or workspace_truths(workspace)
        # Rows re-validated by an earlier export (of this exporter, or of the loop's earlier cycles).
        self.rechecked = rechecked if rechecked is not None else Rechecked()

    def export_cycle(
        self,
        cycle: int,
        model_types: Iterable[ModelType] = MODEL_TYPES,
        formats: Iterable[Format] | None = None,
    ) -> list[ExportResult]:
        """Export cycle `cycle` for each model type (all formats of the type, or those in `formats`)."""
        return [self.export(mt, cycle, formats) for mt in model_types]

    def export_aggregated(
        self, model_types: Iterable[ModelType] = MODEL_TYPES, formats: Iterable[Format] | None = None
    ) -> list[ExportResult]:
        """Export every cycle's records, deduplicated (newest cycle wins), into `aggregated/`."""
        return [self.export(mt, None, formats) for mt in model_types]

    def export(
        self, model_type: ModelType, cycle: int | None, formats: Iterable[Format] | None = None
    ) -> ExportResult:
        """Export one model type for one cycle, or aggregated over all cycles when `cycle` is None."""
        wanted = (
            FORMATS[model_type] if formats is None else tuple(f for f in FORMATS[model_type] if f in formats)
        )
        if not wanted:
            raise ValueError(
                f"{model_type} is exported as {', '.join(FORMATS[model_type])}; none was requested"
            )
        rows = self.store.accepted_rows(model_type, None if cycle is None else [cycle])
        where = f"{model_type} records in the record store"
        recheck(rows, self.store.content_hashes, self.truths, where, done=self.rechecked)
        if cycle is None:  # one row per natural key, the newest cycle's, in (cycle, record id) order
            keyed = zip(self.rechecked.natural_keys(rows), rows, strict=True)
            rows = newest_by_key(keyed, lambda row: (row[1], row[0]))
        ids = [record_id for record_id, _, _ in rows]
        tables = format_payloads(model_type, [payload for _, _, payload in rows], _LazyTruths(self.truths))
        if cycle is None and "entities" in tables:  # one node per home: its newest features
            tables["entities"] = (
                tables["entities"]
                .sort("cycle", descending=True)
                .unique(["home_key", "entity_id"], keep="first", maintain_order=True)
                .sort("cycle", "home_key", "entity_id")
            )
        final = self.workspace.export_dir(model_type, cycle)
        _sweep_stale(final.parent)
        # The pid in the name tells a later export whether the folder's writer is still alive.
        staging = final.parent / f".{model_type}.staging-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            counts = self._write_all(staging, model_type, tables, wanted)
            stored = _hf_files(counts, model_type)
            split_rows, split_bytes = _write_splits(staging, model_type, tables, stored)
            source_cycles = sorted({c for _, c, _ in rows})
            metadata: dict[str, Any] = {
                "schema_version": SCHEMA_VERSION,
                "model_type": model_type,
                "cycle": cycle,
                "aggregated": cycle is None,
                "source_cycles": source_cycles,
                "records": len(rows),
                "counts": counts,
                "files": {name: {"sha256": _sha256(staging / name), "rows": n} for name, n in counts.items()},
                "lineage": {"record_ids": len(ids), "record_ids_sha256": _ids_digest(ids)},
            }
            metadata["splits"] = {
                "by": "home_key",
                "rule": f"sha256(home_key) → [0, 1): test < {TEST_SHARE} ≤ validation < {HELD_OUT} ≤ train",
                "rows": split_rows,
            }
            for table, per_split in split_rows.items():
                for split, n in per_split.items():
                    name = f"{SPLITS_DIR}/{split}/{stored[table]}"
                    metadata["files"][name] = {"sha256": _sha256(staging / name), "rows": n}
            chat = f"yaml_pairs{SUFFIX['chat']}" if f"yaml_pairs{SUFFIX['chat']}" in counts else None
            card = dataset_card(model_type, metadata, stored, split_rows, split_bytes, chat)
            write_text_atomic(staging / README_FILE, card)
            metadata["files"][README_FILE] = {"sha256": _sha256(staging / README_FILE), "rows": None}
            write_json_atomic(staging / EXPORT_METADATA_FILE, metadata)
            _replace_dir(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if self.tracker is not None:
            # A file of record rows holds those records; the others (entities, ground truth) hold none.
            holds_records = {spec.name for spec in TABLES[model_type] if spec.columns[0].name == "record_id"}
            for name in counts:
                held = ids if name.split(".", 1)[0] in holds_records else []
                self.tracker.record_export(final / name, model_type, cycle, held)
        return ExportResult(model_type, cycle, final, counts, source_cycles, len(rows))

    @staticmethod
    def _write_all(
        directory: Path, model_type: ModelType, tables: dict[str, pl.DataFrame], formats: Sequence[Format]
    ) -> dict[str, int]:
        """Write, re-read and validate every file; return file name → rows."""
        counts: dict[str, int] = {}
        for spec in TABLES[model_type]:
            frame = tables[spec.name]
            for fmt in formats:
                if fmt == "chat":
                    continue
                path = directory / f"{spec.name}{SUFFIX[fmt]}"
                _write_table(path, frame, spec, fmt, model_type)
                back = read_table(path, spec, fmt)
                if not back.equals(frame):
                    raise ExportFormatError(
                        f"{path}: re-read {back.height} rows differ from the {frame.height} written"
                    )
                counts[path.name] = back.height
        if "chat" in formats:
            path = directory / f"yaml_pairs{SUFFIX['chat']}"
            examples = chat_examples(tables["yaml_pairs"])
            text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples)
            write_text_atomic(path, text)
            if len(read_chat(path)) != len(examples):
                raise ExportFormatError(
                    f"{path}: re-read line count differs from the {len(examples)} written"
                )
            counts[path.name] = len(examples)
        return counts


def _write_splits(
    directory: Path, model_type: ModelType, tables: dict[str, pl.DataFrame], stored: Mapping[str, str]
) -> tuple[dict[str, dict[Split, int]], dict[str, dict[Split, int]]]:
    """Write each table's rows again, split by home, as `splits/<split>/<file>` in the format Hugging Face
    reads (`stored`); re-read each file and check the splits add up to the table. Table → rows per split,
    and table → bytes per split in memory (Arrow: what `datasets` calls a split's `num_bytes`)."""
    rows: dict[str, dict[Split, int]] = {}
    size: dict[str, dict[Split, int]] = {}
    for spec in TABLES[model_type]:
        if spec.name not in stored:
            continue
        name, frame = stored[spec.name], tables[spec.name]
        fmt: Format = "parquet" if name.endswith(".parquet") else "csv" if name.endswith(".csv") else "json"
        rows[spec.name], size[spec.name] = {}, {}
        for split, part in split_frame(frame).items():
            size[spec.name][split] = part.to_arrow().nbytes
            path = directory / SPLITS_DIR / split / name
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_table(path, part, spec, fmt, model_type)
            rows[spec.name][split] = read_table(path, spec, fmt).height
        if sum(rows[spec.name].values()) != frame.height:
            raise ExportFormatError(f"{directory / SPLITS_DIR}: the splits of {name} miss rows")
    return rows, size


def _ids_digest(ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()


class _LazyTruths(Mapping[str, GroundTruth]):
    """The ground truth of the homes a formatter asks for, read on first use (only pattern_detection
    uses it; homes without a truth are absent)."""

    def __init__(self, truths: TruthSource) -> None:
        self._source = truths
        self._cache: dict[str, GroundTruth | None] = {}

    def _get(self, key: str) -> GroundTruth | None:
        if key not in self._cache:
            self._cache[key] = self._source(key)
        return self._cache[key]

    def __getitem__(self, key: str) -> GroundTruth:
        truth = self._get(key)
        if truth is None:
            raise KeyError(key)
        return truth

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._get(key) is not None

    def __iter__(self) -> Iterator[str]:
        return (k for k, t in self._cache.items() if t is not None)

    def __len__(self) -> int:
        return sum(t is not None for t in self._cache.values())


def _sweep_stale(parent: Path) -> None:
    """Remove the staging folders left in `parent` by exports that were killed (their pid is gone)."""
    if not parent.is_dir():
        return
    for folder in parent.glob(".*.staging-*"):
        pid = folder.name.rsplit(".staging-", 1)[1].split("-", 1)[0]
        if not pid.isdigit() or not process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _replace_dir(staging: Path, final: Path) -> None:
    """Swap a finished staging folder in for `final` (renames only: no partial folder is ever visible)."""
    old = final.parent / f".{final.name}.old-{uuid.uuid4().hex[:8]}"
    if final.exists():
        final.rename(old)
    staging.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def prune(workspace: Workspace, keep_cycles: int) -> list[Path]:
    """Delete all but the newest `keep_cycles` `cycle_<n>` folders (the aggregated export is kept);
    return the folders deleted."""
    if keep_cycles < 0:
        raise ValueError("keep_cycles must be ≥ 0")
    folders = workspace.export_cycle_dirs()
    doomed = [folders[c] for c in sorted(folders, reverse=True)[keep_cycles:]]
    for folder in doomed:
        shutil.rmtree(folder)
    return doomed
