"""The one place that knows the workspace's folder layout (see DESIGN.md, "The workspace")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: Key prefix of imported real homes: they live apart from the cache, which may delete and regenerate
#: its homes, while a real home's history cannot be regenerated.
REAL_HOME_PREFIX = "real-"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def homes_dir(self) -> Path:
        """Generated homes (the cache)."""
        return self.root / "data" / "homes"

    @property
    def real_homes_dir(self) -> Path:
        """Imported real homes (`homesim import-history`), keyed `real-…`."""
        return self.root / "data" / "real_homes"

    def home_dir(self, home_key: str) -> Path:
        base = self.real_homes_dir if home_key.startswith(REAL_HOME_PREFIX) else self.homes_dir
        return base / home_key

    @property
    def staging_dir(self) -> Path:
        """Homes being written; a home folder is renamed into `homes_dir` only once complete."""
        return self.root / "data" / "cache" / "staging"

    @property
    def locks_dir(self) -> Path:
        return self.root / "data" / "cache" / "locks"

    def home_lock(self, home_key: str) -> Path:
        return self.locks_dir / f"{home_key}.lock"

    @property
    def cache_index(self) -> Path:
        return self.root / "data" / "cache" / "index.sqlite"

    @property
    def datasets_dir(self) -> Path:
        return self.root / "data" / "datasets"

    def dataset_dir(self, dataset_id: str) -> Path:
        return self.datasets_dir / dataset_id

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def training_data_dir(self) -> Path:
        """Exports per cycle (`cycle_<n>/<model_type>/`) and aggregated (`aggregated/<model_type>/`)."""
        return self.root / "training_data"

    @property
    def training_store(self) -> Path:
        """The collected records (accepted and rejected), per cycle: see `training_data.store`."""
        return self.training_data_dir / "records.sqlite"

    @property
    def lineage_db(self) -> Path:
        """Where every training record came from and went: see `training_data.lineage_tracker`."""
        return self.root / "lineage.sqlite"

    @property
    def registry_db(self) -> Path:
        """Model versions, aliases and deployment events: see `retraining.registry`."""
        return self.root / "registry.sqlite"

    @property
    def models_dir(self) -> Path:
        """Model artifacts and cards, `models/<model_type>/v<k>/`."""
        return self.root / "models"
