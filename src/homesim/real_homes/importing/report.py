"""The import report: every input line accounted for, as imported or skipped with a reason.

Each input file gets a `FileTally`; a parser marks lines with numpy boolean masks (one per reason, in the
order it checks them) and whatever no reason claims is imported, so imported + skipped is the file's line
count by construction and a line can never vanish unreported. The report also
counts what happened to imported lines on their way to events (`notes`: overlapping intervals merged,
repeated states HA would not record) and is written beside the home as `import_report.json`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

#: Line numbers kept per skip reason, so a user can open the file at the first bad lines.
FIRST_LINES = 5

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


class Skipped(BaseModel):
    model_config = ConfigDict(frozen=True)

    count: int = Field(ge=0)
    #: Line numbers (1-based; `state_id`s of a recorder database) of the first few lines skipped so.
    first_lines: tuple[int, ...]


class FileTally(BaseModel):
    """What became of each line of one input file."""

    model_config = ConfigDict(frozen=True)

    file: str
    lines: int = Field(ge=0)
    imported: int = Field(ge=0)
    skipped: dict[str, Skipped]

    @property
    def skipped_lines(self) -> int:
        return sum(s.count for s in self.skipped.values())


class Tally:
    """Builds a `FileTally`: reasons claim lines in order; a line claimed once stays with that reason."""

    def __init__(self, file: str, lines: int, numbers: IntArray | None = None) -> None:
        self.file = file
        self.lines = lines
        #: What to call each line in the report (e.g. a database row's id); default its 1-based number.
        self._numbers = np.arange(1, lines + 1) if numbers is None else np.asarray(numbers, dtype=np.int64)
        self._claimed = np.zeros(lines, dtype=np.bool_)
        self._skipped: dict[str, Skipped] = {}

    @property
    def open(self) -> BoolArray:
        """Lines no reason has claimed yet."""
        return ~self._claimed

    def skip(self, reason: str, mask: BoolArray) -> None:
        """Skip the still-open lines where `mask` is true (indexes are 0-based line positions)."""
        hit = mask & ~self._claimed
        count = int(hit.sum())
        if not count:
            return
        self._claimed |= hit
        first = tuple(int(i) for i in self._numbers[np.flatnonzero(hit)[:FIRST_LINES]])
        before = self._skipped.get(reason)
        if before is not None:
            first = tuple(sorted({*before.first_lines, *first}))[:FIRST_LINES]
            count += before.count
        self._skipped[reason] = Skipped(count=count, first_lines=first)

    def skip_lines(self, reason: str, line_numbers: IntArray) -> None:
        """Skip lines given by 1-based number (lines found bad after parsing, e.g. repeated states)."""
        mask = np.zeros(self.lines, dtype=np.bool_)
        mask[np.asarray(line_numbers, dtype=np.int64) - 1] = True
        self.skip(reason, mask)

    def done(self) -> FileTally:
        return FileTally(
            file=self.file,
            lines=self.lines,
            imported=int((~self._claimed).sum()),
            skipped=dict(sorted(self._skipped.items())),
        )


class ImportReport(BaseModel):
    """What `import_history` read and wrote (`import_report.json`)."""

    model_config = ConfigDict(frozen=True)

    format: str
    home_key: str
    files: tuple[FileTally, ...]
    entities: int
    events: int
    activities: int
    #: Each activity label of the dataset, and the homesim activity it was stored as.
    activity_labels: dict[str, str] = {}
    #: Counts of what happened to imported lines (e.g. `overlapping intervals merged`).
    notes: dict[str, int] = {}
    #: Anything else the user should know (registry records HA would drop, assumptions made).
    warnings: tuple[str, ...] = ()

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)

    @property
    def imported(self) -> int:
        return sum(f.imported for f in self.files)

    @property
    def skipped(self) -> int:
        return sum(f.skipped_lines for f in self.files)
