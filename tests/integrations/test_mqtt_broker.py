"""The demo's local broker: mosquitto when installed, else amqtt; the MQTT stack runs on both."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.app import Controller
from controller.broker import BrokerKind, local_broker, site_brokers
from controller.core import FakeClock
from controller.integrations.mqtt import mqtt_integrations
from emulators.mqtt import run_site
from tests.integrations.mqtt_site import eventually, write_mqtt_site

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
async def _join_connect_threads() -> AsyncIterator[None]:
    """aiomqtt connects in the loop's default executor; join its thread before the leak check."""
    yield
    await asyncio.get_running_loop().shutdown_default_executor()


@pytest.mark.parametrize("kind", ["mosquitto", "amqtt"])
async def test_local_broker_carries_telemetry_and_commands(
    tmp_path: Path, unique_name: str, kind: BrokerKind
) -> None:
    async with local_broker(prefer=kind) as broker:
        assert broker.kind == kind
        site = write_mqtt_site(
            tmp_path, port=broker.port, prefix=unique_name, link={"host": None, "port": 1883}
        )
        clock = FakeClock()
        controller = Controller(site, clock)
        (integration,) = mqtt_integrations(
            controller, host=broker.host, port=broker.port, protocol=broker.protocol
        )
        controller.add(integration)
        async with (
            controller.running(),
            run_site(site, broker.host, broker.port, clock) as emulated,
        ):
            await asyncio.wait_for(integration.driver.wait_connected(), 10)
            await emulated.wait_connected()
            entity = "bath-1.shower.s01.delay"
            await eventually(lambda: controller.states.get(entity) is not None, within=10)
            result = await controller.commands.send(entity, 90)
            assert (result.ok, result.confirmed_value) == (True, 90)


async def test_link_without_host_needs_a_broker(tmp_path: Path, unique_name: str) -> None:
    site = write_mqtt_site(tmp_path, port=1883, prefix=unique_name, link={"host": None})
    with pytest.raises(ValueError, match="has no host"):
        mqtt_integrations(Controller(site, FakeClock()))


async def test_site_brokers_start_one_only_where_the_link_names_none(
    tmp_path: Path, unique_name: str
) -> None:
    named = write_mqtt_site(tmp_path / "named", port=1884, prefix=unique_name)
    unnamed = write_mqtt_site(
        tmp_path / "unnamed", port=1883, prefix=unique_name, link={"host": None}
    )
    async with contextlib.AsyncExitStack() as stack:
        assert await site_brokers(named, stack) == {"mqtt-main": ("127.0.0.1", 1884)}
        ((link, (host, port)),) = (await site_brokers(unnamed, stack, free_ports=True)).items()
        assert (link, host) == ("mqtt-main", "127.0.0.1")
        _, writer = await asyncio.open_connection(host, port)  # a broker listens there
        writer.close()
        await writer.wait_closed()
