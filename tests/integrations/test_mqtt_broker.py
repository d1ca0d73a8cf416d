"""The demo's local broker: mosquitto when installed, else amqtt; the MQTT stack runs on both."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
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
