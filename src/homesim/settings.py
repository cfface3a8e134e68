"""Process settings from `HOMESIM_*` environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOMESIM_", extra="ignore")

    workspace: Path = Field(default=Path("workspace"), description="root of all files homesim writes")
    workers: int = Field(default=2, ge=1, le=512)
    executor: str = Field(default="process", description="process | inline | dask://host:port")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = Field(default=False, description="JSON log lines instead of console rendering")
