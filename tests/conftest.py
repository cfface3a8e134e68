"""Shared fixtures: small generated homes, made once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog

from homesim.generation.config import GenerationConfig
from homesim.generation.home import GeneratedHome, generate_home


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """Each test starts from structlog's defaults: a CLI command run in-process configures logging (level,
    renderer), and that must not filter or reshape the logs a later test captures."""
    yield
    structlog.reset_defaults()


@pytest.fixture(scope="session")
def month_config() -> GenerationConfig:
    return GenerationConfig(homes=4, days=30, seed=7, start="2025-03-20")  # spans the EU/US DST changes


@pytest.fixture(scope="session")
def month_homes(month_config: GenerationConfig) -> list[GeneratedHome]:
    return [generate_home(month_config, i) for i in range(month_config.homes)]
