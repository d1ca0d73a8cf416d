"""How a link carries transactions: pymodbus encodes and decodes frames, a channel moves them.

Two channels share one interface (``Channel``):

* ``SocketChannel`` (Modbus TCP and RTU over TCP, the campus case) is a small asyncio protocol.
  pymodbus's framers (``FramerSocket``/``FramerRTU``) build every request frame and decode every
  reply (MBAP header or CRC, then its PDU classes); the channel writes the frame, hands the
  reply to the one request waiting for it and enforces the timeout.
  Why not pymodbus's client here: its transaction manager repeats what the link already does
  (one transaction at a time, timeouts, retries, reconnects), and on this path it was a third
  of the CPU of a request (``asyncio.wait_for``, a frame log per request, request objects and
  CRC rebuilt for requests that never change). Request frames of polls are built once and
  reused (RTU has no transaction id; Modbus TCP gets a fresh one spliced in).
* ``SerialChannel`` is pymodbus's serial client unchanged: at 9600 baud the line, not the
  CPU, is the limit.

A channel raises the driver's own errors (``ModbusTimeout``, ``MalformedReply``,
``ModbusConnectionError``); the link counts them.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import cast

from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerRTU, FramerSocket, FramerType
from pymodbus.pdu import DecodePDU, ModbusPDU
from pymodbus.pdu.bit_message import ReadCoilsRequest, ReadDiscreteInputsRequest
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
)

from wire.modbus import Table

from .errors import MalformedReply, ModbusConnectionError, ModbusError, ModbusTimeout
from .replies import Expected, ReadReply
from .spec import LinkSpec, Transport

__all__ = [
    "Channel",
    "Reply",
    "SerialChannel",
    "SocketChannel",
    "make_channel",
    "read_request",
]

ConnectionCallback = Callable[[bool], None]
"""Told ``False`` when an established connection drops (the link then reconnects)."""

_READS: dict[Table, type[ModbusPDU]] = {
    Table.HOLDING: ReadHoldingRegistersRequest,
    Table.INPUT: ReadInputRegistersRequest,
    Table.COIL: ReadCoilsRequest,
    Table.DISCRETE: ReadDiscreteInputsRequest,
}


Reply = ModbusPDU | ReadReply
"""A read's reply: pymodbus's PDU, or the fast path's ``ReadReply`` (same attributes)."""


def read_request(unit: int, table: Table, start: int, count: int) -> ModbusPDU:
    """The pymodbus request reading ``count`` registers or bits of ``table`` from ``start``."""
    return _READS[table](address=start, count=count, dev_id=unit)


class Channel(ABC):
    """One connection to a bus. The link calls one transaction at a time."""

    @property
    @abstractmethod
    def connected(self) -> bool: ...

    @abstractmethod
    async def connect(self) -> bool:
        """Open the connection; False if it cannot be opened now."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection; a transaction in flight fails with ModbusConnectionError."""

    @abstractmethod
    async def read(self, unit: int, table: Table, start: int, count: int) -> Reply:
        """One read transaction; the reply (possibly an exception reply PDU)."""

    @abstractmethod
    async def execute(self, request: ModbusPDU) -> ModbusPDU:
        """Any other transaction (writes); the reply PDU (possibly an exception reply)."""


class _Wire(asyncio.Protocol):
    """One TCP connection of a ``SocketChannel``; a new one per connect, so that a late
    ``connection_lost`` of an old connection cannot touch its successor."""

    def __init__(self, channel: SocketChannel) -> None:
        self.channel = channel
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # not isinstance-checked: uvloop's transports behave as asyncio.Transport without
        # subclassing it
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.channel._received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.channel._lost(self)


