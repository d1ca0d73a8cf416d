"""A publishing connection to one broker: connect, stay connected, publish; nothing else.

For components that mirror data to a broker (the controller's MQTT export). It owns the
connection and its reconnect loop (capped, jittered backoff, ``drivers.backoff``); callers
``await wait_connected()`` and ``publish()``, and learn of every new connection through
``connection`` (a counter), e.g. to publish their retained state again. A publish that fails
drops the connection, so the next one starts clean. The ``will`` (LWT) is published by the
broker when the connection is lost without a DISCONNECT.

Plain client session (clean start). A publisher may also listen on a few ``subscriptions``
(the export's command topics): they are subscribed again on every connection, and each message
is handed to ``on_message`` as it arrives (QoS 0: a command sent while we are away is not
queued for later, which is what a switch in Home Assistant expects).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable, Sequence

import aiomqtt
from aiomqtt.exceptions import MqttConnectError

from drivers.backoff import Backoff

from .client import new_client, refusal
from .errors import AuthenticationFailed, BrokerUnavailable, PublishFailed
from .spec import BrokerSpec

__all__ = ["MqttPublisher"]

_LOGGER = logging.getLogger(__name__)


class MqttPublisher:
    """Keeps one publishing connection to ``broker`` while ``run()`` runs.

    ``will``: (topic, payload) the broker publishes, retained at QoS 1, if we vanish.
    """

    def __init__(
        self,
        broker: BrokerSpec,
        *,
        client_id: str,
        will: tuple[str, str] | None = None,
        name: str | None = None,
        subscriptions: Sequence[str] = (),
        on_message: Callable[[str, bytes], None] | None = None,
    ) -> None:
        self.broker = broker
        self.client_id = client_id
        self.name = name or f"{broker.host}:{broker.port}"
        self.published = 0
        self.connection = 0
        """How many connections so far; a new value means retained state must go out again."""
        self.last_error: str | None = None
        self._will = will
        self.subscriptions = list(subscriptions)
        """Topic filters subscribed on each connection (changes apply from the next one)."""
        self._on_message = on_message
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._rng = random.Random()  # noqa: S311 (jitter, not security)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def _backoff(self) -> Backoff:
        """From the spec at each use (``broker`` may be replaced while running)."""
        return Backoff(self.broker.backoff_min, self.broker.backoff_max)

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def run(self) -> None:
        """Connect and reconnect until cancelled. AuthenticationFailed on the first connection
        (a configuration error) is raised; every other failure is retried with backoff."""
        failures = 0
        ever = False
        while True:
            before = self.connection
            try:
                await self._session()
            except AuthenticationFailed as err:
                if not ever:
                    raise
                self._note(err, failures)
            except BrokerUnavailable as err:
                self._note(err, failures)
            ever = ever or self.connection > 0
            failures = 1 if self.connection != before else failures + 1  # a connection held
            await asyncio.sleep(self._backoff().delay(failures, self._rng))

    async def publish(
        self, topic: str, payload: str | bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish and, at QoS 1, wait for the PUBACK (at most ``broker.timeout``).

        PublishFailed when not connected or the broker does not acknowledge in time (the
        connection is then dropped and re-established by ``run``).
        """
        client = self._client
        if client is None or not self._connected.is_set():
            raise PublishFailed(topic, f"not connected to {self.name}")
        try:
            # timeout=inf + asyncio.timeout: aiomqtt's own timeout goes through wait_for,
            # which on Python 3.11 can swallow a cancellation.
            async with asyncio.timeout(self.broker.timeout):
                await client.publish(topic, payload, qos=qos, retain=retain, timeout=math.inf)
        except (TimeoutError, aiomqtt.MqttError) as err:
            self._lose()
            raise PublishFailed(topic, str(err) or "no PUBACK in time") from err
        self.published += 1

    def _lose(self) -> None:
        self._connected.clear()
        self._lost.set()

    def _note(self, err: BrokerUnavailable, failures: int) -> None:
        text = str(err)
        if failures == 0 or text != self.last_error:
            _LOGGER.warning("%s: %s; retrying with backoff", self.name, text)
        else:
            _LOGGER.debug("%s: still failing: %s", self.name, text)
        self.last_error = text

    async def _session(self) -> None:
        """One connection, from CONNECT to its loss."""
        will = None
        if self._will is not None:
            will = aiomqtt.Will(self._will[0], self._will[1], qos=1, retain=True)
        client = new_client(self.broker, identifier=self.client_id, persistent=False, will=will)
        self._lost.clear()
        try:
            async with client:
                if self.subscriptions:
                    await self._subscribe(client)
                self._client = client
                self.connection += 1
                self._connected.set()
                if self.last_error is not None:
                    _LOGGER.info("%s: connected again", self.name)
                self.last_error = None
                try:
                    await self._until_lost(client)
                finally:
                    self._client = None
                    self._connected.clear()
        except MqttConnectError as err:
            raise refusal(self.broker, err) from err
        except aiomqtt.MqttError as err:
            raise BrokerUnavailable(self.broker.host, self.broker.port, str(err)) from err
        raise BrokerUnavailable(self.broker.host, self.broker.port, "a publish failed")

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        try:
            async with asyncio.timeout(self.broker.timeout):  # see publish() on timeout=inf
                await client.subscribe([(t, 0) for t in self.subscriptions], timeout=math.inf)
        except TimeoutError as err:
            host, port = self.broker.host, self.broker.port
            raise BrokerUnavailable(host, port, "no SUBACK in time") from err

    async def _until_lost(self, client: aiomqtt.Client) -> None:
        """Return when a publish failed; raise MqttError when the connection drops."""

        async def drained() -> None:
            async for message in client.messages:  # ends only with the connection
                if self._on_message is not None:
                    payload = message.payload
                    data = payload if isinstance(payload, bytes) else str(payload).encode()
                    self._on_message(message.topic.value, data)

        watch = asyncio.ensure_future(drained())
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait({watch, lost}, return_when=asyncio.FIRST_COMPLETED)
            if watch.done():
                watch.result()  # the connection's MqttError
        finally:
            for task in (watch, lost):
                task.cancel()
            await asyncio.wait({watch, lost})  # never raises, so our own cancellation stays
