"""The demo's local broker: mosquitto when installed, else amqtt; the MQTT stack runs on both."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.app import Controller
from controller.broker import BrokerKind, BrokerPortTaken, LinkBroker, local_broker, site_brokers
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
            controller, brokers={"mqtt-main": (broker.host, broker.port, broker.protocol)}
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
        assert await site_brokers(named, stack) == {"mqtt-main": LinkBroker("127.0.0.1", 1884, "5")}
        ((link, found),) = (await site_brokers(unnamed, stack, free_ports=True)).items()
        assert (link, found.host) == ("mqtt-main", "127.0.0.1")
        assert found.started is not None
        _, writer = await asyncio.open_connection(found.host, found.port)  # a broker listens
        writer.close()
        await writer.wait_closed()


async def test_hostless_link_uses_the_broker_already_at_its_port(
    tmp_path: Path, unique_name: str
) -> None:
    """`sanjie run` meets `sanjie emulate`: the broker at the link's port is used, not doubled."""
    async with local_broker(prefer="mosquitto") as running, contextlib.AsyncExitStack() as stack:
        default = write_mqtt_site(
            tmp_path / "default", port=running.port, prefix=unique_name, link={"host": None}
        )
        older = write_mqtt_site(
            tmp_path / "older",
            port=running.port,
            prefix=unique_name,
            link={"host": None, "protocol": "3.1.1"},
        )
        assert await site_brokers(default, stack) == {
            "mqtt-main": LinkBroker("127.0.0.1", running.port, "5")
        }
        assert await site_brokers(older, stack) == {
            "mqtt-main": LinkBroker("127.0.0.1", running.port, "3.1.1")
        }


async def test_hostless_link_starts_a_broker_at_its_port(tmp_path: Path, unique_name: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    site = write_mqtt_site(tmp_path, port=port, prefix=unique_name, link={"host": None})
    async with contextlib.AsyncExitStack() as stack:
        found = (await site_brokers(site, stack))["mqtt-main"]
        assert (found.host, found.port) == ("127.0.0.1", port)
        assert found.started is not None
        assert found.started.port == port


async def test_port_taken_by_something_else_fails_naming_link_and_port(
    tmp_path: Path, unique_name: str
) -> None:
    """A silent listener (not a broker) must give a clear error within seconds, not a hang."""
    server = await asyncio.start_server(lambda _r, _w: None, "127.0.0.1", 0)
    port = int(server.sockets[0].getsockname()[1])
    site = write_mqtt_site(tmp_path, port=port, prefix=unique_name, link={"host": None})
    async with server, contextlib.AsyncExitStack() as stack:
        with pytest.raises(BrokerPortTaken, match=rf"mqtt-main.*port {port}.*not an MQTT broker"):
            await asyncio.wait_for(site_brokers(site, stack), 10)


_KILLED_PARENT = """
import asyncio, sys
from controller.broker import local_broker

async def main() -> None:
    async with local_broker(prefer="mosquitto") as broker:
        print(broker.port, flush=True)
        await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_broker_goes_when_its_parent_is_killed() -> None:
    """A SIGKILLed demo leaves no mosquitto behind holding its port."""
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _KILLED_PARENT, stdout=asyncio.subprocess.PIPE
    )
    assert parent.stdout is not None
    port = int(await asyncio.wait_for(parent.stdout.readline(), 20))
    brokers = _mosquittos_on(port)
    assert len(brokers) == 1, brokers
    parent.kill()
    await parent.wait()
    for _ in range(100):
        if _gone(brokers[0]):
            break
        await asyncio.sleep(0.05)
    else:
        os.kill(brokers[0], signal.SIGKILL)
        pytest.fail("mosquitto outlived the process that started it")


def _mosquittos_on(port: int) -> list[int]:
    """Pids of mosquitto processes whose command line names a config listening on ``port``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if argv and argv[0].endswith(b"mosquitto") and len(argv) > 2:
                conf = Path(argv[2].decode()).read_text()
                if f"listener {port} " in conf:
                    found.append(int(proc.name))
    return found


def _gone(pid: int) -> bool:
    """Whether ``pid`` has exited (no longer listed, or a zombie its new parent has not reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] == "Z"
    except OSError:
        return True
