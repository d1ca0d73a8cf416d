"""A stored report announced through real channels: aiosmtpd SMTP and a local HTTP receiver."""

from __future__ import annotations

import email
import email.policy
import json
import socket
from typing import Any

from aiosmtpd.controller import Controller

from controller.config.alarms import NotifyConfig
from controller.reports.delivery import send_report, unknown_channels
from controller.reports.store import StoredReport
from tests.alarms.receivers import http_receiver, wait_for, webhook_signed

STORED = StoredReport(
    id="20261116-010000",
    created="2026-11-16T01:00:00+08:00",
    period="2026-11-09..2026-11-15",
    baseline="2025-11-09..2025-11-15",
    scope="campus",
    language="zh",
    files=("report.xlsx", "report.pdf"),
    by="schedule",
    schedule="weekly",
)


class _Inbox:
    def __init__(self) -> None:
        self.mails: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.mails.append(
            (
                envelope.rcpt_tos,
                email.message_from_bytes(envelope.content, policy=email.policy.default),
            )
        )
        return "250 OK"


async def test_a_stored_report_is_mailed_and_posted() -> None:
    inbox = _Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtpd = Controller(inbox, hostname="127.0.0.1", port=port)
    smtpd.start()
    try:
        with http_receiver() as hook:
            notify = NotifyConfig.model_validate(
                {
                    "channels": [
                        {
                            "id": "office-mail",
                            "type": "email",
                            "host": "127.0.0.1",
                            "port": port,
                            "sender": "sanjie@campus.example",
                            "to": ["logistics@campus.example"],
                            "starttls": False,
                        },
                        {
                            "id": "office-hook",
                            "type": "webhook",
                            "url": f"{hook.url}/reports",
                            "secret": "s3cret",
                        },
                    ],
                    "routes": [{"channels": ["office-hook"]}],
                }
            )
            assert unknown_channels(["office-mail", "nope"], notify) == ["nope"]
            outcome = await send_report(STORED, ["office-mail", "office-hook", "nope"], notify)
            assert outcome["office-mail"] == outcome["office-hook"] == "ok"
            assert "no such channel" in outcome["nope"]
            wait_for(lambda: len(inbox.mails) == 1 and len(hook.got) == 1)
            posted = hook.got[0]
            assert posted.path == "/reports"
            assert webhook_signed(posted, "s3cret")
            body = posted.json()
            assert body["report"]["id"] == STORED.id
            assert body["download"] == [f"/api/reports/{STORED.id}/{n}" for n in STORED.files]
            rcpt, mail = inbox.mails[0]
            assert rcpt == ["logistics@campus.example"]
            assert str(mail["Subject"]).startswith("[报告][info] 三节成效报告已生成")
            assert json.loads(mail.get_payload(decode=True))["report"]["files"] == list(
                STORED.files
            )
            hook.fail_next = 1
            failed = await send_report(STORED, ["office-hook"], notify)
            assert failed["office-hook"].startswith("POST ")
            assert "s3cret" not in failed["office-hook"]
    finally:
        smtpd.stop()
