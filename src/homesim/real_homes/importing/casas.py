"""WSU CASAS testbed files: one sensor event per line, `date time sensor value [activity begin|end]`.

As CASAS publishes its smart-home testbeds (aruba, milan, tulum, cairo, kyoto, …): fields separated by
spaces or tabs, local time with or without microseconds, a sensor id whose letters say its kind, and on
some lines an activity annotation (`Sleeping begin`, `R1_Sleep end`; an `R<n>` prefix names the
resident in multi-resident homes). Sensor kinds by id prefix: `M`/`MA` motion (ON/OFF), `D` door
(OPEN/CLOSE), `I` item presence (PRESENT/ABSENT), `L` light switch (ON/OFF), `T` temperature (°C),
`LS` illuminance, `P` power (W), `BATV` battery voltage, `AD` analog readings. A value the sensor's kind
cannot take (`ONc`, `OF`) is a bad value; an id with another prefix is an unknown sensor type; both are
skipped and counted. The testbeds are in Washington State: times are read in `America/Los_Angeles`.

An annotated line is one event and one activity boundary: begins and ends pair per (resident, label)
into `activities.parquet`; begins never ended, ends never begun and annotations on skipped lines are
counted in the report's notes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from homesim.real_homes.importing.lines import local_span, local_times, read_lines
from homesim.real_homes.importing.report import ImportReport, Tally
from homesim.real_homes.importing.writer import (
    HistoryImportError,
    ImportedHome,
    SensorSpec,
    activities_table,
    build_home,
    observed_events,
    real_home_key,
    source_file,
)
from homesim.schema.home import RealSource

FORMAT = "casas"
DATASET = "WSU CASAS smart home testbeds"
CITATION = (
    'D. Cook, A. Crandall, B. Thomas, N. Krishnan, "CASAS: A smart home in a box", IEEE Computer 46(6), '
    '2013; D. Cook, "Learning setting-generalized activity models for smart spaces", IEEE Intelligent '
    "Systems 27(1), 2012"
)
DEFAULT_TIMEZONE = "America/Los_Angeles"
#: File names a CASAS testbed folder keeps its events in.
DATA_NAMES = ("data", "data.txt", "ann.txt")

#: Sensor id prefix (its letters) → sensor kind (`writer.KINDS`).
PREFIX_KINDS: dict[str, str] = {
    "M": "motion",
    "MA": "motion",
    "D": "door",
    "I": "presence",
    "L": "light",
    "T": "temperature",
    "LS": "illuminance",
    "P": "power_w",
    "BATV": "voltage",
    "AD": "value",
}
#: Binary kinds: the dataset's value → the HA state.
BINARY_VALUES: dict[str, dict[str, str]] = {
    "motion": {"ON": "on", "OFF": "off"},
    "door": {"OPEN": "on", "CLOSE": "off", "CLOSED": "off"},
    "presence": {"PRESENT": "on", "ABSENT": "off"},
    "light": {"ON": "on", "OFF": "off"},
}

_ROW = r"^\s*(\d{4}-\d{2}-\d{2})\s+(\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s+(\S+)\s+(\S+)(?:\s+(.*?))?\s*$"
_NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"
_RESIDENT = re.compile(r"^(R\d+)[_ ](.+)$")


def find_file(path: Path) -> Path:
    """The events file `path` names, or the one in testbed folder `path`."""
    if path.is_file():
        return path
    for name in DATA_NAMES:
        if (path / name).is_file():
            return path / name
    raise HistoryImportError(f"{path} holds no CASAS events file ({', '.join(DATA_NAMES)}); name the file")


def import_casas(path: Path, *, home_key: str | None = None, timezone: str | None = None) -> ImportedHome:
    """Read one CASAS testbed's events file (or its folder) with its activity annotations."""
    file = find_file(path)
    name = file.parent.name if file.name in DATA_NAMES else file.stem
    key = home_key or real_home_key(name)
    tz = timezone or DEFAULT_TIMEZONE
    text = read_lines(file)
    tally = Tally(file.name, len(text))
    lines = text.lines
    tally.skip("blank line", lines.str.strip_chars().str.len_chars().eq(0).to_numpy())
    fields = (
        lines.str.extract_groups(_ROW)
        .struct.rename_fields(["date", "time", "sensor", "value", "note"])
        .struct.unnest()
    )
    tally.skip("malformed line", fields["date"].is_null().to_numpy())
    if not tally.open.any():
        raise HistoryImportError(f"{file.name}: not a CASAS events file (no 'date time sensor value' line)")
    times = local_times(fields.select(pl.concat_str(["date", "time"], separator=" "))[:, 0], tz)
    tally.skip("bad timestamp", times.unparsed)
    tally.skip("nonexistent local time (DST gap)", times.nonexistent)
    timed = tally.open.copy()

    kind = (
        fields["sensor"]
        .str.extract(r"^([A-Za-z]+)")
        .str.to_uppercase()
        .replace_strict(PREFIX_KINDS, default=None, return_dtype=pl.String)
    )
    tally.skip("unknown sensor type", kind.is_null().to_numpy())
    frame = fields.with_columns(
        kind.alias("kind"),
        pl.Series("us", times.us),
        pl.Series("line", np.arange(1, len(lines) + 1)),
        pl.col("value").str.to_uppercase().alias("upper"),
    )
    binary = pl.col("kind").is_in(list(BINARY_VALUES))
    state = pl.coalesce(
        [
            pl.when(pl.col("kind") == k).then(pl.col("upper").replace_strict(v, default=None))
            for k, v in BINARY_VALUES.items()
        ]
    )
    number = pl.col("value").str.contains(_NUMBER)
    frame = frame.with_columns(
        pl.when(binary).then(state).when(number).then(pl.col("value")).otherwise(None).alias("state"),
        pl.when(binary | ~number)
        .then(float("nan"))
        .otherwise(pl.col("value").cast(pl.Float64, strict=False))
        .alias("number"),
    )
    tally.skip("bad value", frame["state"].is_null().to_numpy())

    good = frame.filter(pl.Series(tally.open))
    sensors = good.select("sensor", "kind").unique("sensor").sort("sensor")
    keys, kinds = sensors["sensor"].to_list(), dict(sensors.iter_rows())
    specs = [
        SensorSpec(key=k, device_name=k, area=None, kind=kinds[k], model=k.rstrip("0123456789")) for k in keys
    ]

    activities, labels, notes = _activities(frame.filter(pl.Series(timed)))
    spans = [good["us"].to_numpy()]
    if activities is not None:
        spans += [activities.column("start").to_numpy().astype(np.int64)]
    start, days = local_span(np.concatenate(spans), tz)
    home, entity_of = build_home(
        key,
        specs,
        real_source=RealSource.model_validate(
            {
                "format": FORMAT,
                "dataset": DATASET,
                "citation": CITATION,
                "license": "see the testbed's README (CASAS asks users to cite the project)",
                "original_name": name,
                "files": [source_file(file, len(text))],
            }
        ),
        timezone=tz,
        start=start,
        days=days,
        manufacturer="WSU CASAS",
    )
    observed = observed_events(
        key,
        good["us"].to_numpy(),
        good["sensor"].replace_strict(entity_of, return_dtype=pl.String),
        good["state"],
        good["number"].to_numpy(),
        good["line"].to_numpy(),
    )
    tally.skip_lines("repeated state (HA records changes only)", observed.repeated_lines)
    annotated_skips = int(
        (frame["note"].fill_null("").str.len_chars().gt(0).to_numpy() & ~tally.open & timed).sum()
    )
    if annotated_skips:
        notes["activity annotations on skipped lines"] = annotated_skips
    report = ImportReport(
        format=FORMAT,
        home_key=key,
        files=(tally.done(),),
        entities=len(home.entities),
        events=observed.table.num_rows,
        activities=0 if activities is None else activities.num_rows,
        activity_labels=labels,
        notes=notes,
        warnings=(
            f"times read as local time in {tz}; sensors have no rooms (CASAS gives the layout as a picture)",
        ),
    )
    return ImportedHome(home=home, events=observed.table, report=report, activities=activities)


