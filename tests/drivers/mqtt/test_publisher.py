"""The publisher on a real Mosquitto: publishes, and comes back (publishing again) after the
broker restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from drivers.mqtt import BrokerSpec, MqttPublisher, PublishFailed
from tests.integrations.mqtt_site import eventually
from tests.servers import MosquittoServer

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
async def _join_connect_threads() -> AsyncIterator[None]:
    """aiomqtt connects in the loop's default executor; join its thread before the leak check."""
    yield
    await asyncio.get_running_loop().shutdown_default_executor()


async def _retained(port: int, topic: str) -> bytes:
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe(topic)
        async with asyncio.timeout(10):
            async for message in client.messages:
                return bytes(message.payload)
    raise AssertionError("no retained message")


async def test_publishes_and_reconnects_after_a_broker_restart(
    tmp_path: Path, unique_name: str
) -> None:
    server = MosquittoServer(tmp_path)  # our own: this test restarts it
    server.start()
    try:
        broker = BrokerSpec(
            host="127.0.0.1",
            port=server.port,
            client_id=unique_name,
            protocol="3.1.1",
            timeout=2.0,
            backoff_min=0.05,
            backoff_max=0.2,
        )
        publisher = MqttPublisher(broker, client_id=unique_name, will=(f"{unique_name}/s", "off"))
        with pytest.raises(PublishFailed, match="not connected"):
            await publisher.publish(f"{unique_name}/t", "early")
        async with asyncio.TaskGroup() as group:
            task = group.create_task(publisher.run())
            await asyncio.wait_for(publisher.wait_connected(), 10)
            await publisher.publish(f"{unique_name}/t", "one", retain=True)
            assert await _retained(server.port, f"{unique_name}/t") == b"one"
            server.restart()
            await eventually(lambda: publisher.connection >= 2, 20)
            await publisher.publish(f"{unique_name}/t", "two", retain=True)
            assert await _retained(server.port, f"{unique_name}/t") == b"two"
            assert publisher.published == 2
            task.cancel()
    finally:
        server.stop()


async def test_a_burst_of_qos1_publishes_is_not_a_warning(
    mosquitto: MosquittoServer, unique_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The export publishes one state per entity at once; aiomqtt's default warned from the
    eleventh publish awaiting its PUBACK (seen in every demo log)."""
    broker = BrokerSpec(host="127.0.0.1", port=mosquitto.port, client_id=unique_name)
    publisher = MqttPublisher(broker, client_id=unique_name)
    async with asyncio.TaskGroup() as group:
        task = group.create_task(publisher.run())
        await asyncio.wait_for(publisher.wait_connected(), 10)
        with caplog.at_level("WARNING"):
            await asyncio.gather(
                *(publisher.publish(f"{unique_name}/{i}", str(i)) for i in range(200))
            )
        task.cancel()
    assert publisher.published == 200
    assert not [r for r in caplog.records if "pending publish" in r.getMessage()]
