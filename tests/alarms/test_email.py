"""E-mail through a real local SMTP server (aiosmtpd), login included."""

from __future__ import annotations

import email
import socket
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from controller.alarms import AlarmManager, AlarmStore
from controller.alarms.notify import EmailChannel, Notifier, Outbox, Route
from controller.core import FakeClock
from controller.core.events import AvailabilityChanged

from .receivers import wait_for


class _Inbox:
    def __init__(self) -> None:
        self.mails: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.mails.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 OK"


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"ops" and data.password == b"pw-1"
    return AuthResult(success=ok)


def test_bus_alarm_reaches_a_real_smtp_server(tmp_path: Path) -> None:
    inbox = _Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd's own start-up check needs a real one)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtpd = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=_auth, auth_require_tls=False
    )
    smtpd.start()
    try:
        clock = FakeClock()
        mail = EmailChannel(
            "mail",
            "127.0.0.1",
            port,
            "sanjie@campus.example",
            ["ops@campus.example"],
            user="ops",
            password="pw-1",
            starttls=False,
        )
        m = AlarmManager(AlarmStore(tmp_path / "a.db"), clock, buses={"gw": ["d1"]}, grace_s=60)
        n = Notifier(Outbox(tmp_path / "o.db", clock), {"mail": mail}, clock, [Route(("mail",))])
        m.listeners.append(n)
        m.handle(AvailabilityChanged("d1", False, clock.time()))
        clock.set(clock.time() + 61)
        m.tick()
        assert n.deliver() == 1
        wait_for(lambda: len(inbox.mails) == 1)
        rcpt, msg = inbox.mails[0]
        assert rcpt == ["ops@campus.example"]
        assert "bus:gw" in msg.get_payload()
    finally:
        smtpd.stop()
