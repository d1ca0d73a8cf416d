"""Modbus glue: site links/devices/profiles → driver specs; snapshots → state store;
commands → confirmed writes; one ``ModbusIntegration`` component for all Modbus links.

The driver knows nothing of entities or quality; this module owns that mapping, computed
once per device, so a reading reaches ``StateStore.set`` with one dictionary lookup.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from controller.app import Controller
from controller.config import LoadedSite, Point, Profile
from controller.config.site import Device, ModbusTcpLink, RtuOverTcpLink, SerialLink
from controller.integrations.buses import PolledBuses, bus_line, bus_totals, entity_ids_of
from controller.integrations.scaled import Scaling, rescale, scalings
from drivers.modbus import (
    BusPoller,
    DeviceSpec,
    LinkSpec,
    ModbusLink,
    PlanCache,
    PointSpec,
    Reading,
    Transport,
)

__all__ = [
    "ModbusIntegration",
    "device_spec",
    "link_spec",
    "modbus_links",
    "point_spec",
    "profile_points",
]

_LOGGER = logging.getLogger(__name__)

ModbusLinkConfig = ModbusTcpLink | RtuOverTcpLink | SerialLink


def modbus_links(site: LoadedSite) -> dict[str, ModbusLinkConfig]:
    """The site's Modbus links by id."""
    return {
        k: v
        for k, v in site.links.items()
        if isinstance(v, ModbusTcpLink | RtuOverTcpLink | SerialLink)
    }


def link_spec(
    link: ModbusLinkConfig,
    endpoint: tuple[str, int] | None = None,
    *,
    timeout: float | None = None,
    inter_frame_gap: float | None = None,
) -> LinkSpec:
    """The driver's view of a link; ``endpoint`` replaces host and port (tests, emulators; for
    a serial link its host is the port to open), ``timeout`` and ``inter_frame_gap`` the
    link's own values."""
    timeout = timeout or link.timeout
    gap = link.inter_frame_gap if inter_frame_gap is None else inter_frame_gap
    if isinstance(link, SerialLink):
        return LinkSpec(
            link_id=link.id,
            transport=Transport.SERIAL,
            serial_port=endpoint[0] if endpoint else link.port,
            baudrate=link.baudrate,
            parity=link.parity,
            stopbits=link.stopbits,
            bytesize=link.bytesize,
            timeout=timeout,
            inter_frame_gap=gap,
        )
    host, port = endpoint or (link.host, link.port)
    transport = Transport.TCP if isinstance(link, ModbusTcpLink) else Transport.RTU_OVER_TCP
    return LinkSpec(
        link_id=link.id,
        transport=transport,
        host=host,
        port=port,
        timeout=timeout,
        inter_frame_gap=gap,
    )


def point_spec(point: Point) -> PointSpec:
    """The driver's view of a profile point (which must have a Modbus address)."""
    addr = point.modbus
    if addr is None:
        raise ValueError(f"point {point.key} has no Modbus address")
    labels = None
    if point.values is not None:
        labels = {int(raw): word for raw, word in point.values.items()}
    return PointSpec(
        key=point.key,
        table=addr.table,
        address=addr.address,
        dtype=addr.type,
        order=addr.order,
        scale=addr.scale,
        offset=addr.offset,
        bit=addr.bit,
        labels=labels,
        writable=point.writable,
        write_range=point.range,
        write_labels=frozenset(point.write_values) if point.write_values else None,
        valid_range=point.valid_range,
        mask=addr.mask,
        not_available=frozenset(addr.not_available),
    )


def profile_points(profile: Profile) -> tuple[PointSpec, ...]:
    """The driver's view of a profile's points."""
    return tuple(point_spec(p) for p in profile.points if p.modbus is not None)


def device_spec(
    device: Device,
    profile: Profile,
    *,
    scan_interval: float | None = None,
    fail_threshold: int = 3,
    backoff_max: float = 300.0,
    points: tuple[PointSpec, ...] | None = None,
) -> DeviceSpec:
    """The driver's view of a device; ``scan_interval`` overrides site and profile.

    ``points``: the profile's point specs, when the caller shares them between the devices
    of a profile (the driver then plans their block reads once).
    """
    if device.unit_id is None:
        raise ValueError(f"device {device.id} has no unit_id")
    options = profile.modbus
    return DeviceSpec(
        device_id=device.id,
        unit_id=device.unit_id,
        points=points if points is not None else profile_points(profile),
        scan_interval=scan_interval or device.scan_interval or options.scan_interval,
        max_gap=options.max_gap,
        max_registers=options.max_registers,
        max_bits=options.max_bits,
        fail_threshold=fail_threshold,
        backoff_max=backoff_max,
    )


