"""Which meter bills which account, for which utility, and which points cut it off.

A room account takes every meter in its room; a bed account (created with a device list, where
beds have their own meters) takes its own meters, which its room account then does not. A
meter whose parent meter (the site's hierarchy) bills the same account for the same utility is
left out: its parent has counted it already. (The API refuses a bed account whose meter hangs
under another meter of its room: the room would pay the bed's units again.) The
utility follows the meter's counter: active energy is electricity, water volume is hot water on
a ``hot_water`` or ``shower`` circuit and cold water otherwise. Heat meters are not billed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from controller.config import LoadedSite
from controller.config.profile import Point, PointKind
from controller.config.site import BuildingKind, Device

from .model import Account, Utility

__all__ = ["BILLED_KINDS", "CutPoint", "Meters", "billed_buildings", "utility_of"]

BILLED_KINDS = (PointKind.ACTIVE_ENERGY.value, PointKind.WATER_VOLUME.value)
_HOT = frozenset({"hot_water", "shower"})


def utility_of(kind: str, circuit: str) -> Utility | None:
    if kind == PointKind.ACTIVE_ENERGY.value:
        return Utility.ELECTRICITY
    if kind == PointKind.WATER_VOLUME.value:
        return Utility.HOT_WATER if circuit in _HOT else Utility.COLD_WATER
    return None


def billed_buildings(site: LoadedSite) -> list[str]:
    """The buildings whose rooms have accounts: as configured, else every dorm."""
    billing = site.billing
    if billing is not None and billing.buildings is not None:
        return list(billing.buildings)
    return [bid for bid, b in site.buildings.items() if b.kind is BuildingKind.DORM]


@dataclass(frozen=True, slots=True)
class CutPoint:
    """A writable point that cuts an account off: the value that cuts and the one that restores."""

    entity_id: str
    utility: Utility
    off: bool | str
    on: bool | str


def _cut_point(entity_id: str, point: Point, utility: Utility) -> CutPoint | None:
    if not point.writable:
        return None
    if point.kind is PointKind.RELAY:
        return CutPoint(entity_id, utility, False, True)
    if point.kind is PointKind.VALVE_STATE:
        return CutPoint(entity_id, utility, "closed", "open")
    return None


class Meters:
    """Device → account and utility, and each account's cut-off points."""

    def __init__(self, site: LoadedSite, accounts: Iterable[Account]) -> None:
        self.site = site
        self.rebuild(accounts)

    def rebuild(self, accounts: Iterable[Account]) -> None:
        self.account_of: dict[str, str] = {}
        self.utility: dict[str, Utility] = {}
        self.cut_points: dict[str, list[CutPoint]] = {}
        claimed: dict[str, str] = {}
        rooms: dict[tuple[str, str], str] = {}
        for account in accounts:
            if not account.open:
                continue
            for device_id in account.devices:
                claimed[device_id] = account.id
            if not account.devices:
                rooms[(account.building, account.room)] = account.id
        for device in self.site.devices.values():
            owner = claimed.get(device.id)
            if owner is None and device.room is not None:
                owner = rooms.get((device.building, device.room))
            if owner is not None:
                self._add(device, owner)
        self._drop_counted_twice()

    def _drop_counted_twice(self) -> None:
        """A sub-meter under a meter the same account pays (a room's AC meter under the room
        meter) is measured by its parent already: billing both would charge it twice."""
        for device_id in list(self.account_of):
            parent = self.site.devices[device_id].parent
            while parent is not None and parent not in self.account_of:
                parent = self.site.devices[parent].parent if parent in self.site.devices else None
            if (
                parent is not None
                and self.account_of[parent] == self.account_of[device_id]
                and self.utility[parent] is self.utility[device_id]
            ):
                del self.account_of[device_id]
                del self.utility[device_id]

    def _add(self, device: Device, owner: str) -> None:
        profile = self.site.profile_of(device)
        circuit = device.circuit.value if device.circuit else ""
        utilities = {
            u
            for p in profile.points
            if p.is_cumulative and (u := utility_of(p.kind.value, circuit)) is not None
        }
        if len(utilities) != 1:
            return  # not a meter (an AC gateway), or ambiguous
        (utility,) = utilities
        self.account_of[device.id] = owner
        self.utility[device.id] = utility
        for point in profile.points:
            cut = _cut_point(f"{device.id}.{point.key}", point, utility)
            if cut is not None:
                self.cut_points.setdefault(owner, []).append(cut)

    def devices_of(self, account_id: str) -> list[str]:
        return sorted(d for d, a in self.account_of.items() if a == account_id)
