"""``sanjie run``: the service polls a real (emulated) meter, records, serves the API, stops."""

from __future__ import annotations

import asyncio
import json
import textwrap
import urllib.request
from pathlib import Path

import aiomqtt
import pytest

from controller.accounts import Role
from controller.config import ConfigError, load_site
from controller.core import SystemClock
from controller.service import ServiceOptions, run_service, state_dir
from emulators.modbus import SiteEmulator
from tests.auth_helpers import service_token
from tests.servers import MosquittoServer, free_port


def _site(tmp_path: Path, meter_port: int, *, broker_port: int = 0, extra: str = "") -> Path:
    """One metered room; with ``broker_port`` also an MQTT link ``broker`` (no devices)."""
    links = [f"{{id: gw-1, type: modbus_tcp, host: 127.0.0.1, port: {meter_port}, timeout: 0.5}}"]
    if broker_port:
        links.append(f"{{id: broker, type: mqtt, host: 127.0.0.1, port: {broker_port}}}")
    site = tmp_path / "site.yaml"
    site.write_text(
        textwrap.dedent(
            """\
            campus: {id: svc, name: {zh: 服务测试}}
            buildings:
              - {id: b1, kind: dorm, name: {zh: 一号楼}, rooms: [{id: "101", floor: 1}]}
            devices:
              - {id: b1.101.elec, profile: eastron/sdm120, building: b1, room: "101",
                 link: gw-1, unit_id: 1, scan_interval: 1}
            """
        )
        + "links:\n"
        + "".join(f"  - {link}\n" for link in links)
        + textwrap.dedent(extra),
        encoding="utf-8",
    )
    return site


def _get_json(url: str, headers: dict[str, str]) -> object:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2) as reply:
        return json.loads(reply.read())


@pytest.mark.integration
async def test_the_service_polls_records_serves_and_stops(tmp_path: Path) -> None:
    site_path = _site(tmp_path, free_port())
    api_port = free_port()
    options = ServiceOptions(site_path, tmp_path / "data", "127.0.0.1", api_port)
    token = service_token(options.data_dir, role=Role.VIEWER)
    stop = asyncio.Event()
    emulator = SiteEmulator(load_site(site_path), SystemClock(), latency=0)
    async with emulator, asyncio.TaskGroup() as group:
        service = group.create_task(run_service(options, stop), name="service")
        url = f"http://127.0.0.1:{api_port}/api/states/b1.101.elec.voltage"
        state: object = None
        async with asyncio.timeout(30):
            while not (isinstance(state, dict) and state.get("value") is not None):
                await asyncio.sleep(0.2)
                try:
                    state = await asyncio.to_thread(_get_json, url, token)
                except OSError:
                    continue  # the API is not up yet, or the first poll has not happened
        stop.set()
    controller = service.result()
    assert isinstance(state, dict)
    assert 150 < float(state["value"]) < 300
    assert controller.states.value("b1.101.elec.voltage") is not None
    files = {p.name for p in state_dir(tmp_path / "data").iterdir()}
    assert {"history.sqlite3", "policies.sqlite3", "audit.sqlite3"} <= files


async def test_an_invalid_site_raises_before_anything_starts(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("campus: {id: x}\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        await run_service(ServiceOptions(site, tmp_path))
    assert not state_dir(tmp_path).exists()


@pytest.mark.integration
async def test_sinks_mqtt_mirrors_states_to_a_broker(
    tmp_path: Path, mosquitto: MosquittoServer, unique_name: str
) -> None:
    """``sinks.mqtt`` in the site turns the export on: polled states appear, retained, under
    the prefix, with Home Assistant discovery, on a real Mosquitto."""
    extra = f"""\
        sinks:
          mqtt: {{link: broker, prefix: {unique_name}/sanjie}}
        """
    site_path = _site(tmp_path, free_port(), broker_port=mosquitto.port, extra=extra)
    options = ServiceOptions(site_path, tmp_path / "data", "127.0.0.1", free_port())
    stop = asyncio.Event()
    seen: dict[str, bytes] = {}
    state_topic = f"{unique_name}/sanjie/b1.101.elec.voltage/state"
    config_topic = "homeassistant/sensor/sanjie_svc/b1_101_elec_voltage/config"
    emulator = SiteEmulator(load_site(site_path), SystemClock(), latency=0)
    async with emulator, asyncio.TaskGroup() as group:
        service = group.create_task(run_service(options, stop), name="service")
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
            await client.subscribe(f"{unique_name}/sanjie/#")
            await client.subscribe(config_topic)
            async with asyncio.timeout(30):
                async for message in client.messages:
                    seen[message.topic.value] = bytes(message.payload)
                    if state_topic in seen and config_topic in seen:
                        break
        stop.set()
    await service
    assert 150 < float(seen[state_topic]) < 300
    assert json.loads(seen[config_topic])["device_class"] == "voltage"
    await asyncio.get_running_loop().shutdown_default_executor()  # aiomqtt's connect threads
