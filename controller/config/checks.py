"""Cross-checks: what one section of a site names must exist in another, and may not clash.

Devices against profiles, buildings and links (one unit id per bus), link endpoints, the MQTT
export's link, and the places and devices policies name. Each runs over the items the
``Collector`` kept, so a bad neighbour does not hide these problems, and reports at the item.
"""

from __future__ import annotations

from collections.abc import Container
from pathlib import Path
from typing import Any, Protocol

from .collect import Collector, Entry, Origin
from .errors import ConfigIssue, locate
from .policies import AcLimitsPolicy, DelayValvesPolicy, PolicyConfig, ScopeFilter
from .profile import Profile
from .site import (
    MODBUS_LINK_TYPES,
    AnyLink,
    Building,
    Cjt188Link,
    Device,
    Dlt645Link,
    ModbusTcpLink,
    RtuOverTcpLink,
    Sinks,
    protocol_of_link,
)

__all__ = [
    "ProfileSource",
    "check_devices",
    "check_links",
    "check_policies",
    "check_policy_refs",
    "check_sinks",
    "scope_refs",
]


class ProfileSource(Protocol):
    """Where device checks find profiles (the loader's ``ProfileLibrary``)."""

    @property
    def dirs(self) -> list[Path]: ...

    def load(self, profile_id: str) -> Profile | list[ConfigIssue] | None:
        """The profile, its issues, or None when no folder has it."""


class _DeviceChecks:
    """Cross-checks of devices against profiles, buildings and links, and unit ids per bus."""

    def __init__(
        self,
        col: Collector,
        links: dict[str, Entry[AnyLink]],
        buildings: dict[str, Entry[Building]],
        library: ProfileSource,
    ) -> None:
        self.col = col
        self.links = links
        self.library = library
        self.profiles: dict[str, Profile] = {}
        self._reported: set[str] = set()
        self._unit_ids: dict[tuple[str, int], str] = {}
        self._addresses: dict[tuple[str, str], str] = {}
        # Sets, not lists: a check per device must not scan every room of its building.
        self._rooms = {bid: {r.id for r in e.item.rooms} for bid, e in buildings.items()}
        self._areas = {bid: {a.id for a in e.item.areas} for bid, e in buildings.items()}

    def check(self, device: Device, origin: Origin) -> None:
        protocol = self._profile(device, origin)
        self._place(device, origin)
        self._link(device, origin, protocol)

    def _profile(self, device: Device, origin: Origin) -> str | None:
        known = self.profiles.get(device.profile)
        if known is not None:
            return known.protocol  # the common case: a profile seen before, and valid
        loaded = self.library.load(device.profile)
        if loaded is None:
            dirs = ", ".join(str(d) for d in self.library.dirs)
            self.col.from_origin(
                origin, "profile", f"unknown profile {device.profile!r} (looked in {dirs})"
            )
            return None
        if isinstance(loaded, list):
            if device.profile not in self._reported:
                self.col.issues.extend(loaded)
                self._reported.add(device.profile)
            message = f"profile {device.profile!r} is invalid (its errors are listed too)"
            self.col.from_origin(origin, "profile", message)
            return None
        self.profiles[device.profile] = loaded
        return loaded.protocol

    def _place(self, device: Device, origin: Origin) -> None:
        rooms = self._rooms.get(device.building)
        if rooms is None:
            self.col.from_origin(origin, "building", f"unknown building {device.building!r}")
        elif device.room is not None and device.room not in rooms:
            message = f"building {device.building!r} has no room {device.room!r}"
            self.col.from_origin(origin, "room", message)
        elif device.area is not None and device.area not in self._areas[device.building]:
            message = f"building {device.building!r} has no area {device.area!r}"
            self.col.from_origin(origin, "area", message)

    def _link(self, device: Device, origin: Origin, protocol: str | None) -> None:
        entry = self.links.get(device.link)
        if entry is None:
            self.col.from_origin(origin, "link", f"unknown link {device.link!r}")
            return
        link = entry.item
        modbus_link = link.type in MODBUS_LINK_TYPES
        if protocol is not None and protocol != protocol_of_link(link.type):
            message = f"{protocol} profile {device.profile!r} on {link.type} link {link.id!r}"
            self.col.from_origin(origin, "link", message)
        if isinstance(link, Dlt645Link | Cjt188Link):
            self._meter_address(device, origin, link)
            return
        if device.address is not None:
            self.col.from_origin(
                origin, "address", f"{link.type} link {link.id!r} takes no address"
            )
        if not modbus_link:
            if device.unit_id is not None:
                message = f"MQTT link {link.id!r} takes topic_base, not unit_id"
                self.col.from_origin(origin, "unit_id", message)
            return
        if device.unit_id is None:
            message = f"required for a device on Modbus link {link.id!r}"
            self.col.from_origin(origin, "unit_id", message)
            return
        owner = self._unit_ids.setdefault((link.id, device.unit_id), device.id)
        if owner != device.id:
            message = f"unit id {device.unit_id} is already used on bus {link.id!r} by {owner!r}"
            self.col.from_origin(origin, "unit_id", message)

    def _meter_address(self, device: Device, origin: Origin, link: Dlt645Link | Cjt188Link) -> None:
        """DL/T 645 and CJ/T 188 meters are addressed by meter number, unique on their bus."""
        if device.unit_id is not None:
            message = f"{link.type} link {link.id!r} addresses meters by 'address', not unit_id"
            self.col.from_origin(origin, "unit_id", message)
        if device.address is None:
            message = f"required for a meter on {link.type} link {link.id!r}"
            self.col.from_origin(origin, "address", message)
            return
        digits = 12 if link.type == "dlt645" else 14
        if len(device.address) > digits:
            message = f"a {link.type} address has at most {digits} digits"
            self.col.from_origin(origin, "address", message)
            return
        number = device.address.zfill(digits)
        owner = self._addresses.setdefault((link.id, number), device.id)
        if owner != device.id:
            message = f"address {number} is already used on bus {link.id!r} by {owner!r}"
            self.col.from_origin(origin, "address", message)


