"""The alarm service as a controller component: manager, notifier and work orders on one loop.

Every alarm of the controller ends up in the one ``AlarmManager``:

* bus events — ``AlarmRaised``/``AlarmCleared`` from policies, the recorder and supervision
  (``component.*``), ``AvailabilityChanged`` from drivers, ``StateChanged`` for threshold rules;
* ``sources`` polled each tick, each answering its whole active set: the policy engine's alarm
  book (``policy_source``, which also carries the engine's acknowledgements over) and the
  detectors of ``detectors.py`` (broker, database, outbox, calendar);
* the aggregate rules (``aggregates.py``), an async step of their own after each tick: they
  query the recorder's hourly statistics when an hour has completed, and answer their active
  set like a source.

Alarms the manager raises itself (devices, buses, rules, detectors) are published on the bus
like any other, so the audit log and live views see them. Acknowledging a policy alarm here
acknowledges it in the engine too (audited there); other acknowledgements are audited here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sqlite3
from collections.abc import Sequence
from typing import Any

from controller.core import AlarmCleared, AlarmRaised, EventBus
from controller.core.bus import BusClosed
from controller.core.events import AvailabilityChanged, Event, StateChanged

from .aggregates import AGGREGATE_SOURCE, AggregateRules
from .detectors import Source
from .manager import OWN_SOURCES, AlarmManager
from .model import AlarmError, AlarmRecord, AlarmScope, Severity
from .notify.outbox import Outbox
from .notify.router import Notifier

__all__ = ["AlarmService", "Source", "alarm_service", "policy_source"]

_LOGGER = logging.getLogger(__name__)

POLICY_SOURCE = "policies"

STEP_EVERY = 0.5
"""Wall seconds from one round to the next at the soonest while relevant events stream in:
the bound on how late a raised alarm is notified."""


def policy_source(engine: Any) -> Source:
    """The policy engine's active alarms as records, read through its public views."""

    def poll() -> tuple[str, list[AlarmRecord]]:
        records = []
        for active in engine.views.active_alarms():
            a = active.alarm
            record = AlarmRecord(
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
                acked_by=active.acked_by,
                acked_at=active.acked_at,
            )
            records.append(record)
        return POLICY_SOURCE, records

    return poll


def alarm_service(components: Sequence[Any]) -> AlarmService | None:
    """The running alarm service among ``components`` (None: the policy engine's list is
    the only one, e.g. a test controller without the service)."""
    return next((c for c in components if isinstance(c, AlarmService)), None)


