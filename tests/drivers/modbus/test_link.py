"""The link against real emulated gateways: framing, error mapping, reconnects, counters."""

from __future__ import annotations

import asyncio

import pytest

from drivers.modbus import (
    LinkState,
    MalformedReply,
    ModbusConnectionError,
    ModbusExceptionReply,
    ModbusTimeout,
)
from emulators.modbus import SiteEmulator
from emulators.modbus.inject import inject
from wire.modbus import Table

from .conftest import LinkFactory

pytestmark = pytest.mark.integration

VALVES = "gw-canteen-1-valves"
METERS = "gw-canteen-1"


async def test_reads_over_modbus_tcp_and_rtu_over_tcp(connected: LinkFactory) -> None:
    async with connected(METERS) as link:
        words = await link.read(6, Table.INPUT, 0x0000, 2)  # SDM120 voltage
        assert len(words) == 2
        assert words[0] >> 8 == 0x43  # a float32 in the 200s starts 0x43..
    async with connected(VALVES) as link:
        assert len(await link.read(5, Table.HOLDING, 0, 11)) == 11
        assert link.counters.requests == 1
        assert link.counters.busy_seconds > 0


async def test_errors_are_mapped_and_counted(
    connected: LinkFactory, emulator: SiteEmulator
) -> None:
    async with connected(VALVES) as link:
        inject(emulator, "canteen-1.handwash.v02:exception=4")
        with pytest.raises(ModbusExceptionReply) as info:
            await link.read(2, Table.HOLDING, 0, 1)
        assert info.value.code == 4
        inject(emulator, "canteen-1.handwash.v02:clear")
        inject(emulator, "canteen-1.handwash.v02:no_reply")
        with pytest.raises(ModbusTimeout):
            await link.read(2, Table.HOLDING, 0, 1)
        inject(emulator, "canteen-1.handwash.v02:clear")
        inject(emulator, "canteen-1.handwash.v02:malformed=short")
        with pytest.raises(MalformedReply):
            await link.read(2, Table.HOLDING, 0, 4)
        inject(emulator, "canteen-1.handwash.v02:malformed=crc")
        with pytest.raises(ModbusTimeout):  # a frame with a bad CRC is dropped unread
            await link.read(2, Table.HOLDING, 0, 1)
        assert len(await link.read(3, Table.HOLDING, 0, 1)) == 1  # neighbours unaffected
        assert link.counters.errors == {"exception": 1, "timeout": 2, "malformed": 1}
        assert link.counters.timeouts == 2
        assert link.state is LinkState.CONNECTED  # a mute device does not drop the gateway


async def test_a_dropped_gateway_is_reconnected(
    connected: LinkFactory, emulator: SiteEmulator
) -> None:
    async with connected(METERS) as link:
        inject(emulator, f"{METERS}:refuse")
        await asyncio.sleep(0.5)  # the drop is noticed; refused reconnects back off
        with pytest.raises(ModbusConnectionError):
            await link.read(1, Table.HOLDING, 0x0800, 2)
        assert not link.connected
        assert link.counters.reconnects >= 2
        inject(emulator, f"{METERS}:clear")
        await asyncio.wait_for(link.wait_connected(), 2)
        assert len(await link.read(1, Table.HOLDING, 0x0800, 6)) == 6
