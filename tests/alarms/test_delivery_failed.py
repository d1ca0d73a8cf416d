"""A notification given up on after ``max_attempts`` is an alarm of its own, cleared when the
channel delivers again. The receiver is a real local HTTP server that refuses (503)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from controller.alarms import AlarmManager, AlarmStore
from controller.alarms.detectors import delivery_source
from controller.alarms.notify import Notifier, Outbox, Route, WebhookChannel
from controller.core import FakeClock
from controller.core.events import AvailabilityChanged

from .receivers import http_receiver

NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def test_failed_delivery_raises_notify_failed_and_clears_on_delivery(tmp_path: Path) -> None:
    clock = FakeClock(NOON)
    with http_receiver() as rx:
        manager = AlarmManager(
            AlarmStore(tmp_path / "alarms.db"), clock, buses={"gw-1": ["m1"]}, grace_s=60
        )
        outbox = Outbox(tmp_path / "outbox.db", clock, base_backoff_s=10, max_attempts=3)
        hook = WebhookChannel("hook", f"{rx.url}/hook", "k")
        notifier = Notifier(outbox, {"hook": hook}, clock, [Route(("hook",))])
        manager.listeners.append(notifier)
        source = delivery_source(outbox)

        rx.fail_next = 1000  # the receiver refuses everything
        manager.handle(AvailabilityChanged("m1", False, clock.time()))
        clock.set(clock.time() + 61)
        manager.tick()
        for _ in range(3):  # attempts at +0, +10, +20 s: then the row is failed
            assert notifier.deliver() == 0
            manager.sync(*source())
            clock.set(clock.time() + 30)
        assert next(d.state for d in outbox.deliveries()) == "failed"
        manager.sync(*source())
        alarm = manager.get("notify.failed.hook")
        assert alarm is not None
        assert alarm.active
        assert alarm.kind == "notify.failed"
        assert alarm.target == "hook"
        assert alarm.evidence["failed"] == 1
        assert "503" in str(alarm.evidence["last_error"])
        assert rx.got == []

        rx.fail_next = 0  # the channel is back: the notify.failed message itself goes through
        assert notifier.deliver() >= 1
        manager.sync(*source())
        cleared = manager.get("notify.failed.hook")
        assert cleared is not None
        assert not cleared.active
        kinds = [r.json()["kind"] for r in rx.got]
        assert "notify.failed" in kinds
