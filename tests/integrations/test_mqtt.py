"""MQTT integration against a real Mosquitto: telemetry, commands, faults, availability."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from controller.app import Controller
from controller.config import LoadedSite
from controller.core import FakeClock, Quality, StateChanged
from controller.integrations.mqtt import MqttIntegration, mqtt_links
from emulators.mqtt import MqttFault, run_site
from tests.integrations.mqtt_site import eventually, write_mqtt_site
from tests.servers import MosquittoServer

pytestmark = pytest.mark.integration

S01 = "bath-1.shower.s01"
SHOWER_STATE = {
    "valve": "closed",
    "flow_lpm": 0.0,
    "total_l": 15320,
    "presses": 77,
    "delay_s": 30,
    "enabled": True,
}
S02 = "bath-1.shower.s02"
PLUG = "bath-1.plug.p1"


@pytest.fixture(autouse=True)
async def _join_connect_threads() -> AsyncIterator[None]:
    """aiomqtt connects in the loop's default executor; join its thread before the leak check."""
    yield
    await asyncio.get_running_loop().shutdown_default_executor()


@contextlib.asynccontextmanager
async def controller_for(
    site: LoadedSite, clock: FakeClock
) -> AsyncIterator[tuple[Controller, MqttIntegration]]:
    controller = Controller(site, clock)
    integration = MqttIntegration(controller, mqtt_links(site)[0])
    controller.add(integration)
    async with controller.running():
        await asyncio.wait_for(integration.driver.wait_connected(), 10)
        yield controller, integration


