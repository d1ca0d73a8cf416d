"""The meter hierarchy: which meter is upstream of which, per metered quantity.

A building's main meter measures what its floor, room and circuit sub-meters measure again, so
summing every meter counts the same kWh twice or three times. Devices name their ``parent``;
this module turns those links into a tree *per kind* (a room's water meter hangs under the
building's water meter even when its electricity meter hangs under the main breaker), checks it
(parent known, no cycle, a quantity in common) and gives every metered point its level: 0 for a
top meter, 1 for the meters directly under it, and so on. Consumption summed over one level
counts every unit once; a parent minus the sum of its children is the unmetered remainder.

Pure and small: the loader reports ``problems`` with positions, the registry turns ``meter_links``
into tags.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .profile import CUMULATIVE_KINDS, Profile
from .site import Device

__all__ = ["MeterLink", "hierarchy_problems", "meter_links", "metered_kinds"]


@dataclass(frozen=True, slots=True)
class MeterLink:
    """Where one device's meter of one kind sits: its parent device ('' at the top), depth."""

    parent: str
    level: int


def metered_kinds(profile: Profile) -> frozenset[str]:
    """The consumption kinds (``active_energy``, ``water_volume``, ...) a profile counts."""
    return frozenset(
        point.kind.value
        for point in profile.points
        if point.kind in CUMULATIVE_KINDS and point.state_class.value == "total_increasing"
    )


def hierarchy_problems(
    devices: Mapping[str, Device], profiles: Mapping[str, Profile]
) -> Iterator[tuple[str, str]]:
    """(device id, message) for each bad ``parent``: unknown, in a cycle, nothing in common."""
    for device in devices.values():
        if device.parent is None:
            continue
        parent = devices.get(device.parent)
        if parent is None:
            yield device.id, f"unknown parent meter {device.parent!r}"
            continue
        mine = _kinds(device, profiles)
        theirs = _kinds(parent, profiles)
        if mine is not None and theirs is not None and not mine & theirs:
            have = ", ".join(sorted(mine)) or "nothing"
            yield device.id, f"parent {parent.id!r} meters none of what this one meters ({have})"
            continue
        if _in_cycle(device, devices):
            yield device.id, f"parent {device.parent!r} leads back to {device.id!r} (a cycle)"


def _kinds(device: Device, profiles: Mapping[str, Profile]) -> frozenset[str] | None:
    profile = profiles.get(device.profile)
    return None if profile is None else metered_kinds(profile)


def _in_cycle(device: Device, devices: Mapping[str, Device]) -> bool:
    seen = {device.id}
    current = device.parent
    while current is not None:
        if current in seen:
            return current == device.id
        seen.add(current)
        upstream = devices.get(current)
        current = upstream.parent if upstream is not None else None
    return False


def meter_links(
    devices: Mapping[str, Device], profiles: Mapping[str, Profile]
) -> dict[tuple[str, str], MeterLink]:
    """(device id, kind) → its link for every metered kind of every device.

    A device's meter of kind K hangs under the nearest ancestor that meters K too; with none
    it is a top meter. Expects a checked site (no cycles).
    """
    kinds = {did: _kinds(d, profiles) or frozenset() for did, d in devices.items()}
    links: dict[tuple[str, str], MeterLink] = {}

    def link(device_id: str, kind: str) -> MeterLink:
        known = links.get((device_id, kind))
        if known is not None:
            return known
        upstream = devices[device_id].parent
        while upstream is not None and upstream in devices and kind not in kinds[upstream]:
            upstream = devices[upstream].parent
        if upstream is None or upstream not in devices:
            result = MeterLink("", 0)
        else:
            result = MeterLink(upstream, link(upstream, kind).level + 1)
        links[(device_id, kind)] = result
        return result

    for device_id, device_kinds in kinds.items():
        for kind in device_kinds:
            link(device_id, kind)
    return links
