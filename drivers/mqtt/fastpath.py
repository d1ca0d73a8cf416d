"""The driver's receive fast path: the two places it reaches into aiomqtt and paho, in one file.

aiomqtt owns the connection (connect in a thread, TLS, registering paho's socket with the event
loop, keep-alive, futures for SUBACK and PUBACK). The driver does not use aiomqtt's message
iterator, and it changes how paho reads the socket:

1. ``on_message``: paho's callback runs inside aiomqtt's socket read callback (in the loop, in
   arrival order); the driver sets it on aiomqtt's paho client (``aiomqtt.Client._client``, a
   private attribute) so a message goes straight to its route, without aiomqtt's ``Message``,
   queue, task and ``asyncio.wait`` per message.
2. ``_sock``: paho's plain TCP socket is wrapped with a read-ahead buffer (``bufsock``), so a
   burst of packets costs one ``recv`` and one loop wake-up instead of three or more of each
   per packet.

Why not the public API only, measured with ``bench/mqtt_ingest.py --public-api`` (the same
driver, routes, state store and bus subscription; only the receive path differs), 10,000
queued messages × 6 readings from 200 devices, MQTT 3.1.1, medians of 3 rounds, on the shared
2-core VM, one session:

| | QoS 0 | QoS 1 |
|---|---|---|
| fast path (both hooks) msg/s (CPU per message) | 46.0k (21.6 µs) | 29.2k–35.9k (27.4–29.9 µs) |
| on_message hook only (no socket wrapper) | — | 24.1k (41.1 µs) |
| public API only (aiomqtt's iterator) | 25.7k (37.9 µs) | 19.1k–19.4k (51.6–51.7 µs) |
| bare aiomqtt, receive + ``json.loads`` only | 33.2k (30.0 µs) | 18.7k–21.6k (46.3–48.8 µs) |

The public API costs 1.7–1.9× the CPU per message: at the 20,000 msg/s a big campus's bath-houses
and dorm plugs can send, it needs a whole core before any other work, where the fast path needs
about 60 %. So the hooks stay, owned openly here: ``install`` checks each assumption and raises
``FastPathUnavailable`` (naming the attribute) instead of failing in a callback, and the tests
check them against the pinned aiomqtt and paho versions. Replacing aiomqtt with our own
paho ↔ asyncio adapter would remove hook 1 only (paho's ``on_message`` is public; its ``_sock``
is private either way) at the cost of re-writing what aiomqtt does for connections; not done.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiomqtt
from paho.mqtt.client import Client as PahoClient
from paho.mqtt.client import MQTTMessage

from . import bufsock
from .errors import MqttDriverError

__all__ = ["FastPathUnavailable", "MessageCallback", "install"]

MessageCallback = Callable[[Any, Any, MQTTMessage], None]
"""paho's ``on_message(client, userdata, message)``."""


class FastPathUnavailable(MqttDriverError):
    """aiomqtt or paho no longer has what the fast path relies on (a version outside the pins)."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"the MQTT driver's fast path needs {what}; install the aiomqtt and paho-mqtt "
            "versions pyproject.toml pins"
        )
        self.what = what


def paho_client(client: aiomqtt.Client) -> PahoClient:
    """aiomqtt's paho client (private attribute ``_client``)."""
    paho = getattr(client, "_client", None)
    if not isinstance(paho, PahoClient):
        raise FastPathUnavailable("aiomqtt.Client._client to be a paho.mqtt.client.Client")
    if not hasattr(paho, "_sock"):
        raise FastPathUnavailable("paho.mqtt.client.Client._sock")
    return paho


def install(client: aiomqtt.Client, on_message: MessageCallback) -> None:
    """Dispatch ``client``'s messages to ``on_message`` and buffer its plain TCP socket."""
    paho = paho_client(client)
    if paho.on_socket_open is None:
        raise FastPathUnavailable("aiomqtt to register paho's socket through on_socket_open")
    paho.on_message = on_message
    bufsock.install(paho)
