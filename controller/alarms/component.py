"""The alarm service as a controller component: manager, notifier and work orders on one loop.

Policy alarms feed in through ``sources``: callables returning ``(source, active records)``
polled each tick (the policy engine's alarm book is one; see ``policy_source``), so the engine
needs no change to have its alarms kept, routed and delivered here.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from controller.core import EventBus
from controller.core.bus import BusClosed
from controller.core.events import AlarmRaised, AvailabilityChanged, StateChanged

from .manager import AlarmManager
from .model import AlarmRecord, AlarmScope, Severity
from .notify.router import Notifier

__all__ = ["AlarmService", "Source", "policy_source"]

_LOGGER = logging.getLogger(__name__)

Source = Callable[[], tuple[str, list[AlarmRecord]]]


def policy_source(engine: Any) -> Source:
    """The policy engine's active alarms as records (read through its public query)."""

    def poll() -> tuple[str, list[AlarmRecord]]:
        records = []
        for active in engine.active_alarms():
            a = active.alarm
            records.append(
                AlarmRecord(
                    key=a.key,
                    kind=a.kind,
                    severity=Severity.parse(a.severity),
                    scope=AlarmScope.DEVICE if a.entity_id else AlarmScope.SITE,
                    target=a.entity_id or a.policy_id,
                    message_zh=a.message_zh,
                    message_en=a.message_en,
                    first_seen=active.raised_at,
                    last_seen=active.raised_at,
                    evidence={**dict(a.evidence), "policy_id": a.policy_id},
                )
            )
        return "policies", records

    return poll


class AlarmService:
    name = "alarms"

    def __init__(
        self,
        manager: AlarmManager,
        bus: EventBus,
        *,
        notifier: Notifier | None = None,
        workorders: Any = None,
        sources: list[Source] | None = None,
        tick_s: float = 5.0,
    ) -> None:
        self.manager, self.bus, self.notifier = manager, bus, notifier
        self.workorders = workorders
        self.sources = list(sources or [])
        self.tick_s = tick_s
        if notifier is not None:
            manager.listeners.append(notifier)
        if workorders is not None:
            manager.listeners.append(workorders.alarm_listener)

    def step(self) -> None:
        """One round of everything that waits on time (``run`` calls it; tests may too)."""
        for source in self.sources:
            name, records = source()
            self.manager.sync(name, records)
        self.manager.tick()
        if self.notifier is not None:
            self.notifier.check(self.manager)
        if self.workorders is not None:
            self.workorders.check_sla()

    async def run(self) -> None:
        sub = self.bus.subscribe("alarms", [AvailabilityChanged, AlarmRaised, StateChanged])
        try:
            while True:
                try:
                    batch = await asyncio.wait_for(sub.get_batch(1000), self.tick_s)
                except TimeoutError:
                    batch = []
                except BusClosed:
                    return
                for event in batch:
                    self.manager.handle(event)
                self.step()
                if self.notifier is not None:  # network I/O off the event loop
                    try:
                        await asyncio.to_thread(self.notifier.deliver)
                    except sqlite3.Error:  # a full disk must not stop alarm keeping
                        _LOGGER.exception("alarm delivery round failed")
        finally:
            sub.close()

    def status(self) -> dict[str, Any]:
        active = self.manager.active()
        out: dict[str, Any] = {"active": len(active)}
        if self.notifier is not None:
            out["pending_deliveries"] = len(self.notifier.outbox.deliveries("pending"))
        return out
