"""Tell people a scheduled report is ready: through the site's ``notify.channels`` (the alarm
package's webhook, SMTP, WeCom and DingTalk channels), named by the schedule's ``send_to``.

The message names the stored report (id, period, scope, files) and lists the
``/api/reports/<id>/<file>`` paths to download it from; the files are not attached. One attempt
per channel, no outbox: a failed delivery is logged and counted, the report stays stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from controller.alarms.build import build_channel
from controller.alarms.notify.channels import DeliveryError
from controller.config.alarms import NotifyConfig

from .store import StoredReport

__all__ = ["report_message", "send_report", "unknown_channels"]

_LOGGER = logging.getLogger(__name__)


def unknown_channels(send_to: Sequence[str], notify: NotifyConfig) -> list[str]:
    """The names in ``send_to`` that ``notify.channels`` does not define."""
    known = {c.id for c in notify.channels}
    return [name for name in send_to if name not in known]


def report_message(stored: StoredReport) -> dict[str, Any]:
    """The message every channel gets: a readable line in both languages and the report."""
    files = ", ".join(stored.files)
    return {
        "change": "report",
        "severity": "info",
        "target": f"report:{stored.id}",
        "message_zh": f"三节成效报告已生成：{stored.period}（{stored.scope}），文件 {files}",
        "message_en": f"Campaign report ready: {stored.period} ({stored.scope}), files {files}",
        "report": stored.to_json(),
        "download": [f"/api/reports/{stored.id}/{name}" for name in stored.files],
    }


async def send_report(
    stored: StoredReport, send_to: Sequence[str], notify: NotifyConfig
) -> dict[str, str]:
    """Send to each named channel; returns channel → ``ok`` or the (secret-free) error."""
    configs = {c.id: c for c in notify.channels}
    message = report_message(stored)
    outcome: dict[str, str] = {}
    for name in send_to:
        config = configs.get(name)
        if config is None:
            outcome[name] = "no such channel in notify.channels"
            continue
        channel = build_channel(config)
        try:
            await asyncio.to_thread(channel.send, message, f"report-{stored.id}-{name}")
        except DeliveryError as err:
            _LOGGER.warning("Report %s not delivered to %s: %s", stored.id, name, err)
            outcome[name] = str(err)
        else:
            outcome[name] = "ok"
    return outcome
