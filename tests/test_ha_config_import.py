"""Reading a real HA config dir's automations, scripts and scenes: includes, secrets, blueprints, bounds."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from homesim.bounded_yaml import MAX_NODES
from homesim.cli.ha_export import register_commands
from homesim.ha.config_dir import export_config_dir, import_config
from homesim.ha.yaml_loader import HaYamlError, load_file, loads
from test_ha_storage import make_home

_LIGHT_ON = "  - action: light.turn_on\n    target: {entity_id: light.hall}\n"


def _config(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_includes_secrets_and_sections_are_read_as_ha_reads_them(tmp_path: Path) -> None:
    root = _config(
        tmp_path,
        {
            "configuration.yaml": "automation: !include automations.yaml\n"
            "automation manual: !include_dir_merge_list automations/\n"
            "script: !include scripts.yaml\nscene: !include scenes.yaml\n",
            "secrets.yaml": "hall_light: light.hall\n",
            "automations.yaml": "- id: '1'\n  alias: UI\n  triggers: {trigger: sun, event: sunset}\n"
            "  actions:\n  - action: light.turn_on\n    target: {entity_id: !secret hall_light}\n",
            "automations/a.yaml": "- alias: From a folder\n  trigger: {platform: time, at: '07:00'}\n"
            "  action:\n  - service: light.turn_off\n    entity_id: light.hall\n",
            "automations/b/c.yaml": "- alias: Broken\n  triggers: [{trigger: time, at: '25:00'}]\n"
            "  actions: []\n",
            "automations/.hidden.yaml": "- this is not loaded\n",
            "scripts.yaml": "wake:\n  alias: Wake\n  sequence:\n"
            + _LIGHT_ON
            + "broken:\n  sequence:\n  - delay: later\n",
            "scenes.yaml": "- name: Evening\n  entities: {light.hall: 'on'}\n",
        },
    )
    imported = import_config(root)
    assert [r.alias for r in imported.automations] == ["UI", "From a folder", "Broken"]
    assert [r.prefix for r in imported.automations] == [
        "automation[0]",
        "automation manual[0]",
        "automation manual[1]",
    ]
    ui, folder, broken = imported.automations
    assert ui.kept and ui.automation is not None
    assert ui.automation.actions[0].entity_ids == ["light.hall"]  # type: ignore[union-attr]
    assert not broken.kept and broken.issues[0].path == "triggers[0].at"
    assert folder.kept
    assert [(s.key, bool(s.issues)) for s in imported.scripts] == [("wake", False), ("broken", True)]
    assert imported.scripts[1].issues[0].path == "sequence[0].delay"
    assert imported.scenes == 1


def test_missing_secret_and_escaping_include_are_refused(tmp_path: Path) -> None:
    root = _config(tmp_path, {"a.yaml": "x: !secret nope\n", "b.yaml": "x: !include ../outside.yaml\n"})
    with pytest.raises(HaYamlError, match="secret 'nope'"):
        load_file(root / "a.yaml", root)
    with pytest.raises(HaYamlError, match="outside the configuration directory"):
        load_file(root / "b.yaml", root)


def test_alias_bombs_are_refused() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    assert MAX_NODES < 10**7
    with pytest.raises(HaYamlError, match="alias bomb"):
        loads("\n".join(levels) + "\n")
    assert loads("a: &a [1, 2]\nb: *a\n") == {"a": [1, 2], "b": [1, 2]}  # ordinary anchors still work


def test_unsafe_tags_are_refused() -> None:
    with pytest.raises(HaYamlError, match="invalid YAML"):
        loads("!!python/object/apply:os.system ['true']\n")


def test_control_characters_are_one_clear_error() -> None:
    """The YAML reader refuses them while the loader is made, before parsing (was an unhandled 500)."""
    with pytest.raises(HaYamlError, match="invalid YAML"):
        loads("\x1f")


def test_without_a_config_dir_secrets_stay_tagged() -> None:
    data = loads("- password: !secret wifi\n")
    assert data[0]["password"] == "wifi" and data[0]["password"].tag == "!secret"


def test_cli_import_reports_each_automation(tmp_path: Path) -> None:
    config = tmp_path / "config"
    export_config_dir(make_home(), config)
    (config / "automations.yaml").write_text(
        "- alias: Lights\n  trigger: {platform: state, entity_id: binary_sensor.x, to: 'on'}\n"
        "  action:\n  - service: light.turn_on\n    entity_id: light.hall\n"
        "- alias: Custom\n  trigger: {platform: samsungtv.turn_on, entity_id: media_player.tv}\n"
        "  action: [{service: media_player.turn_on, entity_id: media_player.tv}]\n"
        "- alias: Blueprint\n  use_blueprint: {path: someone/missing.yaml, input: {}}\n"
    )
    app = typer.Typer()
    register_commands(app)
    kept = tmp_path / "kept.yaml"
    result = CliRunner().invoke(
        app, ["import", str(config), "--out", str(tmp_path / "home.json"), "--automations", str(kept)]
    )
    assert result.exit_code == 0, result.output
    assert "2 of 3 kept" in result.output
    assert "integration not checked" in result.output
    assert "blueprint not found" in result.output
    written = yaml.safe_load(kept.read_text())
    # Kept as their owner wrote them: legacy keys and entity_id on the call.
    assert written[0]["action"] == [{"service": "light.turn_on", "entity_id": "light.hall"}]
    assert [a["alias"] for a in written] == ["Lights", "Custom"]
