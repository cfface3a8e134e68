"""Arrow schemas of the per-home tables (`events.parquet`, `environment.parquet`) and the event causes."""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa


class Cause(StrEnum):
    """Why an event happened. Generators set it; detectors never see it."""

    ROUTINE = "routine"
    SYNERGY = "synergy"
    ENVIRONMENT = "environment"
    PRESENCE = "presence"
    AUTOMATION = "automation"
    SENSOR = "sensor"
    NOISE = "noise"
    FAULT = "fault"
    #: A state change read from a real home's history (`homesim.real_homes`): nothing generated it.
    OBSERVED = "observed"


#: Code order of the `cause` dictionary of generated homes; stable so files compare byte for byte. An
#: imported real home's table has the one-entry dictionary ("observed",) instead.
CAUSES: tuple[str, ...] = tuple(c.value for c in Cause if c is not Cause.OBSERVED)

#: Columns carrying provenance: the simulation strips them before any detector sees events.
PROVENANCE_COLUMNS: tuple[str, ...] = ("cause", "cause_id")

EVENTS_SCHEMA = pa.schema(
    [
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("entity_id", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("state", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=True),
        pa.field("attributes", pa.string(), nullable=True),
        pa.field("cause", pa.dictionary(pa.int8(), pa.string()), nullable=False),
        pa.field("cause_id", pa.dictionary(pa.int32(), pa.string()), nullable=True),
        pa.field("context_id", pa.string(), nullable=False),
        pa.field("parent_context_id", pa.string(), nullable=True),
    ],
    metadata={b"homesim.table": b"events", b"homesim.schema_version": b"1"},
)

ENVIRONMENT_SCHEMA = pa.schema(
    [
        pa.field("time", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("temperature_c", pa.float64(), nullable=False),
        pa.field("humidity_pct", pa.float64(), nullable=False),
        pa.field("cloud_cover", pa.float64(), nullable=False),
        pa.field("condition", pa.dictionary(pa.int8(), pa.string()), nullable=False),
        pa.field("sun_elevation_deg", pa.float64(), nullable=False),
        pa.field("carbon_intensity_g_per_kwh", pa.float64(), nullable=False),
        pa.field("price_per_kwh", pa.float64(), nullable=False),
    ],
    metadata={b"homesim.table": b"environment", b"homesim.schema_version": b"1"},
)
