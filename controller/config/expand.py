"""Expand a building's room layout and device templates into rooms and devices.

A dorm block repeats itself: every floor has N rooms, every room the same few devices on that
floor's RS-485 gateway. Written once per building this keeps a 10,000-room site file small and
fast to load. Expansion is pure: it returns rooms, device field sets (validated by the loader,
which knows where the template was written) and problems as (field path, message).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .common import SLUG_RE
from .site import Building, DeviceTemplate, Room

__all__ = ["ExpandedDevice", "devices_from_templates", "layout_rooms"]


@dataclass(frozen=True, slots=True)
class ExpandedDevice:
    """The fields of one device made from a template, and which template made it."""

    section: str
    """``room_devices`` or ``floor_devices``."""
    index: int
    """The template's index in that list."""
    fields: dict[str, Any]


def layout_rooms(building: Building) -> tuple[list[Room], list[tuple[list[str | int], str]]]:
    """Every room of ``building``: its layout's rooms first, then the explicit ones."""
    layout = building.room_layout
    if layout is None:
        return list(building.rooms), []
    problems: list[tuple[list[str | int], str]] = []
    rooms: list[Room] = []
    seen: set[str] = set()
    total = layout.count
    for floor in range(layout.first_floor, building.floors + 1):
        for index in range(1, layout.per_floor + 1):
            if total is not None and len(rooms) >= total:
                break
            room_id = layout.id.format(floor=floor, index=index)
            if room_id in seen:
                why = "repeats: the pattern needs both {floor} and {index}"
            elif not SLUG_RE.match(room_id):
                why = "is not a valid id: use letters, digits, '-' and '_'"
            else:
                why = ""
            if why:
                problems.append((["room_layout", "id"], f"room id {room_id!r} {why}"))
                return list(building.rooms), problems
            seen.add(room_id)
            rooms.append(
                Room.model_validate({"id": room_id, "floor": floor, "capacity": layout.capacity})
            )
    for i, room in enumerate(building.rooms):
        if room.id in seen:
            problems.append((["rooms", i, "id"], f"room {room.id!r} is also made by room_layout"))
    return [*rooms, *(r for r in building.rooms if r.id not in seen)], problems


class _Stamp:
    """One template of one building, split once into fixed fields and patterns to fill."""

    def __init__(self, template: DeviceTemplate, building: Building) -> None:
        self.fixed: dict[str, Any] = {
            key: value
            for key, value in (
                ("profile", template.profile),
                ("building", building.id),
                ("unit_id", template.unit_id),
                ("circuit", template.circuit),
                ("scan_interval", template.scan_interval),
            )
            if value is not None
        }
        self.patterns = [
            (key, pattern)
            for key, pattern in (
                ("id", template.id),
                ("link", template.link),
                ("topic_base", template.topic_base),
                ("address", template.address),
                ("parent", template.parent),
            )
            if pattern is not None
        ]
        self.tags = template.tags
        self.name = template.name
        self.floors = None if template.floors is None else frozenset(template.floors)

    def on(self, floor: int) -> bool:
        return self.floors is None or floor in self.floors

    def fields(self, values: dict[str, Any]) -> dict[str, Any]:
        out = dict(self.fixed)
        for key, pattern in self.patterns:
            out[key] = pattern.format_map(values)
        if self.tags:
            out["tags"] = [tag.format_map(values) for tag in self.tags]
        if self.name is not None:
            name = {"zh": self.name.zh.format_map(values)}
            if self.name.en is not None:
                name["en"] = self.name.en.format_map(values)
            out["name"] = name
        return out


def devices_from_templates(building: Building, rooms: list[Room]) -> Iterator[ExpandedDevice]:
    """Field sets of the devices the building's floor and room templates describe."""
    floor_stamps = [_Stamp(t, building) for t in building.floor_devices]
    for floor in range(1, building.floors + 1):
        values = {"building": building.id, "floor": floor}
        for t, stamp in enumerate(floor_stamps):
            if not stamp.on(floor):
                continue
            yield ExpandedDevice("floor_devices", t, stamp.fields(values))
    room_stamps = [
        (t, _Stamp(template, building), template.unit_id_start)
        for t, template in enumerate(building.room_devices)
    ]
    if not room_stamps:
        return
    per_building = [t.unit_ids_per == "building" for t in building.room_devices]
    place: dict[int, int] = {}
    # Building-wide numbering follows floors, then layout order, whatever order rooms are listed.
    in_building = {
        id(room): n for n, room in enumerate(sorted(rooms, key=lambda r: r.floor), start=1)
    }
    for room in rooms:
        index = place[room.floor] = place.get(room.floor, 0) + 1
        values = {"building": building.id, "floor": room.floor, "room": room.id, "index": index}
        for t, stamp, unit_id_start in room_stamps:
            if not stamp.on(room.floor):
                continue
            fields = stamp.fields(values)
            fields["room"] = room.id
            if unit_id_start is not None:
                position = in_building[id(room)] if per_building[t] else index
                fields["unit_id"] = unit_id_start + position - 1
            yield ExpandedDevice("room_devices", t, fields)
