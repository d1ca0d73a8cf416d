"""Entities: every point of every device, with a stable id and its place on the campus."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from controller.config.profile import DeviceClass, PointKind, StateClass

__all__ = ["Entity", "Quality", "entity_id"]


class Quality(StrEnum):
    """How far a value can be trusted. Only GOOD values are recorded as readings."""

    GOOD = "good"
    BAD = "bad"
    UNCERTAIN = "uncertain"


def entity_id(device_id: str, point_key: str) -> str:
    """``dorm-3.0512.elec`` + ``energy`` → ``dorm-3.0512.elec.energy``."""
    return f"{device_id}.{point_key}"


@dataclass(frozen=True, slots=True)
class Entity:
    """A point of a device, as the rest of the controller sees it.

    ``tags`` are the location and classification tags the recorder writes and reports group by
    (campus, building, building_kind, floor, room, occupants, area, device, profile, circuit,
    kind; consumption counters also level and parent). A device's entities of one kind share
    one tags dict (half a million entities on a big campus): read it, never change it.
    """

    entity_id: str
    device_id: str
    point_key: str
    name_zh: str
    name_en: str
    kind: PointKind
    unit: str | None
    device_class: DeviceClass
    state_class: StateClass
    writable: bool
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def building(self) -> str:
        return self.tags.get("building", "")

    @property
    def room(self) -> str | None:
        return self.tags.get("room")

    @property
    def circuit(self) -> str | None:
        return self.tags.get("circuit")

    @property
    def is_cumulative(self) -> bool:
        return self.state_class is StateClass.TOTAL_INCREASING
