"""The public datasets' activity labels mapped onto homesim's activity vocabulary (`schema.activities`).

Datasets label the same activity differently (`Spare_Time/TV` in UCI ADL, `Relax` in CASAS); imported
homes store homesim's `Activity`, so homes of different datasets and synthetic homes compare. A label with
no mapping becomes `other`; the import report lists every label with the activity it became.
"""

from __future__ import annotations

from homesim.schema.activities import Activity
from homesim.schema.naming import slugify

#: Dataset label (lowercase slug) → homesim activity.
ACTIVITY_OF_LABEL: dict[str, Activity] = {
    # UCI ADL (Ordóñez)
    "sleeping": Activity.SLEEPING,
    "toileting": Activity.TOILETING,
    "showering": Activity.SHOWERING,
    "grooming": Activity.GROOMING,
    "breakfast": Activity.BREAKFAST,
    "lunch": Activity.LUNCH,
    "dinner": Activity.DINNER,
    "snack": Activity.SNACK,
    "spare_time_tv": Activity.RELAXING,
    "leaving": Activity.LEAVING,
    # WSU CASAS (aruba, milan, tulum, kyoto, cairo)
    "sleep": Activity.SLEEPING,
    "bed_to_toilet": Activity.TOILETING,
    "personal_hygiene": Activity.GROOMING,
    "bathing": Activity.SHOWERING,
    "relax": Activity.RELAXING,
    "watch_tv": Activity.RELAXING,
    "read": Activity.RELAXING,
    "meal_preparation": Activity.COOKING,
    "kitchen_activity": Activity.COOKING,
    "leave_home": Activity.LEAVING,
    "work": Activity.WORKING,
    "desk_activity": Activity.WORKING,
    "work_in_office": Activity.WORKING,
    "wash_dishes": Activity.HOUSEKEEPING,
    "housekeeping": Activity.HOUSEKEEPING,
    "laundry": Activity.HOUSEKEEPING,
}


def activity_of(label: str) -> Activity:
    """homesim's activity for a dataset's label (`other` when the label is not mapped)."""
    return ACTIVITY_OF_LABEL.get(slugify(label, default="other"), Activity.OTHER)