def _activities(frame: pl.DataFrame) -> tuple[pa.Table | None, dict[str, str], dict[str, int]]:
    """Pair `<label> begin` / `<label> end` annotations per (resident, label) into intervals.

    A begin while the same activity is open restarts it (the earlier begin is counted as never ended).
    Returns the table (None when the file has no annotations), each label's activity, and the counts of
    annotations that made no interval.
    """
    notes = frame.filter(pl.col("note").is_not_null() & (pl.col("note") != "")).sort(["us", "line"])
    if notes.is_empty():
        return None, {}, {}
    counts: dict[str, int] = {}
    open_at: dict[tuple[str | None, str], int] = {}
    starts: list[int] = []
    ends: list[int] = []
    labels: list[str] = []
    residents: list[str | None] = []
    # One step per annotation, not per event: annotated lines are a small share of a testbed's lines.
    for note, us in zip(notes["note"].to_list(), notes["us"].to_list(), strict=True):
        words = note.split()
        mark = words[-1].lower()
        if mark not in ("begin", "end") or len(words) < 2:
            counts["annotations without begin/end"] = counts.get("annotations without begin/end", 0) + 1
            continue
        label = " ".join(words[:-1])
        match = _RESIDENT.match(label)
        resident, label = (match.group(1).lower(), match.group(2)) if match else (None, label)
        slot = (resident, label)
        if mark == "begin":
            if slot in open_at:
                counts["activity begins never ended"] = counts.get("activity begins never ended", 0) + 1
            open_at[slot] = us
        elif slot in open_at:
            starts.append(open_at.pop(slot))
            ends.append(us)
            labels.append(label)
            residents.append(resident)
        else:
            counts["activity ends never begun"] = counts.get("activity ends never begun", 0) + 1
    if open_at:
        counts["activity begins never ended"] = counts.get("activity begins never ended", 0) + len(open_at)
    table, mapping = activities_table(np.array(starts, np.int64), np.array(ends, np.int64), labels, residents)
    return table, mapping, dict(sorted(counts.items()))
