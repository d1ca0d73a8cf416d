"""One link per physical bus for Modbus: the protocol-neutral ``BusLink`` with Modbus reads
and writes on top.

The link owns the bus's channel (``channel.py``: pymodbus frames on our own asyncio connection,
or pymodbus's serial client). Connection upkeep, the priority gate, the inter-frame gap and
the quiet time after a timeout are ``drivers.link.BusLink``'s, shared with DL/T 645 and
CJ/T 188; this module maps them to Modbus requests and errors.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable

from pymodbus.pdu import ModbusPDU
from pymodbus.pdu.bit_message import WriteSingleCoilRequest
from pymodbus.pdu.register_message import (
    WriteMultipleRegistersRequest,
    WriteSingleRegisterRequest,
)

from wire.modbus import Table

from ..errors import DriverError
from ..link.bus import BusLink, LinkState
from ..link.gate import Priority
from .channel import Channel, Reply, make_channel
from .errors import (
    LinkClosed,
    MalformedReply,
    ModbusConnectionError,
    ModbusExceptionReply,
    ModbusTimeout,
)
from .spec import LinkSpec

__all__ = ["LinkState", "ModbusLink", "Priority"]

_BIT_TABLES = frozenset({Table.COIL, Table.DISCRETE})

# pymodbus logs every unanswered request at ERROR; the link logs a failing device once and
# its recovery instead. Only quieten pymodbus if nobody configured its logger.
if logging.getLogger("pymodbus").level == logging.NOTSET:
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


class ModbusLink(BusLink[Channel]):
    """A Modbus bus. Run ``run()`` in a task; call ``read``/``write`` from pollers."""

    # A late reply must not be taken for the next request's (RTU has no transaction id).
    _settle_errors = (ModbusTimeout, MalformedReply)

    def __init__(self, spec: LinkSpec, *, rng: random.Random | None = None) -> None:
        self.spec = spec
        super().__init__(spec, lambda up: make_channel(spec, up), rng=rng)

    def _not_connected(self) -> DriverError:
        return ModbusConnectionError(f"link {self.link_id} not connected", link=self.link_id)

    def _closed_while_queued(self) -> DriverError:
        return LinkClosed("connection lost while queued", link=self.link_id)

    # -- transactions ---------------------------------------------------------------------
    async def read(
        self, unit: int, table: Table, start: int, count: int, priority: Priority = Priority.POLL
    ) -> list[int]:
        """``count`` registers (or bits as 0/1) of ``table`` from ``start``."""
        channel = self._channel
        reply = await self._modbus(lambda: channel.read(unit, table, start, count), priority)
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
        await self._modbus(lambda: self._channel.execute(request), Priority.WRITE)

    def _malformed(self, what: str, unit: int) -> MalformedReply:
        self.counters.error(MalformedReply.kind)
        return MalformedReply(f"unit {unit}: {what}", link=self.link_id)

    async def _modbus(self, call: Callable[[], Awaitable[Reply]], priority: Priority) -> Reply:
        reply = await self._transact(call, priority)
        if reply.isError():
            code = getattr(reply, "exception_code", 0)
            raise self._count(
                ModbusExceptionReply(code, function=reply.function_code & 0x7F, link=self.link_id)
            )
        return reply
