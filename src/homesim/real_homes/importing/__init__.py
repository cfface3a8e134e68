"""Import a real home's history into a homesim home folder: `import_history(format, path, out)`.

One module per input format reads its files into an `ImportedHome` (`ordonez`: UCI ADL / Ordóñez,
`casas`: WSU CASAS, `recorder`: a Home Assistant recorder database with its `.storage` registries);
`formats` dispatches; `writer` is the common end (registry records → Home, observed state changes →
events table, the folder); `report` accounts for every input line; `workspace` puts an imported home
into a workspace as a dataset of real homes. Bad input raises `HistoryImportError`, one line for the user.
"""

from __future__ import annotations

from pathlib import Path

from homesim.real_homes.importing.formats import FORMATS, read_history
from homesim.real_homes.importing.report import ImportReport
from homesim.real_homes.importing.workspace import import_into_workspace
from homesim.real_homes.importing.writer import HistoryImportError, ImportedHome, write_real_home

__all__ = [
    "FORMATS",
    "HistoryImportError",
    "ImportReport",
    "ImportedHome",
    "import_history",
    "import_into_workspace",
    "read_history",
]


def import_history(
    format: str, path: Path, out: Path, *, home_key: str | None = None, timezone: str | None = None
) -> ImportReport:
    """Read a real home's history and write it as a home folder at `out`; returns the import report."""
    imported = read_history(format, path, home_key=home_key, timezone=timezone)
    write_real_home(out, imported.home, imported.events, imported.report, imported.activities)
    return imported.report
