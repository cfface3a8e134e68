"""What occupants do: the activity vocabulary and the Arrow schema of `activities.parquet`.

One row per activity interval of one person. Synthetic homes write it as ground truth (what each occupant
was doing); imported real homes write it from the dataset's own labels (e.g. the Ordóñez ADL files, CASAS
`begin`/`end` annotations). The labels are the common ground of the public activity-recognition datasets,
so a model trained on synthetic intervals can be scored on real ones.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa

# Re-exported for the importers and the generator that write this file; the workspace owns its name.
from homesim.workspace import ACTIVITIES_FILE as ACTIVITIES_FILE


class Activity(StrEnum):
    """Activity labels shared by synthetic ground truth and imported real homes."""

    SLEEPING = "sleeping"
    TOILETING = "toileting"
    SHOWERING = "showering"
    GROOMING = "grooming"
    BREAKFAST = "breakfast"
    LUNCH = "lunch"
    DINNER = "dinner"
    SNACK = "snack"
    COOKING = "cooking"
    RELAXING = "relaxing"
    WORKING = "working"
    HOUSEKEEPING = "housekeeping"
    LEAVING = "leaving"
    OTHER = "other"


#: Code order of the `activity` dictionary; stable so files compare byte for byte.
ACTIVITIES: tuple[str, ...] = tuple(a.value for a in Activity)

ACTIVITIES_SCHEMA = pa.schema(
    [
        pa.field("person", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("activity", pa.dictionary(pa.int8(), pa.string()), nullable=False),
        pa.field("start", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("end", pa.timestamp("us", tz="UTC"), nullable=False),
        # The room the activity happens in (area id), when known.
        pa.field("area_id", pa.string(), nullable=True),
    ],
    metadata={b"homesim.table": b"activities", b"homesim.schema_version": b"1"},
)

#: Room classes the activity datasets tell apart: HA area room types (synthetic homes) → class. An imported
#: home's areas carry the dataset's room names, matched by the same words (`room_class`).
ROOM_CLASSES: dict[str, str] = {
    "bathroom": "bathroom",
    "toilet": "bathroom",
    "kitchen": "kitchen",
    "bedroom": "bedroom",
    "kids_room": "bedroom",
    "guest_room": "bedroom",
    "living_room": "living",
    "living": "living",
    "dining_room": "living",
    "office": "living",
    "entrance": "entrance",
    "hallway": "entrance",
    "garage": "entrance",
}
#: The classes in a fixed order, `other` last (rooms of no class).
ROOMS: tuple[str, ...] = (*dict.fromkeys(ROOM_CLASSES.values()), "other")


def room_class(room_type: str, name: str = "") -> str:
    """The room class of an area: by its room type, else by a class word in its name, else `other`."""
    if room_type in ROOM_CLASSES:
        return ROOM_CLASSES[room_type]
    key = name.lower().replace(" ", "_")
    return next((c for k, c in ROOM_CLASSES.items() if k in key), "other")
