"""Secrets never reach a log: every log record of the process is redacted when it is created.

The site names passwords and tokens (MQTT links, InfluxDB sinks); a library logging a URL or an
exception text could carry one. A handler filter would miss handlers added later (pytest's,
a service manager's), so the redaction sits in the log-record factory: every record, from any
logger, has its message (and exception text) scrubbed of the configured secrets and of
credential-looking URL parameters before any handler sees it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, SecretStr

__all__ = ["MASK", "redact", "register_secrets", "site_secrets"]

MASK = "***"
MIN_SECRET = 4
"""Shorter values are not masked everywhere (masking "ab" would garble every log line); the
loader's docs ask for real passwords."""

_SECRET_FIELDS = re.compile(r"(password|passwd|token|secret|api_key)$", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(
    r"(?P<key>[?&](?:p|u|password|token|secret|api_key|access_token)=)[^&\s#'\"]+",
    re.IGNORECASE,
)
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@", re.IGNORECASE)

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()
_pattern: re.Pattern[str] | None = None
_installed = False


def site_secrets(model: Any) -> set[str]:
    """Every value of a field named like a secret, anywhere in a site's models."""
    found: set[str] = set()
    _collect(model, found, depth=0)
    return found


def _collect(value: Any, found: set[str], depth: int) -> None:
    if depth > 12:
        return
    if isinstance(value, BaseModel):
        for name in type(value).model_fields:
            item = getattr(value, name)
            if isinstance(item, SecretStr):  # a DL/T 645 relay password, whatever its name
                if item.get_secret_value():
                    found.add(item.get_secret_value())
            elif _SECRET_FIELDS.search(name) and isinstance(item, str) and item:
                found.add(item)
            else:
                _collect(item, found, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found, depth + 1)


def register_secrets(secrets: Iterable[str]) -> None:
    """Mask these values in every log record from now on (the process keeps them)."""
    global _secrets, _pattern  # noqa: PLW0603 (one process-wide table, as logging itself is)
    with _lock:
        merged = _secrets | {s for s in secrets if len(s) >= MIN_SECRET}
        if merged != _secrets:
            _secrets = merged
            longest_first = sorted(merged, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(s) for s in longest_first))
        _install()


def redact(text: str) -> str:
    """``text`` with registered secrets and URL credentials replaced by ``***``."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _URL_CREDENTIALS.sub(lambda m: m.group("key") + MASK, text)
    return _USERINFO.sub(lambda m: m.group("scheme") + MASK + "@", text)


def _install() -> None:
    global _installed  # noqa: PLW0603
    if _installed:
        return
    previous = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_text is None:
            record.exc_text = redact(formatter.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
