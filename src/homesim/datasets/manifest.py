"""The dataset manifest: what one `generate` call produced, for later stages to cite in lineage.

Written to `data/datasets/<dataset_id>/manifest.json` beside `validation_report.json`. The id is derived
from the config hash, so regenerating the same config rewrites the same dataset (with fresh timings).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from homesim.datasets.validation import ValidationReport
from homesim.generation.config import GenerationConfig
from homesim.io import write_json_atomic
from homesim.workspace import Workspace


def dataset_id(config: GenerationConfig) -> str:
    return f"ds-{config.config_hash()[:16]}"


class DatasetCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    homes: int
    generated: int
    cached: int
    failed: int
    events: int
    bytes: int


class DatasetTimings(BaseModel):
    model_config = ConfigDict(frozen=True)

    started_at: datetime
    finished_at: datetime
    wall_s: float
    homes_per_s: float
    events_per_s: float


class DatasetManifest(BaseModel):
    """Lineage record of one generation run; `home_keys` is in home-index order, failed homes excluded."""

    model_config = ConfigDict(frozen=True)

    dataset_id: str
    config: dict[str, Any]
    config_hash: str
    generator_version: str
    executor: str
    home_keys: tuple[str, ...]
    failures: dict[str, str]
    counts: DatasetCounts
    timings: DatasetTimings
    validation: dict[str, Any]
    #: Recall/precision of the independent extractor against the homes' ground truth (by pattern type).
    ground_truth_accuracy: dict[str, Any] | None = None
    #: "real" for a dataset of imported real homes (`homesim import-history`): no generation config, no
    #: ground truth; its `config` is empty and its `generator_version` names the importer.
    source: Literal["synthetic", "real"] = "synthetic"


def write_dataset(workspace: Workspace, manifest: DatasetManifest, report: ValidationReport) -> Path:
    """Write the validation report, then the manifest that cites it; returns the manifest's path."""
    folder = workspace.dataset(manifest.dataset_id)
    write_json_atomic(folder.validation_report, report.model_dump(mode="json"))
    path = folder.manifest
    write_json_atomic(path, manifest.model_dump(mode="json"))
    return path


def read_dataset(path: Path) -> DatasetManifest:
    return DatasetManifest.model_validate_json(path.read_bytes())
