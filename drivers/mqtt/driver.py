"""The MQTT driver: one broker connection, every device on it, commands with confirmation.

Messages are dispatched straight from paho's ``on_message`` callback, which runs in aiomqtt's
socket read callback (``fastpath``: the two private hooks, with the measurement that keeps
them): a dict lookup by topic finds the route built at start-up, which decodes the payload and
hands readings to the sink. No task, queue hop or object per message beyond paho's own
``MQTTMessage``.

The connection uses a persistent session (clean start off, session expiry set) and QoS 1
subscriptions, so telemetry published while we were away is delivered when we come back. One
loop reconnects with capped, jittered exponential backoff and resubscribes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import zoneinfo
from collections.abc import Callable, Coroutine, Iterable
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.client import MQTTMessage
from paho.mqtt.reasoncodes import ReasonCode

from drivers.backoff import Backoff

from . import fastpath
from .client import new_client, refusal
from .commands import encode_command, tolerance
from .device import DeviceState, Waiter
from .errors import (
    AuthenticationFailed,
    BrokerUnavailable,
    CommandRefused,
    CommandUnconfirmed,
    NotConnected,
)
from .routes import FanoutRoute, ReadingCallback, Route, StatusRoute, TelemetryRoute
from .spec import BrokerSpec, DeviceSpec, Value
from .topics import subscription_filters

__all__ = ["ConnectionState", "DriverClock", "MqttDriver"]

_LOGGER = logging.getLogger(__name__)

AvailabilityCallback = Callable[[str, bool, str], None]
T = TypeVar("T")


class DriverClock(Protocol):
    """Domain time (telemetry timestamps, staleness); network waits use real time."""

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKOFF = "backoff"


class MqttDriver:
    """Runs one broker connection for a set of devices until cancelled."""

    def __init__(
        self,
        broker: BrokerSpec,
        devices: Iterable[DeviceSpec],
        *,
        on_readings: ReadingCallback,
        on_availability: AvailabilityCallback,
        clock: DriverClock,
        timezone: str = "UTC",
        name: str | None = None,
        good: object = True,
        bad: object = False,
    ) -> None:
        """``good``/``bad`` are the quality tokens passed to ``on_readings``."""
        self.broker = broker
        self.name = name or f"{broker.host}:{broker.port}"
        self._clock = clock
        self._time = clock.time
        now = clock.time()
        tz = zoneinfo.ZoneInfo(timezone)
        self._devices: dict[str, DeviceState] = {}
        routes: dict[str, list[Route]] = {}
        topics: list[tuple[str | None, str]] = []
        for spec in devices:
            if spec.device_id in self._devices:
                raise ValueError(f"duplicate device {spec.device_id}")
            device = DeviceState(spec, now, on_availability)
            self._devices[spec.device_id] = device
            for topic in spec.topics:
                route = TelemetryRoute(
                    topic, device, on_readings, tz, broker.max_future_skew, good=good, bad=bad
                )
                routes.setdefault(topic.topic, []).append(route)
                topics.append((topic.template, topic.topic))
            if spec.availability_topic:
                status = StatusRoute(
                    spec.availability_topic, device, spec.payload_online, spec.payload_offline
                )
                routes.setdefault(spec.availability_topic, []).append(status)
                topics.append((spec.availability_template, spec.availability_topic))
        self._routes: dict[str, Route] = {
            topic: group[0] if len(group) == 1 else FanoutRoute(group)
            for topic, group in routes.items()
        }
        self.filters = subscription_filters(topics)
        self.state = ConnectionState.CONNECTING
        self.received = 0
        self.unknown_topics = 0
        self.internal_errors = 0
        self.connects = 0
        self.last_error: str | None = None
        self._client: aiomqtt.Client | None = None
        self._connected = asyncio.Event()
        self._ever_connected = False
        self._session_was_up = False
        self._rng = random.Random()  # noqa: S311 (jitter, not security)

    # -- hot path ------------------------------------------------------------------------

    def _dispatch(self, _client: object, _userdata: object, message: MQTTMessage) -> None:
        """paho's ``on_message``: called in the event loop, in arrival order, before the
        QoS 1 PUBACK is queued."""
        self.received += 1
        try:
            route = self._routes.get(message.topic)
        except UnicodeDecodeError:  # brokers check topics are UTF-8; one that is not is unknown
            route = None
        if route is None:
            self.unknown_topics += 1
            return
        try:
            route.handle(message.payload, self._time())
        except Exception:  # a bug decoding one message must not drop the connection
            self.internal_errors += 1
            if self.internal_errors == 1 or _LOGGER.isEnabledFor(logging.DEBUG):
                _LOGGER.exception("%s: failed to handle a message on %s", self.name, route.topic)

    # -- connection ----------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, subscribe and dispatch until cancelled.

        Raises AuthenticationFailed if the very first connection is refused for its
        credentials (a configuration error); later refusals are retried like outages.
        """
        now = self._clock.time()
        for device in self._devices.values():
            device.last_seen = now
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._watch_staleness(), name=f"mqtt-stale:{self.name}")
                await self._connection_loop()
        except BaseExceptionGroup as errors:
            # A restarted run announces the devices again (the restarter marked them down).
            for device in self._devices.values():
                if device.available is True:
                    device.available = None
            # Surface a lone error (a rejected password) as itself, not wrapped in a group.
            if len(errors.exceptions) == 1 and isinstance(errors.exceptions[0], Exception):
                raise errors.exceptions[0] from None
            raise

    def _backoff(self) -> Backoff:
        """From the spec at each use (``broker`` may be replaced while running)."""
        return Backoff(self.broker.backoff_min, self.broker.backoff_max)

    async def wait_connected(self) -> None:
        """Wait until connected and subscribed."""
        await self._connected.wait()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def _connection_loop(self) -> None:
        failures = 0
        while True:
            self.state = ConnectionState.CONNECTING
            try:
                await self._session()
            except AuthenticationFailed as err:
                if not self._ever_connected:
                    _LOGGER.error("%s: %s", self.name, err)  # noqa: TRY400 (a config error, no trace)
                    raise
                self._note_failure(err, failures)
            except BrokerUnavailable as err:
                self._note_failure(err, failures)
            if self._session_was_up:
                failures = 0
            failures += 1
            self.state = ConnectionState.BACKOFF
            await asyncio.sleep(self._backoff().delay(failures, self._rng))

    def _note_failure(self, err: BrokerUnavailable, failures: int) -> None:
        text = str(err)
        if self._session_was_up:
            _LOGGER.warning("%s: connection lost (%s); reconnecting", self.name, err.reason)
        elif failures == 0 or text != self.last_error:
            _LOGGER.error("%s: %s; retrying with backoff", self.name, text)
        else:
            _LOGGER.debug("%s: still failing: %s", self.name, text)
        self.last_error = text

    async def _session(self) -> None:
        """One connection, from CONNECT to its loss."""
        self._session_was_up = False
        client = self._new_client()
        try:
            async with client:
                self._session_was_up = True
                try:
                    await self._subscribe(client)
                    self._up(client)
                    await self._receive(client)
                finally:
                    self._down()
        except MqttConnectError as err:
            raise refusal(self.broker, err) from err
        except aiomqtt.MqttError as err:
            raise BrokerUnavailable(self.broker.host, self.broker.port, str(err)) from err
        except TimeoutError as err:
            raise BrokerUnavailable(
                self.broker.host, self.broker.port, "no SUBACK in time"
            ) from err

    async def _receive(self, client: aiomqtt.Client) -> None:
        """Until the connection drops. Messages never reach this iterator (they are
        dispatched on arrival, see ``fastpath``): it is aiomqtt's way to wait for the end."""
        async for _ in client.messages:
            pass

    def _up(self, client: aiomqtt.Client) -> None:
        self._client = client
        self._ever_connected = True
        self.connects += 1
        self.state = ConnectionState.CONNECTED
        if self.last_error is not None:
            _LOGGER.info("%s: connected again", self.name)
        else:
            _LOGGER.info("%s: connected, %d filter(s)", self.name, len(self.filters))
        self.last_error = None
        self._connected.set()

    def _down(self) -> None:
        self._client = None
        self._connected.clear()

    def _new_client(self) -> aiomqtt.Client:
        client = new_client(self.broker, identifier=self.broker.client_id, persistent=True)
        fastpath.install(client, self._dispatch)  # see fastpath: measured, and why
        return client

    async def _subscribe(self, client: aiomqtt.Client) -> None:
        chunk = 64  # keeps SUBSCRIBE packets small for brokers with packet-size limits
        for start in range(0, len(self.filters), chunk):
            filters = self.filters[start : start + chunk]
            granted = await self._await_progressing(
                client.subscribe([(f, 1) for f in filters], timeout=math.inf)
            )
            refused = [f for f, g in zip(filters, granted, strict=False) if _refused(g)]
            if refused:
                _LOGGER.error("%s: broker refused subscriptions %s", self.name, refused)

    async def _await_progressing(self, call: Coroutine[Any, Any, T]) -> T:
        """Await ``call`` (a SUBACK) while the connection shows signs of life.

        After an outage the broker first delivers what it queued for our session, possibly
        many thousands of messages, and only then answers SUBSCRIBE: a fixed timeout would
        drop a healthy connection. Give up only after ``timeout`` seconds without any message.
        """
        task = asyncio.ensure_future(call)
        try:
            while True:
                seen = self.received
                done, _ = await asyncio.wait({task}, timeout=self.broker.timeout)
                if done:
                    return task.result()
                if self.received == seen:
                    raise TimeoutError
        finally:
            task.cancel()

    # -- availability --------------------------------------------------------------------

    async def _watch_staleness(self) -> None:
        windows = [d.spec.stale_after for d in self._devices.values() if d.spec.stale_after]
        if not windows:
            return
        period = max(min(windows) / 4.0, 0.5)
        while True:
            await self._clock.sleep(period)
            now = self._clock.time()
            for device in self._devices.values():
                window = device.spec.stale_after
                if window and device.available is not False and now - device.last_seen > window:
                    device.set_available(False, f"no telemetry for {now - device.last_seen:.0f} s")

    # -- commands ------------------------------------------------------------------------

    async def write(self, device_id: str, key: str, value: Value) -> Value:
        """Publish a command (QoS 1) and wait until the device's state reports it.

        Returns the reported value; raises CommandRefused, NotConnected or CommandUnconfirmed.
        """
        device = self._devices.get(device_id)
        if device is None:
            raise CommandRefused(device_id, key, value, "not a device on this MQTT link")
        spec = device.spec.commands.get(key)
        if spec is None:
            raise CommandRefused(device_id, key, value, "this point is not writable")
        payload, expected = encode_command(device_id, spec, value)
        if device.available is False:
            raise CommandRefused(device_id, key, value, "the device is offline")
        client = self._client
        if client is None:
            raise NotConnected(device_id, key, value, f"not connected to {self.name}")
        future: asyncio.Future[Value] = asyncio.get_running_loop().create_future()
        waiter = Waiter(expected, tolerance(spec), future)
        device.waiters.setdefault(key, []).append(waiter)
        timeout = self.broker.timeout
        try:
            async with asyncio.timeout(timeout):
                # timeout=inf: aiomqtt then awaits directly instead of through wait_for, which
                # on Python 3.11 can swallow a cancellation; asyncio.timeout bounds the wait.
                await client.publish(
                    spec.topic, payload, qos=spec.qos, retain=spec.retain, timeout=math.inf
                )
                return await future
        except TimeoutError:
            raise CommandUnconfirmed(device_id, key, value, timeout, waiter.last) from None
        except aiomqtt.MqttError as err:
            raise NotConnected(device_id, key, value, f"publish failed: {err}") from err
        finally:
            waiting = device.waiters[key]
            waiting.remove(waiter)
            if not waiting:
                del device.waiters[key]

    # -- figures -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Connection figures and problem totals (cheap: one pass over the devices)."""
        problems: dict[str, int] = {}
        online = offline = 0
        for device in self._devices.values():
            for problem, count in device.problems.items():
                problems[str(problem)] = problems.get(str(problem), 0) + count
            online += device.available is True
            offline += device.available is False
        return {
            "broker": f"{self.broker.host}:{self.broker.port} (MQTT {self.broker.protocol})",
            "state": str(self.state),
            "connects": self.connects,
            "last_error": self.last_error,
            "filters": len(self.filters),
            "devices": len(self._devices),
            "online": online,
            "offline": offline,
            "received": self.received,
            "unknown_topics": self.unknown_topics,
            "internal_errors": self.internal_errors,
            "problems": dict(sorted(problems.items())),
        }

    def device_stats(self, device_id: str) -> dict[str, Any]:
        """One device's counters; KeyError for a device this driver does not run."""
        return self._devices[device_id].stats()

    def problems(self, device_id: str) -> dict[str, int]:
        return {str(k): v for k, v in self._devices[device_id].problems.items()}


def _refused(granted: object) -> bool:
    if isinstance(granted, ReasonCode):
        return bool(granted.is_failure)
    return isinstance(granted, int) and granted >= 0x80
