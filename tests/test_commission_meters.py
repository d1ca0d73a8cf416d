"""``sanjie probe`` and ``sanjie scan`` for DL/T 645 and CJ/T 188 meters, against the
emulated meter buses (TCP gateways and a pseudo-terminal) on the wire."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from controller.cli import app
from controller.commission import BusUnreachable
from controller.commission_meters import adhoc_frame_link, probe_meter, scan_meters
from controller.config import LoadedSite
from controller.core import SystemClock
from drivers.link.frames import FrameSpec, FrameTransport
from emulators.meterbus.site import MeterSiteEmulator
from tests.integrations.meters_rig import meter_site

pytestmark = pytest.mark.integration

ELEC = "elec-f1"  # four DL/T 645 meters behind a TCP gateway
WATER = "water-f1"  # three CJ/T 188 meters behind a TCP gateway
PTY = "elec-f2"  # one DL/T 645 meter on a pseudo-terminal (8N1: a pty refuses parity)


@pytest.fixture(scope="module")
def site() -> LoadedSite:
    return meter_site()


def _tcp(emu: MeterSiteEmulator, link: str, timeout: float = 0.3) -> FrameSpec:
    gateway = emu.gateways[link]
    return adhoc_frame_link(f"tcp://{gateway.host}:{gateway.port}", timeout=timeout)


def _addresses(site: LoadedSite, link: str) -> dict[str, str]:
    return {d.id: d.address for d in site.devices.values() if d.link == link and d.address}


async def test_probe_reads_every_point_of_a_dlt645_and_a_cjt188_meter(site: LoadedSite) -> None:
    clock = SystemClock(site.campus.timezone)
    async with MeterSiteEmulator(site, clock, free_ports=True, latency=0.0) as emu:
        for device_id, link in (("dorm-1.f1.lighting", ELEC), ("dorm-1.101.cold", WATER)):
            device = site.devices[device_id]
            profile = site.profile_of(device)
            assert device.address is not None
            probed = await probe_meter(_tcp(emu, link), profile.protocol, device.address, profile)  # type: ignore[arg-type]
            assert [p.point.key for p in probed.points] == [p.key for p in profile.points]
            assert all(p.error is None for p in probed.points), probed.points
            assert probed.notes == []
        values = {p.point.key: p.value for p in probed.points}
        assert values["valve"] == "open"


async def test_probe_errors_name_the_cause(site: LoadedSite) -> None:
    clock = SystemClock(site.campus.timezone)
    device = site.devices["dorm-1.101.elec"]
    profile = site.profile_of(device)
    assert device.address is not None
    async with MeterSiteEmulator(site, clock, free_ports=True, latency=0.0) as emu:
        spec = _tcp(emu, ELEC, timeout=0.2)
        absent = await probe_meter(spec, "dlt645", "999999999998", profile)
        assert all(p.error and p.error.startswith("timeout") for p in absent.points)
        meter = emu.devices[device.id]
        meter.faults.malformed = "crc"
        garbled = await probe_meter(spec, "dlt645", device.address, profile)
        assert all(p.error and "wrong checksum" in p.error for p in garbled.points)
        meter.faults.clear()
        meter.faults.exception = 0x02  # error word bit 1: no such data
        refused = await probe_meter(spec, "dlt645", device.address, profile)
        assert all(p.error and "no such data" in p.error for p in refused.points)
        meter.faults.clear()
        meter.faults.wrong_address = True
        elsewhere = await probe_meter(spec, "dlt645", device.address, profile)
        assert all(p.error for p in elsewhere.points)
        assert any("another address" in n for n in elsewhere.notes)
        meter.faults.clear()
        esam = profile.model_copy(
            update={"dlt645": profile.dlt645.model_copy(update={"relay": "esam"})}
        )
        ok = await probe_meter(spec, "dlt645", device.address, esam)
        assert all(p.error is None for p in ok.points)
        assert any("ESAM" in n for n in ok.notes)


async def test_scan_on_a_shared_bus_confirms_known_addresses(site: LoadedSite) -> None:
    clock = SystemClock(site.campus.timezone)
    async with MeterSiteEmulator(site, clock, free_ports=True, latency=0.0) as emu:
        for link in (ELEC, WATER):
            declared = sorted(_addresses(site, link).values())
            absent = "1" if link == ELEC else "77"
            found = await scan_meters(
                _tcp(emu, link, timeout=0.2),
                "dlt645" if link == ELEC else "cjt188",
                [*declared, absent],
            )
            # several meters on the line: the wildcard read-address request gets no answer
            assert found.alone is None
            assert found.alone_error is not None
            assert found.alone_error.startswith("timeout")
            assert sorted(found.found) == declared
            assert absent.zfill(12 if link == ELEC else 14) in found.tried
        assert found.meter_types[_addresses(site, WATER)["dorm-1.heat"]] == 0x20


async def test_scan_names_a_lone_cjt188_meter(site: LoadedSite) -> None:
    alone = {k: d for k, d in site.devices.items() if k == "dorm-1.101.hot"}
    one = dataclasses.replace(site, devices=alone)
    clock = SystemClock(site.campus.timezone)
    async with MeterSiteEmulator(one, clock, free_ports=True, latency=0.0) as emu:
        found = await scan_meters(_tcp(emu, WATER), "cjt188")
    assert found.alone == "00000000000102"
    assert found.meter_types["00000000000102"] == int(
        site.profile_of(alone["dorm-1.101.hot"]).cjt188.meter_type, 16
    )
    assert found.tried == []


async def test_an_unreachable_meter_gateway_is_one_clear_error() -> None:
    spec = adhoc_frame_link("tcp://127.0.0.1:9", timeout=0.1)
    with pytest.raises(BusUnreachable, match=r"127\.0\.0\.1:9"):
        await scan_meters(spec, "dlt645")


def test_adhoc_frame_link_addresses() -> None:
    serial = adhoc_frame_link("/dev/ttyUSB0")
    assert (serial.transport, serial.baudrate, serial.parity) == (FrameTransport.SERIAL, 2400, "E")
    assert adhoc_frame_link("tcp://10.0.0.5:8899").port == 8899
    with pytest.raises(ValueError, match="tcp://HOST:PORT"):
        adhoc_frame_link("somewhere")


# -- the commands, with the emulator on its own loop in a thread (the CLI runs its own) -----
@pytest.fixture
def served(site: LoadedSite) -> Iterator[MeterSiteEmulator]:
    ready = threading.Event()
    stop: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None
    box: list[MeterSiteEmulator] = []

    async def serve() -> None:
        nonlocal stop, loop
        stop, loop = asyncio.Event(), asyncio.get_running_loop()
        clock = SystemClock(site.campus.timezone)
        async with MeterSiteEmulator(site, clock, free_ports=True, latency=0.0) as emu:
            box.append(emu)
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10), "emulator did not start"
    yield box[0]
    assert loop is not None
    assert stop is not None
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_probe_a_meter_by_address(served: MeterSiteEmulator, site: LoadedSite) -> None:
    device = site.devices["dorm-1.101.elec"]
    assert device.address is not None
    gateway = served.gateways[ELEC]
    target = f"tcp://{gateway.host}:{gateway.port}"
    code, out, _ = _run("probe", target, device.address, device.profile, "--json")
    assert code == 0, out
    points = json.loads(out)
    assert {p["key"] for p in points} == {p.key for p in site.profile_of(device).points}
    assert all(p["error"] is None for p in points)
    code, out, _ = _run("probe", target, "999999999998", device.profile)
    assert code == 1
    assert "timeout" in out
    code, _, err = _run("probe", target, "12AB", device.profile)
    assert code == 1
    assert "DL/T 645 address" in err


def test_cli_probe_on_a_pty_and_the_modbus_unit_check(
    served: MeterSiteEmulator, site: LoadedSite
) -> None:
    device = site.devices["dorm-1.201.elec"]
    assert device.address is not None
    pty = served.gateways[PTY].host
    assert pty.startswith("/dev/")
    code, out, _ = _run("probe", pty, device.address, device.profile, "--parity", "N", "--json")
    assert code == 0, out
    assert all(p["error"] is None for p in json.loads(out))
    code, _, err = _run("probe", "tcp://127.0.0.1:9", "202600000001", "eastron/sdm120")
    assert code == 1
    assert "unit id is 1–247" in err


def test_cli_scan_a_meter_bus(served: MeterSiteEmulator, site: LoadedSite) -> None:
    pty = served.gateways[PTY].host
    code, out, _ = _run("scan", pty, "--protocol", "dlt645", "--parity", "N")
    assert code == 0, out
    assert "alone on the line (AAAAAAAAAAAA): 000000000201" in out
    gateway = served.gateways[ELEC]
    target = f"tcp://{gateway.host}:{gateway.port}"
    known = sorted(_addresses(site, ELEC).values())
    args = [a for address in known[:2] for a in ("--meter", address)]
    code, out, _ = _run(
        "scan", target, "--protocol", "dlt645", *args, "--meter", "5", "--timeout", "0.2"
    )
    assert code == 0, out
    assert "no single meter answered AAAAAAAAAAAA" in out
    assert f"2 of 3 address(es) answer: {known[0]} {known[1]}" in out
    assert "silent: 000000000005" in out
    code, out, _ = _run("scan", target, "--protocol", "cjt188", "--timeout", "0.2")
    assert code == 1  # CJ/T 188 frames to a DL/T 645 bus: nobody answers
    assert "--meter" in out
