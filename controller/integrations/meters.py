"""DL/T 645 and CJ/T 188 glue: site links/devices/profiles → driver specs; snapshots → state
store; commands (relays, valves) → confirmed writes. One ``MeterIntegration`` component for
every DL/T 645 and CJ/T 188 link, so entities, recorder, policies and API see these meters
exactly as they see Modbus ones.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from controller.app import Controller
from controller.config import LoadedSite, Point, Profile
from controller.config.site import Cjt188Link, Device, Dlt645Link
from controller.integrations.buses import PolledBuses, bus_line, bus_totals, entity_ids_of
from drivers import cjt188, dlt645
from drivers.errors import DriverError
from drivers.link.frames import FrameSpec, FrameTransport
from drivers.link.meters import FramePoller, Meter

__all__ = [
    "MeterIntegration",
    "cjt188_device",
    "cjt188_points",
    "dlt645_device",
    "dlt645_points",
    "frame_spec",
    "meter_links",
]

_LOGGER = logging.getLogger(__name__)

MeterLinkConfig = Dlt645Link | Cjt188Link


def meter_links(site: LoadedSite) -> dict[str, MeterLinkConfig]:
    """The site's DL/T 645 and CJ/T 188 links by id."""
    return {k: v for k, v in site.links.items() if isinstance(v, Dlt645Link | Cjt188Link)}


def frame_spec(
    link: MeterLinkConfig,
    endpoint: tuple[str, int] | None = None,
    *,
    timeout: float | None = None,
    inter_frame_gap: float | None = None,
) -> FrameSpec:
    """The driver's view of a link; ``endpoint`` replaces host and port (for a serial link
    its host is the device to open), as for Modbus links."""
    gap = link.inter_frame_gap if inter_frame_gap is None else inter_frame_gap
    common: dict[str, Any] = {
        "link_id": link.id,
        "baudrate": link.baudrate,
        "parity": link.parity,
        "stopbits": link.stopbits,
        "bytesize": link.bytesize,
        "timeout": timeout or link.timeout,
        "inter_frame_gap": gap,
    }
    if link.transport == "serial":
        device = endpoint[0] if endpoint else link.device
        return FrameSpec(transport=FrameTransport.SERIAL, serial_port=device or "", **common)
    host, port = endpoint or (link.host or "", link.port)
    return FrameSpec(transport=FrameTransport.TCP, host=host, port=port, **common)


def _dlt645_point(point: Point) -> dlt645.PointSpec:
    addr = point.dlt645
    if addr is None:
        raise ValueError(f"point {point.key} has no DL/T 645 address")
    item = None
    if addr.length is not None:
        item = dlt645.Item(addr.length, addr.decimals, addr.signed, dlt645.Encoding(addr.encoding))
    return dlt645.PointSpec.of(
        point.key,
        addr.identifier,
        item,
        scale=addr.scale,
        bit=addr.bit,
        invert=addr.invert,
        relay=addr.relay,
        valid_range=point.valid_range,
    )


def dlt645_points(profile: Profile) -> tuple[dlt645.PointSpec, ...]:
    """The driver's points of a DL/T 645 profile (the poller's and ``sanjie probe``'s)."""
    return tuple(_dlt645_point(p) for p in profile.points if p.dlt645 is not None)


def cjt188_points(profile: Profile) -> tuple[cjt188.PointSpec, ...]:
    """The driver's points of a CJ/T 188 profile (the poller's and ``sanjie probe``'s)."""
    return tuple(
        cjt188.PointSpec(
            key=p.key,
            field=cjt188.Field(p.cjt188.field),
            scale=p.cjt188.scale,
            writable=p.writable,
            valid_range=p.valid_range,
        )
        for p in profile.points
        if p.cjt188 is not None
    )


def dlt645_device(
    device: Device,
    profile: Profile,
    link: Dlt645Link,
    *,
    timezone: str,
    scan_interval: float | None = None,
    fail_threshold: int = 3,
    backoff_max: float = 300.0,
) -> dlt645.DeviceSpec:
    """The driver's view of a DL/T 645 meter (its relay credentials come from the link)."""
    if device.address is None:
        raise ValueError(f"device {device.id} has no address")
    options = profile.dlt645
    relay = None
    if options.relay != "none":
        password = link.relay_password.get_secret_value() if link.relay_password else None
        relay = dlt645.RelaySpec(
            mode=dlt645.RelayMode.ESAM if options.relay == "esam" else dlt645.RelayMode.PLAIN,
            password=password,
            password_level=options.password_level,
            operator=link.operator_code,
            close=dlt645.CloseCommand(options.close),
            timezone=timezone,
        )
    return dlt645.DeviceSpec(
        device_id=device.id,
        address=dlt645.address_bytes(device.address.zfill(12)),
        points=dlt645_points(profile),
        scan_interval=scan_interval or device.scan_interval or options.scan_interval,
        fail_threshold=fail_threshold,
        backoff_max=backoff_max,
        block_reads=options.block_reads,
        relay=relay,
    )


