"""An emulated RS-485 bus of DL/T 645 or CJ/T 188 meters: behind a transparent TCP gateway
or on a pseudo-terminal, as ``EmulatedGateway`` serves Modbus (same bus timeline, latency
from the baud rate, gateway faults), with the meter protocols' own request framing.

Requests to the wildcard address are answered only when one meter is on the bus (more would
collide on a real line); broadcasts reach every meter and are answered by none.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from ..cjt188 import codec as cjt188_codec
from ..dlt645 import codec as dlt645_codec
from ..modbus.faults import DeviceFaults
from ..modbus.gateway import EmulatedGateway, Framing, Peer

__all__ = ["EmulatedMeter", "MeterGateway"]

MeterProtocol = Literal["dlt645", "cjt188"]


class EmulatedMeter(Protocol):
    """What the bus needs of an emulated meter (DL/T 645 or CJ/T 188)."""

    address: bytes

    @property
    def faults(self) -> DeviceFaults: ...

    @property
    def device_id(self) -> str: ...

    def handle(self, request: Any) -> bytes | None: ...


class MeterGateway(EmulatedGateway):
    """Serves ``meters`` (by wire address) of ``protocol`` on ``host:port`` or a pty."""

    def __init__(
        self,
        name: str,
        protocol: MeterProtocol,
        meters: dict[bytes, EmulatedMeter],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float | None = None,
        baudrate: int | None = 2400,
    ) -> None:
        super().__init__(
            name, Framing.RTU, {}, host=host, port=port, latency=latency, baudrate=baudrate
        )
        self.protocol = protocol
        self.meters = meters
        self._wildcard = b"\xaa" * (6 if protocol == "dlt645" else 7)
        self._broadcast = b"\x99" * 6 if protocol == "dlt645" else None

    def received(self, conn: Peer) -> None:
        if self.protocol == "dlt645":
            requests, bad = dlt645_codec.split_requests(conn.buffer)
            for dlt in requests:
                self._dispatch_meter(conn, dlt, dlt.address, 12 + len(dlt.data))
        else:
            cjt, bad = cjt188_codec.split_requests(conn.buffer)
            for request in cjt:
                self._dispatch_meter(conn, request, request.address, 13 + len(request.data))
        if bad:
            self.counters.framing_errors += 1

    def _dispatch_meter(self, conn: Peer, request: object, address: bytes, size: int) -> None:
        counters = self.counters
        counters.requests += 1
        every = self.faults.drop_every
        if every and counters.requests % every == 0:
            conn.abort()
            counters.dropped_connections += 1
            return
        if address == self._broadcast:
            for each in self.meters.values():
                each.handle(request)
            return
        meter: EmulatedMeter | None
        if address == self._wildcard:
            meter = next(iter(self.meters.values())) if len(self.meters) == 1 else None
        else:
            meter = self.meters.get(address)
        if meter is None:
            counters.unknown_units += 1
            return  # nobody on the line has that address: silence
        reply = meter.handle(request)
        if reply is None:
            return
        delay = self._bus_time(size, len(reply)) + meter.faults.extra_latency
        self.deliver(conn, reply, delay)
