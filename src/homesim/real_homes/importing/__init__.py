"""Import a real home's history into a homesim home folder: `import_history(format, path, out)`.

One module per input format reads its files into an `ImportedHome` (`ordonez`: UCI ADL / Ordóñez,
`casas`: WSU CASAS, `recorder`: a Home Assistant recorder database with its `.storage` registries);
`writer` is the common end (registry records → Home, observed state changes → events table, the folder);
`report` accounts for every input line. Bad input raises `HistoryImportError` with one line for the user.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from homesim.real_homes.importing.casas import import_casas
from homesim.real_homes.importing.ordonez import import_ordonez
from homesim.real_homes.importing.recorder import import_recorder
from homesim.real_homes.importing.report import ImportReport
from homesim.real_homes.importing.writer import HistoryImportError, ImportedHome, write_real_home

Importer = Callable[..., ImportedHome]

#: Input formats and their importers; each takes (path, *, home_key=None, timezone=None).
FORMATS: dict[str, Importer] = {
    "casas": import_casas,
    "ordonez": import_ordonez,
    "recorder": import_recorder,
}

__all__ = ["FORMATS", "HistoryImportError", "ImportReport", "ImportedHome", "import_history", "read_history"]


def read_history(
    format: str, path: Path, *, home_key: str | None = None, timezone: str | None = None
) -> ImportedHome:
    """Read a real home's history in `format` from `path`, in memory."""
    importer = FORMATS.get(format)
    if importer is None:
        raise HistoryImportError(f"unknown format {format!r}; known: {', '.join(sorted(FORMATS))}")
    if not path.exists():
        raise HistoryImportError(f"no such file or folder: {path}")
    return importer(path, home_key=home_key, timezone=timezone)


def import_history(
    format: str, path: Path, out: Path, *, home_key: str | None = None, timezone: str | None = None
) -> ImportReport:
    """Read a real home's history and write it as a home folder at `out`; returns the import report."""
    imported = read_history(format, path, home_key=home_key, timezone=timezone)
    write_real_home(out, imported.home, imported.events, imported.report, imported.activities)
    return imported.report
