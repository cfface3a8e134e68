"""The common end of every importer: a real home's sensors as HA registry records, its observed state
changes as homesim's events table, and the home folder they are written to.

Sensors become devices and entities through the same registry mapping `ha.storage` uses for an HA config
dir (`registries_to_home`), so an imported home's devices get catalog device types (a PIR is a
`motion_sensor`) and its areas room types, exactly as an imported `.storage` folder would. Events follow
HA's recorder rules: one row per change of state or attributes (a repeat of both is not a change), sorted
by time, each with a ULID context id; the ULIDs' random part comes from a stream seeded by the home key,
so the same input gives the same bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from homesim.datasets.home_folder import parquet_options
from homesim.ha.storage import (
    AreaRecord,
    CoreConfigRecord,
    DeviceRecord,
    EntityRecord,
    ImportedRegistries,
    registries_to_home,
)
from homesim.ids import ulid_strings
from homesim.io import write_atomic, write_json_atomic, write_text_atomic
from homesim.real_homes.activities import activity_of
from homesim.real_homes.importing.report import ImportReport
from homesim.schema.activities import ACTIVITIES, ACTIVITIES_SCHEMA
from homesim.schema.events import EVENTS_SCHEMA, Cause
from homesim.schema.home import Home, HomeMetadata, RealSource
from homesim.schema.naming import slugify, unique_slug
from homesim.workspace import HomeFolder

#: `generator_version` of imported homes: what read them, not what generated them.
IMPORTER_VERSION = "import-1"

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


class HistoryImportError(ValueError):
    """The input cannot be imported at all (wrong format, unreadable, empty): one line for the user."""


@dataclass(frozen=True)
class EntityKind:
    """The HA entity a kind of real sensor becomes."""

    domain: str
    device_class: str | None
    #: The entity's name (HA `original_name`); the object id is slug(device name + this).
    name: str
    unit: str | None = None
    state_class: str | None = None


#: Sensor kinds importers map a dataset's sensor types onto.
KINDS: dict[str, EntityKind] = {
    "motion": EntityKind("binary_sensor", "motion", "Motion"),
    "door": EntityKind("binary_sensor", "door", "Door"),
    "opening": EntityKind("binary_sensor", "opening", "Opening"),
    "occupancy": EntityKind("binary_sensor", "occupancy", "Occupancy"),
    "presence": EntityKind("binary_sensor", "presence", "Presence"),
    "power": EntityKind("binary_sensor", "power", "Power"),
    "running": EntityKind("binary_sensor", "running", "Running"),
    "light": EntityKind("light", None, "Light"),
    "temperature": EntityKind("sensor", "temperature", "Temperature", "°C", "measurement"),
    "illuminance": EntityKind("sensor", "illuminance", "Illuminance", "lx", "measurement"),
    "power_w": EntityKind("sensor", "power", "Power", "W", "measurement"),
    "voltage": EntityKind("sensor", "voltage", "Voltage", "V", "measurement"),
    "value": EntityKind("sensor", None, "Value", None, "measurement"),
}


@dataclass(frozen=True)
class SensorSpec:
    """One sensor of a real home, as its dataset names it."""

    #: The dataset's id of the sensor (`M003`, `Basin/PIR/Bathroom`): unique within the home.
    key: str
    device_name: str
    area: str | None
    #: A key of `KINDS`.
    kind: str
    #: The dataset's sensor type (`PIR`, `Magnetic`), kept as the device's model.
    model: str


@dataclass(frozen=True)
class ObservedEvents:
    """The events table, and the input lines whose event repeated its entity's state and attributes."""

    table: pa.Table
    repeated_lines: IntArray


def real_home_key(name: str) -> str:
    """The default key of an imported home: `real-` and the dataset's name of it, slugged with dashes."""
    return "real-" + slugify(name, default="home").replace("_", "-")


