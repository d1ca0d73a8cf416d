"""Emulate every Modbus device of a site: one gateway per Modbus link, on loopback.

``SiteEmulator`` builds the behaviour models, binds them to their profiles, groups devices by
link and serves each link where the site says (or on free ports, for tests that must not
collide with a running demo). Serial links are served as RTU on a pseudo-terminal whose path
``endpoints`` gives as the host (port 0).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Self

from controller.config import LoadedSite
from controller.config.site import ModbusTcpLink, RtuOverTcpLink, SerialLink

from ..models import BoundDevice, ModelClock, build_model
from .device import EmulatedDevice
from .gateway import EmulatedGateway, Framing

__all__ = ["Endpoint", "GatewaySite", "SiteEmulator"]

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where an emulated link listens and how it frames."""

    link_id: str
    host: str
    port: int
    framing: Framing
    devices: int


class GatewaySite(ABC):
    """What a site's emulated buses share, whatever they speak: started together (a TCP
    listener each, or a pseudo-terminal for a serial link), closed together, and an async
    context that closes what it started even when a later start fails."""

    what: ClassVar[str] = "devices"
    site: LoadedSite
    devices: Mapping[str, object]
    gateways: Mapping[str, EmulatedGateway]

    @abstractmethod
    def _on_pty(self, link_id: str) -> bool:
        """Whether ``link_id`` is served on a pseudo-terminal rather than on TCP."""

    async def start(self) -> None:
        for link_id, gateway in self.gateways.items():
            if self._on_pty(link_id):
                await gateway.start_pty()
            else:
                await gateway.start()
        _LOGGER.info(
            "Emulating %d %s on %d buses", len(self.devices), self.what, len(self.gateways)
        )

    async def close(self) -> None:
        for gateway in self.gateways.values():
            await gateway.close()

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class SiteEmulator(GatewaySite):
    """All Modbus gateways of ``site``. Use ``async with emulator:``; ``endpoints`` then tells
    where each link listens.

    ``latency``: bus time per transaction for every gateway (None: from each link's baud rate
    for RS-485 links, none for Modbus TCP). ``free_ports``: ignore the site's ports.
    ``links``: emulate only these link ids.
    """

    what = "Modbus devices"

    def __init__(
        self,
        site: LoadedSite,
        clock: ModelClock,
        *,
        seed: int = 0,
        latency: float | None = None,
        free_ports: bool = False,
        host: str | None = None,
        refresh: float = 1.0,
        links: Iterable[str] | None = None,
    ) -> None:
        self.site = site
        self.clock = clock
        self.devices: dict[str, EmulatedDevice] = {}
        self.gateways: dict[str, EmulatedGateway] = {}
        wanted = set(links) if links is not None else None
        by_link: dict[str, dict[int, EmulatedDevice]] = {}
        for device in site.devices.values():
            profile = site.profile_of(device)
            link = site.links.get(device.link)
            if profile.protocol != "modbus" or device.unit_id is None or link is None:
                continue
            if wanted is not None and device.link not in wanted:
                continue
            model = build_model(site, device, clock, seed)
            emulated = EmulatedDevice(
                device.unit_id, BoundDevice(device.id, profile, model), clock, refresh=refresh
            )
            self.devices[device.id] = emulated
            by_link.setdefault(device.link, {})[device.unit_id] = emulated
        for link_id, link in site.links.items():
            units = by_link.get(link_id)
            if units is None or not isinstance(link, ModbusTcpLink | RtuOverTcpLink | SerialLink):
                continue  # the loader puts Modbus devices on Modbus links only
            self.gateways[link_id] = self._gateway(link, units, latency, free_ports, host)

    @staticmethod
    def _gateway(
        link: ModbusTcpLink | RtuOverTcpLink | SerialLink,
        units: dict[int, EmulatedDevice],
        latency: float | None,
        free_ports: bool,
        host: str | None,
    ) -> EmulatedGateway:
        if isinstance(link, ModbusTcpLink):
            framing, baud, where, port = Framing.TCP, None, link.host, link.port
        elif isinstance(link, RtuOverTcpLink):
            framing, baud, where, port = Framing.RTU, link.baudrate, link.host, link.port
        else:
            framing, baud, where, port = Framing.RTU, link.baudrate, "127.0.0.1", 0
        return EmulatedGateway(
            link.id,
            framing,
            units,
            host=host or where,
            port=0 if free_ports else port,
            latency=latency,
            baudrate=baud,
        )

    def _on_pty(self, link_id: str) -> bool:
        return isinstance(self.site.links[link_id], SerialLink)

    @property
    def endpoints(self) -> dict[str, Endpoint]:
        return {
            link_id: Endpoint(link_id, gw.host, gw.port, gw.framing, len(gw.devices))
            for link_id, gw in self.gateways.items()
        }

    def gateway_of(self, device_id: str) -> EmulatedGateway:
        """The gateway serving ``device_id``."""
        return self.gateways[self.site.devices[device_id].link]
