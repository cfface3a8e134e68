"""A Home Assistant configuration directory that HA 2025.1 loads as is, written from a home.

This module owns the layout of that folder: `.storage/` (the registries from `homesim.ha.storage` plus
`core.config` with the home's location), `configuration.yaml`, `automations.yaml` (text from the caller,
e.g. `homesim.ha.automation`, or an empty list), `.HA_VERSION`, and optionally the recorder database
`home-assistant_v2.db` from `homesim.ha.recorder`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from homesim.generation.catalog import load_catalog
from homesim.ha.automation import parse_automation, render_yaml
from homesim.ha.recorder import export_recorder
from homesim.ha.storage import envelope, export_registries
from homesim.io import write_json_atomic, write_text_atomic
from homesim.schema.ground_truth import GroundTruth
from homesim.schema.home import Home

#: File name HA's recorder uses for its SQLite database.
RECORDER_DB_NAME = "home-assistant_v2.db"
#: The release written to `.HA_VERSION`, so HA treats the folder as written by the version it matches.
HA_RELEASE = "2025.1.0"
#: Radius of the home zone in metres (HA's default).
HOME_RADIUS_M = 100


def export_config_dir(
    home: Home,
    out_dir: Path,
    events: pa.Table | None = None,
    recorder: bool = False,
    statistics: bool = False,
    automations_yaml: str | None = None,
) -> list[Path]:
    """Write a loadable HA config dir for `home` into `out_dir`; returns the files written.

    `recorder` adds `home-assistant_v2.db` built from `events`; `statistics` adds its long- and
    short-term statistics. `automations_yaml` becomes `automations.yaml` verbatim (default `[]`).
    """
    if recorder and events is None:
        raise ValueError("recorder=True needs the home's events")
    if statistics and not recorder:
        raise ValueError("statistics live in the recorder database: pass recorder=True as well")
    paths = export_registries(home, out_dir / ".storage")
    core_config = out_dir / ".storage" / "core.config"
    write_json_atomic(core_config, _core_config(home))
    configuration = out_dir / "configuration.yaml"
    write_text_atomic(configuration, configuration_yaml(home, recorder))
    automations = out_dir / "automations.yaml"
    write_text_atomic(automations, "[]\n" if automations_yaml is None else automations_yaml)
    version = out_dir / ".HA_VERSION"
    write_text_atomic(version, HA_RELEASE)
    paths += [core_config, configuration, automations, version]
    if recorder and events is not None:
        paths.append(export_recorder(home, events, out_dir / RECORDER_DB_NAME, statistics=statistics).path)
    return paths


def configuration_yaml(home: Home, recorder: bool = False) -> str:
    """`configuration.yaml`: the home's location and units, the default integrations, the automations file.

    Strings are written as JSON strings, which are valid double-quoted YAML scalars whatever they hold.
    """
    meta = home.metadata
    lines = [
        f"# homesim: synthetic home {json.dumps(meta.home_key)} for Home Assistant {HA_RELEASE}",
        "homeassistant:",
        f"  name: {json.dumps(_location_name(home))}",
        f"  latitude: {meta.latitude}",
        f"  longitude: {meta.longitude}",
        "  elevation: 0",
        # homesim's catalog gives every unit in metric (°C, kWh, W).
        "  unit_system: metric",
        f"  time_zone: {json.dumps(meta.timezone)}",
        f"  currency: {json.dumps(_currency(home))}",
        "",
        "default_config:",
        "",
        "automation: !include automations.yaml",
    ]
    if recorder:
        # The history is in the past; HA's nightly purge would otherwise delete all but the last 10 days.
        lines += ["", "recorder:", "  auto_purge: false"]
    return "\n".join(lines) + "\n"


def _location_name(home: Home) -> str:
    return f"Synthetic home {home.metadata.home_key}"


def _currency(home: Home) -> str:
    grid = load_catalog().grids.get(home.metadata.grid_region)
    return grid.currency if grid is not None else "EUR"  # HA's own default currency


def _core_config(home: Home) -> dict[str, object]:
    meta = home.metadata
    return envelope(
        "core.config",
        {
            "latitude": meta.latitude,
            "longitude": meta.longitude,
            "elevation": 0,
            "unit_system_v2": "metric",
            "location_name": _location_name(home),
            "time_zone": meta.timezone,
            "external_url": None,
            "internal_url": None,
            "currency": _currency(home),
            "country": None,
            "language": "en",
            "radius": HOME_RADIUS_M,
        },
    )


def truth_automations_yaml(truth: GroundTruth) -> str:
    """automations.yaml holding the ground-truth automation of every pattern (2024.10+ syntax)."""
    return render_yaml([parse_automation(p.automation.model_dump(mode="json")) for p in truth.patterns])
