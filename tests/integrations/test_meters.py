"""DL/T 645 and CJ/T 188 meters on the wire: an emulated mixed bus (Modbus, DL/T 645 and
CJ/T 188 gateways and a DL/T 645 pseudo-terminal) polled by the controller; relay and valve
commands confirmed by read-back; bad frames counted per meter without stalling the bus; the
curfew trips a DL/T 645 relay and a leak closes a CJ/T 188 valve."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from controller.api.metrics import render_metrics
from controller.calendar import SiteCalendar
from controller.config import LoadedSite
from controller.config.site import DateSpan
from controller.core import FakeClock, SystemClock
from drivers import cjt188, dlt645
from drivers.dlt645.protocol import RELAY_TRIP
from drivers.link.frames import FrameSpec, FrameTransport
from emulators.meterbus.site import MeterSiteEmulator
from emulators.modbus import SiteEmulator
from emulators.models import LoadProfile, WaterUse
from emulators.models.daily import CONSTANT
from emulators.models.water import _Use  # no public leak hook yet: a use that never ends

from .meters_rig import advance_until, meter_site, mixed_bus, wait_for

pytestmark = pytest.mark.integration

TZ = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def site() -> LoadedSite:
    return meter_site()


async def test_a_mixed_bus_and_a_pty_line_are_polled(site: LoadedSite) -> None:
    clock = SystemClock(site.campus.timezone)
    async with mixed_bus(site, clock) as w:
        await wait_for(w.all_polled, "every point of every meter read")
        assert w.value("dorm-1.101.elec.voltage") == pytest.approx(220, abs=15)
        assert w.value("dorm-1.101.elec.relay") is True
        assert w.value("dorm-1.201.elec.voltage") == pytest.approx(220, abs=15)  # the pty line
        assert w.value("dorm-1.f1.lighting.frequency") == pytest.approx(50, abs=0.1)
        assert w.value("dorm-1.101.cold.valve") == "open"
        assert w.value("dorm-1.101.cold.volume") > 0
        assert w.value("dorm-1.heat.supply_temperature") > w.value("dorm-1.heat.return_temperature")
        assert w.value("dorm-1.102.plug.voltage") == pytest.approx(220, abs=15)  # Modbus
        status = w.meters.status()
        assert status["errors"] == 0
        assert status["buses"]["elec-f2"]["online"] == "1/1"
        assert w.meters.pollers["elec-f2"].status()["where"].startswith("/dev/")


async def test_block_reads_fetch_a_family_in_one_request(site: LoadedSite) -> None:
    clock = SystemClock(site.campus.timezone)
    async with mixed_bus(site, clock) as w:
        await wait_for(w.all_polled, "first polls")
        meter = w.meters.pollers["elec-f1"].devices["dorm-1.main"].spec
        assert [r.what for r in meter.requests] == ["DI 0001FF00", "DI 0201FF00"]
        assert w.value("dorm-1.main.energy") > 0
        for phase in "abc":
            assert w.value(f"dorm-1.main.voltage_{phase}") == pytest.approx(230, abs=25)
        emulated = w.meter_emulator.devices["dorm-1.main"]
        asked = emulated.requests
        await wait_for(lambda: emulated.requests >= asked + 4, "two more polls")
        polls = w.meters.pollers["elec-f1"].devices["dorm-1.main"].polls
        assert emulated.requests <= 2 * polls + 2  # two requests a poll, not eight


async def test_relay_and_valve_commands_are_confirmed_by_read_back(site: LoadedSite) -> None:
    clock = SystemClock(site.campus.timezone)
    async with mixed_bus(site, clock) as w:
        await wait_for(w.all_polled, "first polls")
        result = await w.controller.commands.send("dorm-1.101.elec.relay", False)
        assert result.ok, result.error
        assert result.confirmed_value is False
        emulated = w.meter_emulator.devices["dorm-1.101.elec"]
        assert emulated.bound.model.state.relay is False
        assert emulated.relay_commands == [RELAY_TRIP]
        back_on = await w.controller.commands.send("dorm-1.201.elec.relay", True)  # over the pty
        assert back_on.ok, back_on.error
        closed = await w.controller.commands.send("dorm-1.101.cold.valve", "closed")
        assert closed.ok, closed.error
        assert closed.confirmed_value == "closed"
        assert w.meter_emulator.devices["dorm-1.101.cold"].valve_commands == [cjt188.VALVE_CLOSE]
        assert w.value("dorm-1.101.cold.valve") == "closed"
        refused = await w.controller.commands.send("dorm-1.101.hot.volume", 1.0)
        assert not refused.ok


async def test_a_wrong_password_is_the_meters_error_word(site: LoadedSite) -> None:
    clock = SystemClock(site.campus.timezone)

    def wrong_password(_: SiteEmulator, meters: MeterSiteEmulator) -> None:
        meters.devices["dorm-1.102.elec"]._password = "000000"  # the meter was re-keyed

    async with mixed_bus(site, clock, prepare=wrong_password) as w:
        await wait_for(w.all_polled, "first polls")
        result = await w.controller.commands.send("dorm-1.102.elec.relay", False)
        assert not result.ok
        assert result.error is not None
        assert "error word 04" in result.error
        assert "password" in result.error


FAULTS = [
    ("crc", "checksum"),
    ("garbage", "garbage"),
    ("short", "truncated"),
    ("wrong_address", "address"),
    ("stale", "stale"),
]
BUSES = {  # bus: (the meter given the fault, a healthy meter on the same bus)
    "elec-f1": ("dorm-1.101.elec", "dorm-1.f1.lighting"),  # DL/T 645
    "water-f1": ("dorm-1.101.cold", "dorm-1.heat"),  # CJ/T 188
}


@pytest.mark.parametrize("bus", list(BUSES))
@pytest.mark.parametrize(("fault", "why"), FAULTS)
async def test_bad_frames_are_counted_per_meter_and_never_stall_the_bus(
    site: LoadedSite, fault: str, why: str, bus: str
) -> None:
    sick_id, healthy_id = BUSES[bus]
    clock = SystemClock(site.campus.timezone)
    async with mixed_bus(site, clock) as w:
        await wait_for(w.all_polled, "first polls")
        sick = w.meter_emulator.devices[sick_id]
        if fault in ("wrong_address", "stale"):
            setattr(sick.faults, fault, True)
        else:
            sick.faults.malformed = fault
        poller = w.meters.pollers[bus]
        healthy = poller.devices[healthy_id]
        before = healthy.polls

        def counted() -> bool:
            return poller.link.bad_frame_counts(sick_id).get(why, 0) >= 2

        await wait_for(counted, f"{why} frames counted")
        assert w.meters.status()["bad_frames"][sick_id][why] >= 2
        metrics = render_metrics(w.controller).decode()
        assert (
            f'sanjie_meterbus_bad_frames_total{{bus="{bus}",device="{sick_id}",why="{why}"}}'
            in metrics
        )
        await wait_for(lambda: healthy.polls >= before + 3, "the healthy meter still polled")
        assert healthy.available
        assert poller.link.bad_frame_counts(healthy_id) == {}
        sick.faults.clear()
        await wait_for(lambda: poller.devices[sick_id].available is True, "recovered")


async def test_time_broadcast_and_address_discovery(site: LoadedSite) -> None:
    clock = SystemClock(site.campus.timezone)
    async with mixed_bus(site, clock) as w:
        await wait_for(w.all_polled, "first polls")
        link = w.meters.pollers["elec-f1"].link
        await link.broadcast(dlt645.time_broadcast(dt.datetime(2026, 12, 7, 6, 5, 4, tzinfo=TZ)))
        meters = [w.meter_emulator.devices[d] for d in ("dorm-1.101.elec", "dorm-1.102.elec")]
        await wait_for(lambda: all(m.clock_set for m in meters), "time set on every meter")
        assert meters[0].clock_set == [bytes.fromhex("04 05 06 07 12 26")]
        single = w.meters.pollers["elec-f2"].link  # the pty line has one meter
        assert await dlt645.discover_address(single) == "000000000201"


async def test_links_with_time_broadcast_set_their_meters_clocks(site: LoadedSite) -> None:
    link = site.links["elec-f1"].model_copy(update={"time_broadcast": 24.0})
    site = dataclasses.replace(site, links={**site.links, "elec-f1": link})
    clock = SystemClock(site.campus.timezone)
    async with mixed_bus(site, clock) as w:
        meters = [w.meter_emulator.devices[d] for d in ("dorm-1.101.elec", "dorm-1.f1.lighting")]
        await wait_for(lambda: all(m.clock_set for m in meters), "time set on every meter")
        sent = meters[0].clock_set[0]  # ss mm hh DD MM YY, BCD
        now = clock.now()
        days = {now.date(), (now - dt.timedelta(minutes=1)).date()}  # sent just before midnight
        assert sent[3:] in {bytes.fromhex(f"{d:%d %m %y}") for d in days}
        assert w.meters.status()["time_broadcasts"] == 1
        assert not w.meter_emulator.devices["dorm-1.201.elec"].clock_set  # the pty line: no


async def test_an_esam_relay_is_reported_not_sent() -> None:
    spec = dlt645.DeviceSpec(
        device_id="m",
        address=dlt645.address_bytes("1"),
        points=(dlt645.PointSpec.of("relay", 0x04000503, bit=4, invert=True, relay=True),),
        relay=dlt645.RelaySpec(mode=dlt645.RelayMode.ESAM),
    )
    meter = dlt645.Dlt645Meter(spec, "bus")
    link = dlt645.dlt645_link(
        FrameSpec(link_id="bus", transport=FrameTransport.TCP, host="127.0.0.1")
    )
    with pytest.raises(dlt645.EsamRequired, match="ESAM"):
        await meter.write(link, "relay", False, 0.0)
    assert link.counters.requests == 0


# -- policies -------------------------------------------------------------------------------
@pytest.fixture
def calendar() -> SiteCalendar:
    return SiteCalendar(
        semesters=[DateSpan(name="2026 春", start=dt.date(2026, 3, 2), end=dt.date(2026, 7, 3))],
        vacations=[],
    )


def steady(_: SiteEmulator, meters: MeterSiteEmulator) -> None:
    """Socket circuits draw a steady 100 W; only the policies switch relays."""
    for device_id, device in meters.devices.items():
        if device_id.endswith(".elec"):
            model = device.bound.model
            model.load = LoadProfile(base_w=100.0, base_pf=0.9, noise=0.0)
            model.state.running.clear()
            model.trip_w = None
            model.detect_loads = False
            model.prepaid = False


async def test_the_curfew_trips_a_dlt645_relay_confirmed_by_read_back(
    site: LoadedSite, tmp_path: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(dt.datetime(2026, 3, 2, 22, 59, 30, tzinfo=TZ))  # a Monday night
    curfew = {
        "id": "curfew",
        "type": "curfew",
        "windows": [{"start": "23:00", "end": "05:50", "days_of": "end"}],
    }
    async with mixed_bus(
        site,
        clock,
        scan_interval=5.0,
        link_timeout=1.0,
        policies=[curfew],
        store=tmp_path / "policies.sqlite3",
        calendar=calendar,
        prepare=steady,
    ) as w:
        meter = w.meter_emulator.devices["dorm-1.101.elec"].bound.model
        assert meter.state.relay
        await advance_until(clock, lambda: not meter.state.relay, "relay tripped", limit=120)
        assert clock.now() >= dt.datetime(2026, 3, 2, 23, 0, tzinfo=TZ)
        await advance_until(
            clock, lambda: w.value("dorm-1.101.elec.relay") is False, "read back", limit=30
        )
        assert w.audit is not None
        entries = w.audit.query(target="dorm-1.101.elec.relay")
        assert [(e.actor, e.result) for e in entries] == [("policy:curfew", "ok")]
        pty_meter = w.meter_emulator.devices["dorm-1.201.elec"].bound.model
        await advance_until(clock, lambda: not pty_meter.state.relay, "pty relay", limit=60)


async def test_a_leak_closes_a_cjt188_valve_confirmed_by_read_back(
    site: LoadedSite, tmp_path: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(dt.datetime(2026, 3, 2, 14, 0, tzinfo=TZ))
    leak = {"id": "leak", "type": "leak", "threshold_lpm": 1.0, "duration_min": 5}

    def dry(modbus: SiteEmulator, meters: MeterSiteEmulator) -> None:
        steady(modbus, meters)
        flow_model: Any = modbus.devices["dorm-1.101.flow"].bound.model
        flow_model.people = 0

    async with mixed_bus(
        site,
        clock,
        scan_interval=5.0,
        link_timeout=1.0,
        policies=[leak],
        store=tmp_path / "policies.sqlite3",
        calendar=calendar,
        prepare=dry,
    ) as w:
        flow: Any = w.modbus_emulator.devices["dorm-1.101.flow"].bound.model
        start = clock.time()
        flow.state.running.append(
            _Use(WaterUse("dripping cistern", 4.0, 1e6, 0.0, CONSTANT), start, start + 1e7)
        )
        valve = w.meter_emulator.devices["dorm-1.101.cold"]
        took = await advance_until(
            clock, lambda: bool(valve.valve_commands), "valve closed", step=5, limit=900
        )
        assert 300 <= took <= 300 + 3 * 5
        assert valve.valve_commands == [cjt188.VALVE_CLOSE]
        await advance_until(
            clock, lambda: w.value("dorm-1.101.cold.valve") == "closed", "read back", limit=30
        )
        assert w.engine is not None
        (alarm,) = w.engine.views.active_alarms()
        assert alarm.alarm.kind == "leak"


def test_relay_passwords_are_log_secrets(site: LoadedSite) -> None:
    from controller.redaction import site_secrets

    assert {"123456", "654321"} <= site_secrets(site.links)
