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
            # model_construct: every field was validated on the layout itself.
            rooms.append(Room.model_construct(id=room_id, floor=floor, capacity=layout.capacity))
    for i, room in enumerate(building.rooms):
        if room.id in seen:
            problems.append((["rooms", i, "id"], f"room {room.id!r} is also made by room_layout"))
    return [*rooms, *(r for r in building.rooms if r.id not in seen)], problems


def _fields(template: DeviceTemplate, building: Building, values: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": template.id.format_map(values),
        "profile": template.profile,
        "building": building.id,
        "link": template.link.format_map(values),
    }
    if template.unit_id is not None:
        fields["unit_id"] = template.unit_id
    if template.topic_base is not None:
        fields["topic_base"] = template.topic_base.format_map(values)
    if template.circuit is not None:
        fields["circuit"] = template.circuit
    if template.tags:
        fields["tags"] = [tag.format_map(values) for tag in template.tags]
    if template.scan_interval is not None:
        fields["scan_interval"] = template.scan_interval
    if template.name is not None:
        name = {"zh": template.name.zh.format_map(values)}
        if template.name.en is not None:
            name["en"] = template.name.en.format_map(values)
        fields["name"] = name
    return fields


def devices_from_templates(building: Building, rooms: list[Room]) -> Iterator[ExpandedDevice]:
    """Field sets of the devices the building's floor and room templates describe."""
    for floor in range(1, building.floors + 1):
        values = {"building": building.id, "floor": floor}
        for t, floor_template in enumerate(building.floor_devices):
            yield ExpandedDevice("floor_devices", t, _fields(floor_template, building, values))
    if not building.room_devices:
        return
    place: dict[int, int] = {}
    for room in rooms:
        index = place[room.floor] = place.get(room.floor, 0) + 1
        values = {"building": building.id, "floor": room.floor, "room": room.id, "index": index}
        for t, template in enumerate(building.room_devices):
            fields = _fields(template, building, values)
            fields["room"] = room.id
            if template.unit_id_start is not None:
                fields["unit_id"] = template.unit_id_start + index - 1
            yield ExpandedDevice("room_devices", t, fields)
