"""Real local receivers for notification tests: an HTTP server in a thread, an aiosmtpd SMTP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    url: str
    got: list[Received] = field(default_factory=list)
    fail_next: int = 0


@contextmanager
def http_receiver() -> Iterator[HttpReceiver]:
    """Answers 200 ``{"errcode": 0}`` (robot-shaped) unless told to fail the next N requests."""
    state = HttpReceiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if state.fail_next > 0:
                state.fail_next -= 1
                self.send_response(503)
                self.end_headers()
                return
            state.got.append(Received(self.path, dict(self.headers.items()), body))
            reply = b'{"errcode": 0}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``cond`` until true or fail at the deadline (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.01)


def webhook_signed(got: Received, secret: str) -> bool:
    """The ``X-Sanjie-Signature`` is the HMAC-SHA256 of the exact body under ``secret``."""
    mac = hmac.new(secret.encode(), got.body, hashlib.sha256).hexdigest()
    return got.headers.get("X-Sanjie-Signature") == f"sha256={mac}"


def dingtalk_signed(got: Received, secret: str) -> bool:
    """DingTalk's signed mode, checked as DingTalk does: ``sign`` = base64(HMAC-SHA256 of
    "timestamp\\nsecret" under the secret), both in the query string."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(got.path).query)
    ts = query["timestamp"][0]
    mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    return query["sign"][0] == base64.b64encode(mac).decode()
