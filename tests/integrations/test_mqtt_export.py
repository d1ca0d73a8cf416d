"""Entities mirrored to MQTT, with Home Assistant discovery, against a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from controller.app import Controller
from controller.core import FakeClock
from controller.integrations.mqtt import broker_spec
from controller.integrations.mqtt_export import MqttExport, state_payload
from tests.integrations.mqtt_site import eventually, write_mqtt_site
from tests.servers import MosquittoServer

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
async def _join_connect_threads() -> AsyncIterator[None]:
    """aiomqtt connects in the loop's default executor; join its thread before the leak check."""
    yield
    await asyncio.get_running_loop().shutdown_default_executor()


@pytest.mark.parametrize(
    ("value", "text"), [(12.5, "12.5"), (3, "3"), (True, "ON"), ("open", "open"), (None, "None")]
)
def test_state_payload(value: object, text: str) -> None:
    assert state_payload(None, value) == text  # type: ignore[arg-type]


async def test_states_and_discovery_are_published(
    tmp_path: Path, mosquitto: MosquittoServer, unique_name: str
) -> None:
    site = write_mqtt_site(tmp_path, port=mosquitto.port, prefix=unique_name, showers=1, plugs=1)
    controller = Controller(site, FakeClock())
    prefix = f"{unique_name}/sanjie"
    export = MqttExport(controller, broker_spec(site, site.links["mqtt-main"]), prefix=prefix)
    controller.add(export)
    controller.states.set("bath-1.plug.p1.energy", 12.5)
    seen: dict[str, bytes] = {}
    async with controller.running():
        await asyncio.wait_for(export.connected.wait(), 10)
        controller.states.set("bath-1.shower.s01.valve", "open")
        controller.states.set_available("bath-1.plug.p1", False, "test")
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
            await client.subscribe(f"{prefix}/#")
            await client.subscribe("homeassistant/+/sanjie_mqtt-test/#")

            async def collect() -> None:
                async for message in client.messages:
                    seen[message.topic.value] = message.payload  # type: ignore[assignment]

            async with asyncio.TaskGroup() as group:
                task = group.create_task(collect(), name="collect")
                await eventually(
                    lambda: (
                        seen.get(f"{prefix}/bath-1.shower.s01.valve/state") == b"open"
                        and seen.get(f"{prefix}/bath-1.plug.p1/availability") == b"offline"
                    )
                )
                task.cancel()
    assert seen[f"{prefix}/bath-1.plug.p1.energy/state"] == b"12.5"
    assert seen[f"{prefix}/status"] == b"online"
    energy = json.loads(seen["homeassistant/sensor/sanjie_mqtt-test/bath-1_plug_p1_energy/config"])
    assert energy["device_class"] == "energy"
    assert energy["state_class"] == "total_increasing"
    assert energy["unit_of_measurement"] == "kWh"
    assert energy["state_topic"] == f"{prefix}/bath-1.plug.p1.energy/state"
    assert energy["device"]["manufacturer"] == "Tasmota"
    assert energy["device"]["suggested_area"] == "浴室 淋浴间"
    # Without commands_as the export is read-only: two-state points are binary sensors.
    ha = "homeassistant/binary_sensor/sanjie_mqtt-test"
    relay = json.loads(seen[f"{ha}/bath-1_plug_p1_relay/config"])
    assert (relay["payload_on"], relay["payload_off"]) == ("on", "off")
    assert "command_topic" not in relay
    valve = json.loads(seen[f"{ha}/bath-1_shower_s01_valve/config"])
    assert (valve["payload_on"], valve["payload_off"], valve["device_class"]) == (
        "open",
        "closed",
        "opening",
    )
    configs = [json.loads(v) for t, v in seen.items() if t.startswith("homeassistant/")]
    configs = [c for c in configs if c["state_topic"].startswith(f"{prefix}/")]  # this test's
    assert configs
    assert not any("command_topic" in c for c in configs)
