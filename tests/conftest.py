"""Shared fixtures: small generated homes, made once per test session."""

from __future__ import annotations

import pytest

from homesim.data_generation.config import GenerationConfig
from homesim.data_generation.pipeline import GeneratedHome, generate_home


@pytest.fixture(scope="session")
def month_config() -> GenerationConfig:
    return GenerationConfig(homes=4, days=30, seed=7, start="2025-03-20")  # spans the EU/US DST changes


@pytest.fixture(scope="session")
def month_homes(month_config: GenerationConfig) -> list[GeneratedHome]:
    return [generate_home(month_config, i) for i in range(month_config.homes)]
