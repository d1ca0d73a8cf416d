"""End to end over MQTT (real Mosquitto, emulated shower controllers and a Tasmota plug):
supply windows close showers outside supply hours and refuse "open" from the app; canteen
after-hours switches a non-essential plug off and back on."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from controller.app import Controller
from controller.calendar import SiteCalendar
from controller.config import LoadedSite
from controller.config.policies import policy_adapter
from controller.core import FakeClock
from controller.integrations.mqtt import MqttIntegration, mqtt_links
from controller.policies.engine import PolicyEngine
from emulators.mqtt import EmulatedMqttSite, run_site
from tests.integrations.mqtt_site import write_mqtt_site
from tests.servers import MosquittoServer

from .conftest import at

pytestmark = pytest.mark.integration

S01, S02, PLUG = "bath-1.shower.s01", "bath-1.shower.s02", "bath-1.plug.p1"
POLICIES = [
    {"id": "bath-hours", "type": "supply_windows", "supply": [{"start": "12:00", "end": "14:00"}]},
    {
        "id": "after-hours",
        "type": "canteen_hours",
        "scope": {"devices": [PLUG]},
        "service": [{"start": "06:30", "end": "09:00"}],
    },
]


@pytest.fixture(autouse=True)
async def _join_connect_threads() -> AsyncIterator[None]:
    """aiomqtt connects in the loop's default executor; join its thread before the leak check."""
    yield
    await asyncio.get_running_loop().shutdown_default_executor()


@dataclasses.dataclass
class World:
    controller: Controller
    engine: PolicyEngine
    devices: EmulatedMqttSite
    clock: FakeClock

    def read(self, device_id: str) -> dict[str, Any]:
        return self.devices[device_id].bound.read()

    async def until(self, condition: Callable[[], bool], what: str, limit: float = 600) -> None:
        start = self.clock.time()
        while not condition():
            if self.clock.time() - start > limit:
                raise AssertionError(f"{what}: not within {limit:g} s of clock time")
            self.clock.advance(1.0)
            for _ in range(5):
                await asyncio.sleep(0.005)  # a broker round trip


@contextlib.asynccontextmanager
async def running(
    site: LoadedSite, port: int, store: Path, clock: FakeClock, calendar: SiteCalendar
) -> AsyncIterator[World]:
    declared = [policy_adapter().validate_python(p) for p in POLICIES]
    site = dataclasses.replace(site, policies=declared)
    controller = Controller(site, clock)
    integration = MqttIntegration(controller, mqtt_links(site)[0])
    engine = PolicyEngine(controller, store_path=store, calendar=calendar)
    controller.add(integration)
    controller.add(engine)
    try:
        async with controller.running(), run_site(site, "127.0.0.1", port, clock) as devices:
            await asyncio.wait_for(integration.driver.wait_connected(), 10)
            await devices.wait_connected()
            for device in devices.devices.values():
                if hasattr(device.bound.model, "uses_per_day"):
                    device.bound.model.uses_per_day = 0.0  # nobody showers in this test
            yield World(controller, engine, devices, clock)
    finally:
        engine.close()


async def test_showers_close_outside_supply_hours_and_plugs_follow_service(
    tmp_path: Path,
    mosquitto: MosquittoServer,
    unique_name: str,
    calendar: SiteCalendar,
) -> None:
    site = write_mqtt_site(tmp_path, port=mosquitto.port, prefix=unique_name)
    clock = FakeClock(at(2026, 3, 2, 8, 59, 50))
    async with running(site, mosquitto.port, tmp_path / "p.sqlite3", clock, calendar) as w:
        # 09:00: the canteen service ends, the plug goes off.
        await w.until(lambda: w.read(PLUG)["relay"] == "off", "plug off after service")
        assert clock.now() >= at(2026, 3, 2, 9, 0)
        # Outside supply hours the shower controllers are disabled...
        await w.until(lambda: w.read(S01)["enabled"] == "off", "showers disabled")
        assert w.read(S02)["enabled"] == "off"
        # ...and the app cannot open one.
        refused = await w.controller.commands.send(
            f"{S01}.valve", "open", actor="app:card-123", source="app"
        )
        assert not refused.ok
        assert "supply hours" in (refused.error or "")
        # 12:00: supply starts, the enables come back.
        clock.set(at(2026, 3, 2, 11, 59, 50))
        await w.until(lambda: w.read(S01)["enabled"] == "on", "showers enabled at noon")
        assert clock.now() >= at(2026, 3, 2, 12, 0)
        # Next morning 06:30: the plug is switched back on for service.
        clock.set(at(2026, 3, 3, 6, 29, 50))
        await w.until(lambda: w.read(PLUG)["relay"] == "on", "plug on for breakfast")
        assert clock.now() >= at(2026, 3, 3, 6, 30)
