"""The emulated example campus with the alarm service, its files kept across "restarts".

A controller is built the way ``controller.assemble`` builds the alarm part (``build_alarms``
over the site's sections) around the Modbus integration of the emulated bathhouse gateway; the
emulator outlives controllers, so a test can stop one controller mid-outage and start the next
on the same state folder. ``ShiftedClock`` is wall time plus an offset a test moves forward:
grace periods, escalation and quiet hours pass without waiting for them.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import shutil
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller as Smtpd
from aiosmtpd.smtp import AuthResult, LoginPassword

from controller.alarms.build import build_alarms
from controller.alarms.component import AlarmService
from controller.app import Controller
from controller.audit import AuditLog
from controller.config import LoadedSite, load_site
from controller.config.paths import builtin_dir
from controller.core import SystemClock
from controller.integrations.meters import MeterIntegration
from controller.integrations.modbus import ModbusIntegration
from emulators.meterbus.site import MeterSiteEmulator
from emulators.modbus import SiteEmulator

BATH = "gw-bath-1"
HEAT_LINK = "m188-bath-1"
"""The bathhouse's CJ/T 188 bus: its hot-water heat meter."""
HOT_WATER = "bath-1.hot-water"
SMTP_USER, SMTP_PASSWORD = "ops", "smtp-pw-7Hq"


class ShiftedClock(SystemClock):
    """Wall time plus ``offset`` (moved by ``shift``); sleeps are real."""

    def __init__(self, tz: str = "Asia/Shanghai") -> None:
        super().__init__(tz)
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset

    def shift(self, seconds: float) -> None:
        self.offset += seconds


def example_site(tmp: Path, sections: str) -> LoadedSite:
    """The example campus (copied) with ``sections`` appended to its site file; a section
    the campus already has (its ``alarms: !include alarms.yaml``) is replaced."""
    here = tmp / "campus"
    shutil.copytree(builtin_dir("examples") / "campus", here)
    site_file = here / "site.yaml"
    replaced = {
        line.split(":", 1)[0]
        for line in sections.splitlines()
        if line[:1].isalpha() and ":" in line
    }
    kept = [
        line
        for line in site_file.read_text(encoding="utf-8").splitlines(keepends=True)
        if line.split(":", 1)[0] not in replaced
    ]
    site_file.write_text("".join(kept) + sections, encoding="utf-8")
    return load_site(site_file)


@dataclass
class Inbox:
    """An aiosmtpd handler: keeps mails; answers 451 while ``fail`` is set."""

    mails: list[EmailMessage] = field(default_factory=list)
    fail: bool = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.fail:
            return "451 try again later"
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        return "250 OK"


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login == SMTP_USER.encode()
        and data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok)


@asynccontextmanager
async def smtp_server() -> AsyncIterator[tuple[Inbox, int]]:
    """A real SMTP server with LOGIN auth on a free loopback port."""
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtpd = Smtpd(
        inbox, hostname="127.0.0.1", port=port, authenticator=_auth, auth_require_tls=False
    )
    await asyncio.to_thread(smtpd.start)
    try:
        yield inbox, port
    finally:
        await asyncio.to_thread(smtpd.stop)


@dataclass
class Running:
    controller: Controller
    modbus: ModbusIntegration
    alarms: AlarmService
    audit: AuditLog
    meter_emulator: MeterSiteEmulator
    """The bathhouse's CJ/T 188 hot-water heat meter, emulated on its own gateway."""


@asynccontextmanager
async def running_controller(
    site: LoadedSite, emulator: SiteEmulator, state: Path, clock: ShiftedClock
) -> AsyncIterator[Running]:
    """One controller life: Modbus on the emulated bathhouse bus, the bathhouse's CJ/T 188
    heat meter on its emulated gateway, audit log, alarm service."""
    async with MeterSiteEmulator(
        site, clock, free_ports=True, latency=0.0, links=[HEAT_LINK]
    ) as meter_emulator:
        controller = Controller(site, clock)
        fast: dict[str, Any] = {
            "scan_interval": 0.25,
            "timeout": 0.2,
            "inter_frame_gap": 0.0,
            "fail_threshold": 2,
            "backoff_max": 0.5,
        }
        modbus = ModbusIntegration(
            controller,
            endpoints={k: (e.host, e.port) for k, e in emulator.endpoints.items()},
            links=[BATH],
            **fast,
        )
        controller.add(modbus)
        meters = MeterIntegration(
            controller,
            endpoints={k: (e.host, e.port) for k, e in meter_emulator.endpoints.items()},
            links=[HEAT_LINK],
            **fast,
        )
        controller.add(meters)
        audit = AuditLog(state / "audit.sqlite3", clock, controller.bus)
        controller.add(audit)
        alarms = build_alarms(controller, state, audit=audit, tick_s=0.05)
        controller.add(alarms)
        try:
            async with controller.running():
                yield Running(controller, modbus, alarms, audit, meter_emulator)
        finally:
            alarms.close()
            audit.close()


def bath_devices(site: LoadedSite) -> list[str]:
    return [d.id for d in site.devices.values() if d.link == BATH]


async def wait_until(condition: Callable[[], bool], what: str, limit: float = 15.0) -> None:
    """Poll ``condition`` every 20 ms; AssertionError naming ``what`` after ``limit`` s."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
