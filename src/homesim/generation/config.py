"""GenerationConfig: what to generate. Every field that changes a home is part of that home's cache key."""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from homesim import GENERATOR_VERSION, bounded_yaml
from homesim.generation.calibration import Calibration
from homesim.generation.catalog import load_catalog

#: Fields that say how many homes or where they go, not what a home is: left out of home keys.
_NOT_HOME_FIELDS = frozenset({"homes"})
#: Bounds on every count, declared once: the CLI, the API and the library all validate against these.
MAX_HOMES = 1_000_000
MAX_DAYS = 3660
MAX_SEED = 2**63 - 1


class GenerationConfig(BaseModel):
    """Parameters of a generated dataset. Home *i* depends only on (these fields, seed, i)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    homes: int = Field(default=10, ge=1, le=MAX_HOMES, description="number of homes")
    days: int = Field(default=90, ge=1, le=MAX_DAYS, description="days of events per home")
    start: date = Field(default=date(2025, 1, 1), description="first local day of the period")
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    home_types: dict[str, float] | None = Field(
        default=None, description="home type -> share; None uses the catalog's shares"
    )
    climate_regions: tuple[str, ...] | None = Field(default=None, description="allowed climate regions")
    noise: float = Field(default=1.0, ge=0, le=20, description="multiplier on manual, patternless toggles")
    jitter: float = Field(default=1.0, ge=0, le=10, description="multiplier on routine time jitter")
    fault_rate: float = Field(default=0.04, ge=0, le=1, description="probability that an entity has a fault")
    sensor_density: float = Field(default=1.0, gt=0, le=20, description="multiplier on sensor report rates")
    device_density: float = Field(default=1.0, gt=0, le=5, description="multiplier on device probabilities")
    occupants: tuple[int, int] | None = Field(
        default=None, description="household size range [min, max]; None uses each home type's range"
    )
    size_m2: tuple[float, float] | None = Field(
        default=None, description="floor area range [min, max] in m²; None uses each home type's range"
    )
    #: Left out of every dump when None, so configs without one keep their hashes and home keys.
    calibration: Calibration | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="layout, household clock and activity model fitted from a real home (homesim calibrate)",
    )

    @field_validator("occupants")
    @classmethod
    def _occupants(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not 1 <= value[0] <= value[1] <= 12:
            raise ValueError(f"occupants must be [min, max] with 1 <= min <= max <= 12, got {list(value)}")
        return value

    @field_validator("size_m2")
    @classmethod
    def _size(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not 10 <= value[0] <= value[1] <= 5000:
            raise ValueError(f"size_m2 must be [min, max] with 10 <= min <= max <= 5000, got {list(value)}")
        return value

    @field_validator("home_types")
    @classmethod
    def _home_types(cls, value: dict[str, float] | None) -> dict[str, float] | None:
        if value is None:
            return None
        known = load_catalog().home_types
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise ValueError(f"unknown home type(s) {unknown}; expected some of {sorted(known)}")
        if any(share < 0 for share in value.values()):
            raise ValueError("home type shares must be >= 0")
        total = sum(value.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"home type shares must sum to 1, got {total:.4f}")
        return value

    @field_validator("climate_regions")
    @classmethod
    def _climates(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        known = load_catalog().climates
        unknown = sorted(set(value) - set(known))
        if unknown or not value:
            raise ValueError(f"unknown climate region(s) {unknown}; expected some of {sorted(known)}")
        return value

    @model_validator(mode="after")
    def _period(self) -> GenerationConfig:
        if self.start.year < 1971 or self.start.year > 2200:
            raise ValueError("start must be between 1971 and 2200")
        return self

    def home_fields(self) -> dict[str, Any]:
        """The fields that shape each home, in canonical JSON form."""
        data = self.model_dump(mode="json", exclude=set(_NOT_HOME_FIELDS))
        return dict(sorted(data.items()))

    def home_key(self, index: int) -> str:
        """Content address of home `index`: hash of generator version, home-shaping fields, seed, index."""
        payload = json.dumps(
            {"generator": GENERATOR_VERSION, "config": self.home_fields(), "index": index},
            sort_keys=True,
            separators=(",", ":"),
        )
        return f"h{index:06d}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"

    def config_hash(self) -> str:
        """Hash of every field, home count included: names a dataset, as `home_key` names a home."""
        payload = json.dumps(
            {"generator": GENERATOR_VERSION, "config": self.model_dump(mode="json")},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    @classmethod
    def from_file(cls, path: Path, overrides: Mapping[str, Any] | None = None) -> GenerationConfig:
        """Load a YAML (`.yaml`/`.yml`) or TOML (`.toml`) config; `overrides` (e.g. CLI flags) win.

        Raises ConfigError naming each bad field; nothing is written before that check passes.
        """
        return cls.build({**read_config_file(path), **(overrides or {})})

    @classmethod
    def build(cls, data: Mapping[str, Any]) -> GenerationConfig:
        """Validate `data` into a config; pydantic's errors become one ConfigError listing every field."""
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise ConfigError(describe_errors(exc)) from exc

    def home_type_shares(self) -> dict[str, float]:
        if self.home_types is not None:
            return dict(self.home_types)
        return {key: h.share for key, h in load_catalog().home_types.items()}


class ConfigError(ValueError):
    """An invalid configuration; `problems` has one line per bad field: where it is and what was expected."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def read_config_file(path: Path) -> dict[str, Any]:
    """The mapping in a YAML/TOML config file (YAML within `bounded_yaml`'s limits), or a ConfigError."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError([f"config file {path}: {exc.strerror or exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [f"config file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})"]
        ) from exc
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix.lower() in {".yaml", ".yml"}:
            data = bounded_yaml.safe_load(text) or {}
        else:
            raise ConfigError([f"config file {path}: expected a .yaml, .yml or .toml file"])
    except (tomllib.TOMLDecodeError, yaml.YAMLError, RecursionError) as exc:
        raise ConfigError([f"config file {path} is not valid {path.suffix[1:].upper()}: {exc}"]) from exc
    if not isinstance(data, dict):
        raise ConfigError([f"config file {path}: expected a mapping of field names to values"])
    return data


def _short(text: str, limit: int = 80) -> str:
    """An echoed value cut short: an error must not repeat a huge input (an expanded alias bomb) back."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per pydantic error: `field: message (got value)`."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "config"
        message = error["msg"].removeprefix("Value error, ")
        got = "" if error["type"] == "missing" else f" (got {_short(repr(error['input']))})"
        lines.append(f"{where}: {message}{got}")
    return lines
