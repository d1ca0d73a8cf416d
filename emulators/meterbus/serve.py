"""``sanjie emulate``: the site's DL/T 645 and CJ/T 188 buses, beside its Modbus gateways."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence

from rich.console import Console
from rich.table import Table

from controller.config import LoadedSite

from ..models import ModelClock
from .inject import inject_meter
from .site import MeterSiteEmulator

__all__ = ["serve_meters"]


@contextlib.asynccontextmanager
async def serve_meters(
    site: LoadedSite,
    clock: ModelClock,
    console: Console,
    *,
    seed: int = 0,
    latency: float | None = None,
    free_ports: bool = False,
    faults: Sequence[str] = (),
) -> AsyncIterator[list[str]]:
    """Serve the meters while the block runs; yields the faults that target none of them
    (for the Modbus emulator). ValueError for a bad fault, OSError if a port is taken."""
    emulator = MeterSiteEmulator(site, clock, seed=seed, latency=latency, free_ports=free_ports)
    rest: list[str] = []
    done: list[str] = []
    for text in faults:
        line = inject_meter(emulator, text)
        if line is None:
            rest.append(text)
        else:
            done.append(line)
    if not emulator.gateways:
        yield rest
        return
    async with emulator:
        table = Table(title="DL/T 645 / CJ/T 188 表计总线 meter buses (emulated)")
        for column in ("Link", "Protocol", "Listens on", "Meters"):
            table.add_column(column)
        for link_id, gateway in emulator.gateways.items():
            where = f"{gateway.host}:{gateway.port}" if gateway.port else f"serial {gateway.host}"
            table.add_row(link_id, gateway.protocol, where, str(len(gateway.meters)))
        console.print(table)
        meters = sum(len(g.meters) for g in emulator.gateways.values())
        console.print(f"{meters} DL/T 645 and CJ/T 188 meters on {len(emulator.gateways)} buses")
        for line in done:
            console.print(f"[yellow]fault[/yellow] {line}")
        yield rest
