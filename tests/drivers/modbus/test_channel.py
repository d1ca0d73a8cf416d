"""The socket channel on the wire: reply matching, late and stale replies, drops, frame reuse.

A scripted gateway (framing from ``emulators.modbus.frames``, never the driver's) answers each
request the way a test needs, including wrongly.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import cast

import pytest
import uvloop

from drivers.modbus import LinkSpec, MalformedReply, ModbusConnectionError, ModbusTimeout
from drivers.modbus import Transport as LinkTransport
from drivers.modbus.channel import SocketChannel
from emulators.modbus.frames import mbap_frame, rtu_frame, split_mbap, split_rtu
from wire.modbus import Table

pytestmark = pytest.mark.integration

Reply = Callable[[int, int, bytes, asyncio.Transport], None]
"""(transaction id or 0, unit, request PDU, transport): the script's answer to one request."""


def registers_pdu(function: int, values: list[int]) -> bytes:
    return struct.pack(f">BB{len(values)}H", function, 2 * len(values), *values)


class ScriptedGateway(asyncio.Protocol):
    def __init__(self, rtu: bool, reply: Reply, seen: list[bytes]) -> None:
        self.rtu = rtu
        self.reply = reply
        self.seen = seen
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.seen.append(bytes(data))
        self.buf += data
        if self.rtu:
            frames, _ = split_rtu(self.buf)
            for unit, pdu in frames:
                self.reply(0, unit, pdu, self.transport)
        else:
            for tid, unit, pdu in split_mbap(self.buf)[0]:
                self.reply(tid, unit, pdu, self.transport)


@asynccontextmanager
async def channel_to(
    reply: Reply, *, rtu: bool, reply_timeout: float = 0.3
) -> AsyncIterator[tuple[SocketChannel, list[bytes], list[bool]]]:
    seen: list[bytes] = []
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: ScriptedGateway(rtu, reply, seen), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    spec = LinkSpec(
        link_id="scripted",
        transport=LinkTransport.RTU_OVER_TCP if rtu else LinkTransport.TCP,
        host="127.0.0.1",
        port=port,
        timeout=reply_timeout,
    )
    drops: list[bool] = []
    channel = SocketChannel(spec, drops.append)
    try:
        assert await channel.connect()
        yield channel, seen, drops
    finally:
        channel.close()
        server.close()
        await server.wait_closed()


async def test_tcp_reply_with_another_transaction_id_is_not_taken() -> None:
    def reply(tid: int, unit: int, pdu: bytes, transport: asyncio.Transport) -> None:
        transport.write(mbap_frame(tid + 100, unit, registers_pdu(3, [1])))  # someone else's
        transport.write(mbap_frame(tid, unit, registers_pdu(3, [42])))

    async with channel_to(reply, rtu=False) as (channel, seen, _):
        first = await channel.read(7, Table.HOLDING, 10, 1)
        second = await channel.read(7, Table.HOLDING, 10, 1)
    assert first.registers == [42]
    assert second.registers == [42]
    assert seen[0][:2] != seen[1][:2], "each request has its own transaction id"
    assert seen[0][2:] == seen[1][2:]


async def test_rtu_late_reply_is_dropped_and_the_next_request_gets_its_own() -> None:
    answers: list[int] = []

    def reply(_tid: int, unit: int, pdu: bytes, transport: asyncio.Transport) -> None:
        answers.append(unit)
        if len(answers) == 1:  # the first request is answered after its timeout
            asyncio.get_running_loop().call_later(
                0.15, transport.write, rtu_frame(unit, registers_pdu(3, [111]))
            )
        else:
            transport.write(rtu_frame(unit, registers_pdu(3, [222])))

    async with channel_to(reply, rtu=True, reply_timeout=0.1) as (channel, seen, _):
        with pytest.raises(ModbusTimeout, match=r"no reply within 0\.1 s"):
            await channel.read(5, Table.HOLDING, 0, 1)
        await asyncio.sleep(0.1)  # the late reply arrives while nobody waits
        reply_pdu = await channel.read(5, Table.HOLDING, 0, 1)
    assert reply_pdu.registers == [222]
    assert seen[0] == seen[1], "an RTU poll frame is built once and reused"


async def test_rtu_stale_reply_of_another_function_is_skipped() -> None:
    def reply(_tid: int, unit: int, pdu: bytes, transport: asyncio.Transport) -> None:
        transport.write(rtu_frame(unit, registers_pdu(4, [9])))  # FC04: not what we asked
        asyncio.get_running_loop().call_later(
            0.02, transport.write, rtu_frame(unit, registers_pdu(3, [33]))
        )

    async with channel_to(reply, rtu=True) as (channel, _, _):
        assert (await channel.read(5, Table.HOLDING, 0, 1)).registers == [33]