def cjt188_device(
    device: Device,
    profile: Profile,
    *,
    scan_interval: float | None = None,
    fail_threshold: int = 3,
    backoff_max: float = 1800.0,
) -> cjt188.DeviceSpec:
    """The driver's view of a CJ/T 188 meter."""
    if device.address is None:
        raise ValueError(f"device {device.id} has no address")
    options = profile.cjt188
    return cjt188.DeviceSpec(
        device_id=device.id,
        meter_type=int(options.meter_type, 16),
        address=cjt188.address_bytes(device.address.zfill(14)),
        points=cjt188_points(profile),
        di_order=cjt188.DiOrder(options.di_order),
        scan_interval=scan_interval or device.scan_interval or options.scan_interval,
        fail_threshold=fail_threshold,
        backoff_max=backoff_max,
    )


class MeterIntegration(PolledBuses[FramePoller[Any]]):
    """Polls every DL/T 645 and CJ/T 188 meter of the site; their command handler.

    Options as ``ModbusIntegration``'s: ``endpoints`` redirect links (to emulators),
    ``scan_interval`` overrides every meter's, ``links`` restricts to some link ids.
    """

    name = "meters"
    what = "DL/T 645 or CJ/T 188 meter"

    def __init__(
        self,
        controller: Controller,
        *,
        endpoints: Mapping[str, tuple[str, int]] | None = None,
        scan_interval: float | None = None,
        links: Iterable[str] | None = None,
        fail_threshold: int = 3,
        backoff_max: float = 300.0,
        timeout: float | None = None,
        inter_frame_gap: float | None = None,
    ) -> None:
        self.controller = controller
        site = controller.site
        configs = meter_links(site)
        wanted = set(links) if links is not None else None
        per_link: dict[str, list[Meter[Any]]] = {}
        self._entity_ids: dict[str, dict[str, str]] = {}
        for device in site.devices.values():
            link = configs.get(device.link)
            if link is None or (wanted is not None and device.link not in wanted):
                continue
            profile = site.profile_of(device)
            meter: Meter[Any]
            if isinstance(link, Dlt645Link):
                spec = dlt645_device(
                    device,
                    profile,
                    link,
                    timezone=site.campus.timezone,
                    scan_interval=scan_interval,
                    fail_threshold=fail_threshold,
                    backoff_max=backoff_max,
                )
                meter = dlt645.Dlt645Meter(spec, link.id)
                keys = [p.key for p in spec.points]
            else:
                water = cjt188_device(
                    device,
                    profile,
                    scan_interval=scan_interval,
                    fail_threshold=fail_threshold,
                    backoff_max=backoff_max,
                )
                meter = cjt188.Cjt188Meter(water, link.id)
                keys = [p.key for p in water.points]
            per_link.setdefault(device.link, []).append(meter)
            self._entity_ids[device.id] = entity_ids_of(controller, device.id, keys)
        endpoints = endpoints or {}
        self.pollers: dict[str, FramePoller[Any]] = {}
        for link_id, meters in per_link.items():
            config = configs[link_id]
            spec_ = frame_spec(
                config, endpoints.get(link_id), timeout=timeout, inter_frame_gap=inter_frame_gap
            )
            make = dlt645.dlt645_link if isinstance(config, Dlt645Link) else cjt188.cjt188_link
            self.pollers[link_id] = FramePoller(
                make(spec_), meters, controller.clock, self, task_prefix=config.type
            )
        self.time_broadcasts = 0
        """Time broadcasts sent (links with ``time_broadcast``)."""
        self._register({link_id: f"{configs[link_id].type}.{link_id}" for link_id in self.pollers})

    # -- Component ------------------------------------------------------------------------
    async def run(self) -> None:
        """Poll every bus until cancelled."""
        _LOGGER.info(
            "Polling %d DL/T 645 and CJ/T 188 meters on %d links",
            len(self._poller_of),
            len(self.pollers),
        )
        configs = meter_links(self.controller.site)
        async with asyncio.TaskGroup() as group:
            for link_id, bus in self._buses.items():
                group.create_task(bus.run(), name=f"meters-{link_id}")
                config = configs[link_id]
                if isinstance(config, Dlt645Link) and config.time_broadcast is not None:
                    every = config.time_broadcast * 3600
                    group.create_task(self._keep_time(link_id, every), name=f"time-{link_id}")

    async def _keep_time(self, link_id: str, every: float) -> None:
        """Broadcast the controller's time to a DL/T 645 bus once it is connected, then every
        ``every`` seconds; a failed broadcast is retried a minute later."""
        link = self.pollers[link_id].link
        clock = self.controller.clock
        while True:
            await link.wait_connected()
            try:
                await link.broadcast(dlt645.time_broadcast(clock.now()))
            except DriverError as err:
                _LOGGER.warning("Link %s: time broadcast failed: %s", link_id, err)
                await clock.sleep(60.0)
                continue
            self.time_broadcasts += 1
            _LOGGER.info("Link %s: time broadcast (%s)", link_id, clock.now().isoformat())
            await clock.sleep(every)

    def status(self) -> dict[str, Any]:
        buses = [p.status() for p in self.pollers.values()]
        return {
            **bus_totals(buses),
            "time_broadcasts": self.time_broadcasts,
            "buses": {b["link"]: bus_line(b) for b in buses},
            # per meter and reason (checksum, framing, address, stale, ...): a meter that
            # garbles its replies is found by name, not only as a bus's error count
            "bad_frames": {
                device_id: counts
                for poller in self.pollers.values()
                for device_id in poller.devices
                if (counts := poller.link.bad_frame_counts(device_id))
            },
        }
