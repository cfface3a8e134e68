"""The input formats and `read_history`, which dispatches to their importers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from zoneinfo import available_timezones

from homesim.real_homes.importing.casas import import_casas
from homesim.real_homes.importing.ordonez import import_ordonez
from homesim.real_homes.importing.recorder import import_recorder
from homesim.real_homes.importing.writer import HistoryImportError, ImportedHome
from homesim.workspace import REAL_HOME_PREFIX

Importer = Callable[..., ImportedHome]

#: Input formats and their importers; each takes (path, *, home_key=None, timezone=None).
FORMATS: dict[str, Importer] = {
    "casas": import_casas,
    "ordonez": import_ordonez,
    "recorder": import_recorder,
}


def read_history(
    format: str, path: Path, *, home_key: str | None = None, timezone: str | None = None
) -> ImportedHome:
    """Read a real home's history in `format` from `path`, in memory."""
    importer = FORMATS.get(format)
    if importer is None:
        raise HistoryImportError(f"unknown format {format!r}; known: {', '.join(sorted(FORMATS))}")
    if not path.exists():
        raise HistoryImportError(f"no such file or folder: {path}")
    if home_key is not None and not home_key.startswith(REAL_HOME_PREFIX):
        # The prefix keeps real homes apart from generated ones wherever they end up (see `Workspace`).
        raise HistoryImportError(f"a real home's key starts with {REAL_HOME_PREFIX!r} (got {home_key!r})")
    if timezone is not None and timezone not in available_timezones():  # refuse before reading anything
        raise HistoryImportError(
            f"unknown time zone {timezone!r}: expected an IANA name such as Europe/Berlin"
        )
    return importer(path, home_key=home_key, timezone=timezone)
