"""An imported real home in a workspace: its folder under `data/real_homes/` and a dataset of real homes
(`data/datasets/<id>/manifest.json`, `source: "real"`) that `homesim simulate` and the API can run over.

A dataset of real homes has no generation config and no ground truth; its manifest lists the homes,
their validation (the same per-home rules generated homes pass), counts and the importer's version.
Importing another home with the same `dataset` adds it to that dataset.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from homesim.datasets.home_folder import read_home
from homesim.datasets.manifest import (
    DatasetCounts,
    DatasetManifest,
    DatasetTimings,
    read_dataset,
    write_dataset,
)
from homesim.datasets.validation import ValidationReport, validate_home
from homesim.real_homes.importing.formats import read_history
from homesim.real_homes.importing.report import ImportReport
from homesim.real_homes.importing.writer import IMPORTER_VERSION, HistoryImportError, write_real_home
from homesim.workspace import Workspace


def import_into_workspace(
    format: str,
    path: Path,
    workspace: Workspace,
    *,
    home_key: str | None = None,
    timezone: str | None = None,
    dataset: str | None = None,
) -> tuple[ImportReport, DatasetManifest]:
    """Import a real home into `workspace` and add it to dataset `dataset` (default: the home's key)."""
    started_at, started = datetime.now(UTC), time.perf_counter()
    imported = read_history(format, path, home_key=home_key, timezone=timezone)
    key = imported.home.metadata.home_key
    dataset_id = dataset or key
    existing = _existing_homes(workspace, dataset_id)
    write_real_home(
        workspace.home(key).path, imported.home, imported.events, imported.report, imported.activities
    )
    keys = sorted({*existing, key})
    validations, events, size, digests = [], 0, 0, []
    for k in keys:
        folder = workspace.home(k)
        table = pq.read_table(folder.events)
        validations.append(validate_home(read_home(folder.path), table))
        events += table.num_rows
        size += sum(p.stat().st_size for p in folder.path.iterdir() if p.is_file())
        digests.append([k, hashlib.sha256(folder.events.read_bytes()).hexdigest()])
    report = ValidationReport.from_homes(validations)
    wall = time.perf_counter() - started
    manifest = DatasetManifest(
        dataset_id=dataset_id,
        config={},
        config_hash=hashlib.sha256(json.dumps(digests).encode()).hexdigest(),
        generator_version=IMPORTER_VERSION,
        executor="import",
        home_keys=tuple(keys),
        failures={},
        counts=DatasetCounts(homes=len(keys), generated=0, cached=0, failed=0, events=events, bytes=size),
        timings=DatasetTimings(
            started_at=started_at,
            finished_at=datetime.now(UTC),
            wall_s=wall,
            homes_per_s=1 / wall if wall else 0.0,
            events_per_s=imported.events.num_rows / wall if wall else 0.0,
        ),
        validation=report.summary(),
        source="real",
    )
    write_dataset(workspace, manifest, report)
    return imported.report, manifest


def _existing_homes(workspace: Workspace, dataset_id: str) -> tuple[str, ...]:
    """Homes already in dataset `dataset_id`; refuses to add a real home to a generated dataset."""
    folder = workspace.dataset(dataset_id)
    if not folder.is_dataset():
        return ()
    manifest = read_dataset(folder.manifest)
    if manifest.source != "real":
        raise HistoryImportError(f"dataset {dataset_id!r} holds generated homes; name another with --dataset")
    return manifest.home_keys