def build_home(
    home_key: str,
    sensors: Sequence[SensorSpec],
    *,
    real_source: RealSource,
    timezone: str,
    start: date,
    days: int,
    manufacturer: str,
    home_type: str = "unknown",
) -> tuple[Home, dict[str, str]]:
    """The Home of a real home's sensors, and each sensor key's entity id."""
    areas = sorted({s.area for s in sensors if s.area is not None})
    area_ids = {name: slugify(name, default="area") for name in areas}
    devices: list[DeviceRecord] = []
    entities: list[EntityRecord] = []
    entity_of: dict[str, str] = {}
    taken: set[str] = set()
    for sensor in sorted(sensors, key=lambda s: s.key):
        kind = KINDS[sensor.kind]
        device_id = hashlib.sha256(f"{home_key}/{sensor.key}".encode()).hexdigest()[:32]
        area_id = None if sensor.area is None else area_ids[sensor.area]
        devices.append(
            DeviceRecord(
                id=device_id,
                name=sensor.device_name,
                manufacturer=manufacturer,
                model=sensor.model,
                area_id=area_id,
            )
        )
        object_id = unique_slug(slugify(f"{sensor.device_name} {kind.name}"), taken)
        taken.add(object_id)
        entity_id = f"{kind.domain}.{object_id}"
        entity_of[sensor.key] = entity_id
        entities.append(
            EntityRecord(
                entity_id=entity_id,
                unique_id=f"{home_key}-{slugify(sensor.key)}",
                platform="homesim",
                device_id=device_id,
                original_device_class=kind.device_class,
                unit_of_measurement=kind.unit,
                capabilities={"state_class": kind.state_class} if kind.state_class else None,
                original_name=kind.name,
                has_entity_name=True,
            )
        )
    registries = ImportedRegistries(
        floors=(),
        areas=tuple(AreaRecord(id=area_ids[name], name=name) for name in areas),
        labels=(),
        devices=tuple(devices),
        entities=tuple(entities),
        people=(),
        config_entry_ids=None,
        core_config=CoreConfigRecord(time_zone=timezone),
        warnings=(),
    )
    imported = registries_to_home(registries, home_key=home_key, home_type=home_type, start=start, days=days)
    return as_real_home(imported.home, real_source), entity_of


def as_real_home(home: Home, real_source: RealSource, **metadata: object) -> Home:
    """`home` with its metadata marking it as real (no floor area, no occupants, its source), and any
    other metadata fields given."""
    meta = home.metadata.model_dump()
    meta.update(metadata)
    meta.update(
        size_m2=None,
        occupants=(),
        seed=0,
        home_index=0,
        generator_version=f"{IMPORTER_VERSION}-{real_source.format}",
        source="real",
        real_source=real_source,
    )
    return home.model_copy(update={"metadata": HomeMetadata.model_validate(meta)})


def intervals_to_changes(
    start_us: IntArray, end_us: IntArray, sensor: IntArray
) -> tuple[IntArray, IntArray, npt.NDArray[np.bool_], IntArray, int]:
    """On/off changes of sensors given as activation intervals (index `i` of the inputs per change).

    Overlapping or touching intervals of one sensor merge into one activation, as a sensor that is
    already on cannot turn on again. Returns (time, sensor, is_on, interval index, intervals merged).
    """
    n = len(start_us)
    time = np.concatenate([start_us, end_us])
    delta = np.concatenate([np.ones(n, np.int64), -np.ones(n, np.int64)])
    index = np.concatenate([np.arange(n), np.arange(n)])
    who = np.concatenate([sensor, sensor])
    # By sensor, then time; at one instant an interval starting wins over one ending, so touching merges.
    order = np.lexsort((-delta, time, who))
    time, delta, index, who = time[order], delta[order], index[order], who[order]
    # Each sensor's deltas sum to zero, so a running sum over the sensor-sorted array restarts at 0 per
    # sensor.
    depth = np.cumsum(delta)
    keep = ((delta == 1) & (depth == 1)) | ((delta == -1) & (depth == 0))
    merged = n - int(((delta == 1) & keep).sum())
    return time[keep], who[keep], delta[keep] == 1, index[keep], merged


