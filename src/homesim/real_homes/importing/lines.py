"""Reading a text dataset as lines, and its local wall-clock timestamps as UTC, column-wise.

Public datasets write local time without an offset. A local time that does not exist (the hour a DST
change skips) cannot be placed and is reported; an ambiguous one (the hour repeated in autumn) is read
as the first of the two, as a logger that wrote wall-clock time without a zone gives no way to tell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from homesim.real_homes.importing.writer import HistoryImportError

#: Timestamps as the datasets write them: date, time, optional fraction of a second.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S%.f"
_LINE_END = re.compile(r"\r?\n")


@dataclass(frozen=True)
class TextLines:
    path: Path
    #: The file's lines without their line ends (CRLF or LF); a final line end adds no empty line.
    lines: pl.Series

    def __len__(self) -> int:
        return len(self.lines)


def read_lines(path: Path) -> TextLines:
    """A text file's lines. UTF-8 is tried first; files that are not fall back to Latin-1, as older
    dataset releases are."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HistoryImportError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    parts = _LINE_END.split(text)
    if parts and parts[-1] == "":
        parts.pop()
    return TextLines(path=path, lines=pl.Series("line", parts, dtype=pl.String))


@dataclass(frozen=True)
class LocalTimes:
    """Timestamps in µs since the epoch (UTC); `unparsed` and `nonexistent` mark the ones that failed."""

    us: npt.NDArray[np.int64]
    unparsed: npt.NDArray[np.bool_]
    nonexistent: npt.NDArray[np.bool_]


def local_times(texts: pl.Series, timezone: str) -> LocalTimes:
    """Parse local wall-clock timestamps (null text counts as unparsed) and convert them to UTC."""
    naive = texts.str.strptime(pl.Datetime("us"), TIMESTAMP_FORMAT, strict=False)
    try:
        utc = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
    except pl.exceptions.ComputeError as exc:
        raise HistoryImportError(f"unknown time zone {timezone!r}") from exc
    utc = utc.dt.convert_time_zone("UTC")
    unparsed = naive.is_null().to_numpy()
    nonexistent = (utc.is_null() & naive.is_not_null()).to_numpy()
    us = utc.dt.epoch("us").fill_null(0).to_numpy().astype(np.int64)
    return LocalTimes(us=us, unparsed=unparsed, nonexistent=nonexistent)


def local_span(times_us: npt.NDArray[np.int64], timezone: str) -> tuple[date, int]:
    """First local day and the number of local days the times span (at least one)."""
    if not len(times_us):
        raise HistoryImportError("no readable events in the input")
    ends = pl.Series([int(times_us.min()), int(times_us.max())], dtype=pl.Int64)
    local = ends.cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(timezone).dt.date()
    first, last = local[0], local[1]
    return first, (last - first).days + 1
