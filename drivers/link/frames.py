"""Links for byte-frame meter protocols (DL/T 645, CJ/T 188): a TCP gateway or a serial port.

A transparent RS-485-to-TCP gateway passes the meters' frames unchanged, so both transports
carry the same bytes: ``FrameChannel`` writes a request and feeds what comes back to the
protocol's parser until a frame answers the request. What else arrives is counted per meter
and never stalls the bus: noise and wake-up bytes are skipped, a frame from another address
or to another request is dropped (``address``, ``stale``) and the wait goes on, a frame with
a bad checksum fails the transaction at once (``checksum``: the reply is lost, the poller's
retry is quicker than the timeout), and bytes that never complete a frame end in
``truncated`` at the timeout. Serial ports are opened through pymodbus's asyncio serial
transport (pyserial underneath), which the Modbus driver already depends on.
"""

from __future__ import annotations

import asyncio
import random
import termios
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar, cast

from pymodbus.transport.serialtransport import create_serial_connection

from ..errors import DriverError
from .bus import BusLink, ConnectionCallback
from .errors import BadFrame, LinkClosed, LinkConnectionError, LinkTimeout
from .gate import Priority

__all__ = ["FrameChannel", "FrameLink", "FrameSpec", "FrameTransport", "Parsed"]

F = TypeVar("F")


@dataclass(frozen=True, slots=True)
class Parsed(Generic[F]):
    """What a parser made of a buffer: a frame (or None), bytes consumed, noise bytes
    dropped, and why a corrupt frame was rejected (``checksum``, ``framing``)."""

    frame: F | None
    used: int
    dropped: int = 0
    error: str | None = None


Parser = Callable[[bytearray], Parsed[F]]
Check = Callable[[F], str | None]
"""None if the frame answers the request; else why not (``address``, ``stale``)."""


