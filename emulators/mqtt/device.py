"""One emulated MQTT device: its own connection with an LWT, telemetry on its interval, commands.

Behaviour comes from ``emulators.models`` through ``BoundDevice`` (the same models the Modbus
emulator serves); this module only adds the MQTT side and wire faults.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import math
import random
from collections.abc import Mapping
from typing import Protocol

import aiomqtt

from emulators.models import BoundDevice, CommandRejected, ModelValue

from .codec import BadCommand, DeviceCodec, StateTopic
from .faults import MqttFault, MqttFaults, corrupt

__all__ = ["EmulatedMqttDevice", "EmulatorClock"]

_LOGGER = logging.getLogger(__name__)

RECONNECT_SECONDS = 1.0
ACK_SECONDS = 10.0


async def _publish(
    client: aiomqtt.Client, topic: str, payload: bytes | str, retain: bool = False
) -> None:
    """Publish at QoS 1 and wait for the PUBACK.

    aiomqtt bounds its waits with ``asyncio.wait_for``, which on Python 3.11 can swallow a
    cancellation that arrives together with the PUBACK; ``timeout=inf`` makes it await
    directly and ``asyncio.timeout`` (cancellation-safe) bounds the wait instead.
    """
    async with asyncio.timeout(ACK_SECONDS):
        await client.publish(topic, payload, qos=1, retain=retain, timeout=math.inf)


class EmulatorClock(Protocol):
    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class _Silence(Exception):
    """Leave the connection cleanly (no LWT) and say nothing for a while."""


class EmulatedMqttDevice:
    """Publishes a device's telemetry and obeys its commands until cancelled."""

    def __init__(
        self,
        bound: BoundDevice,
        codec: DeviceCodec,
        clock: EmulatorClock,
        *,
        host: str,
        port: int,
        rng: random.Random,
        interval: float,
        faults: MqttFaults | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.device_id = bound.device_id
        self.bound = bound
        self.codec = codec
        self.clock = clock
        self.host = host
        self.port = port
        self.rng = rng
        self.interval = interval
        self.faults = faults or MqttFaults()
        self.username = username
        self.password = password
        self.published = 0
        self.commands = 0
        self.rejected = 0
        self.last_values: dict[str, ModelValue] = {}
        """What the last telemetry said (for tests comparing both ends)."""
        self.connected = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._wake = asyncio.Event()

    # -- control (tests, demo) -----------------------------------------------------------

    def inject(self, fault: MqttFault, count: int = 1) -> None:
        """Apply ``fault`` to the next ``count`` telemetry messages."""
        self.faults.inject(fault, count)

    def publish_soon(self) -> None:
        """Publish telemetry now instead of at the end of the interval."""
        self._wake.set()

    # -- running -------------------------------------------------------------------------

    async def run(self) -> None:
        """Stay connected (reconnecting after broker loss) until cancelled."""
        while True:
            silent = False
            try:
                await self._session()
            except* (aiomqtt.MqttError, TimeoutError) as errors:
                _LOGGER.debug("%s: broker connection lost: %s", self.device_id, errors.exceptions)
            except* _Silence:
                silent = True
            if silent:
                _LOGGER.info(
                    "%s: silent without LWT for %g s", self.device_id, self.faults.silent_seconds
                )
                await self.clock.sleep(self.faults.silent_seconds)
            else:
                await asyncio.sleep(RECONNECT_SECONDS * self.rng.uniform(0.5, 1.5))

    async def _session(self) -> None:
        will = None
        codec = self.codec
        options = codec.profile.mqtt
        if codec.availability_topic:
            will = aiomqtt.Will(
                codec.availability_topic, options.payload_offline, qos=1, retain=True
            )
        client = aiomqtt.Client(
            self.host,
            self.port,
            identifier=f"emu-{self.device_id}",
            username=self.username,
            password=self.password,
            will=will,
            timeout=10,
        )
        try:
            async with client:
                self._client = client
                if codec.availability_topic:
                    await _publish(
                        client, codec.availability_topic, options.payload_online, retain=True
                    )
                if codec.command_topics:
                    async with asyncio.timeout(ACK_SECONDS):
                        await client.subscribe(
                            [(t, 1) for t in codec.command_topics], timeout=math.inf
                        )
                self.connected.set()
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._telemetry(client), name=f"emu-tele:{self.device_id}")
                    group.create_task(self._listen(client), name=f"emu-cmd:{self.device_id}")
                    group.create_task(self._ticker(), name=f"emu-tick:{self.device_id}")
        finally:
            self._client = None
            self.connected.clear()

    async def _telemetry(self, client: aiomqtt.Client) -> None:
        while True:
            self._wake.clear()
            await self.publish_all(client)
            await self._wake.wait()

    async def _ticker(self) -> None:
        """Wake the publisher every interval of the (possibly fake or scaled) clock."""
        while True:
            await self.clock.sleep(self.interval)
            self._wake.set()

    async def publish_all(self, client: aiomqtt.Client, keys: set[str] | None = None) -> None:
        """Publish every telemetry topic (or those carrying ``keys``)."""
        values = self.bound.read()
        self.last_values = values
        now = self.clock.time()
        fault = self.faults.next(self.rng) if keys is None else None
        if fault is MqttFault.SILENT_DISCONNECT:
            raise _Silence
        for topic in self.codec.topics:
            if keys is not None and not keys & {p.key for p in topic.points}:
                continue
            for payload in self._payloads(topic, values, now, fault):
                await _publish(client, topic.topic, payload)
                self.published += 1

    def _payloads(
        self,
        topic: StateTopic,
        values: Mapping[str, ModelValue],
        now: float,
        fault: MqttFault | None,
    ) -> list[bytes]:
        codec = self.codec
        if fault is None or not topic.is_json:
            return [codec.encode(topic, values, now)]
        doc = codec.document(topic, values, now)
        ts_path = codec.profile.mqtt.timestamp_path
        if fault is MqttFault.DUPLICATE:
            payload = json.dumps(doc, separators=(",", ":")).encode()
            return [payload, payload]
        if fault is MqttFault.OUT_OF_ORDER:
            stale = codec.document(topic, values, now - 3600.0)
            return [
                json.dumps(doc, separators=(",", ":")).encode(),
                json.dumps(stale, separators=(",", ":")).encode(),
            ]
        if fault is MqttFault.BURST:
            return [
                codec.encode(topic, values, now + i * 0.001) for i in range(self.faults.burst_size)
            ]
        ts_key = ts_path.rsplit(".", 1)[-1] if ts_path else None
        return [corrupt(fault, copy.deepcopy(doc), ts_key, self.rng)]

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = message.topic.value
            payload = message.payload
            if not isinstance(payload, bytes):
                continue
            try:
                requests = self.codec.decode_command(topic, payload)
            except BadCommand as err:
                self.rejected += 1
                _LOGGER.debug("%s: ignored command on %s: %s", self.device_id, topic, err)
                continue
            for key, value in requests:
                self.commands += 1
                try:
                    self.bound.write(key, value)
                except CommandRejected as err:
                    self.rejected += 1
                    _LOGGER.debug("%s: refused %s", self.device_id, err)
            await self.publish_all(client, {key for key, _ in requests})