def check_devices(
    col: Collector,
    devices: dict[str, Entry[Device]],
    links: dict[str, Entry[AnyLink]],
    buildings: dict[str, Entry[Building]],
    library: ProfileSource,
) -> dict[str, Profile]:
    """Run the cross-checks on every device; the profiles they use, by id."""
    checks = _DeviceChecks(col, links, buildings, library)
    for entry in devices.values():
        checks.check(entry.item, entry.origin)
    return checks.profiles


def check_links(col: Collector, links: dict[str, Entry[AnyLink]]) -> None:
    """Two bus links to one host and port would fight over the same gateway connection."""
    endpoints: dict[tuple[str, int], str] = {}
    for link_id, entry in links.items():
        link = entry.item
        # a serial port has no host and port; MQTT links may share a broker. Meter buses
        # behind a transparent gateway (transport tcp) have a host.
        if not isinstance(link, ModbusTcpLink | RtuOverTcpLink | Dlt645Link | Cjt188Link):
            continue
        if link.host is None:
            continue
        owner = endpoints.setdefault((link.host, link.port), link_id)
        if owner != link_id:
            col.from_origin(
                entry.origin,
                "port",
                f"{link.host}:{link.port} is already the endpoint of link {owner!r}",
            )


def check_sinks(
    col: Collector, sinks: Sinks | None, links: dict[str, Entry[AnyLink]], raw: Any
) -> None:
    """The MQTT export names an MQTT link."""
    if sinks is None or sinks.mqtt is None:
        return
    link_id = sinks.mqtt.link
    raw_mqtt = raw.get("mqtt") if isinstance(raw, dict) else None
    where = col.position(raw_mqtt, "link")
    entry = links.get(link_id)
    if entry is None:
        col.add(where, ["sinks", "mqtt", "link"], f"unknown link {link_id!r}")
    elif entry.item.type != "mqtt":
        message = f"link {link_id!r} is a {entry.item.type} link, not an MQTT broker"
        col.add(where, ["sinks", "mqtt", "link"], message)


def check_policies(
    col: Collector,
    policies: dict[str, Entry[PolicyConfig]],
    buildings: dict[str, Entry[Building]],
    devices: dict[str, Entry[Device]],
) -> None:
    """Buildings, rooms, areas and devices a policy names must exist."""
    if not policies:
        return
    plain_buildings = {bid: entry.item for bid, entry in buildings.items()}
    plain_devices = {did: entry.item for did, entry in devices.items()}
    for entry in policies.values():
        for where, message in check_policy_refs(entry.item, plain_buildings, plain_devices):
            position, real = locate(entry.origin.raw, where)
            col.add(position, [*entry.origin.path, *real], message)


def check_policy_refs(
    policy: PolicyConfig,
    buildings: dict[str, Building],
    devices: dict[str, Device],
) -> list[tuple[list[str | int], str]]:
    """References to buildings, rooms, areas and devices that the site does not have.

    Returns ``(path inside the policy, message)`` pairs for the loader to position.
    """
    problems: list[tuple[list[str | int], str]] = []
    filters: list[tuple[list[str | int], ScopeFilter]] = [(["scope"], policy.scope)]
    if policy.scope.exclude is not None:
        filters.append((["scope", "exclude"], policy.scope.exclude))
    if isinstance(policy, AcLimitsPolicy):
        filters.extend((["exempt", i], f) for i, f in enumerate(policy.exempt))
    for path, scope in filters:
        problems.extend(scope_refs(path, scope, buildings, devices))
    if isinstance(policy, DelayValvesPolicy):
        for did in policy.per_valve:
            if did not in devices:
                problems.append((["per_valve", did], f"unknown device {did!r}"))
    return problems


def scope_refs(
    path: list[str | int],
    scope: ScopeFilter,
    buildings: dict[str, Building],
    devices: Container[str],
) -> list[tuple[list[str | int], str]]:
    """Buildings, rooms, areas and devices a scope filter names that the site lacks (policies
    and aggregate alarm rules share it)."""
    problems: list[tuple[list[str | int], str]] = []
    for i, bid in enumerate(scope.buildings):
        if bid not in buildings:
            problems.append(([*path, "buildings", i], f"unknown building {bid!r}"))
    for field, kind in (("rooms", "room"), ("areas", "area")):
        for i, ref in enumerate(getattr(scope, field)):
            bid, _, child = ref.partition("/")
            building = buildings.get(bid)
            if building is None:
                problems.append(([*path, field, i], f"unknown building {bid!r}"))
                continue
            children = building.rooms if kind == "room" else building.areas
            if child not in {c.id for c in children}:
                message = f"building {bid!r} has no {kind} {child!r}"
                problems.append(([*path, field, i], message))
    for i, did in enumerate(scope.devices):
        if did not in devices:
            problems.append(([*path, "devices", i], f"unknown device {did!r}"))
    return problems
