"""DL/T 645 polling against the Modbus path, in the same run. Prints one JSON object.

The same meter (a CHINT DDSU666) on both sides: ``chint/ddsu666`` in Modbus RTU mode (8 points
in 2 block reads) and ``chint/ddsu666-dlt645`` in its factory DL/T 645-2007 mode (7 points, one
read by data identifier each: the DDSU666 answers no block identifiers). Each side has
``--buses`` emulated RS-485 gateways of ``--meters`` meters, served with no bus time by an
emulator process pinned to the second core; the controller (its ``ModbusIntegration`` or its
``MeterIntegration``, polling as fast as replies come, into the state store) is pinned to the
first. Rounds alternate Modbus and DL/T 645 so load from other processes hits both alike; the
medians are reported.

The figure asked for is CPU per good reading (µs of the controller's process time per value
that reached the state store); CPU per request is there too, because DL/T 645 moves one value
per request where Modbus moves four.

    .venv/bin/python bench/dlt645_poll.py [--rounds 3] [--seconds 4] [--buses 2] [--meters 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from controller.app import Controller
from controller.config import LoadedSite, load_site
from controller.core import SystemClock
from controller.integrations.meters import MeterIntegration
from controller.integrations.modbus import ModbusIntegration

SIDES = {
    "modbus": ("chint/ddsu666", "rtu_over_tcp"),
    "dlt645": ("chint/ddsu666-dlt645", "dlt645"),
}


def pin(core: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        if (os.cpu_count() or 1) > 1:
            os.sched_setaffinity(0, {core})


def write_site(folder: Path, buses: int, meters: int) -> Path:
    """``buses`` gateways of ``meters`` DDSU666s per protocol, on one campus."""
    links: list[dict[str, Any]] = []
    devices: list[dict[str, Any]] = []
    for side, (profile, kind) in SIDES.items():
        for b in range(buses):
            link_id = f"{side}-{b}"
            link: dict[str, Any] = {"id": link_id, "type": kind, "host": "127.0.0.1"}
            link.update({"port": 21000 + len(links), "timeout": 1.0, "inter_frame_gap": 0})
            if kind == "dlt645":
                link["transport"] = "tcp"
            links.append(link)
            for m in range(1, meters + 1):
                device: dict[str, Any] = {"id": f"{link_id}-m{m:02d}", "profile": profile}
                device["building"] = "b0"
                device.update({"link": link_id, "circuit": "sockets"})
                if kind == "dlt645":
                    device["address"] = f"{b + 1:06d}{m:06d}"
                else:
                    device["unit_id"] = m
                devices.append(device)
    site = {
        "campus": {"id": "bench", "name": {"zh": "基准"}},
        "buildings": [{"id": "b0", "kind": "dorm", "name": {"zh": "楼"}}],
        "links": links,
        "devices": devices,
    }
    path = folder / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# -- the emulator process ----------------------------------------------------------------
def serve(site_path: str) -> None:
    """Child process: serve both sides' gateways on free ports, print where, wait."""
    pin(1)

    async def main() -> None:
        from emulators.meterbus.site import MeterSiteEmulator
        from emulators.modbus import SiteEmulator

        site = load_site(site_path)
        clock = SystemClock()
        modbus = SiteEmulator(site, clock, free_ports=True, latency=0.0)
        meters = MeterSiteEmulator(site, clock, free_ports=True, latency=0.0)
        async with modbus, meters:
            where = {k: [e.host, e.port] for k, e in modbus.endpoints.items()}
            where.update({k: [e.host, e.port] for k, e in meters.endpoints.items()})
            print(json.dumps(where), flush=True)
            await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    asyncio.run(main())


