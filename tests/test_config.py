"""GenerationConfig loading (YAML/TOML + overrides) and the errors that name each bad field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from homesim.generation.config import ConfigError, GenerationConfig
from homesim.generation.structure import HomeGenerator


def test_yaml_file_with_overrides(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text("homes: 5\ndays: 7\nstart: 2025-03-01\nhome_types: {apartment: 0.5, studio: 0.5}\n")
    config = GenerationConfig.from_file(path, {"homes": 8})
    assert config.homes == 8
    assert config.days == 7
    assert str(config.start) == "2025-03-01"
    assert config.home_type_shares() == {"apartment": 0.5, "studio": 0.5}


def test_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "cfg.toml"
    path.write_text('homes = 3\nseed = 9\nclimate_regions = ["nordic"]\n')
    config = GenerationConfig.from_file(path)
    assert (config.homes, config.seed) == (3, 9)


def test_empty_yaml_gives_defaults(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yml"
    path.write_text("")
    assert GenerationConfig.from_file(path) == GenerationConfig()


@pytest.mark.parametrize(
    ("data", "field", "expected"),
    [
        ({"homes": -1}, "homes", "greater than or equal to 1"),
        ({"home_types": {"castle": 1.0}}, "home_types", "unknown home type(s) ['castle']"),
        ({"home_types": {"apartment": 0.5, "studio": 0.3}}, "home_types", "must sum to 1"),
        ({"days": 0}, "days", "greater than or equal to 1"),
        ({"start": "2025-13-01"}, "start", "valid date"),
        ({"start": "tomorrow"}, "start", "valid date"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_invalid_values_name_the_field(data: dict[str, Any], field: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        GenerationConfig.build(data)
    assert len(info.value.problems) == 1
    problem = info.value.problems[0]
    assert problem.startswith(f"{field}: ")
    assert expected in problem


def test_every_bad_field_is_listed() -> None:
    with pytest.raises(ConfigError) as info:
        GenerationConfig.build({"homes": 0, "days": -3, "noise": -1})
    assert [p.split(":")[0] for p in info.value.problems] == ["homes", "days", "noise"]
    assert "invalid configuration" in str(info.value)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("cfg.yaml", "homes: [1, 2", "not valid YAML"),
        ("cfg.toml", "homes = ", "not valid TOML"),
        ("cfg.yaml", "- 1\n- 2\n", "expected a mapping"),
        ("cfg.json", "{}", "expected a .yaml, .yml or .toml file"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match="config file") as info:
        GenerationConfig.from_file(path)
    assert expected in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        GenerationConfig.from_file(tmp_path / "absent.yaml")


def test_config_hash_covers_home_count_but_home_keys_do_not() -> None:
    small, large = GenerationConfig(homes=2), GenerationConfig(homes=3)
    assert small.config_hash() != large.config_hash()
    assert small.home_key(1) == large.home_key(1)
    assert small.home_key(1) != GenerationConfig(homes=2, noise=2.0).home_key(1)


def test_occupant_and_size_ranges_shape_homes(tmp_path: Path) -> None:
    path = tmp_path / "cfg.yaml"
    path.write_text("homes: 3\ndays: 2\noccupants: [5, 6]\nsize_m2: [300, 310]\n")
    config = GenerationConfig.from_file(path)
    assert config.occupants == (5, 6) and config.size_m2 == (300.0, 310.0)
    assert config.home_key(0) != GenerationConfig(homes=3, days=2).home_key(0)
    for i in range(3):
        home = HomeGenerator().generate(config, i)
        assert 5 <= len(home.metadata.occupants) <= 6
        assert 300 <= home.metadata.size_m2 <= 310


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("occupants", (3, 2), "occupants must be"),
        ("occupants", (0, 2), "occupants must be"),
        ("size_m2", (5.0, 50.0), "size_m2 must be"),
    ],
)
def test_bad_ranges_are_named(field: str, value: tuple[float, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        GenerationConfig.model_validate({field: value})
