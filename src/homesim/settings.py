"""Process settings from `HOMESIM_*` environment variables (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
        default=None,
        description="bearer token of every API call, 32+ characters (default: <workspace>/api_token)",
    )
    api_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="names the Host header may carry besides 127.0.0.1, localhost, ::1 (comma-separated)",
    )
    api_max_body_bytes: int = Field(
        default=10_000_000, ge=1024, le=1_000_000_000, description="largest upload (zip) accepted"
    )
    api_max_json_bytes: int = Field(
        default=1_000_000, ge=1024, le=10_000_000, description="largest JSON request body accepted"
    )
    api_max_jobs: int = Field(default=8, ge=1, le=1000, description="jobs queued or running at once")
    api_max_job_cost: int = Field(
        default=100_000, ge=1, description="most home-days (homes × days × cycles) one job may ask for"
    )

    @field_validator("api_allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return tuple(n.strip() for n in value.split(",") if n.strip()) if isinstance(value, str) else value
