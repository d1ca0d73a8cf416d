"""The provisional-year alarm from its two paths (issue 12, item 1).

``CalendarWatch`` announces ``calendar.provisional.YEAR`` on the bus; the alarm service's
calendar detector reports the same key from its poll. Each path is tested alone (an upcoming
date of a provisional year raises it, entering the year's notice in the holidays file clears
it), then both on one running controller: one alarm, one notification, cleared by the reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import zoneinfo
from collections.abc import Callable
from pathlib import Path

import pytest

from controller.alarms.build import build_alarms
from controller.alarms.detectors import calendar_source
from controller.alarms.manager import AlarmManager
from controller.alarms.model import AlarmRecord
from controller.alarms.store import AlarmStore
from controller.app import Controller
from controller.assemble import ControllerOptions, build_controller
from controller.calendar import SiteCalendar
from controller.calendar_watch import PROVISIONAL_KIND, CalendarWatch
from controller.config import LoadedSite, load_site
from controller.core import AlarmCleared, AlarmRaised, FakeClock
from tests.test_calendar_watch import NOTICE_2027, SITE

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
KEY = "calendar.provisional.2027"


def _clock(month: int, day: int) -> FakeClock:
    return FakeClock(dt.datetime(2026, month, day, 9, 0, tzinfo=TZ))


@pytest.fixture
def site(tmp_path: Path) -> LoadedSite:
    (tmp_path / "site.yaml").write_text(SITE, encoding="utf-8")
    (tmp_path / "holidays.yaml").write_text("holidays: []\n", encoding="utf-8")
    return load_site(tmp_path / "site.yaml")


def _enter_notice(site: LoadedSite) -> None:
    (site.source.parent / "holidays.yaml").write_text(NOTICE_2027, encoding="utf-8")


def _manager(tmp_path: Path, clock: FakeClock) -> tuple[AlarmManager, list[tuple[str, str]]]:
    manager = AlarmManager(AlarmStore(tmp_path / "alarms.sqlite3"), clock)
    heard: list[tuple[str, str]] = []
    manager.listeners.append(lambda change, record: heard.append((change, record.key)))
    return manager, heard


def test_the_detector_raises_60_days_ahead_and_clears_on_the_notice(
    site: LoadedSite, tmp_path: Path
) -> None:
    calendar = SiteCalendar.from_site(site)
    assert calendar_source(calendar, _clock(11, 1))()[1] == []  # 61 days before 1 January
    clock = _clock(11, 2)
    poll = calendar_source(calendar, clock)
    name, (record,) = poll()
    assert (name, record.key, record.kind) == ("calendar", KEY, PROVISIONAL_KIND)
    assert record.evidence["first_day"] == "2027-01-01"  # the first provisional date ahead
    assert "State Council" in record.message_en
    assert "holidays.yaml" in record.message_en
    assert "国务院" in record.message_zh
    manager, heard = _manager(tmp_path, clock)
    manager.sync(*poll())
    manager.sync(*poll())  # still missing: the same alarm
    assert heard == [("raised", KEY)]
    _enter_notice(site)
    calendar.reload()
    assert poll() == ("calendar", [])
    manager.sync(*poll())
    assert heard == [("raised", KEY), ("cleared", KEY)]
    assert manager.active() == []


async def test_the_watch_raises_on_the_bus_and_clears_there_on_the_notice(
    site: LoadedSite, tmp_path: Path
) -> None:
    clock = _clock(12, 7)
    controller = Controller(site, clock)
    watch = CalendarWatch(controller, SiteCalendar.from_site(site))
    sub = controller.bus.subscribe("test", [AlarmRaised, AlarmCleared])
    manager, heard = _manager(tmp_path, clock)
    watch.check()
    (raised,) = await sub.get_batch()
    assert isinstance(raised, AlarmRaised)
    assert (raised.alarm_id, raised.evidence["kind"]) == (KEY, PROVISIONAL_KIND)
    manager.handle(raised)  # what the alarm service does with the bus event
    (record,) = manager.active()
    assert (record.key, record.kind) == (KEY, PROVISIONAL_KIND)
    _enter_notice(site)
    watch.reload()
    (cleared,) = await sub.get_batch()
    assert isinstance(cleared, AlarmCleared)
    assert cleared.alarm_id == KEY
    manager.clear(cleared.alarm_id, cleared.timestamp)  # the service's handling of it
    assert heard == [("raised", KEY), ("cleared", KEY)]


async def _until(condition: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def _calendar_alarms(active: list[AlarmRecord]) -> list[str]:
    return [r.key for r in active if r.kind == PROVISIONAL_KIND]


@pytest.mark.parametrize("watch_first", [True, False])
async def test_both_paths_are_one_alarm_cleared_by_the_reload(
    site: LoadedSite, tmp_path: Path, watch_first: bool
) -> None:
    clock = _clock(12, 7)
    controller = Controller(site, clock)
    watch = CalendarWatch(controller, SiteCalendar.from_site(site))
    service = build_alarms(controller, tmp_path / "state", calendar=watch.calendar, tick_s=0.02)
    heard: list[tuple[str, str]] = []
    service.manager.listeners.append(lambda change, record: heard.append((change, record.key)))
    # either path may be first: the watch's bus event before the first poll, or after it
    for component in (watch, service) if watch_first else (service, watch):
        controller.add(component)
    try:
        async with controller.running():
            await _until(lambda: service.rounds > 2 and bool(watch.alarms), "both paths ran")
            assert _calendar_alarms(service.alarms()) == [KEY]
            assert heard == [("raised", KEY)]  # one alarm, told once
            _enter_notice(site)
            watch.reload()
            await _until(lambda: not _calendar_alarms(service.alarms()), "the alarm cleared")
            rounds = service.rounds
            await _until(lambda: service.rounds > rounds + 2, "more detector rounds")
            assert _calendar_alarms(service.alarms()) == []  # the detector does not re-raise it
            assert heard == [("raised", KEY), ("cleared", KEY)]
    finally:
        service.close()


@pytest.mark.integration
async def test_the_assembled_controller_clears_the_alarm_when_the_file_is_reloaded(
    site: LoadedSite, tmp_path: Path
) -> None:
    """The detector must read the calendar the watch reloads, not a copy of its own."""
    options = ControllerOptions(mqtt_free_ports=True, data_dir=tmp_path / "data", api_port=None)
    async with contextlib.AsyncExitStack() as stack:
        assembly = await build_controller(site, options, stack, clock=_clock(12, 7))
        alarms = assembly.alarms
        assert alarms is not None
        (watch,) = [c for c in assembly.controller.components if isinstance(c, CalendarWatch)]
        async with assembly.controller.running():
            await _until(lambda: _calendar_alarms(alarms.alarms()) == [KEY], "the alarm")
            _enter_notice(site)
            watch.reload()
            await _until(lambda: not _calendar_alarms(alarms.alarms()), "the alarm cleared")
            rounds = alarms.rounds
            await _until(lambda: alarms.rounds > rounds + 1, "a detector round after it")
            assert _calendar_alarms(alarms.alarms()) == []


async def test_a_foreign_clear_of_an_alarm_its_detector_still_reports_does_not_bounce(
    site: LoadedSite, tmp_path: Path
) -> None:
    """The service's own clear announcement, coming back, must not clear the alarm its
    detector has re-raised meanwhile (that bounced forever and flooded the bus)."""
    clock = _clock(12, 7)
    controller = Controller(site, clock)
    service = build_alarms(
        controller, tmp_path / "state", calendar=SiteCalendar.from_site(site), tick_s=0.02
    )
    controller.add(service)
    try:
        async with controller.running():
            await _until(lambda: _calendar_alarms(service.alarms()) == [KEY], "the alarm")
            controller.bus.publish(AlarmCleared(KEY, clock.time(), "", "cleared elsewhere"))
            rounds = service.rounds
            await _until(lambda: service.rounds > rounds + 20, "twenty rounds after the clear")
            assert _calendar_alarms(service.alarms()) == [KEY]  # its detector still reports it
            # raised, the foreign clear, our clear announced once, nothing bouncing after it
            assert controller.bus.published <= 4
    finally:
        service.close()
