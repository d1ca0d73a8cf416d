"""CPU per value polled and recorded at a realistic scan interval, against bare pymodbus.

Issue 18's figure: every poll goes Modbus → decode → state store → event bus → recorder →
line protocol → a real InfluxDB 1.x. The baseline is plain pymodbus clients, one per bus,
issuing the same block reads at the same pace (each bus's requests spread evenly over the scan
interval, as the scheduler staggers them), so the ratio is the cost of everything the
controller adds per value. Rounds alternate baseline → controller; medians are printed.
CPU is the measured process's own user+system time (all its threads, the recorder's sender
included), so the figures hold on a loaded machine where wall-clock rates do not.

    .venv/bin/python bench/poll_record.py [--gateways 8] [--scan 10] [--seconds 20] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from modbus_poll import emulator_process, write_site
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerType

from controller.app import Controller
from controller.config import LoadedSite, load_site
from controller.core import SystemClock
from controller.integrations.modbus import ModbusIntegration, device_spec
from controller.recorder import Backoff, InfluxV1Writer, Recorder
from drivers.modbus import plan_reads
from tests.servers import InfluxServer


def cpu_seconds(me: psutil.Process) -> float:
    times = me.cpu_times()
    return float(times.user + times.system)


async def bare_paced(
    site: LoadedSite, endpoints: dict[str, tuple[str, int]], scan: float, seconds: float
) -> dict[str, float]:
    """Plain pymodbus: each bus reads its blocks once per ``scan``, spread evenly."""
    per_link: dict[str, list[tuple[int, int, int, int]]] = {}
    for device in site.devices.values():
        spec = device_spec(device, site.profile_of(device))
        for block in plan_reads(spec):
            per_link.setdefault(device.link, []).append(
                (spec.unit_id, block.start, block.count, len(block.points))
            )
    clients = []
    for link in per_link:
        host, port = endpoints[link]
        client = AsyncModbusTcpClient(
            host, port=port, framer=FramerType.RTU, timeout=2, retries=0, reconnect_delay=0
        )
        await client.connect()
        clients.append(client)
    values = 0
    counting = stopping = False
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def one(
        index: int, client: AsyncModbusTcpClient, blocks: list[tuple[int, int, int, int]]
    ) -> None:
        nonlocal values
        gap = scan / len(blocks)
        slot = start + index * gap / len(per_link)
        while not stopping:
            for unit, first, count, points in blocks:
                if stopping:
                    return
                await asyncio.sleep(max(0.0, slot - loop.time()))
                slot += gap
                try:
                    reply = await client.read_holding_registers(first, count=count, device_id=unit)
                except ModbusException:
                    continue
                if counting and not reply.isError():
                    values += points

    me = psutil.Process()
    tasks = [
        asyncio.create_task(one(i, c, b))
        for i, (c, b) in enumerate(zip(clients, per_link.values(), strict=True))
    ]
    await asyncio.sleep(min(2.0, scan))  # warm up
    counting, cpu0, t0 = True, cpu_seconds(me), time.perf_counter()
    await asyncio.sleep(seconds)
    cpu, elapsed = cpu_seconds(me) - cpu0, time.perf_counter() - t0
    # Stop by a flag, not by cancelling: pymodbus's client (asyncio.wait_for on Python 3.11)
    # can swallow a cancellation that races with a reply, and the gather then never returns.
    stopping = True
    await asyncio.wait(tasks, timeout=scan + 5)
    for client in clients:
        client.close()
    return {
        "values_per_s": values / elapsed,
        "cpu_us_per_value": cpu / max(values, 1) * 1e6,
        "cpu_share": cpu / elapsed,
    }


async def controller_round(
    site: LoadedSite,
    endpoints: dict[str, tuple[str, int]],
    scan: float,
    seconds: float,
    influx: InfluxServer,
    db: str,
    data: Path,
) -> dict[str, float]:
    """The controller path: poll → state store → bus → recorder → InfluxDB."""
    influx.query(f'CREATE DATABASE "{db}"')
    controller = Controller(site, SystemClock(site.campus.timezone))
    modbus = ModbusIntegration(
        controller, endpoints=endpoints, scan_interval=scan, inter_frame_gap=0.0, timeout=2.0
    )
    controller.add(modbus)
    recorder = Recorder(
        controller,
        history_path=data / f"{db}-history.sqlite3",
        writer=InfluxV1Writer(influx.url, db, timeout=30),
        outbox_path=data / f"{db}-outbox.sqlite3",
        backoff=Backoff(0.05, 0.5),
        flush_interval=1.0,  # so a short window sees its points acknowledged
    )
    controller.add(recorder)
    good = 0
    passed_on = modbus.snapshot

    def counted(device_id: str, readings: Any, timestamp: float) -> None:
        nonlocal good
        good += sum(1 for reading in readings if reading[2])
        passed_on(device_id, readings, timestamp)

    modbus.snapshot = counted  # type: ignore[method-assign]
    me = psutil.Process()
    async with controller.running():
        await recorder.wait_started()
        for poller in modbus.pollers.values():
            await poller.link.wait_connected()
        await asyncio.sleep(min(2.0, scan))  # warm up
        good0, written0 = good, recorder.status()["points_written"]
        cpu0, t0 = cpu_seconds(me), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, elapsed = cpu_seconds(me) - cpu0, time.perf_counter() - t0
        written = recorder.status()["points_written"] - written0
        depth = recorder.status().get("outbox_points", 0)
    values = good - good0
    return {
        "values_per_s": values / elapsed,
        "points_written_per_s": written / elapsed,
        "cpu_us_per_value": cpu / max(values, 1) * 1e6,
        "cpu_share": cpu / elapsed,
        "outbox_points_at_end": float(depth),
        "rss_mb": me.memory_info().rss / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateways", type=int, default=8, help="25 meters each")
    parser.add_argument("--scan", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="per round")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        site_path = write_site(folder, gateways=args.gateways, meters_per_gateway=25)
        site = load_site(site_path)
        influx = InfluxServer(folder / "influx")
        influx.start()
        try:
            with emulator_process(site_path, 0.0, "asyncio") as (endpoints, _emulator):
                bare, ours = [], []
                for r in range(args.rounds):
                    bare.append(asyncio.run(bare_paced(site, endpoints, args.scan, args.seconds)))
                    ours.append(
                        asyncio.run(
                            controller_round(
                                site, endpoints, args.scan, args.seconds, influx, f"b{r}", folder
                            )
                        )
                    )
        finally:
            influx.stop()

    def median(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    result = {
        "meters": args.gateways * 25,
        "scan_s": args.scan,
        "window_s": args.seconds,
        "rounds": args.rounds,
        "bare_pymodbus": {k: median(bare, k) for k in bare[0]},
        "controller_poll_and_record": {k: median(ours, k) for k in ours[0]},
        "load_average": os.getloadavg(),
    }
    result["ratio_cpu_per_value"] = (
        result["controller_poll_and_record"]["cpu_us_per_value"]
        / result["bare_pymodbus"]["cpu_us_per_value"]
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
