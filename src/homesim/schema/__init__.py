"""The shared vocabulary: pydantic models of homes and the Arrow schemas of event and environment tables."""

from homesim.schema.events import ENVIRONMENT_SCHEMA, EVENTS_SCHEMA, Cause
from homesim.schema.home import Area, Device, Entity, Floor, Home, HomeMetadata, Label, Occupant, Person

__all__ = [
    "ENVIRONMENT_SCHEMA",
    "EVENTS_SCHEMA",
    "Area",
    "Cause",
    "Device",
    "Entity",
    "Floor",
    "Home",
    "HomeMetadata",
    "Label",
    "Occupant",
    "Person",
]
