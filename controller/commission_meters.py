"""Commissioning DL/T 645 and CJ/T 188 meters: read one meter now, find which answer.

The Modbus half is ``controller.commission``; this is the same job for the byte-frame meters,
through the same drivers' requests, checks and decoders the poller uses, so what ``probe``
prints is what the controller would record. Nothing is kept or written to any meter.

Discovery on these buses is not a Modbus scan: an address is 12 (DL/T 645) or 14 (CJ/T 188)
digits, so nobody can try them all. What can be done: the read-address request to the
wildcard address (AAAAAAAAAAAA / AA…AA), which names the meter when it is alone on the line
(with two or more they all answer at once and the replies collide); and a read at each
address the installer knows (the site's devices on the link, the nameplates), where any
reply — even an error reply — proves that meter is there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from controller.commission import ProbedPoint, host_port, running
from controller.config import Profile
from controller.integrations.meters import cjt188_points, dlt645_points
from drivers import cjt188, dlt645
from drivers.errors import DriverError
from drivers.link.errors import BadFrame, LinkConnectionError, LinkTimeout
from drivers.link.frames import FrameLink, FrameSpec, FrameTransport
from drivers.link.meters import Request

__all__ = [
    "MeterProbe",
    "MeterProtocol",
    "MeterScan",
    "adhoc_frame_link",
    "explain",
    "probe_meter",
    "scan_meters",
]

MeterProtocol = Literal["dlt645", "cjt188"]
_DEVICE = "(commissioning)"
_DLT645_ADDRESS_DI = 0x04000401
"""通信地址: every DL/T 645-2007 meter has it; an error reply still proves presence."""


def adhoc_frame_link(
    target: str, *, baudrate: int = 2400, parity: str = "E", timeout: float = 2.0
) -> FrameSpec:
    """A meter bus from a command-line address: ``tcp://HOST:PORT`` (or ``rtu+tcp://``) is a
    transparent RS-485 gateway, a path such as ``/dev/ttyUSB0`` a local serial port."""
    common: dict[str, Any] = {
        "link_id": target,
        "baudrate": baudrate,
        "parity": parity,
        "timeout": timeout,
    }
    if target.startswith("/"):
        return FrameSpec(transport=FrameTransport.SERIAL, serial_port=target, **common)
    where = host_port(target, "tcp://") or host_port(target, "rtu+tcp://")
    if where is not None:
        return FrameSpec(transport=FrameTransport.TCP, host=where[0], port=where[1], **common)
    raise ValueError(
        f"{target!r} is not a link id of the site, tcp://HOST:PORT or a serial device path"
    )


def explain(err: DriverError) -> str:
    """What an installer should read for a failed exchange (and what usually causes it)."""
    if isinstance(err, LinkTimeout):
        return f"timeout: {err} (wrong address, meter unpowered, or wrong baud rate/parity)"
    if isinstance(err, BadFrame) and err.why == "checksum":
        return "wrong checksum in the reply (line noise, or wrong baud rate/parity)"
    if isinstance(err, BadFrame):
        return f"bad reply ({err.why}): {err}"
    if isinstance(err, dlt645.MeterErrorReply | cjt188.MeterErrorReply):
        return f"the meter answered with an error: {err}"
    if isinstance(err, LinkConnectionError):
        return f"connection lost: {err}"
    return str(err)


@dataclass(frozen=True, slots=True)
class MeterProbe:
    """A probed meter: its points, and what the installer must know besides (ESAM relay,
    frames from other addresses seen while waiting)."""

    points: list[ProbedPoint]
    notes: list[str] = field(default_factory=list)


def _dlt645_requests(
    address: str, profile: Profile, link_id: str
) -> list[tuple[Request[Any], list[str]]]:
    spec = dlt645.DeviceSpec(
        device_id=_DEVICE,
        address=dlt645.address_bytes(address.zfill(12)),
        points=dlt645_points(profile),
        block_reads=profile.dlt645.block_reads,
    )
    meter = dlt645.Dlt645Meter(spec, link_id)
    return [
        (request, [p.key for p in points])
        for request, (_, points) in zip(meter.requests, spec.requests, strict=True)
    ]


def _cjt188_requests(
    address: str, profile: Profile, link_id: str
) -> list[tuple[Request[Any], list[str]]]:
    spec = cjt188.DeviceSpec(
        device_id=_DEVICE,
        meter_type=int(profile.cjt188.meter_type, 16),
        address=cjt188.address_bytes(address.zfill(14)),
        points=cjt188_points(profile),
        di_order=cjt188.DiOrder(profile.cjt188.di_order),
    )
    meter = cjt188.Cjt188Meter(spec, link_id)
    return [(request, [p.key for p in spec.points]) for request in meter.requests]


def _link(spec: FrameSpec, protocol: MeterProtocol) -> FrameLink[Any]:
    return dlt645.dlt645_link(spec) if protocol == "dlt645" else cjt188.cjt188_link(spec)


async def probe_meter(
    spec: FrameSpec, protocol: MeterProtocol, address: str, profile: Profile
) -> MeterProbe:
    """Read every point of ``profile`` from the meter at ``address`` once, request by
    request; a failed request leaves its points with the reason, the others are still read.
    ValueError for an address that is not 12 / 14 digits."""
    make = _dlt645_requests if protocol == "dlt645" else _cjt188_requests
    requests = make(address, profile, spec.link_id)
    by_key = {p.key: p for p in profile.points}
    values: dict[str, ProbedPoint] = {}
    link = _link(spec, protocol)
    async with running(link):
        for request, keys in requests:
            try:
                frame = await link.request(_DEVICE, request.frame, request.check)
                readings = request.decode(frame)
            except DriverError as err:
                why = explain(err)
                for key in keys:
                    values[key] = ProbedPoint(by_key[key], None, why)
                continue
            for reading in readings:
                error = None if reading.ok else "invalid value"
                values[reading.key] = ProbedPoint(by_key[reading.key], reading.value, error)
    notes = []
    if protocol == "dlt645" and profile.dlt645.relay == "esam":
        notes.append(
            "this meter's relay obeys ESAM-encrypted commands only: the controller reads it "
            "but cannot trip or close it"
        )
    elsewhere = link.bad_frame_counts(_DEVICE).get("address", 0)
    if elsewhere:
        notes.append(
            f"{elsewhere} reply frame(s) came from another address: is {address} the number "
            "on this meter's nameplate?"
        )
    return MeterProbe([values[k] for k in by_key if k in values], notes)


@dataclass(frozen=True, slots=True)
class MeterScan:
    """What discovery found: the meter that answered the wildcard read-address request
    (only when it is alone on the line), and which of the tried addresses answered."""

    alone: str | None
    alone_error: str | None
    tried: list[str]
    found: list[str]
    meter_types: dict[str, int] = field(default_factory=dict)
    """CJ/T 188: the type byte each found meter answered with (10 cold water, 20 heat…)."""


def _presence_request(protocol: MeterProtocol, address: str) -> tuple[bytes, Any]:
    """A request any meter at ``address`` answers, and the check of its reply."""
    if protocol == "dlt645":
        wire = dlt645.address_bytes(address.zfill(12))
        return (
            dlt645.read_request(wire, _DLT645_ADDRESS_DI),
            dlt645.reply_check(wire, dlt645.Control.READ, _DLT645_ADDRESS_DI),
        )
    wire = cjt188.address_bytes(address.zfill(14))
    data = cjt188.DI_ADDRESS.to_bytes(2, "big") + b"\x00"
    frame = cjt188.encode_frame(cjt188.ANY_TYPE, wire, cjt188.Control.READ_ADDRESS, data)
    return frame, cjt188.reply_check(
        cjt188.ANY_TYPE, wire, cjt188.Control.READ_ADDRESS, cjt188.DI_ADDRESS
    )


async def scan_meters(
    spec: FrameSpec, protocol: MeterProtocol, addresses: Iterable[str] = ()
) -> MeterScan:
    """The wildcard read-address request, then one read at each of ``addresses``.

    A reply at an address — data or an error frame — means a meter is there; silence or a
    corrupt frame means nobody answered (reported by ``scan`` as not found). Each absent
    address costs one timeout. ValueError for an address that is not 12 / 14 digits.
    """
    tried = list(dict.fromkeys(a.zfill(12 if protocol == "dlt645" else 14) for a in addresses))
    requests = [(a, *_presence_request(protocol, a)) for a in tried]  # bad digits fail first
    link = _link(spec, protocol)
    alone: str | None = None
    alone_error: str | None = None
    found: list[str] = []
    types: dict[str, int] = {}
    async with running(link):
        try:
            if protocol == "dlt645":
                alone = await dlt645.discover_address(link)
            else:
                kind, alone = await cjt188.discover_address(link)
                types[alone] = kind
        except DriverError as err:
            alone_error = explain(err)
        for address, frame, check in requests:
            try:
                reply = await link.request(_DEVICE, frame, check)
            except (dlt645.MeterErrorReply, cjt188.MeterErrorReply):
                found.append(address)
                continue
            except DriverError:
                continue
            found.append(address)
            if protocol == "cjt188":
                types[address] = reply.meter_type
    return MeterScan(alone, alone_error, tried, found, types)
