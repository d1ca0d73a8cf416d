"""Commissioning: read one device now, or find which unit ids answer on a bus.

What an installer does with a laptop on a new RS-485 gateway before the site file is finished
(``sanjie probe``, ``sanjie scan``; the equivalent of ``telegraf --test``). Both go through the
driver's real link, planner and decoder, so what ``probe`` prints is exactly what the
controller would record; nothing here is kept or written anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from controller.config import Point, Profile
from controller.integrations.modbus import profile_points
from drivers.link.bus import BusLink
from drivers.modbus import (
    DeviceSpec,
    LinkSpec,
    ModbusError,
    ModbusExceptionReply,
    ModbusLink,
    ModbusTimeout,
    Transport,
    plan_reads,
)
from wire.modbus import Table

__all__ = [
    "BusUnreachable",
    "ProbedPoint",
    "adhoc_link",
    "host_port",
    "probe_device",
    "running",
    "scan_bus",
]

L = TypeVar("L", bound=BusLink[Any])


class BusUnreachable(ConnectionError):
    """The gateway or serial port could not be opened at all."""


@dataclass(frozen=True, slots=True)
class ProbedPoint:
    """One point of a probed device: its decoded value, or why it has none."""

    point: Point
    value: float | int | bool | str | None
    error: str | None = None


def host_port(target: str, scheme: str) -> tuple[str, int] | None:
    """``HOST:PORT`` after ``scheme`` in a command-line address, or None if it is not one."""
    if not target.startswith(scheme):
        return None
    host, sep, port = target.removeprefix(scheme).rpartition(":")
    return (host, int(port)) if sep and port.isdigit() and host else None


def adhoc_link(target: str, *, baudrate: int = 9600, parity: str = "N") -> LinkSpec:
    """A link from a command-line address, for a bus no site file describes yet.

    ``tcp://HOST:PORT`` is Modbus TCP, ``rtu+tcp://HOST:PORT`` a transparent RS-485 gateway
    (RTU frames inside TCP), and a path such as ``/dev/ttyUSB0`` a local serial port.
    """
    if target.startswith("/"):
        return LinkSpec(
            link_id=target,
            transport=Transport.SERIAL,
            serial_port=target,
            baudrate=baudrate,
            parity=parity,
        )
    for scheme, transport in (("tcp://", Transport.TCP), ("rtu+tcp://", Transport.RTU_OVER_TCP)):
        if (where := host_port(target, scheme)) is not None:
            return LinkSpec(link_id=target, transport=transport, host=where[0], port=where[1])
    raise ValueError(
        f"{target!r} is not a link id of the site, tcp://HOST:PORT, rtu+tcp://HOST:PORT "
        "or a serial device path"
    )


@contextlib.asynccontextmanager
async def running(link: L) -> AsyncIterator[L]:
    """``link`` running and connected (any protocol's bus link), stopped on exit."""
    task = asyncio.create_task(link.run(), name=f"commission-{link.link_id}")
    try:
        try:
            async with asyncio.timeout(link.bus_spec.timeout * 3):
                await link.wait_connected()
        except TimeoutError:
            raise BusUnreachable(f"cannot connect to {link.bus_spec.where}") from None
        yield link
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _open(spec: LinkSpec) -> contextlib.AbstractAsyncContextManager[ModbusLink]:
    return running(ModbusLink(spec))


async def probe_device(spec: LinkSpec, unit_id: int, profile: Profile) -> list[ProbedPoint]:
    """Read every point of ``profile`` from ``unit_id`` once, block by block.

    A block that fails leaves its points with the error; the others are still read, so a
    wrong register map shows which part of it is wrong.
    """
    points = profile_points(profile)
    device = DeviceSpec(
        device_id=f"unit-{unit_id}",
        unit_id=unit_id,
        points=points,
        max_gap=profile.modbus.max_gap,
        max_registers=profile.modbus.max_registers,
        max_bits=profile.modbus.max_bits,
    )
    by_key = {p.key: p for p in profile.points if p.modbus is not None}
    values: dict[str, ProbedPoint] = {}
    async with _open(spec) as link:
        for block in plan_reads(device):
            try:
                words = await link.read(unit_id, block.table, block.start, block.count)
            except ModbusError as err:
                for p in block.points:
                    values[p.key] = ProbedPoint(by_key[p.key], None, str(err))
                continue
            for key, value, ok in block.decode(words):
                values[key] = ProbedPoint(by_key[key], value, None if ok else "invalid value")
    return [values[k] for k in by_key if k in values]


def _answers(err: ModbusError) -> bool:
    """Whether an error still proves a device sits at that address."""
    if isinstance(err, ModbusTimeout):
        return False
    return isinstance(err, ModbusExceptionReply) and not err.target_failed


async def scan_bus(
    spec: LinkSpec,
    units: Iterable[int] = range(1, 248),
    *,
    table: Table = Table.HOLDING,
    address: int = 0,
) -> list[int]:
    """The unit ids that answer a one-register read, in order.

    A Modbus exception (illegal address, say) still proves a device is there; silence or a
    gateway's "target failed to respond" means nobody is. Each absent unit costs one timeout,
    so a full scan of 247 ids at 0.3 s takes about 75 s.
    """
    found: list[int] = []
    async with _open(spec) as link:
        for unit in units:
            try:
                await link.read(unit, table, address, 1)
            except ModbusError as err:
                if _answers(err):
                    found.append(unit)
                continue
            found.append(unit)
    return found
