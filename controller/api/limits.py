"""Bounds on every request: body size (413) and handler time (504), as one ASGI middleware.

The size check runs before the body is read, on ``Content-Length``, and again while a chunked
body streams in, so a 50 MB upload is refused after at most ``max_body`` bytes instead of being
parsed. The time bound covers every handler: a request that waits on a stopped component or a
slow device answers 504 instead of hanging the client.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_TIMEOUT", "RequestLimits"]

DEFAULT_MAX_BODY = 1024 * 1024
"""1 MiB: the largest real body (a policy with a few hundred rooms) is a few kB."""
DEFAULT_TIMEOUT = 10.0
"""Seconds: above the slowest confirmed command (MQTT links confirm within 5 s by default)."""


class RequestLimits:
    """ASGI middleware: refuse bodies over ``max_body`` bytes, answer 504 after ``timeout`` s."""

    def __init__(
        self, app: ASGIApp, max_body: int = DEFAULT_MAX_BODY, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            await self._refuse(scope, receive, send)
            return
        started = overflow = False
        seen = 0
        deadline: asyncio.Timeout | None = None

        async def counted_receive() -> Message:
            nonlocal seen, overflow
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    overflow = True  # FastAPI turns any failure while reading into a 400
                    raise HTTPException(413, f"request body over {self.max_body} bytes")
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if overflow:
                return  # the app's answer to the aborted read is replaced by the 413
            if message["type"] == "http.response.start":
                started = True
                if deadline is not None:
                    # The bound is on answering; a stream (live values) may then run on.
                    deadline.reschedule(None)
            await send(message)

        try:
            async with asyncio.timeout(self.timeout) as deadline:
                await self.app(scope, counted_receive, tracked_send)
        except TimeoutError:
            if not started:
                response = error_response(
                    504, f"no answer within {self.timeout:g} s; the request may still take effect"
                )
                await response(scope, receive, send)
            return
        except HTTPException:
            if not overflow:
                raise
        if overflow and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            f"request body over {self.max_body} bytes",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
