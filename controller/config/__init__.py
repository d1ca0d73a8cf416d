"""Configuration: YAML with positions, pydantic models for sites and profiles, loading."""

from .errors import ConfigError, ConfigIssue
from .loader import LoadedSite, ProfileLibrary, load_profile, load_site
from .profile import Point, PointKind, Profile, StateClass
from .site import (
    Building,
    BuildingKind,
    Circuit,
    Device,
    FloorDeviceTemplate,
    Room,
    RoomDeviceTemplate,
    RoomLayout,
)

__all__ = [
    "Building",
    "BuildingKind",
    "Circuit",
    "ConfigError",
    "ConfigIssue",
    "Device",
    "FloorDeviceTemplate",
    "LoadedSite",
    "Point",
    "PointKind",
    "Profile",
    "ProfileLibrary",
    "Room",
    "RoomDeviceTemplate",
    "RoomLayout",
    "StateClass",
    "load_profile",
    "load_site",
]