class FrameTransport(StrEnum):
    TCP = "tcp"
    """A transparent RS-485-to-Ethernet gateway (raw frames inside TCP)."""
    SERIAL = "serial"
    """A local RS-485 port."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameSpec:
    """One bus of byte-frame meters. DL/T 645 and CJ/T 188 lines usually run 2400 8E1."""

    link_id: str
    transport: FrameTransport
    host: str = ""
    port: int = 0
    serial_port: str = ""
    baudrate: int = 2400
    parity: str = "E"
    stopbits: int = 1
    bytesize: int = 8
    timeout: float = 2.0
    inter_frame_gap: float = 0.02
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError(f"link {self.link_id}: timeout must be positive")
        if self.transport is FrameTransport.SERIAL and not self.serial_port:
            raise ValueError(f"link {self.link_id}: a serial link needs serial_port")
        if self.transport is FrameTransport.TCP and not self.host:
            raise ValueError(f"link {self.link_id}: a TCP link needs host")

    @property
    def where(self) -> str:
        if self.transport is FrameTransport.SERIAL:
            return self.serial_port
        return f"{self.host}:{self.port}"


class _Wire(asyncio.Protocol):
    """One connection (TCP or serial); a new one per connect."""

    def __init__(self, channel: FrameChannel[object]) -> None:
        self.channel = channel
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.channel._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.channel._lost(self)


@dataclass
class _Pending(Generic[F]):
    future: asyncio.Future[F]
    check: Check[F]
    bad: Callable[[str], None]


class FrameChannel(Generic[F]):
    """Frames to and from one bus; one exchange at a time (the link's gate sees to that)."""

    def __init__(self, spec: FrameSpec, parse: Parser[F], on_connection: ConnectionCallback):
        self.spec = spec
        self._parse = parse
        self._on_connection = on_connection
        self._wire: _Wire | None = None
        self._buf = bytearray()
        self._pending: _Pending[F] | None = None
        self.late_bytes = 0

    @property
    def connected(self) -> bool:
        wire = self._wire
        return wire is not None and wire.transport is not None and not wire.transport.is_closing()

    async def connect(self) -> bool:
        self.close()
        loop = asyncio.get_running_loop()
        wire = _Wire(cast("FrameChannel[object]", self))
        self._wire = wire
        spec = self.spec
        try:
            async with asyncio.timeout(spec.timeout * 3):
                if spec.transport is FrameTransport.SERIAL:
                    await create_serial_connection(
                        loop,
                        lambda: wire,
                        spec.serial_port,
                        baudrate=spec.baudrate,
                        bytesize=spec.bytesize,
                        parity=spec.parity,
                        stopbits=spec.stopbits,
                    )
                    await asyncio.sleep(0)  # the transport reports connection_made next
                else:
                    await loop.create_connection(lambda: wire, spec.host, spec.port)
        except (OSError, TimeoutError, termios.error):
            # termios.error: a path that is no serial line (pyserial cannot set it up)
            if self._wire is wire:
                self._wire = None
            return False
        return True

    def close(self) -> None:
        wire, self._wire = self._wire, None
        if wire is not None and wire.transport is not None:
            wire.transport.close()
        self._fail(LinkConnectionError("link closed", link=self.spec.link_id))

    def _lost(self, wire: _Wire) -> None:
        if wire is not self._wire:
            return
        self._wire = None
        self._fail(LinkConnectionError("connection lost", link=self.spec.link_id))
        self._on_connection(False)

    def _fail(self, err: DriverError) -> None:
        pending = self._pending
        if pending is not None and not pending.future.done():
            pending.future.set_exception(err)

    def _transport(self) -> asyncio.Transport:
        wire = self._wire
        transport = wire.transport if wire is not None else None
        if transport is None or transport.is_closing():
            raise LinkConnectionError("not connected", link=self.spec.link_id)
        return transport

    # -- exchanges ------------------------------------------------------------------------
    def send(self, frame: bytes) -> None:
        """Write a frame nobody answers (a broadcast)."""
        self._transport().write(frame)

    async def exchange(self, frame: bytes, check: Check[F], bad: Callable[[str], None]) -> F:
        """Write ``frame``; the first frame that ``check`` accepts. ``bad`` is told the name
        of every rejected or malformed frame on the way."""
        transport = self._transport()
        if self._pending is not None:
            raise RuntimeError(f"{self.spec.link_id}: one exchange at a time (the link's gate)")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[F] = loop.create_future()
        pending = _Pending(future, check, bad)
        self._pending = pending
        self._buf.clear()
        transport.write(frame)
        timer = loop.call_later(self.spec.timeout, self._expire, pending)
        try:
            return await pending.future
        finally:
            timer.cancel()
            self._pending = None

    def _expire(self, pending: _Pending[F]) -> None:
        if pending.future.done():
            return
        link = self.spec.link_id
        if any(b != 0xFE for b in self._buf):
            pending.bad("truncated")
            err: DriverError = BadFrame(
                f"incomplete reply ({len(self._buf)} bytes) within {self.spec.timeout:g} s",
                why="truncated",
                link=link,
            )
        else:
            err = LinkTimeout(f"no reply within {self.spec.timeout:g} s", link=link)
        self._buf.clear()
        pending.future.set_exception(err)

    def _received(self, data: bytes) -> None:
        pending = self._pending
        if pending is None or pending.future.done():
            self.late_bytes += len(data)  # a late reply or noise between transactions
            return
        buf = self._buf
        buf += data
        while buf:
            parsed = self._parse(buf)
            if parsed.dropped:
                pending.bad("garbage")
            del buf[: parsed.used]
            if parsed.error is not None:
                pending.bad(parsed.error)
                if parsed.error == "checksum":
                    buf.clear()
                    pending.future.set_exception(
                        BadFrame("checksum mismatch", why="checksum", link=self.spec.link_id)
                    )
                    return
                continue
            if parsed.frame is None:
                return  # incomplete: wait for more
            why = pending.check(parsed.frame)
            if why is None:
                pending.future.set_result(parsed.frame)
                buf.clear()
                return
            pending.bad(why)


class FrameLink(BusLink[FrameChannel[F]]):
    """A bus of byte-frame meters: ``request`` one frame, ``broadcast`` another.

    ``bad_frames[device][why]`` counts the frames rejected while talking to each meter.
    """

    _settle_errors = (LinkTimeout, BadFrame)

    def __init__(
        self, spec: FrameSpec, parse: Parser[F], *, rng: random.Random | None = None
    ) -> None:
        self.spec = spec
        super().__init__(spec, lambda up: FrameChannel(spec, parse, up), rng=rng)
        self.bad_frames: dict[str, Counter[str]] = {}

    def _not_connected(self) -> DriverError:
        return LinkConnectionError(f"link {self.link_id} not connected", link=self.link_id)

    def _closed_while_queued(self) -> DriverError:
        return LinkClosed("connection lost while queued", link=self.link_id)

    def bad_frame_counts(self, device: str) -> dict[str, int]:
        return dict(self.bad_frames.get(device, {}))

    async def request(
        self, device: str, frame: bytes, check: Check[F], priority: Priority = Priority.POLL
    ) -> F:
        """One request and the frame that answers it."""
        counts = self.bad_frames.get(device)
        if counts is None:
            counts = self.bad_frames[device] = Counter()

        def bad(why: str) -> None:
            counts[why] += 1
            self.counters.error(f"bad_frame_{why}")

        channel = self._channel
        return await self._transact(lambda: channel.exchange(frame, check, bad), priority)

    async def broadcast(self, frame: bytes) -> None:
        """Send a frame no meter answers (time broadcast), alone on the bus."""
        channel = self._channel

        async def send() -> None:
            channel.send(frame)

        await self._transact(send, Priority.WRITE)