@contextlib.contextmanager
def emulator_process(site: Path) -> Iterator[dict[str, tuple[str, int]]]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "serve", str(site)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the emulator process did not start")
        yield {k: (v[0], v[1]) for k, v in json.loads(line).items()}
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- one measured round ------------------------------------------------------------------
async def poll(
    site: LoadedSite, endpoints: dict[str, tuple[str, int]], side: str, seconds: float
) -> dict[str, float]:
    """Poll one side's buses flat out for ``seconds`` after a warm-up; CPU per good reading."""
    controller = Controller(site, SystemClock(site.campus.timezone))
    links = [link_id for link_id in site.links if link_id.startswith(f"{side}-")]
    options: dict[str, Any] = {"endpoints": endpoints, "scan_interval": 0.001, "links": links}
    options.update({"inter_frame_gap": 0.0, "timeout": 1.0})
    integration: ModbusIntegration | MeterIntegration
    if side == "modbus":
        integration = ModbusIntegration(controller, **options)
    else:
        integration = MeterIntegration(controller, **options)
    controller.add(integration)
    good = 0
    passed_on = integration.snapshot

    def counted(device_id: str, readings: Any, timestamp: float) -> None:
        nonlocal good
        good += sum(1 for reading in readings if reading[2])  # only good readings count
        passed_on(device_id, readings, timestamp)

    integration.snapshot = counted  # type: ignore[method-assign]
    me = psutil.Process()
    async with controller.running():
        for poller in integration.pollers.values():
            await poller.link.wait_connected()
        await asyncio.sleep(min(1.0, seconds / 2))  # warm up: staggered start, first cycle
        good0, status0, cpu0, t0 = good, integration.status(), me.cpu_times(), time.perf_counter()
        await asyncio.sleep(seconds)
        elapsed, cpu1, status = time.perf_counter() - t0, me.cpu_times(), integration.status()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    readings = good - good0
    errors = status["errors"] - status0["errors"]
    requests = status["requests"] - status0["requests"] - errors  # good replies only
    return {
        "readings_per_s": readings / elapsed,
        "requests_per_s": requests / elapsed,
        "cpu_us_per_reading": cpu / max(readings, 1) * 1e6,
        "cpu_us_per_request": cpu / max(requests, 1) * 1e6,
        "cpu_share": cpu / elapsed,
        "errors": errors,
    }


def run(buses: int, meters: int, seconds: float, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        site_path = write_site(Path(tmp), buses, meters)
        site = load_site(site_path)
        results: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
        with emulator_process(site_path) as endpoints:
            for _ in range(rounds):
                for side in SIDES:
                    results[side].append(asyncio.run(poll(site, endpoints, side, seconds)))

    def median(side: str, key: str) -> float:
        return statistics.median(r[key] for r in results[side])

    sides: dict[str, Any] = {}
    for side, (profile, _) in SIDES.items():
        sides[side] = {
            "profile": profile,
            "points_per_meter": len(site.profiles[profile].points),
            "readings_per_s": round(median(side, "readings_per_s")),
            "requests_per_s": round(median(side, "requests_per_s")),
            "cpu_us_per_reading": round(median(side, "cpu_us_per_reading"), 1),
            "cpu_us_per_request": round(median(side, "cpu_us_per_request"), 1),
            "cpu_share": round(median(side, "cpu_share"), 3),
            "errors": sum(int(r["errors"]) for r in results[side]),
            "cpu_us_per_reading_per_round": [
                round(r["cpu_us_per_reading"], 1) for r in results[side]
            ],
        }
    per_round = [
        d["cpu_us_per_reading"] / m["cpu_us_per_reading"]
        for m, d in zip(results["modbus"], results["dlt645"], strict=True)
    ]
    return {
        "buses_per_protocol": buses,
        "meters_per_bus": meters,
        "window_s": seconds,
        "rounds": rounds,
        "cores": os.cpu_count(),
        "modbus": sides["modbus"],
        "dlt645": sides["dlt645"],
        "dlt645_to_modbus_cpu_per_reading": round(statistics.median(per_round), 3),
        "dlt645_to_modbus_cpu_per_reading_per_round": [round(r, 3) for r in per_round],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buses", type=int, default=2, help="gateways per protocol")
    parser.add_argument("--meters", type=int, default=10, help="meters per gateway")
    parser.add_argument("--seconds", type=float, default=4.0, help="measured window per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pin(0)
    print(json.dumps(run(args.buses, args.meters, args.seconds, args.rounds), indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        main()
