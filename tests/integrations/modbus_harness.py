"""Run the emulated example campus (some or all Modbus links) with a controller polling it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from controller.app import Controller
from controller.config import LoadedSite
from controller.core import Clock, SystemClock
from controller.integrations.modbus import ModbusIntegration
from emulators.modbus import SiteEmulator


@dataclass
class Running:
    emulator: SiteEmulator
    controller: Controller
    modbus: ModbusIntegration

    def polls(self) -> dict[str, int]:
        return {
            device_id: status.polls
            for poller in self.modbus.pollers.values()
            for device_id, status in poller.devices.items()
        }


@asynccontextmanager
async def running_campus(
    site: LoadedSite,
    *,
    links: Iterable[str] | None = None,
    clock: Clock | None = None,
    scan_interval: float = 0.5,
    link_timeout: float = 0.2,
    latency: float = 0.0,
    fail_threshold: int = 2,
    backoff_max: float = 0.5,
) -> AsyncIterator[Running]:
    """Emulators on free ports, a controller with the Modbus integration, both running."""
    clock = clock or SystemClock(site.campus.timezone)
    wanted = list(links) if links is not None else None
    async with SiteEmulator(site, clock, free_ports=True, latency=latency, links=wanted) as emu:
        controller = Controller(site, clock)
        modbus = ModbusIntegration(
            controller,
            endpoints={k: (e.host, e.port) for k, e in emu.endpoints.items()},
            scan_interval=scan_interval,
            links=list(emu.gateways),
            timeout=link_timeout,
            inter_frame_gap=0.0,
            fail_threshold=fail_threshold,
            backoff_max=backoff_max,
        )
        controller.add(modbus)
        async with controller.running():
            yield Running(emu, controller, modbus)


async def wait_until(condition: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    """Poll ``condition`` every 20 ms; AssertionError naming ``what`` after ``limit`` s."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
