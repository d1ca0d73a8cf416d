"""Notification channels. Each turns an alarm message (a dict) into one delivery, or raises.

Secrets (HMAC keys, SMTP passwords, robot secrets) are held by the channel and never logged;
robot URLs carry their access token and DingTalk's signature in the query string by design, so
anything logged goes through ``redact_url``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import urllib.parse
import urllib.request
from email.message import EmailMessage
from typing import Any, Protocol

from ..model import AlarmError

__all__ = [
    "Channel",
    "DeliveryError",
    "DingTalkChannel",
    "EmailChannel",
    "WeComChannel",
    "WebhookChannel",
    "dingtalk_sign",
    "redact_url",
]


class DeliveryError(AlarmError):
    """One attempt failed; the outbox retries with backoff. The text never holds a secret."""


class Channel(Protocol):
    name: str

    def send(self, message: dict[str, Any], delivery_id: str) -> None: ...


def redact_url(url: str) -> str:
    """The URL without query or user info: safe to log."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def _text(message: dict[str, Any]) -> str:
    head = {
        "raised": "告警",
        "cleared": "恢复",
        "escalated": "升级",
        "digest": "日报",
        "report": "报告",
    }
    return (
        f"[{head.get(message.get('change', ''), '告警')}][{message.get('severity', '')}] "
        f"{message.get('message_zh') or message.get('message_en', '')}"
        f" ({message.get('target', '')})"
    )


def _post_json(url: str, body: bytes, headers: dict[str, str], timeout: float) -> bytes:
    if not url.startswith(("http://", "https://")):
        raise DeliveryError(f"{redact_url(url)}: only http(s) URLs are sent to")
    req = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 (checked above)
    req.add_header("Content-Type", "application/json; charset=utf-8")
    for k, v in headers.items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 (checked scheme)
            data: bytes = resp.read()
            return data
    except OSError as exc:  # URLError and HTTPError are OSErrors
        code = getattr(exc, "code", None)
        raise DeliveryError(f"POST {redact_url(url)}: {code or type(exc).__name__}") from None


class WebhookChannel:
    """JSON POST; with a secret, ``X-Sanjie-Signature: sha256=<hex HMAC of the body>``."""

    def __init__(self, name: str, url: str, secret: str | None = None, timeout: float = 10.0):
        self.name, self.url, self._secret, self.timeout = name, url, secret, timeout

    def send(self, message: dict[str, Any], delivery_id: str) -> None:
        body = json.dumps(message, ensure_ascii=False, sort_keys=True).encode()
        headers = {"X-Sanjie-Delivery": delivery_id}
        if self._secret:
            mac = hmac.new(self._secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Sanjie-Signature"] = f"sha256={mac}"
        _post_json(self.url, body, headers, self.timeout)


def _check_robot(reply: bytes, url: str) -> None:
    try:
        data = json.loads(reply or b"{}")
    except ValueError:
        raise DeliveryError(f"robot {redact_url(url)}: reply is not JSON") from None
    if isinstance(data, dict) and data.get("errcode", 0) != 0:
        raise DeliveryError(f"robot {redact_url(url)}: errcode {data.get('errcode')}")


class WeComChannel:
    """WeCom (企业微信) group robot: ``{"msgtype": "text", ...}``; errcode 0 is success."""

    def __init__(self, name: str, url: str, timeout: float = 10.0):
        self.name, self.url, self.timeout = name, url, timeout

    def send(self, message: dict[str, Any], delivery_id: str) -> None:
        body = json.dumps({"msgtype": "text", "text": {"content": _text(message)}}).encode()
        _check_robot(_post_json(self.url, body, {}, self.timeout), self.url)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk signed mode: base64(HMAC-SHA256(secret, "ts\\nsecret")), URL-encoded."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return urllib.parse.quote_plus(base64.b64encode(mac.digest()).decode())


class DingTalkChannel:
    """DingTalk (钉钉) robot; with a secret, ``timestamp`` and ``sign`` go in the query string."""

    def __init__(
        self,
        name: str,
        url: str,
        secret: str | None = None,
        timeout: float = 10.0,
        clock: Any = None,
    ):
        self.name, self.url, self._secret, self.timeout = name, url, secret, timeout
        self._clock = clock

    def send(self, message: dict[str, Any], delivery_id: str) -> None:
        url = self.url
        if self._secret:
            import time

            ts = int((self._clock.time() if self._clock else time.time()) * 1000)
            sep = "&" if "?" in url else "?"
            url = f"{url}{sep}timestamp={ts}&sign={dingtalk_sign(self._secret, ts)}"
        body = json.dumps({"msgtype": "text", "text": {"content": _text(message)}}).encode()
        _check_robot(_post_json(url, body, {}, self.timeout), url)


class EmailChannel:
    """SMTP: STARTTLS when ``starttls`` (or implicit TLS when ``tls``), login when a user is set."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        sender: str,
        to: list[str],
        *,
        user: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        tls: bool = False,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ):
        if not to:
            raise AlarmError(f"channel {name}: no recipients")
        self.name, self.host, self.port, self.sender, self.to = name, host, port, sender, to
        self._user, self._password = user, password
        self.starttls, self.tls, self.timeout = starttls, tls, timeout
        self._ctx = ssl_context

    def send(self, message: dict[str, Any], delivery_id: str) -> None:
        mail = EmailMessage()
        mail["From"], mail["To"] = self.sender, ", ".join(self.to)
        mail["Subject"] = _text(message)[:200]
        mail["Message-ID"] = f"<{delivery_id}@sanjie>"
        mail.set_content(json.dumps(message, ensure_ascii=False, indent=2))
        ctx = self._ctx or ssl.create_default_context()
        try:
            cls = smtplib.SMTP_SSL if self.tls else smtplib.SMTP
            kw: dict[str, Any] = {"context": ctx} if self.tls else {}
            with cls(self.host, self.port, timeout=self.timeout, **kw) as smtp:
                if self.starttls and not self.tls:
                    smtp.starttls(context=ctx)
                if self._user:
                    smtp.login(self._user, self._password or "")
                smtp.send_message(mail)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP {self.host}:{self.port}: {type(exc).__name__}") from None
