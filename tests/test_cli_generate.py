"""`homesim generate` (config file, flag overrides, errors, progress lines) and `homesim inspect`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from homesim.cli import app
from homesim.cli.generate import _parse_home_types
from homesim.datasets import manager as dgm
from homesim.datasets.manifest import read_dataset
from homesim.generation.config import GenerationConfig
from homesim.generation.home import GeneratedHome

runner = CliRunner()


def test_generate_from_config_with_override(tmp_path: Path) -> None:
    config = tmp_path / "cfg.yaml"
    config.write_text("homes: 5\ndays: 7\nseed: 0\n")
    root = tmp_path / "ws"
    result = runner.invoke(
        app,
        [
            "generate",
            "--config",
            str(config),
            "--homes",
            "2",
            "--executor",
            "inline",
            "--workspace",
            str(root),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 homes (2 generated, 0 cached, 0 failed)" in result.output
    manifests = list((root / "data" / "datasets").glob("*/manifest.json"))
    assert len(manifests) == 1
    manifest = read_dataset(manifests[0])
    assert manifest.config["homes"] == 2 and manifest.config["days"] == 7
    # Not a TTY under CliRunner: progress comes as structured log lines.
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [line["done"] for line in lines] == [1, 2]
    home_dir = root / "data" / "homes" / manifest.home_keys[0]
    inspect = runner.invoke(app, ["inspect", str(home_dir)])
    assert inspect.exit_code == 0
    assert manifest.home_keys[0] in inspect.output and "events per day by cause" in inspect.output


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--homes", "-1"], "homes"),
        (["--home-type", "castle"], "home_types"),
        (["--home-type", "apartment=0.5", "--home-type", "studio=0.2"], "home_types"),
        (["--home-type", "apartment=lots"], "home_types.apartment"),
        (["--days", "0"], "days"),
        (["--start", "2025-02-30"], "start"),
    ],
)
def test_invalid_config_writes_nothing(tmp_path: Path, args: list[str], field: str) -> None:
    root = tmp_path / "ws"
    result = runner.invoke(app, ["generate", *args, "--workspace", str(root)])
    assert result.exit_code == 2
    assert "invalid configuration" in result.output
    assert f" {field}:" in result.output and len(result.output.strip().splitlines()) == 1
    assert not root.exists()


def test_invalid_config_file_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "cfg.toml"
    config.write_text("homes = 0\nhome_types = { apartment = 1.5 }\n")
    result = runner.invoke(app, ["generate", "--config", str(config), "--workspace", str(tmp_path / "ws")])
    assert result.exit_code == 2
    assert "homes:" in result.output and "; home_types" in result.output
    assert not (tmp_path / "ws").exists()


def test_home_type_shares() -> None:
    assert _parse_home_types(["apartment=0.5", "studio", "condo"]) == {
        "apartment": 0.5,
        "studio": 0.25,
        "condo": 0.25,
    }
    assert GenerationConfig.build({"home_types": _parse_home_types(["studio", "condo"])}).home_types == {
        "studio": 0.5,
        "condo": 0.5,
    }


def test_failed_home_exits_1_with_its_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(config: GenerationConfig, index: int) -> GeneratedHome:
        raise ValueError("no rooms")

    monkeypatch.setattr(dgm, "generate_home", broken)
    result = runner.invoke(
        app, ["generate", "--homes", "1", "--days", "7", "--executor", "inline", "--workspace", str(tmp_path)]
    )
    assert result.exit_code == 1
    assert f"{GenerationConfig(homes=1, days=7).home_key(0)}: ValueError: no rooms" in result.output


def test_inspect_rejects_a_folder_without_home(tmp_path: Path) -> None:
    result = runner.invoke(app, ["inspect", str(tmp_path)])
    assert result.exit_code == 2
