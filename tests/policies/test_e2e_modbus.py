"""End to end: policies change emulated devices through real Modbus frames on loopback.

Each test emulates one bus of the small campus, lets the controller poll it, and acts on the
device models like occupants (an AC set to 18 °C, a kettle, a leak, a jammed valve).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.calendar import SiteCalendar
from controller.config import LoadedSite
from controller.core import FakeClock
from emulators.modbus import SiteEmulator
from emulators.models import Appliance, LoadProfile, WaterUse
from emulators.models.daily import CONSTANT
from emulators.models.water import _Use  # no public leak hook yet: start a use that never ends

from .conftest import at
from .emulated import Emulated, controller_for, emulated, emulators

pytestmark = pytest.mark.integration

FLOOR_1 = "gw-dorm-1-f1"  # rooms 101 and 102, the building's main meter and hot-water meter
VALVES = "gw-canteen-1-valves"
AC = "dorm-1.101.ac"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "policies.sqlite3"


def quiet_acs(emulator: SiteEmulator) -> None:
    """Nobody is in: the ACs only do what they are told."""
    for device_id, device in emulator.devices.items():
        if device_id.endswith(".ac"):
            device.bound.model.occupants = 0


async def test_an_ac_set_to_18_is_back_at_26(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(at(2026, 7, 1, 14, 0))
    policy = {"id": "ac-limits", "type": "ac_limits"}
    async with emulated(site, [policy], store, clock, calendar, [FLOOR_1], prepare=quiet_acs) as w:
        ac = w.model(AC)
        ac.command("power_switch", "on")
        ac.command("mode", "cool")
        ac.command("setpoint", 18.0)  # a student with the remote
        took = await w.until(lambda: ac.setpoint == 26.0, "AC back at 26 °C")
        assert took <= 5 + 1  # within one poll cycle
        assert w.value(f"{AC}.setpoint") == 26.0
        (entry,) = w.audit.query(target=f"{AC}.setpoint")
        assert (entry.actor, entry.result) == ("policy:ac-limits", "ok")


async def test_an_auto_ac_at_20_in_july_cools_at_26_with_its_remote_locked(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    """Issue 12 item 3: auto is held by what the unit does (the gateway's register 37 says
    cool), and the remote (register 8) stays locked for a while after the correction."""
    clock = FakeClock(at(2026, 7, 1, 14, 0))
    policy = {"id": "ac-limits", "type": "ac_limits", "lock_remote_s": 600}
    async with emulated(site, [policy], store, clock, calendar, [FLOOR_1], prepare=quiet_acs) as w:
        ac = w.model(AC)
        ac.room = 31.0
        for key, value in (("power_switch", "on"), ("mode", "auto"), ("setpoint", 20.0)):
            ac.command(key, value)  # a student with the remote
        await w.until(
            lambda: (ac.mode, ac.setpoint, ac.remote_locked) == ("cool", 26.0, True),
            "AC in cool at 26 °C, remote locked",
        )
        took = await w.until(lambda: not ac.remote_locked, "remote unlocked again", step=5)
        assert 600 - 60 <= took <= 600 + 60
        actions = {(e.target, e.result) for e in w.audit.query(actor="policy:ac-limits")}
        assert {(f"{AC}.setpoint", "ok"), (f"{AC}.mode", "ok"), (f"{AC}.remote_lock", "ok")} <= (
            actions
        )


def steady_meters(emulator: SiteEmulator) -> None:
    """Socket circuits draw a steady 100 W at PF 0.6; only the policies switch relays."""
    quiet_acs(emulator)
    for device_id, device in emulator.devices.items():
        if device_id.endswith(".elec"):
            meter = device.bound.model
            meter.load = LoadProfile(base_w=100.0, base_pf=0.6, noise=0.0)
            meter.state.running.clear()
            meter.trip_w = None
            meter.detect_loads = False
            meter.prepaid = False
        elif device_id.endswith((".cold", ".hot")):
            device.bound.model.people = 0  # nobody uses water unless a test says so


async def test_curfew_turns_the_socket_relay_off_and_back_on(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(at(2026, 3, 2, 22, 59, 30))  # Monday night
    curfew = {
        "id": "curfew",
        "type": "curfew",
        "windows": [
            {"start": "23:00", "end": "05:50", "days": {"include": ["workday"]}, "days_of": "end"}
        ],
    }
    async with emulated(
        site, [curfew], store, clock, calendar, [FLOOR_1], prepare=steady_meters
    ) as w:
        meter = w.model("dorm-1.101.elec")
        assert meter.state.relay
        await w.until(lambda: not meter.state.relay, "relay off", limit=120)
        assert clock.now() >= at(2026, 3, 2, 23, 0)
        assert clock.now() <= at(2026, 3, 2, 23, 0, 2)
        assert not w.model("dorm-1.102.elec").state.relay
        await w.advance(600, step=10)
        assert not meter.state.relay  # stays off through the night
        clock.set(at(2026, 3, 3, 5, 49, 30))
        await w.until(lambda: meter.state.relay, "relay back on", limit=120)
        assert clock.now() >= at(2026, 3, 3, 5, 50)
        assert w.value("dorm-1.101.elec.relay") is True


async def test_an_emulated_leak_closes_the_valve(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(at(2026, 3, 2, 14, 0))
    leak = {"id": "leak", "type": "leak", "threshold_lpm": 1.0, "duration_min": 5}
    async with emulated(
        site, [leak], store, clock, calendar, [FLOOR_1], prepare=steady_meters
    ) as w:
        meter = w.model("dorm-1.101.cold")
        start = clock.time()
        meter.state.running.append(
            _Use(WaterUse("dripping cistern", 4.0, 1e6, 0.0, CONSTANT), start, start + 1e7)
        )
        took = await w.until(lambda: not meter.state.valve_open, "valve closed", step=5, limit=900)
        assert 300 <= took <= 300 + 2 * 5 + 5
        assert w.value("dorm-1.101.cold.valve") == "closed"
        (alarm,) = w.engine.views.active_alarms()
        assert (alarm.alarm.kind, alarm.alarm.severity) == ("leak", "critical")
        assert alarm.alarm.evidence["flow_lpm"] == pytest.approx(4.0, rel=0.01)
        assert w.model("dorm-1.102.cold").state.valve_open


async def test_a_resistive_load_trips_the_relay_and_locks_out(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(at(2026, 3, 2, 20, 0))
    overload = {
        "id": "load",
        "type": "overload",
        "signature": {"step_w": 300, "min_pf": 0.95, "persist_s": 20},
        "reclose_after_s": 120,
        "restores_per_day": 1,
    }
    async with emulated(
        site, [overload], store, clock, calendar, [FLOOR_1], prepare=steady_meters
    ) as w:
        meter = w.model("dorm-1.101.elec")
        await w.advance(10)
        # A 1500 W kettle (PF 1) joins the 100 W at PF 0.6 and stays plugged in.
        meter.load = LoadProfile(
            base_w=100.0, base_pf=0.6, variable_w=1500.0, variable_pf=1.0, noise=0.0
        )
        await w.until(lambda: not meter.state.relay, "first trip", limit=120)
        (alarm,) = w.engine.views.active_alarms()
        assert alarm.alarm.kind == "prohibited_appliance"
        assert alarm.alarm.evidence["before_w"] == pytest.approx(100, abs=1)
        assert alarm.alarm.evidence["after_w"] == pytest.approx(1600, abs=1)
        assert alarm.alarm.evidence["step_pf"] >= 0.95
        await w.until(lambda: meter.state.relay, "automatic reclose", limit=300)
        await w.until(lambda: not meter.state.relay, "second trip", limit=120)
        kinds = [a.alarm.kind for a in w.engine.views.active_alarms()]
        assert kinds == ["lockout"]
        await w.advance(900, step=30)
        assert not meter.state.relay  # locked out: no reclose
        assert (
            w.engine.staff.release(
                "dorm-1.101.elec", what="lockout", actor="staff:li", reason="kettle removed"
            )
            == 1
        )
        meter.load = LoadProfile(base_w=100.0, base_pf=0.6, noise=0.0)
        await w.until(lambda: meter.state.relay, "released", limit=300)


async def test_the_meter_detects_a_blanket_with_the_ranges_the_controller_wrote(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    """Issue 12 item 5: thresholds written to the prepaid meter over Modbus, its own trip
    supervised (alarm, audit), restored once, then locked out."""
    clock = FakeClock(at(2026, 3, 2, 22, 0))
    overload = {
        "id": "load",
        "type": "overload",
        "per_bed_w": 300,
        "detection": "meter",
        "signature": {"ranges": [{"min_w": 60, "max_w": 150, "min_pf": 0.97}]},
        "reclose_after_s": 120,
        "restores_per_day": 1,
    }
    async with emulated(
        site, [overload], store, clock, calendar, [FLOOR_1], prepare=steady_meters
    ) as w:
        meter = w.model("dorm-1.101.elec")
        await w.until(lambda: meter.ranges[0] == [60.0, 150.0, 0.97], "ranges written", limit=60)
        assert meter.trip_w == 1200.0
        assert meter.ranges[1] == [0.0, 0.0, 1.0]  # the unused slot is off
        blanket = Appliance("electric_blanket", 100.0, 1.0, 600.0, 20_000.0, per_person=False)
        meter.load = LoadProfile(base_w=100.0, base_pf=0.6, noise=0.0, appliances=(blanket,))
        await w.until(lambda: not meter.state.relay, "the meter trips", limit=60)
        await w.until(lambda: bool(w.engine.views.active_alarms()), "trip noticed", limit=60)
        (alarm,) = w.engine.views.active_alarms()
        assert (alarm.alarm.kind, alarm.alarm.evidence["cause"]) == (
            "prohibited_appliance",
            "meter_appliance",
        )
        await w.until(lambda: meter.state.relay, "restored after the delay", limit=300)
        await w.until(lambda: not meter.state.relay, "second trip", limit=120)
        await w.until(
            lambda: [a.alarm.kind for a in w.engine.views.active_alarms()] == ["lockout"],
            "locked out",
            limit=60,
        )
        await w.advance(600, step=30)
        assert not meter.state.relay
        audited = {e.action for e in w.audit.query(target="dorm-1.101.elec.power")}
        assert "alarm.raise" in audited
        written = {e.target for e in w.audit.query(actor="policy:load", action="command")}
        assert "dorm-1.101.elec.range1_min_w" in written


def idle_valves(emulator: SiteEmulator) -> None:
    for device in emulator.devices.values():
        device.bound.model.uses_per_day = 0.0


async def test_a_stuck_open_valve_is_forced_closed(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(at(2026, 3, 2, 12, 0))
    valves = {
        "id": "valves",
        "type": "delay_valves",
        "delay_s": 7,
        "max_open_s": 60,
        "no_contact_s": 3600,
    }
    async with emulated(site, [valves], store, clock, calendar, [VALVES], prepare=idle_valves) as w:
        valve = w.model("canteen-1.handwash.v01")
        await w.until(lambda: valve.delay == 7, "delay set", limit=60)
        valve.press(clock.time())
        valve.open_until = clock.time() + 1e6  # the closing timer has failed
        took = await w.until(
            lambda: not valve.is_open(clock.time()), "valve forced closed", limit=300
        )
        assert 60 <= took <= 60 + 2 * 5 + 5
        raised = [e.details.get("alarm_id") for e in w.audit.query(action="alarm.raise")]
        assert "valves:stuck_open:canteen-1.handwash.v01" in raised  # cleared once it reads closed
        assert w.model("canteen-1.handwash.v02").delay == 7


AC_HOURS = {
    "id": "ac-hours",
    "type": "ac_windows",
    "allowed": [{"start": "12:00", "end": "14:30"}, {"start": "18:00", "end": "08:00"}],
}


def acs_on(world: Emulated) -> None:
    for room in ("101", "102"):
        ac = world.model(f"dorm-1.{room}.ac")
        ac.command("power_switch", "on")
        ac.command("mode", "cool")


async def test_an_override_keeps_a_rooms_ac_on_until_it_expires(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(at(2026, 3, 2, 14, 0))
    async with emulated(
        site, [AC_HOURS], store, clock, calendar, [FLOOR_1], prepare=quiet_acs
    ) as w:
        acs_on(w)
        w.engine.staff.grant_override(
            {"rooms": ["dorm-1/101"]},
            policy_id="ac-hours",
            actor="staff:wang",
            reason="sick student",
            until=at(2026, 3, 2, 15, 0).timestamp(),
        )
        other, exempt = w.model("dorm-1.102.ac"), w.model("dorm-1.101.ac")
        clock.set(at(2026, 3, 2, 14, 29, 50))
        await w.until(lambda: not other.on, "the other room's AC off at 14:30", limit=60)
        assert clock.now() >= at(2026, 3, 2, 14, 30)
        assert exempt.on
        clock.set(at(2026, 3, 2, 14, 59, 30))
        await w.advance(20)
        assert exempt.on  # 14:59:50: still exempt
        await w.until(lambda: not exempt.on, "exempt AC off after the override", limit=60)
        assert clock.now() >= at(2026, 3, 2, 15, 0)


async def test_restart_mid_override_and_mid_quota_forgets_nothing(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(at(2026, 3, 2, 14, 0))
    quota = {
        "id": "quota",
        "type": "quota",
        "resource": "electricity",
        "per_room": 0.05,
        "action": "cut",
        "scope": {"rooms": ["dorm-1/101"]},
    }
    policies = [quota, AC_HOURS]

    def heavy_room(emulator: SiteEmulator) -> None:
        steady_meters(emulator)
        emulator.devices["dorm-1.101.elec"].bound.model.load = LoadProfile(
            base_w=1000.0, base_pf=1.0, noise=0.0
        )

    async with emulators(site, clock, [FLOOR_1], heavy_room) as emulator:
        async with controller_for(emulator, policies, store, clock, calendar) as w:
            acs_on(w)
            override = w.engine.staff.grant_override(
                {"rooms": ["dorm-1/102"]},
                policy_id="ac-hours",
                actor="staff:wang",
                reason="sick student",
                until=at(2026, 3, 2, 15, 0).timestamp(),
            )
            meter = w.model("dorm-1.101.elec")
            await w.until(lambda: not meter.state.relay, "quota cut", step=5, limit=600)
            (before,) = w.engine.views.quota_balances()
            assert before.cut
        await w.advance(300, step=10)  # the controller is down for five minutes
        async with controller_for(emulator, policies, store, clock, calendar) as w:
            await w.advance(300, step=5)  # past the start-up grace: nothing was restored
            assert not meter.state.relay
            (after,) = w.engine.views.quota_balances()
            assert after.used >= before.used  # measured from the same baseline
            assert after.cut
            assert [o.id for o in w.engine.views.overrides()] == [override.id]
            exempt, other = w.model("dorm-1.102.ac"), w.model("dorm-1.101.ac")
            clock.set(at(2026, 3, 2, 14, 29, 50))
            await w.until(lambda: not other.on, "window closes at 14:30", limit=60)
            assert exempt.on
            clock.set(at(2026, 3, 2, 14, 59, 50))
            await w.until(lambda: not exempt.on, "override expired", limit=60)
            assert clock.now() >= at(2026, 3, 2, 15, 0)
            assert [e.action for e in w.audit.query(action="override.grant")] == ["override.grant"]
            assert [e.action for e in w.audit.query(action="override.expire")] == [
                "override.expire"
            ]