class SocketChannel(Channel):
    """Modbus TCP or RTU over TCP on one asyncio connection (see the module docstring)."""

    def __init__(self, spec: LinkSpec, on_connection: ConnectionCallback) -> None:
        self.spec = spec
        self._on_connection = on_connection
        rtu = spec.transport is Transport.RTU_OVER_TCP
        self._rtu = rtu
        self._framer = (FramerRTU if rtu else FramerSocket)(DecodePDU(is_server=False))
        self._wire: _Wire | None = None
        self._frames: dict[tuple[int, Table, int, int], tuple[bytes, Expected]] = {}
        self._tid = 0
        self._buf = b""
        # the transaction in flight: its reply future, unit, transaction id and function
        self._waiter: asyncio.Future[Reply] | None = None
        self._expected: Expected | None = None  # the read's reply, for the fast path
        # the last read that timed out (unit, its reply), whose reply may still come
        self._late: tuple[int, Expected] | None = None
        # after an RTU timeout, the line must stay quiet until then before the next request
        self._quiet_until = 0.0
        self._unit = 0
        self._expect_tid = 0
        self._function = 0
        # its deadline, and the channel's one timer (see ``_check_deadline``)
        self._deadline = 0.0
        self._timer: asyncio.TimerHandle | None = None

    # -- from the wire ----------------------------------------------------------------------
    def _lost(self, wire: _Wire) -> None:
        if wire is not self._wire:
            return  # an old connection, already given up by close()
        self._wire = None
        self._fail(ModbusConnectionError("connection lost", link=self.spec.link_id))
        self._on_connection(False)

    def _received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            self._buf = b""  # a late reply (RTU has no transaction id) or noise: drop it
            return
        buf = self._buf + data if self._buf else data
        expected = self._expected
        if expected is not None and (fast := expected.match(buf, self._expect_tid)) is not None:
            self._buf = b""
            waiter.set_result(fast)
            return
        try:
            used, reply = self._framer.handleFrame(buf, self._unit, self._expect_tid)
        except ModbusIOException as err:
            self._buf = b""
            waiter.set_exception(MalformedReply(str(err), link=self.spec.link_id))
            return
        self._buf = buf[used:]
        if reply is None:
            return  # not complete yet, or garbage the framer skipped
        if reply.function_code & 0x7F != self._function:
            return  # a stale reply to an earlier request of this unit: keep waiting
        late = self._late
        if (
            late is not None
            and expected is not None
            and not reply.isError()
            and not expected.sized(reply)
            and late[0] == self._unit
            and late[1].sized(reply)
        ):
            # the late reply to the read of this unit that timed out just before (RTU has no
            # transaction id; its length tells): not this read's answer, so keep waiting
            self._late = None
            return
        waiter.set_result(reply)

    # -- Channel ----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        wire = self._wire
        return wire is not None and wire.transport is not None and not wire.transport.is_closing()

    async def connect(self) -> bool:
        self.close()
        loop = asyncio.get_running_loop()
        wire = _Wire(self)
        self._wire = wire  # a drop right after connecting is then reported like any other
        self._buf = b""
        try:
            async with asyncio.timeout(self.spec.timeout * 3):
                await loop.create_connection(lambda: wire, self.spec.host, self.spec.port)
        except (OSError, TimeoutError):
            if self._wire is wire:
                self._wire = None
            return False
        return True

    def close(self) -> None:
        wire, self._wire = self._wire, None
        if wire is not None and wire.transport is not None:
            wire.transport.close()
        self._fail(ModbusConnectionError("link closed", link=self.spec.link_id))
        if self._timer is not None:  # it may belong to a loop that is gone (connect closes)
            self._timer.cancel()
            self._timer = None

    async def read(self, unit: int, table: Table, start: int, count: int) -> Reply:
        key = (unit, table, start, count)
        cached = self._frames.get(key)
        if cached is None:
            frame = self._framer.buildFrame(read_request(unit, table, start, count))
            function = _READS[table].function_code
            cached = (frame, Expected(unit, function, count, bits=table.is_bits, rtu=self._rtu))
            if len(self._frames) < 4096:  # polls repeat a few hundred blocks at most
                self._frames[key] = cached
        frame, expected = cached
        tid = 0
        if not self._rtu:
            tid = self._next_tid()
            frame = tid.to_bytes(2, "big") + frame[2:]  # MBAP: the id is the first two bytes
        return await self._exchange(frame, unit, tid, expected.function, expected)

    async def execute(self, request: ModbusPDU) -> ModbusPDU:
        tid = 0 if self._rtu else self._next_tid()
        request.transaction_id = tid
        frame = self._framer.buildFrame(request)
        reply = await self._exchange(frame, request.dev_id, tid, request.function_code, None)
        assert isinstance(reply, ModbusPDU)  # only reads take the fast path
        return reply

    # -- internals --------------------------------------------------------------------------
    def _next_tid(self) -> int:
        self._tid = self._tid % 0xFFFF + 1
        return self._tid

    async def _exchange(
        self, frame: bytes, unit: int, tid: int, function: int, expected: Expected | None
    ) -> Reply:
        loop = asyncio.get_running_loop()
        if self._quiet_until:
            await self._quiet(loop)
        wire = self._wire
        transport = wire.transport if wire is not None else None
        if transport is None or transport.is_closing():
            raise ModbusConnectionError("not connected", link=self.spec.link_id)
        if self._waiter is not None:
            raise RuntimeError(f"{self.spec.link_id}: one transaction at a time (the link's gate)")
        waiter: asyncio.Future[Reply] = loop.create_future()
        self._waiter = waiter
        self._expected = expected
        self._unit, self._expect_tid, self._function = unit, tid, function
        self._buf = b""
        transport.write(frame)
        self._deadline = loop.time() + self.spec.timeout
        if self._timer is None:
            self._timer = loop.call_at(self._deadline, self._check_deadline)
        try:
            return await waiter
        finally:
            self._waiter = None

    async def _quiet(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait out the quiet interval after an RTU timeout, dropping what arrives meanwhile.

        RTU has no transaction id: the late reply to a request that timed out, arriving
        during the next request to the same unit with the same length (two one-register
        read-backs, say), would be taken as that request's answer, and another register's
        value recorded or compared. So after a timeout the next request waits one more
        timeout, with nobody waiting for a reply (``_received`` drops it), the way RTU masters
        recover (libmodbus sleeps the response timeout and flushes). Timeouts are rare, so
        this costs a bus nothing while it is healthy; replies later than that are still told
        apart by their length where they can be (``_late``).
        """
        wait = self._quiet_until - loop.time()
        self._quiet_until = 0.0
        if wait > 0:
            await asyncio.sleep(wait)
        self._buf = b""

    def _check_deadline(self) -> None:
        """The channel's one timer: expire the transaction in flight if its deadline passed,
        else sleep until it; lapse when idle (the next request starts it again).

        One timer per channel instead of one per request: replies come long before the
        timeout, so a per-request timer was scheduled and cancelled for nothing every time.
        """
        self._timer = None
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        loop = asyncio.get_running_loop()
        if loop.time() < self._deadline:
            self._timer = loop.call_at(self._deadline, self._check_deadline)
            return
        if self._expected is not None:
            self._late = (self._unit, self._expected)
        if self._rtu:
            self._quiet_until = loop.time() + self.spec.timeout
        waiter.set_exception(
            ModbusTimeout(f"no reply within {self.spec.timeout:g} s", link=self.spec.link_id)
        )

    def _fail(self, err: ModbusError) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(err)


_PYMODBUS_GRACE = 1.0
"""Seconds pymodbus's own reply timer runs past the channel's (which always fires first)."""


class SerialChannel(Channel):
    """RTU on a local serial port through pymodbus's serial client."""

    def __init__(self, spec: LinkSpec, on_connection: ConnectionCallback) -> None:
        self.spec = spec
        # retries=0 and reconnect_delay=0: retries and reconnects are the link's job. The
        # channel times a transaction itself (a TimeoutError is a type; pymodbus reports its
        # own timeout only as message text), so pymodbus's timer is set to fire later.
        self._client = AsyncModbusSerialClient(
            spec.serial_port,
            framer=FramerType.RTU,
            baudrate=spec.baudrate,
            bytesize=spec.bytesize,
            parity=spec.parity,
            stopbits=spec.stopbits,
            timeout=spec.timeout + _PYMODBUS_GRACE,
            retries=0,
            reconnect_delay=0,
            name=spec.link_id,
            trace_connect=lambda up: None if up else on_connection(False),
        )
        # A dead device must not make pymodbus close the port.
        self._client.set_max_no_responses(1 << 30)

    @property
    def connected(self) -> bool:
        return bool(self._client.connected)

    async def connect(self) -> bool:
        connected = bool(await self._client.connect())
        _honour_cancellation()
        return connected

    def close(self) -> None:
        self._client.close()

    async def read(self, unit: int, table: Table, start: int, count: int) -> Reply:
        return await self.execute(read_request(unit, table, start, count))

    async def execute(self, request: ModbusPDU) -> ModbusPDU:
        link = self.spec.link_id
        try:
            async with asyncio.timeout(self.spec.timeout):
                reply: ModbusPDU = await self._client.execute(False, request)
        except TimeoutError as err:
            raise ModbusTimeout(f"no reply within {self.spec.timeout:g} s", link=link) from err
        except ModbusIOException as err:
            raise MalformedReply(str(err), link=link) from err
        except ConnectionException as err:
            raise ModbusConnectionError(str(err), link=link) from err
        except ModbusException as err:
            raise MalformedReply(str(err), link=link) from err
        _honour_cancellation()
        return reply


def _honour_cancellation() -> None:
    """Re-raise a cancellation that pymodbus swallowed.

    Python 3.11's ``asyncio.wait_for`` (used inside pymodbus's client) drops a cancellation
    that races with the awaited reply; the task would keep running although it is being
    cancelled, and its TaskGroup would never finish.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def make_channel(spec: LinkSpec, on_connection: ConnectionCallback) -> Channel:
    """The channel for a link's transport."""
    if spec.transport is Transport.SERIAL:
        return SerialChannel(spec, on_connection)
    return SocketChannel(spec, on_connection)
