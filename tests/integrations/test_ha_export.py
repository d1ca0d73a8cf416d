"""The Home Assistant export as real entities, against a real Mosquitto with emulated MQTT
devices: discovery per component type, and commands from Home Assistant's command topics that
reach the device (or that a policy refuses), audited under the configured account."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiomqtt
import pytest
from argon2 import PasswordHasher

from controller.accounts import AccountStore, Role
from controller.app import Controller
from controller.assemble import ControllerOptions, build_controller
from controller.audit import AuditLog
from controller.config import LoadedSite
from controller.config.policies import policy_adapter
from controller.config.site import MqttExportSink
from controller.core import FakeClock
from controller.core.files import private_dir
from controller.integrations.mqtt import MqttIntegration, broker_spec, mqtt_links
from controller.integrations.mqtt_export import (
    SOURCE,
    CommandAccount,
    CommandAccountError,
    MqttExport,
)
from controller.policies.engine import PolicyEngine
from emulators.mqtt import EmulatedMqttSite, run_site
from tests.integrations.mqtt_site import write_mqtt_site
from tests.servers import MosquittoServer

pytestmark = pytest.mark.integration

TZ = dt.timezone(dt.timedelta(hours=8))
ACTOR = "王丽 (wangli)"
PLUG, SHOWER, AC = "bath-1.plug.p1", "bath-1.shower.s01", "bath-1.ac"


@pytest.fixture(autouse=True)
async def _join_connect_threads() -> AsyncIterator[None]:
    """aiomqtt connects in the loop's default executor; join its thread before the leak check."""
    yield
    await asyncio.get_running_loop().shutdown_default_executor()


@dataclasses.dataclass
class World:
    controller: Controller
    export: MqttExport
    audit: AuditLog
    devices: EmulatedMqttSite
    clock: FakeClock
    seen: dict[str, bytes]
    client: aiomqtt.Client

    def read(self, device_id: str) -> dict[str, object]:
        return self.devices[device_id].bound.read()

    def config(self, component: str, entity_id: str) -> dict[str, object]:
        campus = self.controller.site.campus.id
        topic = f"homeassistant/{component}/sanjie_{campus}/{entity_id.replace('.', '_')}/config"
        assert topic in self.seen, sorted(t for t in self.seen if entity_id.replace(".", "_") in t)
        return json.loads(self.seen[topic])  # type: ignore[no-any-return]

    async def until(self, condition: Callable[[], bool], what: str, limit: float = 120) -> None:
        start = self.clock.time()
        while not condition():
            if self.clock.time() - start > limit:
                raise AssertionError(f"{what}: not within {limit:g} s of clock time")
            self.clock.advance(0.5)
            for _ in range(5):
                await asyncio.sleep(0.005)  # a broker round trip


@contextlib.asynccontextmanager
async def running(site: LoadedSite, port: int, tmp: Path) -> AsyncIterator[World]:
    # 08:00 on a Monday: outside the bathhouse's supply hours (12:00–14:00).
    clock = FakeClock(dt.datetime(2026, 3, 2, 8, 0, tzinfo=TZ).timestamp())
    supply = {"id": "bath-hours", "type": "supply_windows", "close_open_valves": False,
              "supply": [{"start": "12:00", "end": "14:00"}]}  # fmt: skip
    # A campus id of its own: the broker keeps other tests' retained discovery configs.
    campus = site.campus.model_copy(update={"id": f"ha-{uuid.uuid4().hex[:8]}"})
    policies = [policy_adapter().validate_python(supply)]
    site = dataclasses.replace(site, campus=campus, policies=policies)
    controller = Controller(site, clock)
    integration = MqttIntegration(controller, mqtt_links(site)[0])
    audit = AuditLog(tmp / "audit.sqlite3", clock, controller.bus)
    engine = PolicyEngine(controller, store_path=tmp / "p.sqlite3", audit=audit)
    prefix = f"{site.links['mqtt-main'].client_id}/export"  # type: ignore[union-attr]
    export = MqttExport(
        controller,
        broker_spec(site, site.links["mqtt-main"]),
        prefix=prefix,
        commands=CommandAccount(ACTOR, frozenset({"bath-1"})),
    )
    for component in (integration, audit, engine, export):
        controller.add(component)
    seen: dict[str, bytes] = {}
    try:
        async with (
            controller.running(),
            run_site(site, "127.0.0.1", port, clock) as devices,
            aiomqtt.Client("127.0.0.1", port) as client,
        ):
            await asyncio.wait_for(integration.driver.wait_connected(), 10)
            await devices.wait_connected()
            await asyncio.wait_for(export.connected.wait(), 10)
            await client.subscribe(f"homeassistant/+/sanjie_{campus.id}/#")
            await client.subscribe(f"{prefix}/#")

            async def collect() -> None:
                async for message in client.messages:
                    seen[message.topic.value] = message.payload  # type: ignore[assignment]

            task = asyncio.create_task(collect(), name="collect")
            try:
                yield World(controller, export, audit, devices, clock, seen, client)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
    finally:
        engine.close()
        audit.close()


