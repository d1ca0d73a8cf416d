"""The policy engine as a controller component: readings in, commands and alarms out.

This module is the running part only: it feeds ``StateChanged`` events and scheduler wake-ups
to the pure ``EngineCore``, and carries out its outcome (commands through
``controller.commands.send``, alarms on the bus, changes to SQLite). The other jobs are their
own modules, reached through the component's attributes:

- ``guard`` (``guard.py``): vets every command other components send, manual overrides;
- ``admin`` (``admin.py``): create, edit, enable, disable and delete policies;
- ``staff`` (``staff.py``): overrides, releases, quota top-ups, alarm acknowledgements;
- ``views`` (``views.py``): balances, valve figures, alarms, dry runs (read-only).

Event-based evaluations come from the bus, time-based ones from the scheduler jobs of
``wakeups.py`` (window edges, midnight, a safety tick, the core's next deadline). Everything
runs on the controller's clock, so tests and the demo can move time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from pathlib import Path
from typing import Any

from controller.app import Controller
from controller.audit import AuditLog
from controller.calendar import SiteCalendar
from controller.core.bus import BusClosed, Overflow, Subscription
from controller.core.events import AvailabilityChanged, StateChanged
from controller.scheduler import Scheduler
from drivers.timing import EVALUATION_BUCKETS, Durations

from .admin import PolicyAdmin
from .context import EngineContext
from .core import EngineCore
from .guard import PolicyGuard
from .journal import Journal, override_target
from .model import PlannedCommand
from .outcome import Outcome
from .scope import SiteIndex
from .settings import EngineSettings
from .staff import StaffActions
from .store import PolicyStore
from .tally import GroupOf
from .views import PolicyViews
from .wakeups import Wakeups

__all__ = ["PolicyEngine"]

_LOGGER = logging.getLogger(__name__)


class PolicyEngine:
    """Runs the site's policies; see the module docstring."""

    name = "policies"

    def __init__(
        self,
        controller: Controller,
        *,
        store_path: Path | str = "var/policies.sqlite3",
        audit: AuditLog | None = None,
        settings: EngineSettings | None = None,
        calendar: SiteCalendar | None = None,
    ) -> None:
        self.controller = controller
        self.clock = controller.clock
        self.settings = settings or EngineSettings()
        store = PolicyStore(store_path)
        stored = store.load()
        self.ctx = EngineContext(
            controller=controller,
            settings=self.settings,
            calendar=calendar or SiteCalendar.from_site(controller.site),
            index=SiteIndex.from_site(controller.site),
            store=store,
            journal=Journal(audit),
            # admin binds the policies; the holds are counted per building for the overview
            core=EngineCore((), self.settings, self.clock.time(), _building_of(controller)),
        )
        self.admin = PolicyAdmin(
            self.ctx, controller.site.policies, stored.policies, on_change=self._policies_changed
        )
        self.guard = PolicyGuard(self.ctx)
        self.staff = StaffActions(self.ctx, self.admin)
        self.views = PolicyViews(self.ctx)
        core = self.ctx.core
        core.restore(stored, controller.registry)
        self.scheduler = Scheduler(self.clock, name="policies.scheduler")
        self.wakeups = Wakeups(self.scheduler, self.ctx.wake, self.settings.tick_s)
        self._queue: asyncio.Queue[PlannedCommand] = asyncio.Queue()
        self._running = False
        self.counters = {"evaluations": 0, "commands": 0, "failed": 0}
        self.last_eval_ms = 0.0
        self.evaluation_times = Durations(EVALUATION_BUCKETS)
        """How long evaluations take (the ``/api/metrics`` histogram)."""
        self._store_failing = False
        _LOGGER.info(
            "Policy engine: %d policies, %d units, %d overrides and %d alarms restored",
            len(core.policies),
            sum(len(p.units) for p in core.policies),
            len(stored.overrides),
            len(stored.alarms),
        )

    @property
    def core(self) -> EngineCore:
        """The current decision core (replaced whenever a policy changes)."""
        return self.ctx.core

    def _policies_changed(self) -> None:
        self.wakeups.install(self.core.policies)
        self.ctx.wake()

    # ------------------------------------------------------------- run loop

    async def run(self) -> None:
        """Evaluate on readings and on time until cancelled."""
        sub = self.controller.bus.subscribe(
            self.name,
            [StateChanged, AvailabilityChanged],
            maxsize=200_000,
            overflow=Overflow.DROP_OLDEST,
        )
        self.controller.commands.add_guard(self.guard)
        self.wakeups.install(self.core.policies)
        self.ctx.wake()
        try:
            async with asyncio.TaskGroup() as group:
                self._running = True
                group.create_task(self._consume(sub), name="policies.events")
                group.create_task(self.scheduler.run(), name="policies.scheduler")
                group.create_task(self._evaluate_loop(), name="policies.evaluate")
                for n in range(self.settings.max_parallel_commands):
                    group.create_task(self._commander(), name=f"policies.commander-{n}")
        finally:
            self._running = False
            sub.close()
            self.controller.commands.remove_guard(self.guard)

    async def _consume(self, sub: Subscription) -> None:
        dropped = 0
        while True:
            try:
                batch = await sub.get_batch(10_000)
            except BusClosed:
                return
            core = self.core
            for event in batch:
                if isinstance(event, StateChanged):
                    core.state_changed(event.entity_id, event.changed)
                elif isinstance(event, AvailabilityChanged):
                    core.device_changed(event.device_id)
            if sub.dropped != dropped:
                dropped = sub.dropped
                _LOGGER.warning("Policy engine lost readings: evaluating everything again")
                core.mark_all()
            self.ctx.wake()

    async def _evaluate_loop(self) -> None:
        """Evaluate when woken, at the soonest ``eval_gap_s`` after the last evaluation (by
        the wall clock or the controller's, whichever has moved more: a clock run faster, as
        in the demo and the emulated tests, shortens the gap) unless a sweep continues; the
        readings that arrive meanwhile are decided together."""
        wakeup = self.ctx.wakeup
        loop = asyncio.get_running_loop()
        gap = self.settings.eval_gap_s
        last_wall = last_clock = -math.inf
        chunked = False  # the last evaluation left part of a sweep for the next
        while True:
            await wakeup.wait()
            if not chunked:
                wall, clock = loop.time() - last_wall, self.clock.time() - last_clock
                await self._pause(gap - wall, gap - clock)
            wakeup.clear()
            last_wall, last_clock = loop.time(), self.clock.time()
            self.evaluate()
            chunked = self.core.has_work()
            if chunked:
                wakeup.set()
            await asyncio.sleep(0)  # let readings and command results in between evaluations

    async def _pause(self, wall: float, clock: float) -> None:
        """Until ``wall`` seconds of wall time or ``clock`` seconds of the controller's clock
        have passed, whichever comes first (at once if either is spent)."""
        if wall <= 0 or clock <= 0:
            return
        waits = [
            asyncio.ensure_future(asyncio.sleep(wall)),
            asyncio.ensure_future(self.clock.sleep(clock)),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    def evaluate(self) -> Outcome:
        """Evaluate now and carry out the outcome (called by the loop; tests may call it)."""
        started = time.perf_counter()
        now = self.clock.now()
        outcome = self.core.evaluate(now, self.controller.states)
        self.counters["evaluations"] += 1
        self._carry_out(outcome, now.timestamp())
        took = time.perf_counter() - started
        self.last_eval_ms = took * 1000
        self.evaluation_times.observe(took)
        self.wakeups.follow(self.core.next_deadline())
        return outcome

    def _carry_out(self, out: Outcome, ts: float) -> None:
        journal = self.ctx.journal
        self._persist(out, ts)
        for override in out.expired:
            journal.audit("system", "override.expire", override_target(override), override.reason)
        for active in out.raised:
            alarm = active.alarm
            self.controller.bus.publish(active.to_event())
            journal.note(
                "alarm", ts, alarm.entity_id or alarm.key, alarm.severity, alarm.message_en
            )
        for active in out.cleared:
            alarm = active.alarm
            target = alarm.entity_id or alarm.key
            journal.audit("system", "alarm.clear", target, alarm.message_en)
            journal.note("cleared", ts, target, alarm.severity, alarm.message_en)
        for command in out.commands:
            self._start(command)

    def _persist(self, out: Outcome, ts: float) -> None:
        store = self.ctx.store
        try:
            store.save(ts, memory=out.memory, holds=out.holds, alarms=out.raised + out.cleared)
            for override in out.expired:
                store.end_override(override.id, ts, "system", "expired")
        except Exception:  # the disk is full or gone: keep controlling, complain once
            if not self._store_failing:
                self._store_failing = True
                _LOGGER.exception("Policy store %s cannot be written", store.path)
            return
        if self._store_failing:
            self._store_failing = False
            _LOGGER.info("Policy store %s writable again", store.path)

    def _start(self, command: PlannedCommand) -> None:
        if not self._running:  # evaluated outside run(): nothing can send it
            self.core.command_done(command, False, self.clock.time())
            return
        self._queue.put_nowait(command)

    async def _commander(self) -> None:
        """One of ``max_parallel_commands`` workers sending planned commands in turn."""
        while True:
            command = await self._queue.get()
            try:
                await self._execute(command)
            finally:
                self._queue.task_done()

    async def _execute(self, command: PlannedCommand) -> None:
        result = await self.controller.commands.send(
            command.command_entity,
            command.value,
            actor=f"policy:{command.policy_id}",
            reason=command.reason,
            source="policy",
        )
        ts = self.clock.time()
        self.core.command_done(command, result.ok, ts)
        self.counters["commands"] += 1
        if not result.ok:
            self.counters["failed"] += 1
        text = command.reason if result.ok else f"FAILED {result.error} ({command.reason})"
        self.ctx.journal.note("command", ts, command.command_entity, command.value, text)
        self.ctx.wake()

    # ---------------------------------------------------------------- status

    def status(self) -> dict[str, Any]:
        """Figures for the live view and the API: counts, recent actions and active alarms.

        ``actions`` and ``alarms`` are dicts of dicts (newest first), which the live view
        shows as tables.
        """
        core = self.core
        alarms = self.views.active_alarms()
        recent = self.ctx.journal.recent
        return {
            "policies": len(core.policies),
            "units": sum(len(p.units) for p in core.policies),
            "holds": core.hold_count(),
            "overrides": len(core.overrides),
            "active_alarms": len(alarms),
            "last_eval_ms": round(self.last_eval_ms, 3),
            "queued_commands": self._queue.qsize(),
            "decide_failures": sum(core.failures.values()),
            **self.counters,
            "refused": self.guard.refused,
            "store_writes": self.ctx.store.writes,
            "store_rows_skipped": self.ctx.store.skipped,
            **core.device_change_status(),
            "actions": {
                f"{self._local(n['ts'])} #{i}": {k: v for k, v in n.items() if k != "ts"}
                for i, n in reversed(list(enumerate(recent)))
                if i >= len(recent) - 8
            },
            "alarms": {
                a.alarm.key: {
                    "severity": a.alarm.severity,
                    "since": self._local(a.raised_at),
                    "text": a.alarm.message_en,
                }
                for a in alarms[:8]
            },
        }

    def _local(self, ts: float) -> str:
        return dt.datetime.fromtimestamp(ts, self.clock.tz).strftime("%m-%d %H:%M:%S")

    def close(self) -> None:
        """Close the store (after ``run`` has ended)."""
        self.ctx.store.close()


def _building_of(controller: Controller) -> GroupOf:
    """Entity id → its building (None for an entity the registry does not know)."""
    registry = controller.registry

    def building_of(entity_id: str) -> str | None:
        entity = registry.get(entity_id)
        return None if entity is None else entity.building

    return building_of
