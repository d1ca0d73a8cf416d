"""``sanjie probe`` and ``sanjie scan`` against emulated gateways on the wire."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from controller.cli import app
from controller.commission import BusUnreachable, adhoc_link, probe_device, scan_bus
from controller.config import LoadedSite, load_site
from controller.core import SystemClock
from drivers.modbus import Transport
from emulators.modbus import SiteEmulator
from tests.conftest import EXAMPLE_SITE

pytestmark = pytest.mark.integration

METERS = "gw-canteen-1"  # Modbus TCP
VALVES = "gw-canteen-1-valves"  # RTU over TCP


@pytest.fixture(scope="module")
def campus() -> LoadedSite:
    return load_site(EXAMPLE_SITE)


@dataclass
class Served:
    """Emulated gateways running on their own event loop in a thread (the CLI runs its own)."""

    endpoints: dict[str, tuple[str, int]]


@pytest.fixture
def served(campus: LoadedSite) -> Iterator[Served]:
    ready = threading.Event()
    stop: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None
    endpoints: dict[str, tuple[str, int]] = {}

    async def serve() -> None:
        nonlocal stop, loop
        stop, loop = asyncio.Event(), asyncio.get_running_loop()
        clock = SystemClock(campus.campus.timezone)
        async with SiteEmulator(campus, clock, free_ports=True, links=[METERS, VALVES]) as emu:
            endpoints.update({k: (e.host, e.port) for k, e in emu.endpoints.items()})
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10), "emulator did not start"
    yield Served(endpoints)
    assert loop is not None
    assert stop is not None
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


def _devices_on(campus: LoadedSite, link: str) -> dict[int, str]:
    return {d.unit_id: d.id for d in campus.devices.values() if d.link == link and d.unit_id}


async def test_probe_reads_every_point_of_an_emulated_meter(
    served: Served, campus: LoadedSite
) -> None:
    unit, device_id = min(_devices_on(campus, METERS).items())
    device = campus.devices[device_id]
    profile = campus.profile_of(device)
    host, port = served.endpoints[METERS]
    points = await probe_device(adhoc_link(f"tcp://{host}:{port}"), unit, profile)
    assert [p.point.key for p in points] == [p.key for p in profile.points if p.modbus]
    assert all(p.error is None for p in points), points
    numbers = [p.value for p in points if isinstance(p.value, float)]
    assert numbers
    assert all(math.isfinite(v) for v in numbers)


async def test_probe_of_an_absent_unit_reports_each_block(
    served: Served, campus: LoadedSite
) -> None:
    host, port = served.endpoints[METERS]
    profile = campus.profile_of(next(iter(campus.devices.values())))
    spec = dataclasses.replace(adhoc_link(f"tcp://{host}:{port}"), timeout=0.2)
    points = await probe_device(spec, 200, profile)
    assert points
    assert all(p.error is not None for p in points)


async def test_scan_finds_exactly_the_configured_units(served: Served, campus: LoadedSite) -> None:
    host, port = served.endpoints[VALVES]
    spec = adhoc_link(f"rtu+tcp://{host}:{port}")
    assert spec.transport is Transport.RTU_OVER_TCP
    fast = dataclasses.replace(spec, timeout=0.1)
    found = await scan_bus(fast, range(1, 26))
    assert found == sorted(u for u in _devices_on(campus, VALVES) if u <= 25)


async def test_unreachable_gateway_is_one_clear_error() -> None:
    spec = dataclasses.replace(adhoc_link("tcp://127.0.0.1:9"), timeout=0.1)
    with pytest.raises(BusUnreachable, match=r"127\.0\.0\.1:9"):
        await scan_bus(spec, [1])


def test_adhoc_link_addresses() -> None:
    assert adhoc_link("/dev/ttyUSB0", baudrate=2400, parity="E").serial_port == "/dev/ttyUSB0"
    assert adhoc_link("tcp://10.0.0.5:502").port == 502
    with pytest.raises(ValueError, match="tcp://HOST:PORT"):
        adhoc_link("gw-nowhere")


def test_cli_probe_prints_every_point(served: Served, campus: LoadedSite) -> None:
    unit, device_id = min(_devices_on(campus, METERS).items())
    profile_id = campus.devices[device_id].profile
    profile = campus.profile_of(campus.devices[device_id])
    result = CliRunner().invoke(
        app,
        ["probe", METERS, str(unit), profile_id, "--site", str(EXAMPLE_SITE), "--json"],
        env={"COLUMNS": "200"},
        catch_exceptions=False,
    )
    # --site names the link, but the emulator listens elsewhere: the site's port is refused.
    assert result.exit_code == 1
    host, port = served.endpoints[METERS]
    result = CliRunner().invoke(
        app,
        ["probe", f"tcp://{host}:{port}", str(unit), profile_id, "--json"],
        env={"COLUMNS": "200"},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    for point in profile.points:
        assert f'"key": "{point.key}"' in result.output
    assert '"error": null' in result.output


def test_cli_scan_lists_units(served: Served, campus: LoadedSite) -> None:
    host, port = served.endpoints[VALVES]
    result = CliRunner().invoke(
        app,
        ["scan", f"rtu+tcp://{host}:{port}", "--last", "22", "--timeout", "0.1"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    expected = sorted(u for u in _devices_on(campus, VALVES) if u <= 22)
    assert f"{len(expected)} unit(s) answer" in result.output
    assert " ".join(map(str, expected)) in result.output


def test_cli_profiles_and_version() -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["profiles", "--json"], catch_exceptions=False)
    assert listed.exit_code == 0
    assert '"id": "eastron/sdm120"' in listed.output
    shown = runner.invoke(app, ["profiles", "eastron/sdm120"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0
    assert "0x0048" in shown.output
    meter = runner.invoke(
        app, ["profiles", "generic/dorm-prepaid-meter-dlt645"], env={"COLUMNS": "200"}
    )
    assert meter.exit_code == 0
    assert "DI 04000503 bit 4" in meter.output
    water = runner.invoke(
        app, ["profiles", "generic/cjt188-cold-water-valve"], env={"COLUMNS": "200"}
    )
    assert "901F valve" in water.output
    missing = runner.invoke(app, ["profiles", "nobody/nothing"])
    assert missing.exit_code == 1
    assert "no profile" in missing.output
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0
    assert version.output.startswith("sanjie ")
