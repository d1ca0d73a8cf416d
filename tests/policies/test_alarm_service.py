"""The policy engine's alarms in the one alarm list: a command that keeps failing is raised
there, acknowledged in both, and cleared when the command goes through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from controller.alarms import AlarmManager, AlarmStore
from controller.alarms.component import AlarmService
from controller.calendar import SiteCalendar
from controller.config import LoadedSite
from controller.core import FakeClock
from controller.core.commands import CommandError
from controller.core.events import Value

from .conftest import at, settle
from .rig import running
from .test_engine import CURFEW, RELAY


class Broken:
    """A relay driver that does not confirm until ``fixed``."""

    def __init__(self) -> None:
        self.fixed = False

    async def write(self, device_id: str, point_key: str, value: Value) -> Value:
        if not self.fixed:
            raise CommandError("no confirmation from the relay")
        return value


def _curfew(site: LoadedSite, tmp_path: Path, clock: FakeClock, calendar: SiteCalendar) -> Any:
    """The curfew policy, its command alarmed after 3 failures retried every 10 s."""
    return running(
        site,
        [CURFEW],
        tmp_path / "policies.sqlite3",
        clock,
        calendar,
        retry_base_s=10,
        alarm_after_failures=3,
        min_interval_s=0,
    )


async def test_a_failing_policy_command_reaches_the_one_list_and_clears(
    site: LoadedSite, tmp_path: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(at(2026, 3, 2, 22, 59, 50))
    async with _curfew(site, tmp_path, clock, calendar) as rig:
        broken = Broken()
        rig.controller.commands.register("dorm-1.101.elec", broken)
        manager = AlarmManager(AlarmStore(tmp_path / "alarms.sqlite3"), clock)
        service = AlarmService(manager, rig.controller.bus, engine=rig.engine, audit=rig.audit)
        rig.set(RELAY, True)
        for _ in range(12):  # 23:00, then retries after 10 s, 20 s
            await rig.advance(10)
            service.step()
        found = [r for r in manager.active() if r.kind == "command_failed"]
        assert [r.target for r in found] == [RELAY]
        assert found[0].evidence["policy_id"] == "curfew"
        assert found[0].evidence["source"] == "policies"
        service.ack(found[0].key, "王丽 (wangli)")
        engine_alarm = next(
            a for a in rig.engine.views.active_alarms() if a.alarm.key == found[0].key
        )
        assert engine_alarm.acked_by == "王丽 (wangli)"  # acknowledged in the engine too
        broken.fixed = True
        for _ in range(12):
            await rig.advance(10)
            service.step()
        await settle()
        assert [r.kind for r in manager.active()] == []
        assert manager.get(found[0].key).cleared_at is not None  # type: ignore[union-attr]
        manager.store.close()


async def test_an_acknowledgement_from_the_command_line_reaches_the_engine(
    site: LoadedSite, tmp_path: Path, calendar: SiteCalendar
) -> None:
    """``sanjie alarms ack`` writes into the alarm store from another process; the service
    picks it up on its tick and acknowledges the policy engine's own record too."""
    clock = FakeClock(at(2026, 3, 2, 22, 59, 50))
    async with _curfew(site, tmp_path, clock, calendar) as rig:
        rig.controller.commands.register("dorm-1.101.elec", Broken())
        manager = AlarmManager(AlarmStore(tmp_path / "alarms.sqlite3"), clock)
        service = AlarmService(manager, rig.controller.bus, engine=rig.engine, audit=rig.audit)
        rig.set(RELAY, True)
        for _ in range(12):
            await rig.advance(10)
            service.step()
        found = next(r for r in manager.active() if r.kind == "command_failed")
        cli = AlarmStore(tmp_path / "alarms.sqlite3")  # what the command line opens
        assert cli.add_ack(found.key, found.first_seen, "王丽 (wangli)", clock.time())
        cli.close()
        service.step()
        engine_alarm = next(a for a in rig.engine.views.active_alarms() if a.alarm.key == found.key)
        assert engine_alarm.acked_by == "王丽 (wangli)"
        record = manager.get(found.key)
        assert record is not None
        assert record.acked_by == "王丽 (wangli)"
        manager.store.close()
