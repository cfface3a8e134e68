"""UCI ADL Binary Dataset (Ordóñez, de Toledo, Sanchis): `<Home>_Sensors.txt` and `<Home>_ADLs.txt`.

Each file has two header lines (`Start time … End time …` and a row of dashes), then one tab-separated
row per activation or activity: start and end as local `YYYY-MM-DD HH:MM:SS`, then location, type and
place (sensors) or the activity label. Columns are padded with runs of tabs, some rows with spaces, and
lines end in CRLF: fields are split on any run of whitespace (no field contains a space).

A sensor is (location, type, place): `Basin PIR Bathroom` is the PIR over the bathroom basin. Types map
onto HA entities: PIR → motion, Magnetic → door (`Maindoor`, `Door`) or opening (fridge, cupboard,
cabinet), Pressure → occupancy (bed, seat), Flush → running (the toilet's flush), Electric → power
(an appliance drawing power). Activations are intervals: the entity is `on` from start to end.
The homes are in Spain; times are read in `Europe/Madrid` unless told otherwise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from homesim.real_homes.importing.lines import TextLines, local_span, local_times, read_lines
from homesim.real_homes.importing.report import FileTally, ImportReport, Tally
from homesim.real_homes.importing.writer import (
    HistoryImportError,
    ImportedHome,
    SensorSpec,
    activities_table,
    build_home,
    intervals_to_changes,
    observed_events,
    real_home_key,
    source_file,
)
from homesim.schema.home import RealSource

FORMAT = "ordonez"
DATASET = "UCI ADL Binary Dataset (Ordóñez, de Toledo, Sanchis)"
CITATION = (
    'F. J. Ordóñez, P. de Toledo, A. Sanchis, "Activity Recognition Using Hybrid Generative/Discriminative '
    'Models on Home Environments Using Binary Sensors", Sensors 13(5), 2013; "Activities of Daily Living '
    '(ADLs) Recognition Using Binary Sensors", UCI Machine Learning Repository'
)
LICENSE = "CC BY 4.0"
DEFAULT_TIMEZONE = "Europe/Madrid"
SENSORS_SUFFIX = "_Sensors.txt"
ADLS_SUFFIX = "_ADLs.txt"

#: Sensor type → sensor kind (`writer.KINDS`); magnetic contacts on doors are doors, on furniture openings.
TYPE_KINDS: dict[str, str] = {
    "PIR": "motion",
    "Magnetic": "opening",
    "Pressure": "occupancy",
    "Flush": "running",
    "Electric": "power",
}
DOOR_LOCATIONS = frozenset({"Maindoor", "Door"})
#: Places whose name alone is not a room's name.
PLACE_NAMES: dict[str, str] = {"Living": "Living Room"}

_STAMP = r"(\d{4}-\d{2}-\d{2}\s+\d{2}:\d{2}:\d{2})"
_SENSOR_ROW = rf"^\s*{_STAMP}\s+{_STAMP}\s+(\S+)\s+(\S+)\s+(\S+)\s*$"
_ADL_ROW = rf"^\s*{_STAMP}\s+{_STAMP}\s+(\S+)\s*$"


def find_files(path: Path) -> tuple[Path, Path | None]:
    """The sensors file `path` names (or the one in folder `path`) and its ADLs file when present."""
    if path.is_dir():
        found = sorted(path.glob(f"*{SENSORS_SUFFIX}"))
        if len(found) != 1:
            names = ", ".join(p.name for p in found) or "none"
            raise HistoryImportError(
                f"{path} must hold exactly one *{SENSORS_SUFFIX} file (found: {names}); name it"
            )
        path = found[0]
    if not path.is_file():
        raise HistoryImportError(f"no such file: {path}")
    if not path.name.endswith(SENSORS_SUFFIX):
        raise HistoryImportError(f"{path.name}: an Ordóñez sensors file is named <home>{SENSORS_SUFFIX}")
    adls = path.with_name(path.name.removesuffix(SENSORS_SUFFIX) + ADLS_SUFFIX)
    return path, adls if adls.is_file() else None


def import_ordonez(path: Path, *, home_key: str | None = None, timezone: str | None = None) -> ImportedHome:
    """Read one Ordóñez home (a `*_Sensors.txt` file or its folder) with its activity labels."""
    sensors_path, adls_path = find_files(path)
    name = sensors_path.name.removesuffix(SENSORS_SUFFIX)
    key = home_key or real_home_key(name)
    tz = timezone or DEFAULT_TIMEZONE
    text = read_lines(sensors_path)
    tally, rows = _rows(text, _SENSOR_ROW, ("start", "end", "location", "type", "place"), tz)
    tally.skip("unknown sensor type", (~rows["type"].is_in(list(TYPE_KINDS))).fill_null(True).to_numpy())
    rows = rows.filter(pl.Series(tally.open))

    sensor_keys = rows.select(pl.concat_str(["location", "type", "place"], separator="/").alias("k"))["k"]
    keys = sensor_keys.unique().sort().to_list()
    specs = [_spec(k) for k in keys]
    sensor = sensor_keys.replace_strict(keys, list(range(len(keys))), return_dtype=pl.Int64).to_numpy()
    time, who, is_on, index, merged = intervals_to_changes(
        rows["start_us"].to_numpy(), rows["end_us"].to_numpy(), sensor
    )

    adl_tally: FileTally | None = None
    activities = None
    labels: dict[str, str] = {}
    adl_text: TextLines | None = None
    if adls_path is not None:
        adl_text = read_lines(adls_path)
        a_tally, adl_rows = _rows(adl_text, _ADL_ROW, ("start", "end", "label"), tz)
        adl_rows = adl_rows.filter(pl.Series(a_tally.open))
        activities, labels = activities_table(
            adl_rows["start_us"].to_numpy(), adl_rows["end_us"].to_numpy(), adl_rows["label"].to_list()
        )
        adl_tally = a_tally.done()
        time_span = np.concatenate([time, adl_rows["start_us"].to_numpy(), adl_rows["end_us"].to_numpy()])
    else:
        time_span = time
    start, days = local_span(time_span, tz)
    files = [source_file(sensors_path, len(text))]
    if adl_text is not None:
        files.append(source_file(adl_text.path, len(adl_text)))
    home, entity_of = build_home(
        key,
        specs,
        real_source=RealSource.model_validate(
            {
                "format": FORMAT,
                "dataset": DATASET,
                "citation": CITATION,
                "license": LICENSE,
                "original_name": name,
                "files": files,
            }
        ),
        timezone=tz,
        start=start,
        days=days,
        manufacturer="UCI ADL (Ordóñez)",
    )
    entity_names = pl.Series([entity_of[k] for k in keys], dtype=pl.String)
    observed = observed_events(
        key,
        time,
        entity_names.gather(who),
        pl.Series(np.where(is_on, "on", "off")),
        np.full(len(time), np.nan),
        rows["line"].to_numpy()[index],
    )
    # Interval data cannot repeat a state once merged; a repeat here would be a bug, not bad input.
    assert not len(observed.repeated_lines)
    report = ImportReport(
        format=FORMAT,
        home_key=key,
        files=(tally.done(), *([adl_tally] if adl_tally is not None else [])),
        entities=len(home.entities),
        events=observed.table.num_rows,
        activities=0 if activities is None else activities.num_rows,
        activity_labels=labels,
        notes={"overlapping intervals merged": merged} if merged else {},
        warnings=(f"times read as local time in {tz}; location is the region's reference city",),
    )
    return ImportedHome(home=home, events=observed.table, report=report, activities=activities)


def _spec(key: str) -> SensorSpec:
    location, kind, place = key.split("/")
    sensor_kind = "door" if kind == "Magnetic" and location in DOOR_LOCATIONS else TYPE_KINDS[kind]
    room = PLACE_NAMES.get(place, place)
    return SensorSpec(key=key, device_name=f"{room} {location}", area=room, kind=sensor_kind, model=kind)


def _rows(text: TextLines, pattern: str, names: tuple[str, ...], tz: str) -> tuple[Tally, pl.DataFrame]:
    """Split every line by `pattern`; skip headers, blank, malformed, badly timed and reversed rows.

    Returns the tally (its open lines are the good rows) and a frame of every line: the captured
    fields, `start_us`/`end_us` in UTC and the 1-based `line` number.
    """
    lines = text.lines
    if len(lines) < 2 or not lines[0].lstrip().startswith("Start time") or not lines[1].startswith("---"):
        raise HistoryImportError(
            f"{text.path.name}: not an Ordóñez file (expected two header lines, 'Start time …' and dashes)"
        )
    tally = Tally(text.path.name, len(lines))
    position = np.arange(len(lines))
    tally.skip("header", position < 2)
    tally.skip("blank line", lines.str.strip_chars().str.len_chars().eq(0).to_numpy())
    fields = lines.str.extract_groups(pattern).struct.rename_fields(list(names)).struct.unnest()
    tally.skip("malformed line", fields[names[0]].is_null().to_numpy())
    # Some rows pad the time with a run of spaces or tabs; the timestamp has exactly one space.
    stamps = [fields[c].str.replace(r"\s+", " ") for c in ("start", "end")]
    start, end = (local_times(s, tz) for s in stamps)
    tally.skip("bad timestamp", start.unparsed | end.unparsed)
    tally.skip("nonexistent local time (DST gap)", start.nonexistent | end.nonexistent)
    tally.skip("end before start", end.us < start.us)
    frame = fields.with_columns(
        pl.Series("start_us", start.us), pl.Series("end_us", end.us), pl.Series("line", position + 1)
    )
    return tally, frame
