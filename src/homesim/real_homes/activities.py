"""homesim's activity names, and the labels of public datasets mapped onto them.

Datasets label the same activity differently (`Spare_Time/TV` in UCI ADL, `Relax` in CASAS); imported
homes keep the dataset's label (`source_label`) and add homesim's name (`activity`) so homes of different
datasets compare. A label with no mapping keeps its own slug as the name.
"""

from __future__ import annotations

from homesim.schema.naming import slugify

#: Dataset label (lowercase slug) → homesim activity name.
ACTIVITY_NAMES: dict[str, str] = {
    # UCI ADL (Ordóñez)
    "sleeping": "sleeping",
    "toileting": "toileting",
    "showering": "showering",
    "grooming": "grooming",
    "breakfast": "breakfast",
    "lunch": "lunch",
    "dinner": "dinner",
    "snack": "snack",
    "spare_time_tv": "relaxing",
    "leaving": "leaving",
    # WSU CASAS (aruba, milan, tulum, kyoto, cairo)
    "sleep": "sleeping",
    "bed_to_toilet": "toileting",
    "personal_hygiene": "grooming",
    "bathing": "showering",
    "relax": "relaxing",
    "watch_tv": "relaxing",
    "read": "relaxing",
    "meal_preparation": "cooking",
    "kitchen_activity": "cooking",
    "eating": "eating",
    "eat": "eating",
    "dining_rm_activity": "eating",
    "leave_home": "leaving",
    "enter_home": "arriving",
    "work": "working",
    "desk_activity": "working",
    "wash_dishes": "dishes",
    "housekeeping": "housekeeping",
    "take_medicine": "medication",
    "morning_meds": "medication",
    "evening_meds": "medication",
}


def activity_name(label: str) -> str:
    """homesim's name of a dataset's activity label (its slug when the label is not mapped)."""
    slug = slugify(label, default="other")
    return ACTIVITY_NAMES.get(slug, slug)
