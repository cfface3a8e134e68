"""Home Assistant recorder database: write a home's events as the SQLite file HA 2025.1 keeps its history in.

This package owns `home-assistant_v2.db` at recorder schema version 48: the table definitions HA's
SQLAlchemy models produce on SQLite, the state history (`states`, `states_meta`, `state_attributes`), the
events an automation run fires (`events`, `event_types`, `event_data`), the bookkeeping tables
(`recorder_runs`, `schema_changes`, `migration_changes`, `statistics_runs`) and the long- and short-term
statistics HA's sensor integration compiles. Every column is derived with numpy/pyarrow over whole arrays
and written with `executemany`; the file is built under a temporary name and renamed when complete.

One module a job: `tables` (the DDL), `columns` (events as arrays), `states` (history and attributes),
`events` (what an automation run fires), `statistics` (long- and short-term), `database` (writing the file
from them, and reading it back).
"""

from homesim.ha.recorder.columns import fnv1a_32
from homesim.ha.recorder.database import RecorderSummary, export_recorder, read_state_history, table_counts
from homesim.ha.recorder.tables import SCHEMA_VERSION, SHORT_TERM_KEEP_DAYS, StateRow

__all__ = [
    "SCHEMA_VERSION",
    "SHORT_TERM_KEEP_DAYS",
    "RecorderSummary",
    "StateRow",
    "export_recorder",
    "fnv1a_32",
    "read_state_history",
    "table_counts",
]
