"""``sanjie emulate`` for MQTT devices: every MQTT link's devices publishing to its broker."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping

from rich.console import Console

from controller.config import LoadedSite

from .device import EmulatorClock
from .faults import MqttFaults
from .site import EmulatedMqttSite, run_site

__all__ = ["serve_mqtt"]


@contextlib.asynccontextmanager
async def serve_mqtt(
    site: LoadedSite,
    clock: EmulatorClock,
    console: Console,
    *,
    brokers: Mapping[str, tuple[str, int]],
    seed: int = 0,
    fault_rate: float = 0.0,
) -> AsyncIterator[list[EmulatedMqttSite]]:
    """Run the devices of each MQTT link in ``brokers`` (link id → host, port)."""

    def faults(_device_id: str) -> MqttFaults:
        return MqttFaults(rate=fault_rate)

    running: list[EmulatedMqttSite] = []
    async with contextlib.AsyncExitStack() as stack:
        for link_id, (host, port) in brokers.items():
            link = site.links[link_id]
            ids = [d.id for d in site.devices.values() if d.link == link_id]
            emulated = await stack.enter_async_context(
                run_site(
                    site,
                    host,
                    port,
                    clock,
                    seed=seed,
                    faults=faults if fault_rate > 0 else None,
                    device_ids=ids,
                    username=getattr(link, "username", None),
                    password=getattr(link, "password", None),
                )
            )
            running.append(emulated)
            console.print(
                f"MQTT link {link_id}: {len(ids)} devices publishing to {host}:{port}"
                + (f", {fault_rate:.1%} faulty messages" if fault_rate > 0 else "")
            )
        yield running
