"""Process settings from `HOMESIM_*` environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOMESIM_", extra="ignore")

    workspace: Path = Field(default=Path("workspace"), description="root of all files homesim writes")
    workers: int = Field(default=2, ge=1, le=512)
    executor: str = Field(
        default="process",
        pattern=r"^(process|inline|dask|(dask|tcp)://[^\s/]+)$",
        description="process | inline | dask | dask://host:port",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_json: bool = Field(default=False, description="JSON log lines instead of console rendering")
    api_host: str = Field(default="127.0.0.1", description="address `homesim serve` binds")
    api_port: int = Field(default=8765, ge=1, le=65535)
    api_token: SecretStr | None = Field(
        default=None, description="bearer token for mutating API calls (default: <workspace>/api_token)"
    )
    api_max_body_bytes: int = Field(default=10_000_000, ge=1024, description="largest request body accepted")