class ModbusIntegration(PolledBuses[BusPoller]):
    """Polls every Modbus device of the controller's site; registered as their command handler.

    ``endpoints`` redirect links (link id → host, port), e.g. to emulators on free ports.
    ``scan_interval`` overrides every device's interval (fast tests and benchmarks).
    ``links`` restricts the integration to some link ids. ``timeout``, ``inter_frame_gap``,
    ``fail_threshold`` and ``backoff_max`` override every link's own (``offline_after``,
    ``recovery_backoff_max``).
    """

    name = "modbus"
    what = "Modbus device"

    def __init__(
        self,
        controller: Controller,
        *,
        endpoints: Mapping[str, tuple[str, int]] | None = None,
        scan_interval: float | None = None,
        links: Iterable[str] | None = None,
        fail_threshold: int | None = None,
        backoff_max: float | None = None,
        timeout: float | None = None,
        inter_frame_gap: float | None = None,
    ) -> None:
        self.controller = controller
        site = controller.site
        wanted = set(links) if links is not None else None
        per_link: dict[str, list[DeviceSpec]] = {}
        self._entity_ids: dict[str, dict[str, str]] = {}
        self._scaled: dict[str, dict[str, Scaling]] = {}
        shared: dict[tuple[str, int | None, float | None, float | None], tuple[PointSpec, ...]]
        shared = {}
        configs = modbus_links(site)
        for device in site.devices.values():
            profile = site.profile_of(device)
            if profile.protocol != "modbus" or (wanted is not None and device.link not in wanted):
                continue
            # Devices share their profile's specs unless their settings rewire it (FC, CT/PT).
            wiring = (device.profile, device.function_code, device.ct_ratio, device.pt_ratio)
            points = shared.get(wiring)
            if points is None:
                points = shared[wiring] = profile_points(profile)
            bus = configs[device.link]
            spec = device_spec(
                device,
                profile,
                scan_interval=scan_interval,
                fail_threshold=fail_threshold or bus.offline_after,
                backoff_max=backoff_max or bus.recovery_backoff_max,
                points=points,
            )
            per_link.setdefault(device.link, []).append(spec)
            self._entity_ids[device.id] = entity_ids_of(
                controller, device.id, (p.key for p in spec.points)
            )
            if scaled := scalings(profile):
                self._scaled[device.id] = scaled
        endpoints = endpoints or {}
        plans: PlanCache = {}
        self.pollers: dict[str, BusPoller] = {
            link_id: BusPoller(
                ModbusLink(
                    link_spec(
                        configs[link_id],
                        endpoints.get(link_id),
                        timeout=timeout,
                        inter_frame_gap=inter_frame_gap,
                    )
                ),
                specs,
                controller.clock,
                self,
                plans=plans,
            )
            for link_id, specs in per_link.items()
        }
        self._register({link_id: f"modbus.{link_id}" for link_id in self.pollers})

    # -- Component ------------------------------------------------------------------------
    async def run(self) -> None:
        """Poll every bus until cancelled."""
        _LOGGER.info(
            "Polling %d Modbus devices on %d links", len(self._poller_of), len(self.pollers)
        )
        async with asyncio.TaskGroup() as group:
            for link_id, bus in self._buses.items():
                group.create_task(bus.run(), name=f"modbus-{link_id}")

    def status(self) -> dict[str, Any]:
        buses = [p.status() for p in self.pollers.values()]
        return {
            **bus_totals(buses),
            "max_cycle_seconds": max(
                (b["cycle_seconds"] for b in buses if b["cycle_seconds"] is not None),
                default=None,
            ),
            "buses": {b["link"]: bus_line(b) for b in buses},
        }

    # -- PollListener ---------------------------------------------------------------------
    def snapshot(self, device_id: str, readings: Sequence[Reading], timestamp: float) -> None:
        """As every bus, after the factors a meter's own settings select (``scale_by``)."""
        scaled = self._scaled.get(device_id)
        if scaled is not None:
            ids, states = self._entity_ids[device_id], self.controller.states
            readings = rescale(readings, scaled, lambda key: states.value(ids[key]))
        super().snapshot(device_id, readings, timestamp)
