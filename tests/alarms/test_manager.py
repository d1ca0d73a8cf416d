"""The alarm manager: grace, one bus alarm, flap count, recovery, restart, the AlarmRaised feed."""

from __future__ import annotations

from pathlib import Path

from controller.alarms import AlarmManager, AlarmStore, Severity
from controller.core import AlarmRaised, FakeClock
from controller.core.events import AvailabilityChanged

BUSES = {"bus-a": ["m1", "m2", "m3"], "bus-b": ["m4"]}


def _manager(tmp_path: Path, clock: FakeClock) -> AlarmManager:
    return AlarmManager(AlarmStore(tmp_path / "alarms.db"), clock, buses=BUSES, grace_s=60)


def _off(m: AlarmManager, dev: str, ts: float) -> None:
    m.handle(AvailabilityChanged(dev, False, ts))


def test_device_offline_alarms_only_after_grace(tmp_path: Path) -> None:
    clock = FakeClock()
    m = _manager(tmp_path, clock)
    _off(m, "m1", clock.time())
    clock.set(clock.time() + 30)
    m.tick()
    assert m.active() == []
    clock.set(clock.time() + 31)
    m.tick()
    assert [r.key for r in m.active()] == ["device:m1"]
    m.handle(AvailabilityChanged("m1", True, clock.time()))
    assert m.active() == []
    assert m.get("device:m1").cleared_at == clock.time()  # type: ignore[union-attr]


def test_whole_bus_down_is_one_alarm(tmp_path: Path) -> None:
    clock = FakeClock()
    m = _manager(tmp_path, clock)
    heard: list[tuple[str, str]] = []
    m.listeners.append(lambda change, r: heard.append((change, r.key)))
    for dev in BUSES["bus-a"]:
        _off(m, dev, clock.time())
    clock.set(clock.time() + 61)
    m.tick()
    assert [r.key for r in m.active()] == ["bus:bus-a"]
    assert m.active()[0].severity is Severity.CRITICAL
    assert heard == [("raised", "bus:bus-a")]
    m.handle(AvailabilityChanged("m2", True, clock.time()))
    assert heard[-1] == ("cleared", "bus:bus-a")


def test_flapping_device_is_one_alarm_with_a_count(tmp_path: Path) -> None:
    clock = FakeClock()
    m = _manager(tmp_path, clock)
    heard: list[str] = []
    m.listeners.append(lambda change, r: heard.append(change))
    for _ in range(3):
        _off(m, "m4b", clock.time())
        m.raise_("x:1", kind="x", severity="warning", scope="device", target="m4", message_en="x")
        clock.set(clock.time() + 10)
        m.clear("x:1")
        clock.set(clock.time() + 10)
    rec = m.get("x:1")
    assert rec is not None
    assert rec.count == 3
    assert heard.count("raised") == 1


def test_restart_keeps_active_alarms(tmp_path: Path) -> None:
    clock = FakeClock()
    m = _manager(tmp_path, clock)
    m.raise_("k", kind="x", severity="critical", scope="site", target="s", message_en="boom")
    m.store.close()
    again = _manager(tmp_path, clock)
    heard: list[str] = []
    again.listeners.append(lambda change, r: heard.append(change))
    again.raise_("k", kind="x", severity="critical", scope="site", target="s", message_en="boom")
    assert [r.key for r in again.active()] == ["k"]
    assert heard == []  # not raised twice


def test_alarm_raised_events_feed_and_clear(tmp_path: Path) -> None:
    clock = FakeClock()
    m = _manager(tmp_path, clock)
    t = clock.time()
    m.handle(AlarmRaised("leak:room-101", "critical", "漏水", "leak", t, "room-101.valve"))
    assert m.active()[0].target == "room-101.valve"
    m.handle(AlarmRaised("leak:room-101", "critical", "", "", t + 5, None, {"cleared": True}))
    assert m.active() == []


def test_ack_records_the_actor(tmp_path: Path) -> None:
    clock = FakeClock()
    m = _manager(tmp_path, clock)
    m.raise_("k", kind="x", severity="warning", scope="site", target="s", message_en="x")
    rec = m.ack("k", actor="zhang.wei")
    assert rec is not None
    assert rec.acked_by == "zhang.wei"


def test_device_alarms_folded_into_a_bus_alarm_stay_closed_after_a_restart(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    m = _manager(tmp_path, clock)
    _off(m, "m1", clock.time())
    clock.set(clock.time() + 61)
    m.tick()
    assert [r.key for r in m.active()] == ["device:m1"]
    for dev in BUSES["bus-a"]:
        _off(m, dev, clock.time())
    clock.set(clock.time() + 61)
    m.tick()
    assert [r.key for r in m.active()] == ["bus:bus-a"]
    m.store.close()
    again = _manager(tmp_path, clock)
    assert [r.key for r in again.active()] == ["bus:bus-a"]
