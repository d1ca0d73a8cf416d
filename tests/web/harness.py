"""The web app on a live emulated campus, and a real headless Chromium to look at it.

The campus is the example site with two dorm floors emulated on the wire; the controller
runs the Modbus integration, the recorder (embedded history), the policies, the report
service and the web app with real accounts. Its clock runs at wall speed from a fixed
lunchtime in term (:data:`CAMPUS_START`), so what the policies let the rooms do is the same
whenever the tests run: on the wall clock a run at 23:00 in Shanghai found the dorm sockets
cut by the curfew and their power a steady 0 W. The browser is Debian's ``chromium`` driven by
Playwright; nothing is mocked. Screenshots go to ``SANJIE_ARTIFACTS`` (default
``.artifacts/``) for people to look at.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from argon2 import PasswordHasher
from playwright.async_api import Browser, Page, async_playwright

from controller.accounts import AccountStore, Role
from controller.alarms.build import build_alarms
from controller.api import ApiServer
from controller.app import Controller
from controller.audit import AuditLog
from controller.config import LoadedSite
from controller.core import ScaledClock
from controller.integrations.modbus import ModbusIntegration
from controller.policies.engine import PolicyEngine
from controller.recorder import Recorder
from controller.reports.service import ReportService
from controller.web import LiveHub
from emulators.modbus import SiteEmulator
from tests.conftest import pending_tasks
from tests.integrations.modbus_harness import wait_until
from tests.servers import free_port

__all__ = [
    "CAMPUS_START",
    "DESKTOP",
    "PASSWORD",
    "PHONE",
    "SESSION_LOOP",
    "WebCampus",
    "artifacts",
    "campus_clock",
    "chromium",
    "new_page",
    "no_leaked_tasks_on_the_session_loop",
    "web_campus",
]

PASSWORD = "校园节能-test-password"
LINKS = ("gw-dorm-1-f1", "gw-dorm-2-f1")
CHROMIUM = "/usr/bin/chromium"
INSTALL = "apt-get install chromium  (./run test installs it)"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
CAMPUS_START = dt.datetime(2026, 12, 2, 12, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
"""Wednesday 2 December 2026, 12:30 in Shanghai: a teaching working day in the autumn term,
inside every window of the example policies (AC 12:00–14:30, dorm hot water 11:30–14:00,
bathhouse 12:00–14:00, canteen lunch 10:30–13:30) and far from the curfew, with an hour
before the first window closes, longer than any test here runs."""


SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")
"""The browser tests' mark: they run on the session's loop, where the session's Chromium lives
(``tests/web/conftest.py``); a module with it imports
:func:`no_leaked_tasks_on_the_session_loop` as ``_no_leaked_tasks``, and its async fixtures
say ``loop_scope="session"``."""


@pytest_asyncio.fixture(loop_scope="session")
async def no_leaked_tasks_on_the_session_loop() -> AsyncIterator[None]:
    """The suite's leak check (``tests/conftest.py``) on the loop these tests run on.

    The shared Chromium's Playwright tasks live on that loop for the whole session, so only
    tasks that were not running when the test started count as leaked.
    """
    before = pending_tasks()
    yield
    leaked: set[asyncio.Task[object]] = set()
    for _ in range(20):
        leaked = pending_tasks() - before
        if not leaked:
            return
        await asyncio.sleep(0.05)
    for task in leaked:
        task.cancel()
    pytest.fail(f"test leaked tasks: {sorted(t.get_name() for t in leaked)}")


@dataclass
class WebCampus:
    controller: Controller
    accounts: AccountStore
    url: str


def artifacts() -> Path:
    """Where screenshots go (created)."""
    base = Path(os.environ.get("SANJIE_ARTIFACTS", Path(__file__).parents[2] / ".artifacts"))
    out = base / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out


def campus_clock(site: LoadedSite) -> ScaledClock:
    """The web campus's clock: wall speed, starting at :data:`CAMPUS_START`."""
    return ScaledClock(1.0, start=CAMPUS_START.timestamp(), tz=site.campus.timezone)


@asynccontextmanager
async def web_campus(site: LoadedSite, *, alarms: bool = False) -> AsyncIterator[WebCampus]:
    """The campus served on a free port; with ``alarms`` the alarm service too (alarm list,
    work orders when the site has a ``workorders:`` section)."""
    clock = campus_clock(site)
    async with AsyncExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sanjie-web-")))
        emulator = await stack.enter_async_context(
            SiteEmulator(site, clock, free_ports=True, links=LINKS, latency=0)
        )
        controller = Controller(site, clock)
        controller.add(
            ModbusIntegration(
                controller,
                endpoints={k: (e.host, e.port) for k, e in emulator.endpoints.items()},
                scan_interval=1.0,
                links=list(emulator.gateways),
                timeout=0.3,
                inter_frame_gap=0.0,
            )
        )
        recorder = Recorder.from_site(controller, data_dir=data)
        controller.add(recorder)
        audit = AuditLog(data / "audit.sqlite3", clock, controller.bus)
        stack.callback(audit.close)
        engine = PolicyEngine(controller, store_path=data / "policies.sqlite3", audit=audit)
        stack.callback(engine.close)
        controller.add(audit)
        controller.add(engine)
        controller.add(ReportService(controller, recorder, audit))
        if alarms:
            service = build_alarms(controller, data, engine=engine, audit=audit, recorder=recorder)
            stack.callback(service.close)
            controller.add(service)
        accounts = AccountStore(
            data / "accounts.sqlite3",
            clock,
            hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
        )
        stack.callback(accounts.close)
        accounts.add("admin1", Role.ADMIN, PASSWORD, display_name="李主任")
        accounts.add(
            "manager1",
            Role.OPERATOR,
            PASSWORD,
            display_name="王丽",
            buildings=frozenset({"dorm-1"}),
        )
        accounts.add("viewer1", Role.VIEWER, PASSWORD)
        live = LiveHub(controller, interval=0.2)
        controller.add(live)
        port = free_port()
        server = ApiServer(controller, "127.0.0.1", port, accounts=accounts, live=live)
        controller.add(server)
        async with controller.running():
            await wait_until(lambda: server.started, "the web server", limit=20)
            yield WebCampus(controller, accounts, f"http://127.0.0.1:{port}")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        raise RuntimeError(f"{CHROMIUM} is missing: {INSTALL}")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield browser
        finally:
            await browser.close()


async def sign_in(page: Page, url: str, name: str) -> None:
    await page.goto(f"{url}/login")
    await page.fill("input[name=name]", name)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{url}/")


async def new_page(browser: Browser, viewport: dict[str, int] = DESKTOP) -> Page:
    """A page in a fresh context (its own cookies), in Chinese, at ``viewport``."""
    context = await browser.new_context(viewport=viewport, locale="zh-CN")  # type: ignore[arg-type]
    return await context.new_page()
