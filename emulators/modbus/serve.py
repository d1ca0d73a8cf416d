"""``sanjie emulate``: serve a site's Modbus devices until interrupted."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

from controller.config import LoadedSite

from ..models import ModelClock
from .inject import inject
from .site import SiteEmulator

__all__ = ["endpoint_table", "serve_site"]


def endpoint_table(emulator: SiteEmulator) -> Table:
    """Where each emulated gateway listens."""
    table = Table(title="Modbus 网关 gateways (emulated)")
    for column in ("Link", "Framing", "Listens on", "Devices"):
        table.add_column(column)
    for endpoint in emulator.endpoints.values():
        table.add_row(
            endpoint.link_id,
            "Modbus TCP" if endpoint.framing == "tcp" else "RTU",
            f"{endpoint.host}:{endpoint.port}" if endpoint.port else f"serial {endpoint.host}",
            str(endpoint.devices),
        )
    return table


async def serve_site(
    site: LoadedSite,
    clock: ModelClock,
    console: Console,
    *,
    seed: int = 0,
    latency: float | None = None,
    free_ports: bool = False,
    faults: Sequence[str] = (),
    duration: float | None = None,
) -> None:
    """Serve every Modbus device of ``site`` until cancelled (or for ``duration`` seconds).

    ValueError for a bad fault; OSError if a port is taken.
    """
    emulator = SiteEmulator(site, clock, seed=seed, latency=latency, free_ports=free_ports)
    done = [inject(emulator, text) for text in faults]
    async with emulator:
        console.print(endpoint_table(emulator))
        for line in done:
            console.print(f"[yellow]fault[/yellow] {line}")
        console.print(
            f"{len(emulator.devices)} devices on {len(emulator.gateways)} gateways; Ctrl-C stops."
        )
        if duration is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(duration)