@pytest.fixture
def site(tmp_path: Path, mosquitto: MosquittoServer, unique_name: str) -> LoadedSite:
    return write_mqtt_site(tmp_path, port=mosquitto.port, prefix=unique_name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def publish(port: int, *messages: tuple[str, bytes | str]) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_known_payloads_become_entity_state(
    tmp_path: Path, mosquitto: MosquittoServer, unique_name: str, clock: FakeClock, protocol: str
) -> None:
    site = write_mqtt_site(
        tmp_path, port=mosquitto.port, prefix=unique_name, link={"protocol": protocol}
    )
    tasmota = {
        "Time": "2026-01-01T08:00:05",
        "ENERGY": {"Total": 12.345, "Power": 45, "Voltage": 229.8, "Current": 0.21, "Factor": 0.93},
    }
    shower = {
        "ts": 1767225601.5,
        "valve": "open",
        "flow_lpm": 8.2,
        "total_l": 15320,
        "presses": 77,
        "delay_s": 30,
        "enabled": True,
    }
    async with controller_for(site, clock) as (controller, integration):
        await publish(
            mosquitto.port,
            (f"tele/{unique_name}_plug1/SENSOR", json.dumps(tasmota)),
            (f"stat/{unique_name}_plug1/POWER", "ON"),
            (f"{unique_name}/shower/s01/state", json.dumps(shower)),
        )
        states = controller.states
        await eventually(lambda: states.get(f"{S01}.enabled") and states.get(f"{PLUG}.relay"))
        assert states.value(f"{PLUG}.energy") == pytest.approx(12.345)
        assert states.value(f"{PLUG}.power") == 45
        assert states.value(f"{PLUG}.power_factor") == pytest.approx(0.93)
        assert states.value(f"{PLUG}.relay") == "on"
        energy = states.get(f"{PLUG}.energy")
        assert energy is not None
        assert energy.timestamp == 1767225605.0  # naive Tasmota time is campus time (UTC+8)
        assert states.value(f"{S01}.volume") == pytest.approx(15.32)  # litres → m³
        assert states.value(f"{S01}.valve") == "open"
        assert states.value(f"{S01}.enabled") == "on"
        assert states.value(f"{S01}.presses") == 77
        assert integration.status()["problems"] == {}


async def test_emulated_devices_reach_the_state_store(
    tmp_path: Path, mosquitto: MosquittoServer, unique_name: str, clock: FakeClock
) -> None:
    site = write_mqtt_site(tmp_path, port=mosquitto.port, prefix=unique_name, others=True)
    async with (
        controller_for(site, clock) as (controller, _),
        run_site(site, "127.0.0.1", mosquitto.port, clock) as emulated,
    ):
        await emulated.wait_connected()
        for device_id, device in emulated.devices.items():
            await eventually(lambda d=device: d.published >= 1)
            for key, value in device.last_values.items():  # the clock stands still: one publish
                entity = f"{device_id}.{key}"
                await eventually(lambda e=entity: controller.states.get(e) is not None)
                got = controller.states.value(entity)
                if isinstance(value, float):
                    assert got == pytest.approx(value, rel=1e-6, abs=1e-6), entity
                else:
                    assert got == value, entity


async def test_commands_round_trip_with_confirmation(
    site: LoadedSite, mosquitto: MosquittoServer, clock: FakeClock
) -> None:
    async with (
        controller_for(site, clock) as (controller, _),
        run_site(site, "127.0.0.1", mosquitto.port, clock, device_ids=[S01, PLUG]) as emulated,
    ):
        await emulated.wait_connected()
        send = controller.commands.send
        result = await send(f"{S01}.delay", 45, actor="test")
        assert (result.ok, result.confirmed_value) == (True, 45)
        assert emulated[S01].bound.read()["delay"] == 45
        result = await send(f"{S01}.enabled", "off", actor="test")
        assert (result.ok, result.confirmed_value) == (True, "off")
        result = await send(f"{PLUG}.relay", "off", actor="test")
        assert (result.ok, result.confirmed_value) == (True, "off")
        assert controller.states.value(f"{PLUG}.relay") == "off"
        emulated[PLUG].publish_soon()  # like Tasmota, power comes with the next SENSOR message
        await eventually(lambda: controller.states.value(f"{PLUG}.power") == 0)
        result = await send(f"{PLUG}.relay", "on", actor="test")
        assert result.ok


async def test_water_meter_and_ac_commands(
    tmp_path: Path, mosquitto: MosquittoServer, unique_name: str, clock: FakeClock
) -> None:
    site = write_mqtt_site(
        tmp_path, port=mosquitto.port, prefix=unique_name, showers=0, plugs=0, others=True
    )
    async with (
        controller_for(site, clock) as (controller, _),
        run_site(site, "127.0.0.1", mosquitto.port, clock) as emulated,
    ):
        await emulated.wait_connected()
        send = controller.commands.send
        for entity, value in (
            ("bath-1.cold.valve", "closed"),
            ("bath-1.hot.valve", "closed"),
            ("bath-1.ac.setpoint", 27),
            ("bath-1.ac.mode", "cool"),
            ("bath-1.ac.power_switch", "off"),
        ):
            result = await send(entity, value, actor="test")
            assert (result.ok, result.confirmed_value) == (True, value), result.error
        assert emulated["bath-1.ac"].bound.read()["power_switch"] == "off"


async def test_commands_are_refused_or_fail_clearly(
    tmp_path: Path, mosquitto: MosquittoServer, unique_name: str, clock: FakeClock
) -> None:
    site = write_mqtt_site(tmp_path, port=mosquitto.port, prefix=unique_name, link={"timeout": 0.5})
    async with (
        controller_for(site, clock) as (controller, _),
        run_site(site, "127.0.0.1", mosquitto.port, clock, device_ids=[S01]) as emulated,
    ):
        await emulated.wait_connected()
        send = controller.commands.send
        too_long = await send(f"{S01}.delay", 601)
        assert not too_long.ok
        assert "outside the range 5–600" in (too_long.error or "")
        bad_word = await send(f"{S01}.valve", "ajar")
        assert "allowed values are ['closed', 'open']" in (bad_word.error or "")
        read_only = await send(f"{S01}.flow", 3)
        assert "not writable" in (read_only.error or "")
        # s02 has no emulator behind it: published, but nobody confirms.
        silent = await send(f"{S02}.delay", 40)
        assert not silent.ok
        assert "not confirmed within 0.5 s" in (silent.error or "")


async def test_malformed_payloads_are_counted_and_ingestion_goes_on(
    site: LoadedSite, mosquitto: MosquittoServer, clock: FakeClock
) -> None:
    faults = [
        MqttFault.MALFORMED_JSON,
        MqttFault.MISSING_FIELD,
        MqttFault.WRONG_TYPE,
        MqttFault.DUPLICATE,
        MqttFault.OUT_OF_ORDER,
    ]
    async with (
        controller_for(site, clock) as (controller, integration),
        run_site(site, "127.0.0.1", mosquitto.port, clock, device_ids=[S01]) as emulated,
    ):
        await emulated.wait_connected()
        device = emulated[S01]
        driver = integration.driver
        await eventually(lambda: driver.device_stats(S01)["messages"] >= 1)
        for fault in faults:
            device.inject(fault)
            clock.advance(1.0)  # a fresh device timestamp for every message
            before = driver.device_stats(S01)["messages"]
            device.publish_soon()
            await eventually(lambda b=before: driver.device_stats(S01)["messages"] > b)
        await publish(
            site.links["mqtt-main"].port,
            (f"{device.codec.topics[0].topic}", b'{"ts": 1767225700, "flow_lpm": 999}'),
        )
        await eventually(lambda: driver.problems(S01).get("out_of_range"))
        problems = driver.problems(S01)
        assert problems["bad_json"] == 1
        assert problems["missing_field"] >= 1
        assert problems["wrong_type"] >= 1
        assert problems["duplicate"] == 1
        assert problems["out_of_order"] == 1
        assert problems["out_of_range"] == 1
        flow = controller.states.get(f"{S01}.flow")
        assert flow is not None
        assert (flow.value, flow.quality) == (999, Quality.BAD)
        # The driver kept going: a clean message after all that is ingested.
        clock.advance(200.0)
        device.bound.write("delay", 55)
        device.publish_soon()
        await eventually(lambda: controller.states.value(f"{S01}.delay") == 55)
        assert integration.status()["state"] == "connected"
        # A burst of valid messages (1 ms apart) is all ingested, none taken for a repeat.
        clock.advance(10.0)
        before = driver.device_stats(S01)["messages"]
        problems_before = driver.problems(S01)
        device.inject(MqttFault.BURST)
        device.publish_soon()
        await eventually(lambda: driver.device_stats(S01)["messages"] == before + 20)
        assert driver.problems(S01) == problems_before


async def test_availability_from_lwt_and_staleness(
    site: LoadedSite, mosquitto: MosquittoServer, clock: FakeClock, unique_name: str
) -> None:
    async with (
        controller_for(site, clock) as (controller, _),
        run_site(site, "127.0.0.1", mosquitto.port, clock, device_ids=[S01]) as emulated,
    ):
        await emulated.wait_connected()
        states = controller.states
        await publish(mosquitto.port, (f"{unique_name}/shower/s02/status", "offline"))
        await eventually(lambda: not states.is_available(S02))
        refused = await controller.commands.send(f"{S02}.delay", 40)
        assert refused.error == "the device is offline"
        # s01 publishes every 30 s; silent without LWT, it goes stale after 3 × 30 s.
        emulated[S01].inject(MqttFault.SILENT_DISCONNECT)
        emulated[S01].publish_soon()
        await eventually(lambda: not emulated[S01].connected.is_set())
        assert states.is_available(S01)
        await clock.run_for(120.0, step=5.0)
        await eventually(lambda: not states.is_available(S01))
        await publish(mosquitto.port, (f"{unique_name}/shower/s02/status", "online"))
        await eventually(lambda: states.is_available(S02))


async def test_broker_restart_loses_no_qos1_message(tmp_path: Path, unique_name: str) -> None:
    """Telemetry published while the controller is away waits in its persistent session."""
    # Persistence must survive the restart: as root, mosquitto would drop to a user that
    # cannot write the test's folder.
    broker = MosquittoServer(tmp_path / "broker")
    broker.start()
    try:
        site = write_mqtt_site(tmp_path, port=broker.port, prefix=unique_name, showers=1, plugs=0)
        total = 600
        topic = f"{unique_name}/shower/s01/state"
        async with controller_for(site, FakeClock()) as (controller, integration):
            driver = integration.driver
            # Reconnect late enough that the rest of the stream is queued for us meanwhile.
            driver.broker = dataclasses.replace(driver.broker, backoff_min=3.0)
            seen: set[int] = set()
            entity = f"{S01}.presses"
            sub = controller.bus.subscribe("counter", [StateChanged], maxsize=100_000)
            sent_while_away: set[int] = set()

            async def count() -> None:
                async for event in sub:
                    assert isinstance(event, StateChanged)
                    if event.entity_id == entity:
                        seen.add(int(event.new.value))  # type: ignore[arg-type]

            async def stream() -> None:
                seq = 1
                while seq <= total:
                    try:
                        async with aiomqtt.Client("127.0.0.1", broker.port, timeout=0.5) as client:
                            while seq <= total:
                                payload = {**SHOWER_STATE, "ts": 1767225600 + seq / 1000}
                                payload["presses"] = seq
                                await client.publish(topic, json.dumps(payload), qos=1)
                                if not driver.connected:
                                    sent_while_away.add(seq)
                                seq += 1
                                await asyncio.sleep(0.002)
                    except aiomqtt.MqttError:
                        await asyncio.sleep(0.2)  # then resend the unacknowledged message

            async with asyncio.TaskGroup() as group:
                counter = group.create_task(count(), name="count")
                streamer = group.create_task(stream(), name="stream")
                await eventually(lambda: len(seen) >= total // 4)
                await asyncio.to_thread(broker.restart)  # the loop (and everyone) keeps running
                await streamer
                await eventually(lambda: len(seen) == total, within=20)
                counter.cancel()
            assert seen == set(range(1, total + 1))
            assert driver.connects == 2
            assert sent_while_away  # those waited in the stored session for us
            # At-least-once: redelivered messages are recognised and dropped, nothing else.
            assert set(integration.status()["problems"]) <= {"duplicate", "out_of_order"}
    finally:
        broker.stop()


async def test_wrong_password_is_a_clear_distinct_error(tmp_path: Path, unique_name: str) -> None:
    from drivers.mqtt import AuthenticationFailed

    broker = MosquittoServer(tmp_path / "auth", allow_anonymous=False)
    passwd = broker.add_user("sanjie", "right-password")
    # Running as root, mosquitto would drop to its own user, who cannot read the test's files.
    config = broker.config_path.read_text() + f"password_file {passwd}\n"
    broker.config_path.write_text(config)
    broker.start()
    try:
        for protocol in ("5", "3.1.1"):
            site = write_mqtt_site(
                tmp_path,
                port=broker.port,
                prefix=unique_name,
                link={"username": "sanjie", "password": "wrong", "protocol": protocol},
            )
            controller = Controller(site, FakeClock())
            integration = MqttIntegration(controller, mqtt_links(site)[0])
            with pytest.raises(AuthenticationFailed) as err:
                await asyncio.wait_for(integration.driver.run(), 10)
            assert "user 'sanjie' rejected" in str(err.value)
            assert "check the link's username and password" in str(err.value)
        site = write_mqtt_site(
            tmp_path,
            port=broker.port,
            prefix=unique_name,
            link={"username": "sanjie", "password": "right-password"},
        )
        async with controller_for(site, FakeClock()) as (_, integration):
            assert integration.driver.connected
    finally:
        broker.stop()


async def test_tls_with_a_private_ca(tmp_path: Path, unique_name: str) -> None:
    """A TLS listener whose certificate is signed by the site's own CA file."""
    certs = tmp_path / "certs"
    certs.mkdir()

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=certs)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    )
    (certs / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
    )
    broker = MosquittoServer(
        tmp_path / "tls",
        extra_config=f"cafile {certs}/ca.crt\ncertfile {certs}/server.crt\n"
        f"keyfile {certs}/server.key",
    )
    broker.start()
    try:
        site = write_mqtt_site(
            tmp_path,
            port=broker.port,
            prefix=unique_name,
            link={"tls": {"ca_file": str(certs / "ca.crt")}},
        )
        async with controller_for(site, FakeClock()) as (_, integration):
            assert integration.driver.connected
        untrusted = write_mqtt_site(
            tmp_path, port=broker.port, prefix=unique_name, link={"tls": {}}
        )
        controller = Controller(untrusted, FakeClock())
        stranger = MqttIntegration(controller, mqtt_links(untrusted)[0])
        stranger.driver.broker = dataclasses.replace(stranger.driver.broker, backoff_min=30.0)
        async with asyncio.TaskGroup() as group:
            task = group.create_task(stranger.driver.run(), name="untrusted")
            await eventually(lambda: stranger.driver.last_error)
            assert "CERTIFICATE_VERIFY_FAILED" in (stranger.driver.last_error or "")
            task.cancel()
    finally:
        broker.stop()