async def test_rtu_late_reply_of_another_size_is_skipped() -> None:
    """The late reply to a read that timed out (a one-register read-back after a write),
    arriving during the next read of the same unit and function, is not this read's answer:
    RTU carries no transaction id, but its length tells them apart."""
    answers: list[int] = []

    def reply(_tid: int, unit: int, pdu: bytes, transport: asyncio.Transport) -> None:
        answers.append(unit)
        loop = asyncio.get_running_loop()
        if len(answers) == 1:  # answered too late, during the next read
            loop.call_later(0.3, transport.write, rtu_frame(unit, registers_pdu(3, [7])))
        else:
            loop.call_later(0.15, transport.write, rtu_frame(unit, registers_pdu(3, [1, 2])))

    async with channel_to(reply, rtu=True, reply_timeout=0.2) as (channel, _, _):
        with pytest.raises(ModbusTimeout):
            await channel.read(5, Table.HOLDING, 4, 1)
        assert (await channel.read(5, Table.HOLDING, 76, 2)).registers == [1, 2]


async def test_rtu_late_reply_of_the_same_size_is_not_taken_for_the_next_read() -> None:
    """A late one-register reply during the next one-register read of the same unit cannot be
    told apart by length: after a timeout the channel waits a quiet interval, dropping it."""
    answers: list[int] = []

    def reply(_tid: int, unit: int, pdu: bytes, transport: asyncio.Transport) -> None:
        answers.append(unit)
        loop = asyncio.get_running_loop()
        if len(answers) == 1:  # answered 0.1 s after its timeout
            loop.call_later(0.3, transport.write, rtu_frame(unit, registers_pdu(3, [7])))
        else:
            loop.call_later(0.15, transport.write, rtu_frame(unit, registers_pdu(3, [9])))

    async with channel_to(reply, rtu=True, reply_timeout=0.2) as (channel, _, _):
        with pytest.raises(ModbusTimeout):
            await channel.read(5, Table.HOLDING, 4, 1)
        assert (await channel.read(5, Table.HOLDING, 10, 1)).registers == [9]


async def test_a_short_reply_without_a_late_one_pending_is_malformed() -> None:
    def reply(_tid: int, unit: int, pdu: bytes, transport: asyncio.Transport) -> None:
        transport.write(rtu_frame(unit, registers_pdu(3, [7])))

    async with channel_to(reply, rtu=True) as (channel, _, _):
        answer = await channel.read(5, Table.HOLDING, 76, 2)
    assert len(answer.registers) == 1  # handed on: the link reports it as malformed


async def test_exception_reply_is_a_reply() -> None:
    def reply(_tid: int, unit: int, pdu: bytes, transport: asyncio.Transport) -> None:
        transport.write(rtu_frame(unit, bytes([0x83, 0x02])))

    async with channel_to(reply, rtu=True) as (channel, _, _):
        answer = await channel.read(5, Table.HOLDING, 0, 1)
    assert answer.isError()
    assert getattr(answer, "exception_code", None) == 2


async def test_a_drop_in_flight_fails_at_once_and_is_reported() -> None:
    def reply(_tid: int, _unit: int, _pdu: bytes, transport: asyncio.Transport) -> None:
        transport.close()

    async with channel_to(reply, rtu=False, reply_timeout=5.0) as (channel, _, drops):
        with pytest.raises(ModbusConnectionError, match="connection lost"):
            await asyncio.wait_for(channel.read(1, Table.INPUT, 0, 2), 2)
        assert drops == [False]
        assert not channel.connected
        with pytest.raises(ModbusConnectionError, match="not connected"):
            await channel.read(1, Table.INPUT, 0, 2)
        assert await channel.connect(), "the channel reconnects"
        assert channel.connected


async def test_an_undecodable_reply_is_malformed() -> None:
    def reply(tid: int, unit: int, _pdu: bytes, transport: asyncio.Transport) -> None:
        # a well-framed reply whose byte count promises more than it carries
        transport.write(mbap_frame(tid, unit, bytes([3, 8, 0, 1])))

    async with channel_to(reply, rtu=False) as (channel, _, _):
        with pytest.raises(MalformedReply):
            await channel.read(1, Table.HOLDING, 0, 4)


async def test_cannot_connect_is_false_not_an_error() -> None:
    spec = LinkSpec(
        link_id="nowhere", transport=LinkTransport.TCP, host="127.0.0.1", port=1, timeout=0.2
    )
    assert not await SocketChannel(spec, lambda up: None).connect()


def test_the_channel_runs_on_uvloop_too() -> None:
    """uvloop's transports are not asyncio.Transport subclasses; the channel must not care."""

    def reply(tid: int, unit: int, _pdu: bytes, transport: asyncio.Transport) -> None:
        transport.write(mbap_frame(tid, unit, registers_pdu(3, [7, 8])))

    async def main() -> list[int]:
        async with channel_to(reply, rtu=False) as (channel, _, _):
            return list((await channel.read(1, Table.HOLDING, 0, 2)).registers)

    loop = uvloop.new_event_loop()
    try:
        assert loop.run_until_complete(main()) == [7, 8]
    finally:
        loop.close()
