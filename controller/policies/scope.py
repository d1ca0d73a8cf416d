"""Resolving policy scopes to devices, once, from the site.

A policy's scope names buildings, floors, rooms, areas, tags, circuits or devices; binding a
policy walks every device once and keeps the ones that match, so evaluation never searches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from controller.config.loader import LoadedSite
from controller.config.policies import Scope, ScopeFilter
from controller.config.profile import Point, PointKind, Profile
from controller.core.memo import IdentityCache

__all__ = ["DeviceInfo", "SiteIndex"]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """Where a device is and what it is, flattened for fast matching."""

    id: str
    building: str
    building_kind: str
    floor: int | None
    room: str | None
    area: str | None
    circuit: str | None
    tags: frozenset[str]
    profile_id: str
    profile: Profile
    capacity: int | None

    @property
    def room_ref(self) -> str | None:
        """``building/room``: room ids repeat across buildings."""
        return f"{self.building}/{self.room}" if self.room is not None else None

    @property
    def area_ref(self) -> str | None:
        return f"{self.building}/{self.area}" if self.area is not None else None

    def point(self, key: str) -> Point | None:
        return _points(self.profile).by_key.get(key)

    def points_of(self, *kinds: PointKind, writable: bool | None = None) -> list[Point]:
        """The profile's points of ``kinds`` (and writability), in the profile's order."""
        return list(_points(self.profile).of(kinds, writable))

    def entity(self, point: Point) -> str:
        return f"{self.id}.{point.key}"


class _ProfilePoints:
    """A profile's points by key, and the answers to ``points_of`` asked so far.

    Binding asks every device in scope for its points of a few kinds: 320,000 questions on a
    10,000-room campus, each a walk over the profile's points, while the campus has a few dozen
    profiles. Asked once per profile and kept, binding the policies takes a fraction of that.
    """

    __slots__ = ("_found", "_points", "by_key")

    def __init__(self, profile: Profile) -> None:
        self._points = tuple(profile.points)
        self.by_key: dict[str, Point] = {}
        for point in self._points:
            self.by_key.setdefault(point.key, point)  # the first of a key, as a walk finds
        self._found: dict[tuple[tuple[PointKind, ...], bool | None], tuple[Point, ...]] = {}

    def of(self, kinds: tuple[PointKind, ...], writable: bool | None) -> tuple[Point, ...]:
        found = self._found.get((kinds, writable))
        if found is None:
            found = self._found[(kinds, writable)] = tuple(
                p
                for p in self._points
                if p.kind in kinds and (writable is None or p.writable is writable)
            )
        return found


_points: IdentityCache[Profile, _ProfilePoints] = IdentityCache(_ProfilePoints)


class _Compiled:
    """A scope filter with its lists turned into sets."""

    __slots__ = (
        "areas",
        "building_kinds",
        "buildings",
        "circuits",
        "devices",
        "floors",
        "profiles",
        "rooms",
        "tags",
    )

    def __init__(self, f: ScopeFilter) -> None:
        self.buildings = frozenset(f.buildings)
        self.building_kinds = frozenset(k.value for k in f.building_kinds)
        self.floors = frozenset(f.floors)
        self.rooms = frozenset(f.rooms)
        self.areas = frozenset(f.areas)
        self.devices = frozenset(f.devices)
        self.tags = frozenset(f.tags)
        self.circuits = frozenset(c.value for c in f.circuits)
        self.profiles = frozenset(f.profiles)

    def matches(self, d: DeviceInfo) -> bool:  # noqa: PLR0911 (one test per field reads best)
        if self.buildings and d.building not in self.buildings:
            return False
        if self.building_kinds and d.building_kind not in self.building_kinds:
            return False
        if self.floors and d.floor not in self.floors:
            return False
        if self.rooms and d.room_ref not in self.rooms:
            return False
        if self.areas and d.area_ref not in self.areas:
            return False
        if self.devices and d.id not in self.devices:
            return False
        if self.tags and not (self.tags & d.tags):
            return False
        if self.circuits and d.circuit not in self.circuits:
            return False
        return not (self.profiles and d.profile_id not in self.profiles)


class SiteIndex:
    """Devices of a site with their place, for scope resolution and room grouping."""

    def __init__(self, devices: Iterable[DeviceInfo], parents: Iterable[str] = ()) -> None:
        self.parents = frozenset(parents)
        """Meters other meters declare as their ``parent`` (a building's or zone's main)."""
        self.devices: dict[str, DeviceInfo] = {}
        self.by_place: dict[str, list[DeviceInfo]] = defaultdict(list)
        for info in devices:
            self.devices[info.id] = info
            place = info.room_ref or info.area_ref
            if place is not None:
                self.by_place[place].append(info)

    @classmethod
    def from_site(cls, site: LoadedSite) -> SiteIndex:
        """The index of ``site``, built once per site: the policy engine and the alarm service
        both ask for it (40k devices on a big campus). Read it, never change it."""
        return _site_index(site)

    @classmethod
    def _build(cls, site: LoadedSite) -> SiteIndex:
        rooms = {b.id: {r.id: r for r in b.rooms} for b in site.buildings.values()}
        areas = {b.id: {a.id: a for a in b.areas} for b in site.buildings.values()}
        infos = []
        for device in site.devices.values():
            building = site.buildings[device.building]
            room = rooms[building.id].get(device.room) if device.room else None
            area = areas[building.id].get(device.area) if device.area else None
            floor = room.floor if room else area.floor if area else None
            infos.append(
                DeviceInfo(
                    id=device.id,
                    building=building.id,
                    building_kind=building.kind.value,
                    floor=floor,
                    room=device.room,
                    area=device.area,
                    circuit=device.circuit.value if device.circuit else None,
                    tags=frozenset(device.tags),
                    profile_id=device.profile,
                    profile=site.profile_of(device),
                    capacity=room.capacity if room else None,
                )
            )
        return cls(infos, (d.parent for d in site.devices.values() if d.parent))

    def select(self, scope: Scope, default_circuits: Iterable[str] = ()) -> list[DeviceInfo]:
        """Devices in ``scope``; ``default_circuits`` apply when the scope names no circuit."""
        include = _Compiled(scope)
        if not scope.circuits and default_circuits:
            include.circuits = frozenset(default_circuits)
        exclude = _Compiled(scope.exclude) if scope.exclude and not scope.exclude.is_empty else None
        return [
            d
            for d in self.devices.values()
            if include.matches(d) and not (exclude is not None and exclude.matches(d))
        ]

    def in_place(self, place: str) -> list[DeviceInfo]:
        """Devices in the room or area ``building/id``."""
        return self.by_place.get(place, [])


_site_index: IdentityCache[LoadedSite, SiteIndex] = IdentityCache(SiteIndex._build)
