"""Log lines that journald, ``docker logs`` and log shippers take as they are.

One event per line (a traceback is folded onto its event's line), the level and the component
(logger name) first, then the device in brackets when the event is about one (a record logged
with ``extra={"device": ...}``, see :func:`device`), and no secrets: credentials in URLs and
``password=``/``token=`` pairs are masked, and the HTTP client's per-request INFO lines (one
per InfluxDB write, with the credentials in the query string) are not logged. Under systemd
(``JOURNAL_STREAM`` set) each line starts with its syslog priority (``<4>``) so journald files
it at the right level and adds the timestamp; elsewhere the line starts with an ISO 8601 timestamp.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time

__all__ = ["OneLineFormatter", "configure_logging", "device", "redact"]

_PRIORITY = {
    logging.DEBUG: 7,
    logging.INFO: 6,
    logging.WARNING: 4,
    logging.ERROR: 3,
    logging.CRITICAL: 2,
}
_SECRETS = re.compile(
    r"(?P<key>\b(?:p|password|passwd|token|secret|api_key)=)[^&\s,;\"']+"
    r"|(?P<scheme>\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s/]+(?=@)",
    re.IGNORECASE,
)
NOISY = ("httpx", "httpcore")
"""Libraries whose INFO lines are one per request: logged from WARNING up."""


def device(device_id: str) -> dict[str, str]:
    """``extra=`` for a log call about one device: the line names it in a fixed place, so
    ``journalctl | grep '[dorm-1.101.elec]'`` finds every event of that meter."""
    return {"device": device_id}


def redact(text: str) -> str:
    """``...?u=sanjie&p=hunter2`` → ``...?u=sanjie&p=***``; ``mqtt://u:pw@host`` likewise."""
    return _SECRETS.sub(lambda m: (m.group("key") or m.group("scheme")) + "***", text)


class OneLineFormatter(logging.Formatter):
    """``[<priority>|timestamp] LEVEL component [device]: message | traceback``, one line per
    event."""

    def __init__(self, journald: bool) -> None:
        super().__init__("%(levelname)s %(name)s%(where)s: %(message)s")
        self.journald = journald

    def formatTime(  # noqa: N802 (logging's name)
        self, record: logging.LogRecord, datefmt: str | None = None
    ) -> str:
        local = time.localtime(record.created)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", local)
        return f"{stamp}.{int(record.msecs):03d}{time.strftime('%z', local)}"

    def format(self, record: logging.LogRecord) -> str:
        about = getattr(record, "device", None)
        record.where = f" [{about}]" if about else ""
        text = redact(super().format(record))
        text = " | ".join(part for part in text.replace("\r", "").split("\n") if part.strip())
        if self.journald:
            return f"<{_PRIORITY.get(record.levelno, 6)}>{text}"
        return f"{self.formatTime(record)} {text}"


def configure_logging(level: str = "INFO") -> None:
    """Root logging to stderr in the one-line form; the HTTP clients' request lines off."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLineFormatter(journald="JOURNAL_STREAM" in os.environ))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for name in NOISY:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
