"""The policy engine against emulated Modbus devices: real frames on loopback, one FakeClock.

The emulator's device models, the Modbus poller and the policy engine all run on the same
FakeClock, so a test moves time (a curfew at 23:00, a lock-out after three trips) while every
reading and every command crosses a real TCP connection to the emulated gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from controller.app import Controller
from controller.audit import AuditLog
from controller.calendar import SiteCalendar
from controller.config import LoadedSite
from controller.config.policies import policy_adapter
from controller.core import FakeClock
from controller.integrations.modbus import ModbusIntegration
from controller.policies.engine import PolicyEngine
from controller.policies.settings import EngineSettings
from emulators.modbus import SiteEmulator
from emulators.models import DeviceModel

SCAN_S = 5.0
"""Poll interval of every device in these tests (clock seconds)."""


@dataclasses.dataclass
class Emulated:
    emulator: SiteEmulator
    controller: Controller
    engine: PolicyEngine
    audit: AuditLog
    clock: FakeClock

    def model(self, device_id: str) -> Any:
        """The behaviour model behind an emulated device (what students and pipes do)."""
        model: DeviceModel = self.emulator.devices[device_id].bound.model
        return model

    def value(self, entity_id: str) -> Any:
        return self.controller.states.value(entity_id)

    async def advance(self, seconds: float, step: float = 1.0) -> None:
        """Move the clock in steps; after each, let polls and commands cross the network."""
        end = self.clock.time() + seconds
        while self.clock.time() < end:
            self.clock.set(min(end, self.clock.time() + step))
            await _real_pause()

    async def until(
        self, condition: Callable[[], bool], what: str, *, step: float = 1.0, limit: float = 3600
    ) -> float:
        """Advance until ``condition`` holds; returns the clock seconds it took."""
        start = self.clock.time()
        while not condition():
            if self.clock.time() - start > limit:
                raise AssertionError(f"{what}: not within {limit:g} s of clock time")
            await self.advance(step, step)
        return self.clock.time() - start


async def _real_pause(rounds: int = 4) -> None:
    """A few milliseconds of real time: loopback round trips complete."""
    for _ in range(rounds):
        await asyncio.sleep(0.002)


@contextlib.asynccontextmanager
async def emulators(
    site: LoadedSite,
    clock: FakeClock,
    links: Sequence[str],
    prepare: Callable[[SiteEmulator], None] | None = None,
) -> AsyncIterator[SiteEmulator]:
    """Emulated gateways for ``links`` on free ports; ``prepare`` adjusts device models."""
    async with SiteEmulator(site, clock, free_ports=True, latency=0.0, links=links) as emulator:
        if prepare is not None:
            prepare(emulator)
        yield emulator


@contextlib.asynccontextmanager
async def controller_for(
    emulator: SiteEmulator,
    policies: Sequence[Mapping[str, Any]],
    store: Path,
    clock: FakeClock,
    calendar: SiteCalendar,
    **settings: Any,
) -> AsyncIterator[Emulated]:
    """A controller (Modbus integration, audit log, policy engine) polling ``emulator``."""
    declared = [policy_adapter().validate_python(dict(p)) for p in policies]
    site = dataclasses.replace(emulator.site, policies=declared)
    controller = Controller(site, clock)
    modbus = ModbusIntegration(
        controller,
        endpoints={k: (e.host, e.port) for k, e in emulator.endpoints.items()},
        scan_interval=SCAN_S,
        links=list(emulator.gateways),
        timeout=1.0,
        inter_frame_gap=0.0,
    )
    audit = AuditLog(store.parent / "audit.sqlite3", clock, controller.bus)
    engine = PolicyEngine(
        controller,
        store_path=store,
        audit=audit,
        settings=EngineSettings(**settings),
        calendar=calendar,
    )
    for component in (modbus, audit, engine):
        controller.add(component)
    try:
        async with controller.running():
            world = Emulated(emulator, controller, engine, audit, clock)
            started = time.monotonic()
            while not _all_polled(controller, emulator):
                if time.monotonic() - started > 10:
                    raise AssertionError("the emulated devices were never polled")
                await world.advance(1.0)
            yield world
    finally:
        engine.close()
        audit.close()


@contextlib.asynccontextmanager
async def emulated(
    site: LoadedSite,
    policies: Sequence[Mapping[str, Any]],
    store: Path,
    clock: FakeClock,
    calendar: SiteCalendar,
    links: Sequence[str],
    *,
    prepare: Callable[[SiteEmulator], None] | None = None,
    **settings: Any,
) -> AsyncIterator[Emulated]:
    """Emulators and a controller in one block."""
    async with (
        emulators(site, clock, links, prepare) as emulator,
        controller_for(emulator, policies, store, clock, calendar, **settings) as world,
    ):
        yield world


def _all_polled(controller: Controller, emulator: SiteEmulator) -> bool:
    return all(
        any(controller.states.get(f"{device_id}.{p.key}") for p in device.bound.profile.points)
        for device_id, device in emulator.devices.items()
    )
