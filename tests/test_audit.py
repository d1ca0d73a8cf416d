"""The append-only audit log."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from controller.audit import AuditLog
from controller.core import EventBus, FakeClock
from controller.core.events import AlarmRaised, CommandCompleted


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_772_463_600.0)


def test_record_and_query(tmp_path: Path, clock: FakeClock) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3", clock)
    log.record("staff:wang", "override.grant", "dorm-1.305.ac", reason="sick student")
    clock.advance(60)
    log.record(
        "policy:curfew", "command", "dorm-1.305.elec.relay", result="ok", details={"value": False}
    )
    log.record("staff:li", "quota.top_up", "dorm-1/305", details={"amount": 10})
    assert [e.action for e in log.query()] == ["quota.top_up", "command", "override.grant"]
    assert [e.actor for e in log.query(actor="staff:wang")] == ["staff:wang"]
    assert {e.target for e in log.query(target="dorm-1.305")} == {
        "dorm-1.305.ac",
        "dorm-1.305.elec.relay",
    }
    assert [e.target for e in log.query(target="dorm-1.305.elec")] == ["dorm-1.305.elec.relay"]
    assert [e.target for e in log.query(since=clock.time())] == [
        "dorm-1/305",
        "dorm-1.305.elec.relay",
    ]
    entry = log.query(action="command")[0]
    assert entry.details == {"value": False}
    assert entry.to_json()["reason"] == ""
    log.close()


def test_history_cannot_be_rewritten(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "audit.sqlite3"
    log = AuditLog(path, clock)
    log.record("staff:wang", "policy.delete", "curfew", reason="test")
    log.close()
    db = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit SET actor='nobody'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit")
    db.close()
    reopened = AuditLog(path, clock)
    assert [e.actor for e in reopened.query()] == ["staff:wang"]
    reopened.close()


async def test_records_commands_and_alarms_from_the_bus(tmp_path: Path, clock: FakeClock) -> None:
    bus = EventBus()
    log = AuditLog(tmp_path / "audit.sqlite3", clock, bus)
    async with asyncio.TaskGroup() as group:
        task = group.create_task(log.run(), name="audit")
        await asyncio.sleep(0)
        bus.publish(
            CommandCompleted(
                "dorm-1.101.elec.relay",
                False,
                True,
                "policy:curfew",
                "curfew",
                clock.time(),
                None,
                "policy",
            )
        )
        bus.publish(
            CommandCompleted(
                "dorm-1.101.ac.power_switch",
                "on",
                False,
                "app",
                "",
                clock.time(),
                "AC allowed only 12:00–14:30",
                "app",
            )
        )
        bus.publish(
            AlarmRaised(
                "leak:x",
                "critical",
                "漏水",
                "leak",
                clock.time(),
                "dorm-1.101.cold.flow",
                {"flow_lpm": 3},
            )
        )
        for _ in range(5):
            await asyncio.sleep(0)
        task.cancel()
    entries = log.query()
    assert [(e.action, e.result, e.source) for e in entries] == [
        ("alarm.raise", "critical", "alarm"),
        ("command", "AC allowed only 12:00–14:30", "app"),
        ("command", "ok", "policy"),
    ]
    assert entries[0].details == {"alarm_id": "leak:x", "flow_lpm": 3}
    assert log.status()["recorded"] == 3
    log.close()