class AlarmService:
    """The one alarm list of the controller; see the module docstring."""

    name = "alarms"

    def __init__(
        self,
        manager: AlarmManager,
        bus: EventBus,
        *,
        notifier: Notifier | None = None,
        outbox: Outbox | None = None,
        workorders: Any = None,
        sources: Sequence[Source] = (),
        engine: Any = None,
        audit: Any = None,
        aggregates: AggregateRules | None = None,
        tick_s: float = 5.0,
        step_every: float = STEP_EVERY,
    ) -> None:
        self.manager, self.bus, self.notifier = manager, bus, notifier
        self.outbox = outbox if outbox is not None else notifier.outbox if notifier else None
        self.workorders, self.engine, self.audit = workorders, engine, audit
        self.sources = list(sources)
        if engine is not None:
            self.sources.insert(0, policy_source(engine))
        self.aggregates = aggregates
        self._seeded = False
        self.tick_s = tick_s
        self.step_every = step_every
        self.rounds = 0
        self.bad_events = 0
        """Events refused (e.g. an unknown severity): counted and logged, the rest go on."""
        self._own_clears: set[tuple[str, float]] = set()
        """(key, time) of the clears we announced, skipped when they come back."""
        manager.listeners.append(self._announce)
        manager.listeners.append(self._ack_in_engine)
        if notifier is not None:
            manager.listeners.append(notifier)
        if workorders is not None:
            manager.listeners.append(workorders.alarm_listener)

    def alarms(self, *, history: bool = False, limit: int = 1000) -> list[AlarmRecord]:
        """Active alarms, worst and oldest first; with ``history`` the latest of every kind
        (active and cleared), newest first."""
        if history:
            return self.manager.store.history(limit)
        return self.manager.active()

    def ack(self, key: str, actor: str) -> AlarmRecord | None:
        """``actor`` (an authenticated account) acknowledges ``key``; None if not active."""
        record = self.manager.get(key)
        if record is None or not record.active:
            return None
        if record.evidence.get("source") == POLICY_SOURCE and self.engine is not None:
            self.engine.staff.acknowledge(key, actor=actor)  # audited by the engine
        elif self.audit is not None and record.acked_at is None:
            self.audit.record(
                actor, "alarm.ack", record.target, reason=record.message_en, source="alarm"
            )
        return self.manager.ack(key, actor)

    def step(self) -> None:
        """One round of everything that waits on time (``run`` calls it; tests may too)."""
        for source in self.sources:
            try:
                name, records = source()
            except Exception:  # one broken detector must not stop alarm keeping
                _LOGGER.exception("alarm source %r failed", source)
                continue
            self.manager.sync(name, records)
        self.manager.tick()
        if self.notifier is not None:
            self.notifier.check(self.manager)
        if self.workorders is not None:
            self.workorders.check_sla()
        self.rounds += 1

    async def evaluate_aggregates(self) -> None:
        """Judge the aggregate rules' newly completed periods (``run`` calls it after each
        ``step``; tests may too). The recorder not running yet, or its query failing, skips the
        round and keeps the alarms as they are."""
        if self.aggregates is None:
            return
        if not self._seeded:
            self.aggregates.seed(self.manager.active())
            self._seeded = True
        try:
            records = await self.aggregates.evaluate(self.manager.clock.time())
        except RuntimeError as err:  # the recorder's query exists only while it runs
            _LOGGER.debug("Aggregate rules wait for the recorder: %s", err)
            return
        except Exception:  # the boundary: a failing query must not stop alarm keeping
            _LOGGER.exception("Aggregate rules could not query the consumption statistics")
            return
        if records is not None:
            self.manager.sync(AGGREGATE_SOURCE, records)

    def handle(self, event: Event) -> None:
        """One bus event; an ``AlarmCleared`` (supervision's, the calendar watch's) clears the
        alarm of its id. Our own announcements coming back are skipped: a clear of ours must
        not clear the alarm again once a polled source has re-raised it (a foreign clear of an
        alarm its source still reports would otherwise bounce between the two forever)."""
        if isinstance(event, AlarmCleared):
            own = (event.alarm_id, event.timestamp)
            if own in self._own_clears:
                self._own_clears.discard(own)
                return
            self.manager.clear(event.alarm_id, event.timestamp)
        elif isinstance(event, AlarmRaised) and event.evidence.get("source") in OWN_SOURCES:
            return  # our own announcement coming back
        else:
            self.manager.handle(event)

    def _relevant(self, event: Event) -> bool:
        """Whether ``event`` may have changed what a round acts on (an alarm raised or cleared,
        a device gone or back, a reading a threshold rule watches): such an event brings the
        next round forward to ``step_every`` after the last one. Other readings wait for the
        tick."""
        if isinstance(event, StateChanged):
            rules = self.manager.rules
            return rules is not None and rules.watches(event.entity_id)
        return True

    async def run(self) -> None:
        """Handle bus events as they come; run a round (``step``, the aggregate rules,
        deliveries) every ``tick_s``, or ``step_every`` after the last round once a relevant
        event arrived — at once when the last round is older than that.

        A round after every batch meant ~80 rounds a second on a big campus, each polling every
        source and refreshing every active alarm; coalesced, a burst of events costs a round or
        two, and a raised alarm is still delivered within ``step_every``. Readings are
        subscribed to only when threshold rules need them."""
        kinds: list[type[Event]] = [AvailabilityChanged, AlarmRaised, AlarmCleared]
        if self.manager.rules is not None:
            kinds.append(StateChanged)
        sub = self.bus.subscribe("alarms", kinds)
        rules = self.manager.rules
        watches = rules.watches if rules is not None else None
        loop = asyncio.get_running_loop()
        last = -math.inf  # the first round runs at once
        due = False  # a relevant event arrived since the last round
        try:
            while True:
                gap = min(self.step_every, self.tick_s) if due else self.tick_s
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation
                # that arrives as the batch completes (a busy bus), and the controller hangs on stop
                try:
                    async with asyncio.timeout(max(0.0, last + gap - loop.time())):
                        batch = await sub.get_batch(1000)
                except TimeoutError:
                    batch = []
                except BusClosed:
                    return
                for event in batch:
                    # a reading no rule reads changes nothing and brings no round forward: the
                    # campus's other 13,000 readings a second skip the handling entirely
                    if event.__class__ is StateChanged and (
                        watches is None or not watches(event.entity_id)
                    ):
                        continue
                    try:
                        self.handle(event)
                    except AlarmError as err:  # one bad announcement must not stop the rest
                        self.bad_events += 1
                        _LOGGER.warning("Alarm event %s refused: %s", type(event).__name__, err)
                    due = due or self._relevant(event)
                gap = min(self.step_every, self.tick_s) if due else self.tick_s
                if batch and loop.time() - last < gap:
                    continue
                last, due = loop.time(), False
                await self._round()
        finally:
            sub.close()

    async def _round(self) -> None:
        """Everything that waits on time, then the deliveries it queued."""
        self.step()
        await self.evaluate_aggregates()
        if self.notifier is not None:
            await self._deliver(self.notifier)

    async def _deliver(self, notifier: Notifier) -> None:
        """One delivery round, its network I/O on a thread. A stop meanwhile waits for the
        thread: ``close`` after the stop would close the outbox's SQLite connection under a
        thread still writing to it, which crashes the process."""
        delivery = asyncio.ensure_future(asyncio.to_thread(notifier.deliver))
        try:
            await asyncio.shield(delivery)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):  # the stop is what matters now
                await delivery
            raise
        except sqlite3.Error:  # a full disk must not stop alarm keeping
            _LOGGER.exception("alarm delivery round failed")

    def _ack_in_engine(self, change: str, record: AlarmRecord) -> None:
        """Carry an acknowledgement of a policy alarm that did not come through ``ack`` (the
        command line writes it into the alarm store; the manager picks it up on its tick) over
        to the policy engine, whose own record the command line cannot reach."""
        if change != "acked" or self.engine is None or record.acked_by is None:
            return
        if record.evidence.get("source") != POLICY_SOURCE:
            return
        for active in self.engine.views.active_alarms():
            if active.alarm.key == record.key:
                if active.acked_by is None:
                    self.engine.staff.acknowledge(record.key, actor=record.acked_by)
                return

    def _announce(self, change: str, record: AlarmRecord) -> None:
        """Publish the alarms the manager raised itself, for the audit log and live views."""
        if record.evidence.get("source") not in OWN_SOURCES:
            return
        if change == "raised":
            self.bus.publish(
                AlarmRaised(
                    record.key,
                    str(record.severity),
                    record.message_zh,
                    record.message_en,
                    record.first_seen,
                    record.target if record.scope is AlarmScope.DEVICE else None,
                    dict(record.evidence),
                    record.kind,
                )
            )
        elif change == "cleared":
            ts = record.cleared_at or record.last_seen
            if len(self._own_clears) > 10_000:  # ones our lagging subscription dropped: forget
                self._own_clears.clear()
            self._own_clears.add((record.key, ts))
            self.bus.publish(
                AlarmCleared(
                    record.key,
                    ts,
                    f"已恢复：{record.message_zh}",
                    f"cleared: {record.message_en}",
                )
            )

    def describe(self) -> str:
        """One line for the start-up log."""
        channels = len(self.notifier.channels) if self.notifier is not None else 0
        rules = self.manager.rules.count if self.manager.rules is not None else 0
        aggregates = self.aggregates.count if self.aggregates is not None else 0
        orders = "on" if self.workorders is not None else "off"
        return (
            f"{len(self.sources)} sources, {rules} threshold rules, {aggregates} aggregate rules, "
            f"{channels} notification channels, work orders {orders}"
        )

    def close(self) -> None:
        """Close the files (after the controller stopped)."""
        self.manager.store.close()
        if self.outbox is not None:
            self.outbox.close()
        if self.workorders is not None:
            self.workorders.store.close()

    def status(self) -> dict[str, Any]:
        active = self.manager.active()
        out: dict[str, Any] = {
            "rounds": self.rounds,
            "bad_events": self.bad_events,
            "active": len(active),
            "critical": sum(1 for r in active if r.severity is Severity.CRITICAL),
            "unacknowledged": sum(1 for r in active if r.acked_at is None),
        }
        if self.notifier is not None:
            out["pending_deliveries"] = self.notifier.outbox.count("pending")
            out["failed_deliveries"] = self.notifier.outbox.count("failed")
        return out
