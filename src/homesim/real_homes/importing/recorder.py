"""Home Assistant recorder database (`home-assistant_v2.db`), with the config dir's `.storage` registries.

Reads the state history as HA 2023.4 and later keep it, the schema HA 2024–2025 writes and the one
`homesim ha export --recorder` writes: `states` rows (`last_updated_ts`, `attributes_id`, `metadata_id`)
joined to `states_meta` (entity ids) and `state_attributes` (JSON); rows written before the entity ids
moved to `states_meta` still carry theirs in `states.entity_id`. One `states` row is one input line,
numbered by `state_id`.

The home's structure comes from the `.storage` registries beside the database when present (the same
mapping as `ha.storage.import_home`: areas, devices with catalog device types, entities with their
classes); an entity with history but no registry entry (HA keeps no registry entry for entities without
a unique id) is added from its attributes (`device_class`, `unit_of_measurement`, `friendly_name`).
Attributes the registry already describes (names, classes, units, capabilities) are dropped from each
event; the rest (brightness, temperature setpoints, …) stay in `attributes`. Rows are skipped, and
counted, when their entity's domain is not modelled by homesim, the registry leaves their entity out
(disabled, orphaned), they carry no state or time, or they repeat the entity's last state and attributes.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path
from typing import Any

import polars as pl

from homesim.ha.config_dir import RECORDER_DB_NAME
from homesim.ha.storage import (
    EntityRecord,
    ImportedRegistries,
    RegistryImportError,
    import_registries,
    registries_to_home,
)
from homesim.real_homes.importing.lines import local_span
from homesim.real_homes.importing.report import ImportReport, Tally
from homesim.real_homes.importing.writer import (
    HistoryImportError,
    ImportedHome,
    as_real_home,
    observed_events,
    real_home_key,
    source_file,
)
from homesim.schema.home import RealSource
from homesim.schema.naming import HA_DOMAINS, is_valid_entity_id, split_entity_id
from homesim.schema.states import NUMERIC_DOMAINS

FORMAT = "recorder"
DEFAULT_TIMEZONE = "UTC"
#: Platform of entities known only from the database (HA has no registry entry for them).
HISTORY_PLATFORM = "recorder"
#: Attributes that describe the entity rather than its state: the registry (or the entity) holds them.
STATIC_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "friendly_name",
        "device_class",
        "unit_of_measurement",
        "state_class",
        "icon",
        "entity_picture",
        "supported_features",
        "assumed_state",
        "attribution",
        "restored",
        "options",
        "min",
        "max",
        "step",
        "mode",
        "supported_color_modes",
        "min_color_temp_kelvin",
        "max_color_temp_kelvin",
        "min_mireds",
        "max_mireds",
        "effect_list",
        "hvac_modes",
        "fan_modes",
        "preset_modes",
        "swing_modes",
        "min_temp",
        "max_temp",
        "target_temp_step",
        "min_humidity",
        "max_humidity",
        "available_modes",
        "source_list",
        "sound_mode_list",
        "editable",
        "id",
        "user_id",
        "device_trackers",
    }
)


def find_database(path: Path) -> tuple[Path, Path | None]:
    """The recorder database `path` names (or the one in config dir `path`) and the `.storage` beside it."""
    db = path / RECORDER_DB_NAME if path.is_dir() else path
    if not db.is_file():
        raise HistoryImportError(f"{path} holds no {RECORDER_DB_NAME}; give the database or its config dir")
    storage = db.parent / ".storage"
    return db, storage if (storage / "core.entity_registry").is_file() else None


def import_recorder(path: Path, *, home_key: str | None = None, timezone: str | None = None) -> ImportedHome:
    """Read an HA recorder database (and its config dir's registries) as a real home."""
    db, storage = find_database(path)
    rows, attributes = _read(db)
    name = db.parent.name if db.name == RECORDER_DB_NAME else db.stem
    key = home_key or real_home_key(name)
    registries = _registries(storage)
    tz = (
        timezone or (registries.core_config.time_zone if registries.core_config else None) or DEFAULT_TIMEZONE
    )

    n = rows.height
    # Lines are row positions; the report names rows by their `state_id`.
    tally = Tally(db.name, n, numbers=rows["state_id"].to_numpy())
    entity = rows["entity_id"]
    tally.skip("no entity id", entity.is_null().to_numpy())
    domain = entity.str.extract(r"^([^.]+)\.")
    tally.skip("entity domain not modelled", (~domain.is_in(list(HA_DOMAINS))).fill_null(True).to_numpy())
    bad_ids = [e for e in entity.drop_nulls().unique().to_list() if not is_valid_entity_id(e)]
    tally.skip("invalid entity id", entity.is_in(bad_ids).fill_null(False).to_numpy())
    tally.skip("no state", rows["state"].is_null().to_numpy())
    tally.skip("no time", rows["time_s"].is_null().to_numpy())

    statics = _static_attributes(rows.filter(pl.Series(tally.open)), attributes)
    extras = _history_entities(statics, {e.entity_id for e in registries.entities})
    imported = registries_to_home(
        replace(registries, entities=registries.entities + tuple(extras)),
        home_key=key,
        home_type="unknown",
    )
    kept = {e.entity_id for e in imported.home.entities}
    tally.skip("entity left out by the registry", (~entity.is_in(list(kept))).fill_null(True).to_numpy())

    good = rows.with_columns(pl.int_range(1, n + 1, dtype=pl.Int64).alias("line")).filter(
        pl.Series(tally.open)
    )
    times = (good["time_s"] * 1e6).round().cast(pl.Int64).to_numpy()
    start, days = local_span(times, tz)
    real_source = RealSource.model_validate(
        {"format": FORMAT, "original_name": name, "files": [source_file(db, n)]}
    )
    home = as_real_home(imported.home, real_source, start=start, days=days, timezone=tz)
    dynamic = _dynamic_attributes(attributes)
    numeric = pl.col("entity_id").str.extract(r"^([^.]+)\.").is_in(list(NUMERIC_DOMAINS))
    value = pl.when(numeric).then(pl.col("state").cast(pl.Float64, strict=False)).fill_null(float("nan"))
    observed = observed_events(
        key,
        times,
        good["entity_id"],
        good["state"],
        good.select(value)[:, 0].to_numpy(),
        good["line"].to_numpy(),
        good["attributes_id"].replace_strict(dynamic, default=None, return_dtype=pl.String),
    )
    tally.skip_lines("repeated state and attributes", observed.repeated_lines)
    warnings = list(imported.warnings)
    if storage is None:
        warnings.append("no .storage registries beside the database: entities have no devices or areas")
    if timezone is None and registries.core_config is None:
        warnings.append(f"no core.config and no --timezone: local days counted in {tz}")
    report = ImportReport(
        format=FORMAT,
        home_key=key,
        files=(tally.done(),),
        entities=len(home.entities),
        events=observed.table.num_rows,
        activities=0,
        warnings=tuple(warnings),
    )
    return ImportedHome(home=home, events=observed.table, report=report)


def _read(db: Path) -> tuple[pl.DataFrame, dict[int, str]]:
    """The `states` rows in `state_id` order (state_id, entity_id, state, time_s, attributes_id) and the
    `state_attributes` JSON by id."""
    try:
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise HistoryImportError(f"cannot open {db.name}: {exc}") from exc
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "states" not in tables:
            raise HistoryImportError(f"{db.name} is not a Home Assistant recorder database (no states table)")
        columns = {r[1] for r in con.execute("PRAGMA table_info(states)")}
        if "last_updated_ts" not in columns:
            raise HistoryImportError(
                f"{db.name}: recorder schema older than HA 2023.4 (no last_updated_ts); open it in a "
                "newer Home Assistant once to migrate it"
            )
        meta = "states_meta" in tables and "metadata_id" in columns
        entity = "COALESCE(m.entity_id, s.entity_id)" if "entity_id" in columns else "m.entity_id"
        if not meta:
            entity = "s.entity_id"
        join = "LEFT JOIN states_meta m ON m.metadata_id = s.metadata_id" if meta else ""
        cursor = con.execute(
            f"SELECT s.state_id, {entity}, s.state, s.last_updated_ts, s.attributes_id "
            f"FROM states s {join} ORDER BY s.state_id"
        )
        fetched = cursor.fetchall()
        attributes: dict[int, str] = {}
        if "state_attributes" in tables:
            attributes = dict(
                con.execute("SELECT attributes_id, shared_attrs FROM state_attributes").fetchall()
            )
    except sqlite3.DatabaseError as exc:
        raise HistoryImportError(f"cannot read {db.name}: {exc}") from exc
    finally:
        con.close()
    frame = pl.DataFrame(
        fetched,
        schema={
            "state_id": pl.Int64,
            "entity_id": pl.String,
            "state": pl.String,
            "time_s": pl.Float64,
            "attributes_id": pl.Int64,
        },
        orient="row",
    )
    return frame, attributes


def _registries(storage: Path | None) -> ImportedRegistries:
    if storage is None:
        return ImportedRegistries((), (), (), (), (), (), None, None, ())
    try:
        return import_registries(storage)
    except RegistryImportError as exc:
        raise HistoryImportError(str(exc)) from exc


def _parse(text: str | None) -> dict[str, Any]:
    try:
        parsed = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _static_attributes(rows: pl.DataFrame, attributes: dict[int, str]) -> dict[str, dict[str, Any]]:
    """Each entity's describing attributes, from its last row's attributes."""
    last = rows.group_by("entity_id").agg(pl.col("attributes_id").last()).sort("entity_id")
    return {
        entity: {k: v for k, v in _parse(attributes.get(aid)).items() if k in STATIC_ATTRIBUTES}
        for entity, aid in last.iter_rows()
    }


def _history_entities(statics: dict[str, dict[str, Any]], registered: set[str]) -> list[EntityRecord]:
    """Registry records for entities that have history but no registry entry."""
    records = []
    for entity_id, attrs in statics.items():
        if entity_id in registered:
            continue
        unit, device_class, name = (
            attrs.get(k) for k in ("unit_of_measurement", "device_class", "friendly_name")
        )
        state_class = attrs.get("state_class")
        records.append(
            EntityRecord(
                entity_id=entity_id,
                unique_id=entity_id,
                platform=HISTORY_PLATFORM,
                original_device_class=device_class if isinstance(device_class, str) else None,
                unit_of_measurement=unit if isinstance(unit, str) else None,
                capabilities={"state_class": state_class} if isinstance(state_class, str) else None,
                original_name=name if isinstance(name, str) else split_entity_id(entity_id)[1],
            )
        )
    return records


def _dynamic_attributes(attributes: dict[int, str]) -> dict[int, str | None]:
    """Per attributes id, the attributes that describe the state (compact JSON), or None when none do."""
    out: dict[int, str | None] = {}
    for aid, text in attributes.items():
        kept = {k: v for k, v in _parse(text).items() if k not in STATIC_ATTRIBUTES}
        out[aid] = json.dumps(kept, separators=(",", ":"), ensure_ascii=False) if kept else None
    return out
