"""``sanjie alarms`` and ``sanjie workorder`` on the controller's real state files."""

from __future__ import annotations

from pathlib import Path

from argon2 import PasswordHasher
from typer.testing import CliRunner

from controller.accounts import AccountStore, Role
from controller.alarms import AlarmManager, AlarmStore
from controller.audit import AuditLog
from controller.cli import app
from controller.core import FakeClock, SystemClock
from controller.core.events import AvailabilityChanged
from controller.service import state_dir

from .campus import example_site


def _accounts(data: Path) -> None:
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    store = AccountStore(state_dir(data) / "accounts.sqlite3", FakeClock(), hasher=fast)
    store.add("wangli", Role.OPERATOR, "correct horse battery", display_name="王丽")
    store.add("view", Role.VIEWER, "correct horse battery")
    store.close()


def _bus_down(data: Path) -> AlarmManager:
    clock = SystemClock()
    manager = AlarmManager(
        AlarmStore(state_dir(data) / "alarms.sqlite3"),
        clock,
        buses={"gw-1": ["dorm-1.101.elec", "dorm-1.102.elec"]},
        grace_s=0,
    )
    for device in ("dorm-1.101.elec", "dorm-1.102.elec"):
        manager.handle(AvailabilityChanged(device, False, clock.time()))
    manager.tick()
    return manager


def test_alarms_list_and_ack_reach_the_running_manager(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    _accounts(tmp_path)
    manager = _bus_down(tmp_path)  # the "running service"
    listed = runner.invoke(app, ["alarms", "list", "--json", *data])
    assert listed.exit_code == 0, listed.output
    assert '"key": "bus:gw-1"' in listed.output
    refused = runner.invoke(app, ["alarms", "ack", "bus:gw-1", "--as", "view", *data])
    assert refused.exit_code == 1
    assert "needs operator" in refused.output
    done = runner.invoke(app, ["alarms", "ack", "bus:gw-1", "--as", "wangli", *data])
    assert done.exit_code == 0, done.output
    manager.tick()  # the service's next tick picks the acknowledgement up
    record = manager.get("bus:gw-1")
    assert record is not None
    assert record.acked_by == "王丽 (wangli)"
    audit = AuditLog(state_dir(tmp_path) / "audit.sqlite3", SystemClock())
    assert [e.actor for e in audit.query(action="alarm.ack")] == ["王丽 (wangli)"]
    audit.close()
    again = runner.invoke(app, ["alarms", "ack", "bus:gw-1", "--as", "wangli", *data])
    assert "already acknowledged" in again.output
    missing = runner.invoke(app, ["alarms", "ack", "bus:nope", "--as", "wangli", *data])
    assert missing.exit_code == 1
    manager.store.close()


def test_workorder_life_cycle_and_the_offline_device_check(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path), "--as", "wangli"]
    example_site(tmp_path, "")
    site = ["--site", str(tmp_path / "campus" / "site.yaml")]
    _accounts(tmp_path)
    manager = _bus_down(tmp_path)
    opened = runner.invoke(
        app,
        [
            "workorder",
            "open",
            "--room",
            "dorm-1/101",
            "--category",
            "electricity",
            "--description",
            "房间没电",
            "--device",
            "dorm-1.101.elec",
            *site,
            *data,
        ],
    )
    assert opened.exit_code == 0, opened.output
    assert "work order 1: new" in opened.output
    for step in (["assign", "1", "li.si"], ["start", "1"], ["done", "1"]):
        result = runner.invoke(app, ["workorder", *step, *data])
        assert result.exit_code == 0, result.output
    refused = runner.invoke(app, ["workorder", "close", "1", "--note", "换了空开", *data])
    assert refused.exit_code == 1
    assert "still offline" in refused.output
    manager.handle(AvailabilityChanged("dorm-1.101.elec", True, SystemClock().time()))
    manager.handle(AvailabilityChanged("dorm-1.102.elec", True, SystemClock().time()))
    closed = runner.invoke(app, ["workorder", "close", "1", "--note", "换了空开", *data])
    assert closed.exit_code == 0, closed.output
    assert "closed" in closed.output
    bad = runner.invoke(
        app,
        [
            "workorder",
            "open",
            "--room",
            "dorm-1/101",
            "--category",
            "pets",
            "--description",
            "x",
            *site,
            *data,
        ],
    )
    assert bad.exit_code == 1
    assert "category" in bad.output
    base = ["workorder", "open", "--category", "water", "--description", "x", *site, *data]
    no_room = runner.invoke(app, [*base, "--room", "dorm-1/999"])
    assert no_room.exit_code == 1
    assert "no room, area or building 'dorm-1/999'" in no_room.output
    no_device = runner.invoke(app, [*base, "--room", "dorm-1/101", "--device", "dorm-1.999.x"])
    assert no_device.exit_code == 1
    assert "no device 'dorm-1.999.x'" in no_device.output
    wrong = ["--room", "dorm-1/101", "--site", str(tmp_path / "nope.yaml")]
    no_site = runner.invoke(
        app, ["workorder", "open", "--category", "water", "--description", "x", *wrong, *data]
    )
    assert no_site.exit_code == 1
    link = runner.invoke(app, ["workorder", "link", "dorm-1/101", *data])
    assert link.output.startswith("/r/")
    manager.store.close()
