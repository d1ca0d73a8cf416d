"""A read-buffering wrapper for the plain TCP socket under paho-mqtt (and so aiomqtt).

paho reads each packet with several tiny ``recv`` calls (command byte, each length byte, then
the body), and aiomqtt reads one packet per readiness event of the event loop. At thousands of
telemetry messages a second that is three or more system calls and one loop wake-up per
message, which dominated the ingest cost. The wrapper takes whatever the kernel has (up to
64 KiB) in one ``recv`` and serves paho's small reads from it; ``pending()`` tells aiomqtt's
reader callback (which already loops while an SSL socket has ``pending()`` bytes) to keep
reading until the buffer is empty, so a burst is handled in one wake-up.

TLS sockets are left alone: ``ssl.SSLSocket`` buffers decrypted bytes itself.
"""

from __future__ import annotations

import socket
import ssl
from typing import Any

__all__ = ["BufferedSocket", "install"]

_CHUNK = 65536


class BufferedSocket:
    """Looks like the socket it wraps; ``recv`` is served from a read-ahead buffer."""

    __slots__ = ("_buf", "_pos", "_sock")

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            data = self._sock.recv(max(bufsize, _CHUNK), flags)  # BlockingIOError passes up
            if len(data) <= bufsize:
                return data  # also b"" at end of stream
            self._buf, pos = data, 0
            buf = data
        end = pos + bufsize
        self._pos = min(end, len(buf))
        return buf[pos:end]

    def pending(self) -> int:
        """Bytes read from the kernel but not yet handed to paho."""
        return len(self._buf) - self._pos

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def install(paho_client: Any) -> None:
    """Wrap each new plain socket of ``paho_client`` before aiomqtt starts reading it.

    paho assigns its ``_sock`` and then calls ``on_socket_open``, which aiomqtt uses to
    register its reader; we swap the socket in between. Relies on paho 2.x internals
    (``_sock``), checked by the MQTT driver tests.
    """
    opened = paho_client.on_socket_open

    def wrap(client: Any, userdata: Any, sock: Any) -> None:
        if isinstance(sock, socket.socket) and not isinstance(sock, ssl.SSLSocket):
            sock = BufferedSocket(sock)
            client._sock = sock
        opened(client, userdata, sock)

    paho_client.on_socket_open = wrap