def observed_events(
    home_key: str,
    time_us: IntArray,
    entity_id: pl.Series,
    state: pl.Series,
    value: FloatArray,
    line: IntArray,
    attributes: pl.Series | None = None,
) -> ObservedEvents:
    """homesim's events table from observed state changes (any order); `line` is each row's input line.

    A row equal to its entity's previous state and attributes is dropped (HA records changes only) and
    returned as a repeated line. Rows are ordered by time, then input line.
    """
    n = len(time_us)
    frame = pl.DataFrame(
        {
            "time": pl.Series(time_us, dtype=pl.Int64),
            "entity_id": entity_id.cast(pl.String),
            "state": state.cast(pl.String),
            "value": pl.Series(value, dtype=pl.Float64),
            "attributes": pl.Series([None] * n, dtype=pl.String) if attributes is None else attributes,
            "line": pl.Series(line, dtype=pl.Int64),
            "seq": pl.Series(np.arange(n), dtype=pl.Int64),
        }
    ).sort(["entity_id", "time", "seq"])
    repeated = (
        (pl.col("entity_id") == pl.col("entity_id").shift(1))
        & (pl.col("state") == pl.col("state").shift(1))
        & pl.col("attributes").eq_missing(pl.col("attributes").shift(1))
    )
    frame = frame.with_columns(repeated.fill_null(False).alias("repeated"))
    dropped = frame.filter(pl.col("repeated"))["line"].to_numpy()
    kept = frame.filter(~pl.col("repeated")).sort(["time", "seq"])
    times = kept["time"].to_numpy()
    seed = int.from_bytes(hashlib.sha256(f"observed/{home_key}".encode()).digest()[:8], "big")
    rows = len(kept)
    table = pa.Table.from_arrays(
        [
            pa.array(times, pa.timestamp("us", tz="UTC")),
            kept["entity_id"].to_arrow().cast(pa.string()).dictionary_encode(),
            kept["state"].to_arrow().cast(pa.string()),
            kept["value"].to_arrow(),
            kept["attributes"].to_arrow().cast(pa.string()),
            pa.DictionaryArray.from_arrays(
                pa.array(np.zeros(rows, np.int8)), pa.array([Cause.OBSERVED.value], pa.string())
            ),
            pa.nulls(rows, pa.dictionary(pa.int32(), pa.string())),
            ulid_strings(times, np.random.default_rng(seed)),
            pa.nulls(rows, pa.string()),
        ],
        schema=EVENTS_SCHEMA,
    )
    return ObservedEvents(table=table, repeated_lines=np.sort(dropped))


#: Person of activity intervals when the dataset does not say who (one-resident homes).
RESIDENT = "resident"


def activities_table(
    start_us: IntArray, end_us: IntArray, labels: Sequence[str], persons: Sequence[str | None] | None = None
) -> tuple[pa.Table, dict[str, str]]:
    """`activities.parquet` rows from labelled intervals (ordered by start, end, person), and the activity
    each distinct dataset label became."""
    mapping = {label: activity_of(label).value for label in sorted(set(labels))}
    n = len(start_us)
    frame = pl.DataFrame(
        {
            "person": pl.Series([RESIDENT] * n if persons is None else persons, dtype=pl.String).fill_null(
                RESIDENT
            ),
            "code": pl.Series([ACTIVITIES.index(mapping[label]) for label in labels], dtype=pl.Int8),
            "start": pl.Series(start_us, dtype=pl.Int64),
            "end": pl.Series(end_us, dtype=pl.Int64),
        }
    ).sort(["start", "end", "person", "code"])
    table = pa.Table.from_arrays(
        [
            frame["person"].to_arrow().cast(pa.string()).dictionary_encode(),
            pa.DictionaryArray.from_arrays(frame["code"].to_arrow(), pa.array(ACTIVITIES, pa.string())),
            pa.array(frame["start"].to_numpy(), pa.timestamp("us", tz="UTC")),
            pa.array(frame["end"].to_numpy(), pa.timestamp("us", tz="UTC")),
            pa.nulls(n, pa.string()),
        ],
        schema=ACTIVITIES_SCHEMA,
    )
    return table, mapping


def write_real_home(
    directory: Path, home: Home, events: pa.Table, report: ImportReport, activities: pa.Table | None = None
) -> list[Path]:
    """Write an imported home's folder, each file atomically; returns the paths written.

    Refuses a folder that holds another kind of home (a generated one has ground truth that would be
    read as this home's), so importing never mixes two homes' files.
    """
    folder = HomeFolder(directory)
    if directory.is_dir() and any(directory.iterdir()) and not folder.import_report.is_file():
        raise HistoryImportError(f"{directory} holds files of another kind of home; choose an empty folder")
    paths = [folder.home_json, folder.events]
    write_text_atomic(folder.home_json, home.model_dump_json(indent=2) + "\n")
    write_atomic(folder.events, lambda p: pq.write_table(events, p, **parquet_options(events.schema)))
    if activities is not None:
        paths.append(folder.activities)
        write_atomic(
            folder.activities, lambda p: pq.write_table(activities, p, **parquet_options(activities.schema))
        )
    else:
        folder.activities.unlink(missing_ok=True)  # a re-import without labels must not keep the last one's
    paths.append(folder.import_report)
    write_json_atomic(folder.import_report, report.model_dump(mode="json"))
    return paths


def source_file(path: Path, lines: int) -> dict[str, object]:
    """A `SourceFile` record of one input (name, sha256, line count); the file is hashed in chunks."""
    with path.open("rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return {"name": path.name, "sha256": digest, "lines": lines}


@dataclass(frozen=True)
class ImportedHome:
    """One importer's result, ready for `write_real_home`."""

    home: Home
    events: pa.Table
    report: ImportReport
    activities: pa.Table | None = None
