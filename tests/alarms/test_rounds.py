"""The alarm service's rounds follow what changed: a burst of readings no rule watches costs no
round, an alarm event or a watched reading brings one within ``step_every``, and an alarm is
written to its store when it changes, not on every refresh — and is there after a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from controller.alarms import AlarmManager, AlarmStore, Severity
from controller.alarms.component import AlarmService
from controller.alarms.model import AlarmRecord, AlarmScope
from controller.alarms.rules import ThresholdRule, ThresholdRules
from controller.core import AlarmRaised, EventBus, FakeClock, SystemClock
from controller.core.events import State, StateChanged

from .campus import wait_until

RULE = ThresholdRule("freezer-warm", "canteen-1.freezer.temperature", above=-15.0)


def _reading(entity_id: str, value: float, ts: float) -> StateChanged:
    return StateChanged(entity_id, None, State(value, ts), True)


@asynccontextmanager
async def _running(service: AlarmService) -> AsyncIterator[None]:
    task = asyncio.create_task(service.run(), name="alarms")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_burst_of_unwatched_readings_costs_no_round(tmp_path: Path) -> None:
    clock = SystemClock()
    bus = EventBus()
    manager = AlarmManager(AlarmStore(tmp_path / "alarms.db"), clock, rules=ThresholdRules([RULE]))
    service = AlarmService(manager, bus, tick_s=30.0, step_every=0.2)
    async with _running(service):
        await wait_until(lambda: service.rounds == 1, "the first round, at start")
        now = clock.time()
        for burst in range(10):  # 1,000 readings of meters no rule watches
            for n in range(100):
                bus.publish(_reading(f"dorm-1.{n}.elec.power", 100.0 + burst, now))
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
        assert service.rounds == 1  # the tick is 30 s away and nothing relevant came
        bus.publish(_reading(RULE.entity_id, -5.0, now))  # watched, past the threshold
        await wait_until(lambda: "rule:freezer-warm" in {r.key for r in manager.active()}, "rule")
        await wait_until(lambda: service.rounds == 2, "a round for the watched reading", limit=1)
        for n in range(1000):  # a storm of alarm events: coalesced into a round or two
            bus.publish(AlarmRaised(f"test.{n % 10}", "warning", "x", "x", now))
            if n % 100 == 0:
                await asyncio.sleep(0.01)
        await wait_until(lambda: len(manager.active()) == 11, "the ten event alarms")
        await asyncio.sleep(0.5)
        assert 3 <= service.rounds <= 5
    manager.store.close()


async def test_a_claimed_key_raised_by_an_event_clears_without_its_detector_seeing_it(
    tmp_path: Path,
) -> None:
    """The recorder's outbox warning arrives on the bus; the outbox drains before the detector
    polls. The detector never reports the alarm, yet its first poll clears it."""
    clock = FakeClock(1000.0)
    manager = AlarmManager(AlarmStore(tmp_path / "alarms.db"), clock)
    manager.claim("recorder.outbox_near_full", "outbox")
    manager.handle(AlarmRaised("recorder.outbox_near_full", "warning", "满", "full", 1000.0))
    manager.sync("recorder", [])  # another source's poll leaves it alone
    assert [r.key for r in manager.active()] == ["recorder.outbox_near_full"]
    manager.sync("outbox", [], ts=1001.0)
    assert manager.active() == []
    cleared = manager.store.get("recorder.outbox_near_full")
    assert cleared is not None
    assert cleared.cleared_at == 1001.0


def test_an_alarm_is_stored_when_it_changes_and_a_restart_restores_it(tmp_path: Path) -> None:
    """Polled sources refresh every active alarm on every round; a refresh that changes only
    ``last_seen`` is stored once a minute, a change of evidence or severity at once."""
    clock = FakeClock(1000.0)
    path = tmp_path / "alarms.db"
    manager = AlarmManager(AlarmStore(path), clock)

    def poll(ts: float, fill: float, severity: Severity = Severity.WARNING) -> None:
        record = AlarmRecord(
            "outbox", "outbox_near_full", severity, AlarmScope.SITE, "recorder", "满", "full",
            ts, ts, evidence={"fill": fill},
        )  # fmt: skip
        manager.sync("outbox", [record], ts=ts)

    poll(1000.0, 0.8)
    for second in range(1, 59):  # a round a second, nothing new
        poll(1000.0 + second, 0.8)
    stored = manager.store.get("outbox")
    assert stored is not None
    assert stored.last_seen == 1000.0
    assert manager.active()[0].last_seen == 1058.0
    poll(1059.0, 0.9)  # new evidence: stored now
    poll(1060.0, 0.9, Severity.CRITICAL)  # and a higher severity
    stored = manager.store.get("outbox")
    assert stored is not None
    assert stored.evidence["fill"] == 0.9
    assert stored.severity is Severity.CRITICAL
    poll(1120.0, 0.9, Severity.CRITICAL)  # a minute without a store: last_seen written
    stored = manager.store.get("outbox")
    assert stored is not None
    assert stored.last_seen == 1120.0
    manager.store.close()
    again = AlarmManager(AlarmStore(path), clock)
    [restored] = again.active()
    assert (restored.key, restored.severity, restored.evidence["fill"]) == (
        "outbox",
        Severity.CRITICAL,
        0.9,
    )
    again.sync("outbox", [], ts=1130.0)  # the restored alarm is still the detector's
    assert again.active() == []
    again.store.close()
