"""Fixtures for driver tests against the real emulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest

from controller.config import LoadedSite, load_site
from controller.core import SystemClock
from drivers.modbus import LinkSpec, ModbusLink, Transport
from emulators.modbus import Framing, SiteEmulator
from tests.conftest import EXAMPLE_SITE


@pytest.fixture(scope="session")
def campus() -> LoadedSite:
    return load_site(EXAMPLE_SITE)


@pytest.fixture
async def emulator(campus: LoadedSite) -> AsyncIterator[SiteEmulator]:
    """The canteen's Modbus TCP gateway and its RTU-over-TCP valve bus, on free ports."""
    async with SiteEmulator(
        campus, SystemClock(), free_ports=True, links=["gw-canteen-1", "gw-canteen-1-valves"]
    ) as emu:
        yield emu


LinkFactory = Callable[[str], AbstractAsyncContextManager[ModbusLink]]


@pytest.fixture
def connected(emulator: SiteEmulator) -> LinkFactory:
    """``async with connected(link_id) as link``: a running, connected link to the emulator."""

    @asynccontextmanager
    async def open_link(link_id: str) -> AsyncIterator[ModbusLink]:
        endpoint = emulator.endpoints[link_id]
        transport = Transport.TCP if endpoint.framing is Framing.TCP else Transport.RTU_OVER_TCP
        link = ModbusLink(
            LinkSpec(
                link_id=link_id,
                transport=transport,
                host=endpoint.host,
                port=endpoint.port,
                timeout=0.2,
                reconnect_min=0.05,
                reconnect_max=0.2,
            )
        )
        async with asyncio.TaskGroup() as group:
            task = group.create_task(link.run(), name=f"link-{link_id}")
            await asyncio.wait_for(link.wait_connected(), 2)
            try:
                yield link
            finally:
                task.cancel()

    return open_link
