"""The demo's MQTT part: the assembly's local broker, the emulated devices and the integration."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from rich.console import Console

from controller.assemble import ControllerOptions, build_controller
from controller.core import ScaledClock
from controller.demo import DemoOptions, DemoRun, mqtt_emulators
from tests.integrations.mqtt_site import eventually, write_mqtt_site

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
async def _join_connect_threads() -> AsyncIterator[None]:
    """aiomqtt connects in the loop's default executor; join its thread before the leak check."""
    yield
    await asyncio.get_running_loop().shutdown_default_executor()


async def test_mqtt_step_without_a_configured_broker(tmp_path: Path, unique_name: str) -> None:
    site = write_mqtt_site(tmp_path, port=1883, prefix=unique_name, link={"host": None})
    clock = ScaledClock(60.0, tz=site.campus.timezone)
    async with contextlib.AsyncExitStack() as stack:
        options = ControllerOptions(mqtt_free_ports=True, data_dir=tmp_path / "data", api_port=None)
        assembly = await build_controller(site, options, stack, clock=clock)
        assert assembly.brokers["mqtt-main"].started is not None
        assert any(line.startswith("MQTT broker: ") for line in assembly.describe())
        run = DemoRun(DemoOptions(site=site.source), site, clock, stack, Console(quiet=True))
        await mqtt_emulators(run, assembly)
        controller = assembly.controller
        async with controller.running():
            states = controller.states
            await eventually(lambda: states.get("bath-1.shower.s02.volume") is not None, 10)
            await eventually(lambda: states.get("bath-1.plug.p1.energy") is not None, 10)
            result = await controller.commands.send("bath-1.plug.p1.relay", "off")
            assert result.ok, result.error
