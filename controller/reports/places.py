"""Where each meter sits (building, floor, room) and which meters a group counts once.

The meter hierarchy tags every consumption counter with its ``parent`` meter. Within any group
of places (a building, a floor, a room, the campus) a meter is counted exactly when its parent
lies outside the group: the parent's reading already holds the child's, so counting both would
count the same kWh twice. At campus level that is the top meters (``parent`` empty).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from controller.config import LoadedSite

from .span import Scope

__all__ = ["HOT_CIRCUITS", "Place", "Places"]

HOT_CIRCUITS = frozenset({"hot_water", "shower"})
"""Water meters on these circuits count hot water; every other water meter counts cold."""


@dataclass(frozen=True, slots=True)
class Place:
    building: str
    floor: int | None
    room: str | None


class Places:
    """Device id → place, and the counting rule for building, floor and room groups."""

    def __init__(self, site: LoadedSite) -> None:
        self.site = site
        floors: dict[tuple[str, str], int] = {}
        for building in site.buildings.values():
            for room in building.rooms:
                floors[(building.id, room.id)] = room.floor
            for area in building.areas:
                if area.floor is not None:
                    floors[(building.id, "@" + area.id)] = area.floor
        self._place: dict[str, Place] = {}
        for device in site.devices.values():
            floor = None
            if device.room is not None:
                floor = floors.get((device.building, device.room))
            elif device.area is not None:
                floor = floors.get((device.building, "@" + device.area))
            self._place[device.id] = Place(device.building, floor, device.room)

    def of(self, device_id: str) -> Place | None:
        return self._place.get(device_id)

    def in_scope(self, device_id: str, scope: Scope) -> bool:
        place = self._place.get(device_id)
        return place is not None and scope.holds(place.building, place.floor, place.room)

    def counts_in_building(self, device_id: str, parent: str) -> bool:
        return self._outside(device_id, parent, lambda p: (p.building,))

    def counts_in_floor(self, device_id: str, parent: str) -> bool:
        return self._outside(device_id, parent, lambda p: (p.building, p.floor))

    def counts_in_room(self, device_id: str, parent: str) -> bool:
        return self._outside(device_id, parent, lambda p: (p.building, p.room))

    def counts_in_scope(self, device_id: str, parent: str, scope: Scope) -> bool:
        """Counted once in the scope's total: in the scope, and its parent is not."""
        if not self.in_scope(device_id, scope):
            return False
        return not parent or not self.in_scope(parent, scope)

    def _outside(
        self, device_id: str, parent: str, group: Callable[[Place], tuple[object, ...]]
    ) -> bool:
        if not parent:
            return True
        mine, theirs = self._place.get(device_id), self._place.get(parent)
        if mine is None or theirs is None:
            return True
        return group(mine) != group(theirs)

    def occupants(self, scope: Scope) -> int:
        total = 0
        for building in self.site.buildings.values():
            for room in building.rooms:
                if scope.holds(building.id, room.floor, room.id):
                    total += room.occupancy
        return total

    def floor_area(self, scope: Scope) -> float | None:
        """m² of the buildings in scope (campus, building); None when any is not configured."""
        if scope.kind in ("floor", "room"):
            return None
        areas = [
            b.floor_area_m2
            for b in self.site.buildings.values()
            if scope.kind == "campus" or b.id == scope.building
        ]
        if not areas or any(a is None for a in areas):
            return None
        return float(sum(a for a in areas if a is not None))
