"""The calendar watch: the provisional-year alarm, reloading the holidays file (API, SIGHUP)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import zoneinfo
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher

from controller.accounts import AccountStore, Role
from controller.api import create_api
from controller.app import Controller
from controller.audit import AuditLog
from controller.calendar import SiteCalendar
from controller.calendar_watch import CalendarWatch
from controller.config import load_site
from controller.core import AlarmRaised, EventBus, FakeClock

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")

SITE = """
campus: {id: t, name: {zh: 测试校区, en: Test campus}}
buildings: []
calendar: {holidays_file: holidays.yaml}
"""

NOTICE_2027 = (
    "notice_years: [2027]\n"
    "holidays:\n  - {start: 2027-01-01, end: 2027-01-03, name: 元旦}\n"
    "workdays:\n  - {date: 2027-02-14, name: 春节调休}\n"
)


def _clock(year: int, month: int, day: int) -> FakeClock:
    return FakeClock(dt.datetime(year, month, day, 9, 0, tzinfo=TZ))


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    (tmp_path / "site.yaml").write_text(SITE, encoding="utf-8")
    (tmp_path / "holidays.yaml").write_text("holidays: []\n", encoding="utf-8")
    return tmp_path


@pytest.fixture
def make_watch(site_dir: Path) -> Callable[[FakeClock], CalendarWatch]:
    def make(clock: FakeClock) -> CalendarWatch:
        site = load_site(site_dir / "site.yaml")
        controller = Controller(site, clock)
        watch = CalendarWatch(controller, SiteCalendar.from_site(site))
        controller.add(watch)
        return watch

    return make


def test_no_alarm_more_than_60_days_ahead(make_watch: Callable[[FakeClock], CalendarWatch]) -> None:
    watch = make_watch(_clock(2026, 11, 1))  # 61 days before 1 January 2027
    assert watch.check() == []
    assert watch.status()["provisional_years"] == "–"


def test_a_provisional_year_within_60_days_raises_one_alarm(
    make_watch: Callable[[FakeClock], CalendarWatch],
) -> None:
    clock = _clock(2026, 11, 2)
    watch = make_watch(clock)
    sub = watch.controller.bus.subscribe("test", [AlarmRaised])
    (alarm,) = watch.check()
    assert alarm.key == "calendar.provisional.2027"
    assert "State Council" in alarm.message_en
    assert "holidays.yaml" in alarm.message_en
    assert "国务院" in alarm.message_zh
    clock.advance(86_400)
    watch.check()  # still missing: the same alarm, not raised again
    assert sub.stats.depth == 1
    status = watch.status()
    assert status["provisional_years"] == "2027"
    assert list(status["alarms"]) == ["calendar.provisional.2027"]


def test_entering_the_notice_clears_the_alarm_on_reload(
    make_watch: Callable[[FakeClock], CalendarWatch], site_dir: Path
) -> None:
    watch = make_watch(_clock(2026, 12, 7))
    assert watch.check()
    (site_dir / "holidays.yaml").write_text(NOTICE_2027, encoding="utf-8")
    watch.reload()
    assert watch.alarms == {}
    assert watch.calendar.is_workday(dt.date(2027, 2, 14))  # a Sunday worked (调休)


@pytest.fixture
def accounts(tmp_path: Path) -> Iterator[AccountStore]:
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    store = AccountStore(tmp_path / "accounts.sqlite3", FakeClock(1_780_000_000), hasher=fast)
    store.add("wang.li", Role.ADMIN, "correct horse battery")
    store.add("zhao.min", Role.OPERATOR, "correct horse battery")
    yield store
    store.close()


def _bearer(store: AccountStore, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {store.create_token(name)[1]}"}


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[AuditLog]:
    log = AuditLog(tmp_path / "audit.sqlite3", FakeClock(1_780_000_000), EventBus())
    yield log
    log.close()


@pytest.fixture
async def api(
    make_watch: Callable[[FakeClock], CalendarWatch], accounts: AccountStore, audit: AuditLog
) -> AsyncIterator[httpx.AsyncClient]:
    watch = make_watch(_clock(2026, 12, 7))
    watch.controller.add(audit)
    watch.check()
    transport = httpx.ASGITransport(app=create_api(watch.controller, accounts=accounts))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://t", headers=_bearer(accounts, "zhao.min")
    ) as client:
        yield client


async def test_api_lists_a_years_days_with_their_sources(api: httpx.AsyncClient) -> None:
    body = (await api.get("/api/calendar", params={"year": 2027})).json()
    assert body["provisional"] is True
    new_year = body["days"][0]
    assert (new_year["date"], new_year["kind"], new_year["name"]) == (
        "2027-01-01",
        "holiday",
        "元旦",
    )
    assert (new_year["source"], new_year["provisional"]) == ("holidays_cn", True)
    assert [a["year"] for a in body["alarms"]] == [2027]
    status = (await api.get("/api/status")).json()
    assert "calendar.provisional.2027" in status["components"]["calendar"]["alarms"]


async def test_api_reload_applies_the_file_or_explains_why_not(
    api: httpx.AsyncClient, site_dir: Path, accounts: AccountStore, audit: AuditLog
) -> None:
    assert (
        await api.post("/api/calendar/reload", headers={"Authorization": ""})
    ).status_code == 401
    assert (await api.post("/api/calendar/reload")).status_code == 403  # an operator
    headers = _bearer(accounts, "wang.li")
    (site_dir / "holidays.yaml").write_text("holidays: [2027-02-30]\n", encoding="utf-8")
    bad = await api.post("/api/calendar/reload", headers=headers)
    assert bad.status_code == 422
    assert "holidays.yaml:1" in bad.json()["errors"][0]["loc"][1]
    assert "previous entries stay in use" in bad.json()["detail"]
    (site_dir / "holidays.yaml").write_text(NOTICE_2027, encoding="utf-8")
    good = await api.post("/api/calendar/reload", headers=headers)
    assert good.status_code == 200
    assert good.json()["notice_years"] == [2027]
    assert good.json()["alarms"] == []
    (entry,) = audit.query(action="calendar.reload")  # the refused reload changed nothing
    assert (entry.actor, entry.target, entry.source) == ("wang.li", "calendar", "api")
    assert entry.details == {"notice_years": [2027], "holidays": 3, "workdays": 1}  # 1–3 Jan
    day = (await api.get("/api/calendar", params={"year": 2027})).json()["days"][0]
    assert (day["source"], day["provisional"]) == ("holidays_file", False)


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_sighup_reloads_the_holidays_file(
    make_watch: Callable[[FakeClock], CalendarWatch], site_dir: Path
) -> None:
    watch = make_watch(_clock(2026, 12, 7))
    async with watch.controller.running():
        await _until(lambda: watch.sighup and bool(watch.alarms))
        (site_dir / "holidays.yaml").write_text(NOTICE_2027, encoding="utf-8")
        os.kill(os.getpid(), signal.SIGHUP)
        await _until(lambda: watch.calendar.reloads == 2)
        assert watch.alarms == {}
    assert not watch.sighup  # the handler is removed when the component stops
