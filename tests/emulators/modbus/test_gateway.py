"""Emulated gateways on the wire, talked to by a plain pymodbus client and raw sockets
(not by our driver), with fault injection."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerType

from controller.config import LoadedSite
from controller.core import SystemClock
from emulators.modbus import SiteEmulator, transaction_time
from emulators.modbus.frames import crc16, split_mbap, split_rtu
from emulators.modbus.inject import inject

pytestmark = pytest.mark.integration

TCP_LINK = "gw-canteen-1"  # Modbus TCP: ADL400 unit 1, DTSU666 2–4, SDM630 5, SDM120 6
RTU_LINK = "gw-canteen-1-valves"  # RTU over TCP: delay valves, units 1–20


def test_crc_known_answer() -> None:
    # Read holding 0..9 of unit 1: the textbook frame 01 03 00 00 00 0A C5 CD
    assert crc16(bytes.fromhex("01030000000A")).to_bytes(2, "little") == bytes.fromhex("C5CD")


def test_frame_splitting_handles_partial_and_bad_frames() -> None:
    buf = bytearray(bytes.fromhex("01030000000AC5CD") + bytes.fromhex("0103"))
    frames, bad = split_rtu(buf)
    assert frames == [(1, bytes.fromhex("030000000A"))]
    assert not bad
    assert buf == bytearray(bytes.fromhex("0103"))
    buf = bytearray(bytes.fromhex("01030000000AC5CE"))
    assert split_rtu(buf) == ([], True)
    mbap = bytearray(struct.pack(">HHHB", 7, 0, 6, 1) + bytes.fromhex("0300000002"))
    assert split_mbap(mbap) == ([(7, 1, bytes.fromhex("0300000002"))], False)
    assert split_mbap(bytearray(struct.pack(">HHHB", 7, 5, 6, 1))) == ([], True)


def test_rs485_transaction_time_follows_baud_rate() -> None:
    # 8-byte request, 27-byte reply (11 registers) at 9600 baud: ~48 ms on the wire
    assert transaction_time(8, 27, 9600) == pytest.approx((8 + 27 + 7) * 11 / 9600 + 0.002)
    assert transaction_time(8, 27, 19200) < transaction_time(8, 27, 9600)


@pytest.fixture
async def emulator(campus: LoadedSite) -> AsyncIterator[SiteEmulator]:
    async with SiteEmulator(
        campus, SystemClock(), free_ports=True, links=[TCP_LINK, RTU_LINK]
    ) as emu:
        yield emu


async def client(emu: SiteEmulator, link: str) -> AsyncModbusTcpClient:
    endpoint = emu.endpoints[link]
    framer = FramerType.SOCKET if link == TCP_LINK else FramerType.RTU
    c = AsyncModbusTcpClient(
        endpoint.host, port=endpoint.port, framer=framer, timeout=0.3, retries=0,
        reconnect_delay=0,
    )  # fmt: skip
    assert await c.connect()
    return c


async def test_a_gateway_serves_many_units_with_their_own_maps(emulator: SiteEmulator) -> None:
    c = await client(emulator, TCP_LINK)
    try:
        sdm120 = await c.read_input_registers(0x0000, count=2, device_id=6)
        volts = c.convert_from_registers(sdm120.registers, c.DATATYPE.FLOAT32)
        assert 200 < volts < 250  # type: ignore[operator]
        adl400 = await c.read_holding_registers(0x0800, count=6, device_id=1)
        phases = [
            c.convert_from_registers(adl400.registers[i : i + 2], c.DATATYPE.FLOAT32)
            for i in (0, 2, 4)
        ]
        assert all(200 < v < 250 for v in phases)  # type: ignore[operator]  # primary volts
        illegal = await c.read_holding_registers(0x5000, count=2, device_id=6)
        assert illegal.isError()
        assert illegal.exception_code == 2
        nobody = await c.read_holding_registers(0, count=1, device_id=99)
        assert nobody.isError()
        assert nobody.exception_code == 0x0B  # gateway target failed to respond
    finally:
        c.close()


async def test_rtu_over_tcp_reads_and_writes(emulator: SiteEmulator) -> None:
    c = await client(emulator, RTU_LINK)
    try:
        regs = await c.read_holding_registers(0, count=11, device_id=3)
        assert not regs.isError()
        assert len(regs.registers) == 11
        assert not (await c.write_register(2, 15, device_id=3)).isError()  # delay := 15 s
        regs = await c.read_holding_registers(2, count=1, device_id=3)
        assert regs.registers == [15]
        refused = await c.write_register(2, 500, device_id=3)  # outside the model's range
        assert refused.isError()
        assert refused.exception_code == 3
        read_only = await c.write_register(5, 1, device_id=3)  # the press counter
        assert read_only.isError()
        assert read_only.exception_code == 2
    finally:
        c.close()


async def test_wire_faults(emulator: SiteEmulator) -> None:
    c = await client(emulator, RTU_LINK)
    try:
        inject(emulator, "canteen-1.handwash.v04:no_reply")
        with pytest.raises(ModbusIOException):
            await c.read_holding_registers(0, count=1, device_id=4)
        inject(emulator, "canteen-1.handwash.v04:clear")
        inject(emulator, "canteen-1.handwash.v04:exception=6")
        busy = await c.read_holding_registers(0, count=1, device_id=4)
        assert busy.exception_code == 6
        inject(emulator, "canteen-1.handwash.v04:clear")
        inject(emulator, "canteen-1.handwash.v04:malformed=short")
        short = await c.read_holding_registers(0, count=4, device_id=4)
        assert len(short.registers) == 3
        inject(emulator, "canteen-1.handwash.v04:malformed=crc")
        with pytest.raises(ModbusIOException):
            await c.read_holding_registers(0, count=1, device_id=4)
        other = await c.read_holding_registers(0, count=1, device_id=5)
        assert not other.isError()
    finally:
        c.close()


async def test_gateway_drops_and_refuses_connections(emulator: SiteEmulator) -> None:
    gateway = emulator.gateways[TCP_LINK]
    inject(emulator, f"{TCP_LINK}:drop=3")
    c = await client(emulator, TCP_LINK)
    try:
        for _ in range(2):
            assert not (await c.read_holding_registers(0x0800, count=2, device_id=1)).isError()
        with pytest.raises(ModbusIOException):
            await c.read_holding_registers(0x0800, count=2, device_id=1)
        assert gateway.counters.dropped_connections == 1
    finally:
        c.close()
    inject(emulator, f"{TCP_LINK}:refuse")
    endpoint = emulator.endpoints[TCP_LINK]
    reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port)
    assert await reader.read() == b""  # accepted, then closed at once
    writer.close()
    await writer.wait_closed()


async def test_value_faults_reach_the_registers(emulator: SiteEmulator) -> None:
    c = await client(emulator, RTU_LINK)
    try:
        before = (await c.read_holding_registers(5, count=2, device_id=7)).registers
        assert before != [0, 0]
        inject(emulator, "canteen-1.handwash.v07:reset")
        after = (await c.read_holding_registers(5, count=2, device_id=7)).registers
        assert after == [0, 0]  # presses restart at zero on the new meter
        inject(emulator, "canteen-1.handwash.v07:clear")
        affected = emulator.devices["canteen-1.handwash.v07"].rollover()
        assert "presses" in affected
        top = (await c.read_holding_registers(5, count=2, device_id=7)).registers
        assert top[0] == 0xFFFF
    finally:
        c.close()
