"""One link per physical bus: a TCP gateway or a serial port, one transaction at a time.

The link owns the bus's channel (``channel.py``: pymodbus frames on our own asyncio connection,
or pymodbus's serial client) and its connection. ``run()`` keeps the connection up,
reconnecting with capped, jittered exponential backoff; transactions go through a priority
gate so a write waits for at most the transaction in flight, never behind queued polls, and
an inter-frame gap is kept between transactions (RS-485 devices need the silence).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable
from enum import IntEnum, StrEnum

from pymodbus.pdu import ModbusPDU
from pymodbus.pdu.bit_message import WriteSingleCoilRequest
from pymodbus.pdu.register_message import (
    WriteMultipleRegistersRequest,
    WriteSingleRegisterRequest,
)

from drivers.backoff import Backoff
from wire.modbus import Table

from .channel import make_channel
from .counters import BusCounters
from .errors import (
    LinkClosed,
    MalformedReply,
    ModbusConnectionError,
    ModbusError,
    ModbusExceptionReply,
    ModbusTimeout,
)
from .spec import LinkSpec

__all__ = ["LinkState", "ModbusLink", "Priority"]

_LOGGER = logging.getLogger(__name__)
_BIT_TABLES = frozenset({Table.COIL, Table.DISCRETE})

# pymodbus logs every unanswered request at ERROR; the link logs a failing device once and
# its recovery instead. Only quieten pymodbus if nobody configured its logger.
if logging.getLogger("pymodbus").level == logging.NOTSET:
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


class LinkState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"


class Priority(IntEnum):
    WRITE = 0
    POLL = 1


class _PriorityGate:
    """A lock whose waiters are served by priority, then arrival order."""

    def __init__(self) -> None:
        self._busy = False
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    @property
    def waiting(self) -> int:
        return sum(1 for *_, f in self._waiters if not f.done())

    async def acquire(self, priority: int) -> None:
        if not self._busy and not self._waiters:
            self._busy = True
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._seq), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # we were handed the gate as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(None)
                return
        self._busy = False


class ModbusLink:
    """A bus. Run ``run()`` in a task; call ``read``/``write`` from pollers."""

    def __init__(self, spec: LinkSpec, *, rng: random.Random | None = None) -> None:
        self.spec = spec
        self.counters = BusCounters()
        self.state = LinkState.DISCONNECTED
        self.last_error: str | None = None
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not cryptography)
        self._channel = make_channel(spec, self._on_connection)
        self._gate = _PriorityGate()
        self._up = asyncio.Event()
        self._down = asyncio.Event()
        self._idle_at = 0.0
        self._settle = min(0.1, spec.timeout / 4)
        self._failing = False

    @property
    def link_id(self) -> str:
        return self.spec.link_id

    @property
    def connected(self) -> bool:
        return self.state is LinkState.CONNECTED and self._channel.connected

    @property
    def queued(self) -> int:
        """Transactions waiting for the bus."""
        return self._gate.waiting

    def _on_connection(self, up: bool) -> None:
        if not up:
            self._up.clear()
            self._down.set()

    async def wait_connected(self) -> None:
        await self._up.wait()

    # -- connection -----------------------------------------------------------------------
    async def run(self) -> None:
        """Keep the bus connected until cancelled."""
        backoff = Backoff(self.spec.reconnect_min, self.spec.reconnect_max)
        failures = 0
        try:
            while True:
                self.state = LinkState.CONNECTING
                self._down.clear()
                connected = await self._channel.connect()
                if connected:
                    self._connected()
                    up_since = time.monotonic()
                    await self._down.wait()
                    self._lost("connection dropped")
                    # Only a connection that held resets the backoff: a gateway that accepts
                    # and drops at once must not be hammered.
                    if time.monotonic() - up_since >= self.spec.reconnect_max:
                        failures = 0
                else:
                    self._lost("cannot connect")
                self.state = LinkState.DISCONNECTED
                failures += 1
                await asyncio.sleep(backoff.delay(failures, self._rng))
        finally:
            self.state = LinkState.CLOSED
            self._up.clear()
            self._channel.close()

    def _connected(self) -> None:
        self.state = LinkState.CONNECTED
        self._up.set()
        if self._failing:
            _LOGGER.info("Link %s (%s) is connected again", self.link_id, self.spec.where)
            self._failing = False
        else:
            _LOGGER.debug("Link %s connected to %s", self.link_id, self.spec.where)

    def _lost(self, why: str) -> None:
        self._up.clear()
        self.counters.reconnects += 1
        self.last_error = why
        if not self._failing:
            _LOGGER.warning("Link %s (%s): %s; reconnecting", self.link_id, self.spec.where, why)
            self._failing = True
        else:
            _LOGGER.debug("Link %s: %s", self.link_id, why)
        self._channel.close()

    # -- transactions ---------------------------------------------------------------------
    async def read(
        self, unit: int, table: Table, start: int, count: int, priority: Priority = Priority.POLL
    ) -> list[int]:
        """``count`` registers (or bits as 0/1) of ``table`` from ``start``."""
        channel = self._channel
        reply = await self._transact(lambda: channel.read(unit, table, start, count), priority)
        if table in _BIT_TABLES:
            bits = reply.bits
            if len(bits) < count:
                raise self._malformed(f"{len(bits)} bits for {count} asked", unit)
            return [1 if b else 0 for b in bits[:count]]
        registers = reply.registers
        if len(registers) != count:
            raise self._malformed(f"{len(registers)} registers for {count} asked", unit)
        return list(registers)

    async def write(self, unit: int, table: Table, address: int, data: list[int] | bool) -> None:
        """Write a coil (``data`` bool) or registers (FC06 for one, FC16 for several)."""
        request: ModbusPDU
        if table is Table.COIL and isinstance(data, bool):
            request = WriteSingleCoilRequest(address=address, bits=[data], dev_id=unit)
        elif table is Table.HOLDING and isinstance(data, list) and len(data) == 1:
            request = WriteSingleRegisterRequest(address=address, registers=data, dev_id=unit)
        elif table is Table.HOLDING and isinstance(data, list):
            request = WriteMultipleRegistersRequest(address=address, registers=data, dev_id=unit)
        else:
            raise ValueError(f"cannot write {data!r} to the {table} table")
        await self._transact(lambda: self._channel.execute(request), Priority.WRITE)

    def _malformed(self, what: str, unit: int) -> MalformedReply:
        self.counters.error(MalformedReply.kind)
        return MalformedReply(f"unit {unit}: {what}", link=self.link_id)

    async def _transact(
        self, call: Callable[[], Awaitable[ModbusPDU]], priority: Priority
    ) -> ModbusPDU:
        if not self.connected:
            # not a bus error: the drop was counted once, as a reconnect
            raise ModbusConnectionError(f"link {self.link_id} not connected", link=self.link_id)
        await self._gate.acquire(priority)
        try:
            wait = self._idle_at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not self.connected:
                raise self._count(LinkClosed("connection lost while queued", link=self.link_id))
            started = time.monotonic()
            quiet = self.spec.inter_frame_gap
            try:
                reply = await call()
            except (ModbusTimeout, MalformedReply) as err:
                # A late reply must not be taken for the next request's (RTU has no
                # transaction id): keep the bus quiet a moment so it arrives and is dropped.
                quiet = max(quiet, self._settle)
                raise self._count(err) from None
            except ModbusError as err:
                raise self._count(err) from None
            finally:
                now = time.monotonic()
                self.counters.transaction(now - started)
                self._idle_at = now + quiet
            if reply.isError():
                code = getattr(reply, "exception_code", 0)
                raise self._count(
                    ModbusExceptionReply(
                        code, function=reply.function_code & 0x7F, link=self.link_id
                    )
                )
            return reply
        finally:
            self._gate.release()

    def _count(self, err: ModbusError) -> ModbusError:
        self.counters.error(err.kind)
        return err
