"""A controller polling an emulated mixed bus: Modbus, DL/T 645 and CJ/T 188 gateways and a
DL/T 645 pseudo-terminal, all on free ports, optionally with the policy engine."""

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
from controller.config import LoadedSite, load_site
from controller.config.policies import policy_adapter
from controller.core import Clock, FakeClock
from controller.integrations.meters import MeterIntegration
from controller.integrations.modbus import ModbusIntegration
from controller.policies.engine import PolicyEngine
from controller.policies.settings import EngineSettings
from emulators.meterbus.site import MeterSiteEmulator
from emulators.modbus import SiteEmulator

SITE = Path(__file__).parent / "meter_site" / "site.yaml"


def meter_site() -> LoadedSite:
    return load_site(SITE)


@dataclasses.dataclass
class Mixed:
    modbus_emulator: SiteEmulator
    meter_emulator: MeterSiteEmulator
    controller: Controller
    modbus: ModbusIntegration
    meters: MeterIntegration
    engine: PolicyEngine | None = None
    audit: AuditLog | None = None

    def value(self, entity_id: str) -> Any:
        return self.controller.states.value(entity_id)

    def all_polled(self) -> bool:
        site = self.controller.site
        return all(
            all(
                self.controller.states.get(f"{device_id}.{p.key}") is not None
                for p in site.profile_of(site.devices[device_id]).points
            )
            for device_id in [*self.modbus_emulator.devices, *self.meter_emulator.devices]
        )


async def wait_for(condition: Callable[[], bool], what: str, limit: float = 10.0) -> None:
    """Poll ``condition`` every 20 ms of real time; AssertionError naming ``what``."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def advance_until(
    clock: FakeClock,
    condition: Callable[[], bool],
    what: str,
    *,
    step: float = 1.0,
    limit: float = 3600,
) -> float:
    """Move a fake clock in steps (letting loopback traffic through) until ``condition``."""
    start = clock.time()
    while not condition():
        if clock.time() - start > limit:
            raise AssertionError(f"{what}: not within {limit:g} s of clock time")
        clock.set(clock.time() + step)
        for _ in range(4):
            await asyncio.sleep(0.002)
    return clock.time() - start


@contextlib.asynccontextmanager
async def mixed_bus(
    site: LoadedSite,
    clock: Clock,
    *,
    scan_interval: float = 0.3,
    link_timeout: float = 0.3,
    policies: Sequence[Mapping[str, Any]] = (),
    store: Path | None = None,
    calendar: SiteCalendar | None = None,
    prepare: Callable[[SiteEmulator, MeterSiteEmulator], None] | None = None,
) -> AsyncIterator[Mixed]:
    """Emulators and a controller polling them (with a policy engine when ``policies``)."""
    if policies:
        declared = [policy_adapter().validate_python(dict(p)) for p in policies]
        site = dataclasses.replace(site, policies=declared)
    async with (
        SiteEmulator(site, clock, free_ports=True, latency=0.0) as modbus_emu,
        MeterSiteEmulator(site, clock, free_ports=True, latency=0.0) as meter_emu,
    ):
        if prepare is not None:
            prepare(modbus_emu, meter_emu)
        controller = Controller(site, clock)
        options: dict[str, Any] = {
            "scan_interval": scan_interval,
            "timeout": link_timeout,
            "inter_frame_gap": 0.0,
            "fail_threshold": 2,
            "backoff_max": 1.0,
        }
        modbus = ModbusIntegration(
            controller,
            endpoints={k: (e.host, e.port) for k, e in modbus_emu.endpoints.items()},
            **options,
        )
        meters = MeterIntegration(
            controller,
            endpoints={k: (e.host, e.port) for k, e in meter_emu.endpoints.items()},
            **options,
        )
        world = Mixed(modbus_emu, meter_emu, controller, modbus, meters)
        controller.add(modbus)
        controller.add(meters)
        if policies:
            assert store is not None
            assert calendar is not None
            world.audit = AuditLog(store.parent / "audit.sqlite3", clock, controller.bus)
            world.engine = PolicyEngine(
                controller,
                store_path=store,
                audit=world.audit,
                settings=EngineSettings(),
                calendar=calendar,
            )
            controller.add(world.audit)
            controller.add(world.engine)
        try:
            async with controller.running():
                yield world
        finally:
            if world.engine is not None:
                world.engine.close()
            if world.audit is not None:
                world.audit.close()
