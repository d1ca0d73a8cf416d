"""Run every MQTT device of a site as an emulated device on one broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass

from controller.config import LoadedSite
from emulators.models import BoundDevice, build_model, device_rng

from .codec import DeviceCodec
from .device import EmulatedMqttDevice, EmulatorClock
from .faults import MqttFaults

__all__ = ["EmulatedMqttSite", "mqtt_devices", "run_site"]


@dataclass
class EmulatedMqttSite:
    """The running emulated devices, by device id."""

    devices: dict[str, EmulatedMqttDevice]

    async def wait_connected(self) -> None:
        """Until every device has connected (and published its first telemetry)."""
        for device in self.devices.values():
            await device.connected.wait()

    def __getitem__(self, device_id: str) -> EmulatedMqttDevice:
        return self.devices[device_id]

    def stats(self) -> dict[str, int]:
        return {
            "devices": len(self.devices),
            "connected": sum(d.connected.is_set() for d in self.devices.values()),
            "published": sum(d.published for d in self.devices.values()),
            "commands": sum(d.commands for d in self.devices.values()),
        }


def mqtt_devices(
    site: LoadedSite,
    clock: EmulatorClock,
    *,
    host: str,
    port: int,
    seed: int = 0,
    faults: Callable[[str], MqttFaults] | None = None,
    device_ids: Iterable[str] | None = None,
    username: str | None = None,
    password: str | None = None,
) -> dict[str, EmulatedMqttDevice]:
    """Emulated devices for the site's MQTT devices (or just ``device_ids``)."""
    wanted = set(device_ids) if device_ids is not None else None
    out: dict[str, EmulatedMqttDevice] = {}
    for device in site.devices.values():
        profile = site.profile_of(device)
        if profile.protocol != "mqtt" or (wanted is not None and device.id not in wanted):
            continue
        model = build_model(site, device, clock, seed)
        out[device.id] = EmulatedMqttDevice(
            BoundDevice(device.id, profile, model),
            DeviceCodec(device, profile, site.campus.timezone),
            clock,
            host=host,
            port=port,
            rng=device_rng(seed + 1, device.id),
            interval=device.scan_interval or profile.mqtt.interval,
            faults=faults(device.id) if faults is not None else None,
            username=username,
            password=password,
        )
    return out


@contextlib.asynccontextmanager
async def run_site(
    site: LoadedSite,
    broker_host: str,
    broker_port: int,
    clock: EmulatorClock,
    *,
    seed: int = 0,
    faults: Callable[[str], MqttFaults] | None = None,
    device_ids: Iterable[str] | None = None,
    username: str | None = None,
    password: str | None = None,
) -> AsyncIterator[EmulatedMqttSite]:
    """Run the site's MQTT devices against a broker while the block runs.

    ``faults(device_id)`` gives each device its wire faults (e.g. a small random rate for
    the demo); tests reach a device through the yielded site to inject exact faults.
    """
    devices = mqtt_devices(
        site,
        clock,
        host=broker_host,
        port=broker_port,
        seed=seed,
        faults=faults,
        device_ids=device_ids,
        username=username,
        password=password,
    )
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(d.run(), name=f"mqtt-emu:{i}") for i, d in devices.items()]
        try:
            yield EmulatedMqttSite(devices)
        finally:
            for task in tasks:
                task.cancel()
