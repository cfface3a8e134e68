"""The one place that knows the workspace's folder layout (see DESIGN.md, "The workspace")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def homes_dir(self) -> Path:
        return self.root / "data" / "homes"

    def home_dir(self, home_key: str) -> Path:
        return self.homes_dir / home_key

    @property
    def cache_index(self) -> Path:
        return self.root / "data" / "cache" / "index.sqlite"

    @property
    def datasets_dir(self) -> Path:
        return self.root / "data" / "datasets"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"
