"""Emulate every DL/T 645 and CJ/T 188 meter of a site: one bus per link, behind a TCP
gateway on loopback or on a pseudo-terminal (serial links), with the behaviour models the
Modbus and MQTT emulators use."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from controller.config import LoadedSite
from controller.config.site import Cjt188Link, Dlt645Link

from ..cjt188.meter import EmulatedCjt188Meter
from ..dlt645.meter import EmulatedDlt645Meter
from ..modbus.site import Endpoint, GatewaySite
from ..models import BoundDevice, ModelClock, build_model
from .gateway import EmulatedMeter, MeterGateway

__all__ = ["MeterSiteEmulator", "wire_address"]


def wire_address(digits: str, size: int) -> bytes:
    """A printed meter number → ``size`` BCD bytes, least significant first."""
    padded = digits.zfill(2 * size)
    return bytes(int(padded[i : i + 2], 16) for i in range(0, 2 * size, 2))[::-1]


class MeterSiteEmulator(GatewaySite):
    """All DL/T 645 and CJ/T 188 buses of ``site`` (options as ``SiteEmulator``'s)."""

    what = "DL/T 645 and CJ/T 188 meters"

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
        self.devices: dict[str, Any] = {}
        self.gateways: dict[str, MeterGateway] = {}
        wanted = set(links) if links is not None else None
        by_link: dict[str, dict[bytes, EmulatedMeter]] = {}
        for device in site.devices.values():
            link = site.links.get(device.link)
            if not isinstance(link, Dlt645Link | Cjt188Link) or device.address is None:
                continue
            if wanted is not None and link.id not in wanted:
                continue
            profile = site.profile_of(device)
            bound = BoundDevice(device.id, profile, build_model(site, device, clock, seed))
            meter: EmulatedDlt645Meter | EmulatedCjt188Meter
            if isinstance(link, Dlt645Link):
                password = link.relay_password.get_secret_value() if link.relay_password else None
                meter = EmulatedDlt645Meter(
                    wire_address(device.address, 6),
                    bound,
                    clock,
                    password=password,
                    password_level=profile.dlt645.password_level,
                    esam=profile.dlt645.relay == "esam",
                    refresh=refresh,
                )
            else:
                meter = EmulatedCjt188Meter(
                    int(profile.cjt188.meter_type, 16),
                    wire_address(device.address, 7),
                    bound,
                    clock,
                    refresh=refresh,
                )
            self.devices[device.id] = meter
            by_link.setdefault(link.id, {})[meter.address] = meter
        for link_id, meters in by_link.items():
            link = site.links[link_id]
            assert isinstance(link, Dlt645Link | Cjt188Link)
            serial = link.transport == "serial"
            self.gateways[link_id] = MeterGateway(
                link_id,
                link.type,
                meters,
                host=host or ("127.0.0.1" if serial else link.host or "127.0.0.1"),
                port=0 if free_ports or serial else link.port,
                latency=latency,
                baudrate=link.baudrate,
            )

    def _on_pty(self, link_id: str) -> bool:
        link = self.site.links[link_id]
        return isinstance(link, Dlt645Link | Cjt188Link) and link.transport == "serial"

    @property
    def endpoints(self) -> dict[str, Endpoint]:
        return {
            link_id: Endpoint(link_id, gw.host, gw.port, gw.framing, len(gw.meters))
            for link_id, gw in self.gateways.items()
        }
