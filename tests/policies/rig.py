"""A controller with the policy engine, audit log and fake devices, on a FakeClock."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from controller.app import Controller
from controller.audit import AuditLog
from controller.calendar import SiteCalendar
from controller.config import LoadedSite
from controller.config.policies import policy_adapter
from controller.core import FakeClock
from controller.policies.engine import PolicyEngine
from controller.policies.settings import EngineSettings

from .conftest import FakeDevices, attach_fake_devices, settle


@dataclasses.dataclass
class Rig:
    controller: Controller
    engine: PolicyEngine
    devices: FakeDevices
    clock: FakeClock
    audit: AuditLog

    def set(self, entity: str, value: Any) -> None:
        self.controller.states.set(entity, value)

    def value(self, entity: str) -> Any:
        return self.controller.states.value(entity)

    async def advance(self, seconds: float, step: float = 1.0) -> None:
        """Move time in steps, letting the engine, scheduler and commands run after each."""
        await settle()
        end = self.clock.time() + seconds
        while self.clock.time() < end:
            self.clock.set(min(end, self.clock.time() + step))
            await settle()


@contextlib.asynccontextmanager
async def running(
    site: LoadedSite,
    policies: Sequence[Mapping[str, Any]],
    store: Path,
    clock: FakeClock,
    calendar: SiteCalendar,
    **settings: Any,
) -> AsyncIterator[Rig]:
    """Run the engine on ``site`` with ``policies`` until the block ends.

    No wall-time gap between evaluations unless a test asks for one (``eval_gap_s``): the
    clock here moves by hand, and ``settle`` lets woken tasks run without waiting."""
    settings.setdefault("eval_gap_s", 0.0)
    declared = [policy_adapter().validate_python(dict(p)) for p in policies]
    controller = Controller(dataclasses.replace(site, policies=declared), clock)
    devices = attach_fake_devices(controller)
    audit = AuditLog(store.parent / "audit.sqlite3", clock, controller.bus)
    engine = PolicyEngine(
        controller,
        store_path=store,
        audit=audit,
        settings=EngineSettings(**settings),
        calendar=calendar,
    )
    controller.add(audit)
    controller.add(engine)
    try:
        async with controller.running():
            await settle()
            yield Rig(controller, engine, devices, clock, audit)
            await settle()
    finally:
        engine.close()
        audit.close()