async def test_discovery_configs_per_component_type(
    tmp_path: Path, mosquitto: MosquittoServer, unique_name: str
) -> None:
    site = write_mqtt_site(tmp_path, port=mosquitto.port, prefix=unique_name, others=True)
    async with running(site, mosquitto.port, tmp_path) as w:
        entities = len(w.controller.registry)
        await w.until(
            lambda: sum(t.startswith("homeassistant/") for t in w.seen) == entities,
            "a discovery config per entity",
            limit=60,
        )
        relay = w.config("switch", f"{PLUG}.relay")
        mode = w.config("select", f"{AC}.mode")
        setpoint = w.config("number", f"{AC}.setpoint")
        valve = w.config("select", f"{SHOWER}.valve")
        energy = w.config("sensor", f"{PLUG}.energy")
    prefix = w.export.prefix
    assert relay["name"] == "开关"  # the campus language (zh)
    assert relay["command_topic"] == f"{prefix}/{PLUG}.relay/set"
    assert (relay["payload_on"], relay["payload_off"]) == ("on", "off")
    assert mode["options"] == ["auto", "heat", "dry", "fan", "cool"]
    assert (setpoint["min"], setpoint["max"], setpoint["unit_of_measurement"]) == (17, 30, "°C")
    assert setpoint["device_class"] == "temperature"
    assert valve["options"] == ["open", "closed"]
    assert energy["device_class"] == "energy"
    assert "command_topic" not in energy
    device = relay["device"]
    assert isinstance(device, dict)
    assert (device["manufacturer"], device["model"]) == ("Tasmota", "Energy-monitoring plug")
    assert device["suggested_area"] == "浴室 淋浴间"  # building and area, not a bare "showers"
    assert device["name"] != PLUG


async def test_a_command_reaches_the_device_or_a_policy_refuses_it_and_both_are_audited(
    tmp_path: Path, mosquitto: MosquittoServer, unique_name: str
) -> None:
    site = write_mqtt_site(tmp_path, port=mosquitto.port, prefix=unique_name, others=True)
    async with running(site, mosquitto.port, tmp_path) as w:
        prefix = w.export.prefix
        await w.until(lambda: w.read(PLUG).get("relay") == "on", "plug reports on")
        await w.client.publish(f"{prefix}/{PLUG}.relay/set", "off")
        await w.until(lambda: w.read(PLUG)["relay"] == "off", "the plug switched off")
        await w.until(
            lambda: w.seen.get(f"{prefix}/{PLUG}.relay/state") == b"off", "state published"
        )
        await w.client.publish(f"{prefix}/{AC}.setpoint/set", "26")
        await w.until(lambda: w.read(AC).get("setpoint") == 26, "the AC setpoint")

        valve_before = w.read(SHOWER)["valve"]
        await w.client.publish(f"{prefix}/{SHOWER}.valve/set", "open")  # outside supply hours
        await w.client.publish(f"{prefix}/{AC}.setpoint/set", "99")  # outside 17–30
        await w.until(lambda: w.export.received >= 4, "four commands handled")
        await w.until(
            lambda: len(w.audit.query(actor=ACTOR)) >= 3, "three commands audited", limit=30
        )
        assert w.read(SHOWER)["valve"] == valve_before
        entries = {e.target: e for e in w.audit.query(actor=ACTOR)}
    relay = entries[f"{PLUG}.relay"]
    assert (relay.result, relay.source, relay.details["value"]) == ("ok", SOURCE, "off")
    assert entries[f"{AC}.setpoint"].result == "ok"
    refused = entries[f"{SHOWER}.valve"]
    assert "supply" in refused.result  # the supply-hours policy's refusal, in the audit log
    assert w.export.refused >= 2  # the policy's refusal and the out-of-range setpoint


def _with_commands_as(site: LoadedSite, name: str) -> LoadedSite:
    assert site.sinks.mqtt is None
    sink = MqttExportSink(link="mqtt-main", prefix="t", commands_as=name)
    return dataclasses.replace(site, sinks=site.sinks.model_copy(update={"mqtt": sink}))


async def test_the_composition_root_takes_commands_only_as_an_operator_account(
    tmp_path: Path, mosquitto: MosquittoServer, unique_name: str
) -> None:
    site = write_mqtt_site(tmp_path, port=mosquitto.port, prefix=unique_name)
    options = ControllerOptions(mqtt_free_ports=True, data_dir=tmp_path, api_port=None)
    state = private_dir(tmp_path)
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    store = AccountStore(state / "accounts.sqlite3", FakeClock(), hasher=fast)
    store.add("ha-bath", Role.OPERATOR, "correct horse battery", display_name="浴室值班")
    store.add("looker", Role.VIEWER, "correct horse battery")
    store.close()

    async with contextlib.AsyncExitStack() as stack:
        built = await build_controller(_with_commands_as(site, "ha-bath"), options, stack)
        assert built.export is not None
        assert built.export.status()["commands_as"] == "浴室值班 (ha-bath)"
        assert built.export.publisher.subscriptions == ["t/+/set"]
    for name, why in (("looker", "operator role"), ("nobody", "no account 'nobody'")):
        async with contextlib.AsyncExitStack() as stack:
            with pytest.raises(CommandAccountError, match=why):
                await build_controller(_with_commands_as(site, name), options, stack)
