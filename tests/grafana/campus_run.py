"""An emulated campus run that fills a real InfluxDB, for the dashboard tests.

The demo's steps (every Modbus, DL/T 645, CJ/T 188 and MQTT device emulated on the wire, the
recorder, the policies) on a scaled clock that starts a few emulated minutes before an hour
boundary, so the run writes complete hours, running hours and readings of every kind. It ends
when InfluxDB holds a complete hour of every main meter, a running hour and the canteen's
after-dinner weighing (a deadline fails the test), and returns the window it covered and the
controller's ``/api/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import io
import shutil
import time
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console

from controller.api import create_api
from controller.assemble import ControllerOptions, build_controller
from controller.config import load_site
from controller.core import ScaledClock
from controller.demo import (
    DemoOptions,
    DemoRun,
    _stale_windows,
    meter_emulators,
    modbus_emulators,
    mqtt_emulators,
)
from tests.conftest import EXAMPLE_SITE
from tests.servers import InfluxServer

SPEED = 120.0
"""Emulated seconds per wall second: the first hour boundary 2.5 wall seconds in, the dinner
weighing (20:00) about 33 (at 60× it took 66; the demo runs this campus at 600×)."""
LEAD = 300.0
"""Emulated seconds from the start to the first hour boundary."""
FIXED_HOUR = dt.datetime(2026, 12, 1, 19, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai")).timestamp()


@dataclass(frozen=True)
class CampusRun:
    database: str
    start_ms: int
    end_ms: int
    metrics: list[str]
    """Two ``/api/metrics`` scrapes, a few seconds apart."""


def _site_copy(folder: Path, influx: InfluxServer, database: str) -> Path:
    shutil.copytree(EXAMPLE_SITE.parent, folder)
    site = folder / "site.yaml"
    site.write_text(
        site.read_text(encoding="utf-8")
        + "sinks:\n"
        + f"  influxdb: {{type: influxdb_v1, url: '{influx.url}', database: {database},"
        + " flush_interval: 0.5}\n"
        + "  history: {partial_interval: 1}\n",
        encoding="utf-8",
    )
    return site


def _has(influx: InfluxServer, database: str, query: str, series: int = 1) -> bool:
    result = influx.query(query, db=database)["results"][0]  # type: ignore[index]
    return len(result.get("series", [])) >= series


async def _until(condition: object, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(condition):  # type: ignore[arg-type]
        if time.monotonic() > deadline:
            raise AssertionError(f"campus run: timed out waiting for {what}")
        await asyncio.sleep(0.5)


async def run_campus(folder: Path, influx: InfluxServer, database: str) -> CampusRun:
    influx.query(f'CREATE DATABASE "{database}"')
    site = load_site(_site_copy(folder, influx, database))
    # A fixed weekday evening in the past (Tuesday 1 December 2026, 19:00 in Shanghai): what
    # the policies let the emulated rooms do depends on the hour and the day. At 19:00 three of
    # four students are back in their rooms (the emulator's timetable), rooms are below 14 °C,
    # so occupants switch the AC on to heat at setpoints below 26 °C and the AC panels have
    # rows; at 15:00 (one student in four) nobody does.
    start = FIXED_HOUR - LEAD
    _stale_windows(site, SPEED)  # as the demo does: MQTT devices stale after 10 wall seconds
    clock = ScaledClock(SPEED, start=start, tz=site.campus.timezone)
    options = DemoOptions(site=folder, speed=SPEED, free_ports=True, headless=True, api_port=None)
    metrics: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        run = DemoRun(options, site, clock, stack, Console(file=io.StringIO()))
        await modbus_emulators(run)
        await meter_emulators(run)  # the DL/T 645 floor and the CJ/T 188 hot-water meters
        assembly = await build_controller(
            site,
            ControllerOptions(
                data_dir=folder / "data",
                api_port=None,
                modbus_endpoints=run.endpoints,
                meter_endpoints=run.endpoints,
                mqtt_free_ports=True,  # its own broker, as the demo's
            ),
            stack,
            clock=clock,
        )
        await mqtt_emulators(run, assembly)
        controller, recorder = assembly.controller, assembly.recorder
        transport = httpx.ASGITransport(app=create_api(controller))
        async with (
            controller.running(),
            httpx.AsyncClient(transport=transport, base_url="http://campus") as api,
        ):
            await recorder.wait_started()
            closed = (
                'SELECT sum("consumption") FROM "consumption_hourly" WHERE "circuit" = \'main\' '
                'AND "partial" = 0 GROUP BY "building"'
            )
            buildings = len(site.buildings)
            running = 'SELECT sum("consumption") FROM "consumption_hourly" WHERE "partial" = 1'
            await _until(
                lambda: _has(influx, database, closed, buildings),
                120,
                "a complete hour of every building's main meter",
            )
            metrics.append((await api.get("/api/metrics")).text)
            await _until(lambda: _has(influx, database, running), 60, "a running hour")
            # the canteen's bins are weighed after dinner (20:00): the food-waste panel's rows
            weighed = (
                'SELECT sum("consumption") FROM "consumption_hourly" WHERE "kind" = '
                "'food_waste' AND \"consumption\" > 0"
            )
            await _until(lambda: _has(influx, database, weighed), 60, "the dinner weighing")
            await recorder.flush(partials=True)
            await _until(
                lambda: recorder.status()["outbox_batches"] == 0, 60, "the outbox to drain"
            )
            metrics.append((await api.get("/api/metrics")).text)
            end = clock.time()
    return CampusRun(database, int(start * 1000), int(end * 1000) + 1000, metrics)
