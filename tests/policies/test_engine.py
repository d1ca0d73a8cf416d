"""The policy engine component: scheduler edges, guard, overrides, staff actions, restart."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from controller.calendar import SiteCalendar
from controller.config import LoadedSite
from controller.core import FakeClock
from controller.policies.errors import Invalid, NotFound, Refused

from .conftest import at
from .rig import running

RELAY = "dorm-1.101.elec.relay"
CURFEW = {
    "id": "curfew",
    "type": "curfew",
    "windows": [
        {"start": "23:00", "end": "05:50", "days": {"include": ["workday"]}, "days_of": "end"}
    ],
}
AC_HOURS = {
    "id": "ac-hours",
    "type": "ac_windows",
    "allowed": [{"start": "12:00", "end": "14:30"}, {"start": "18:00", "end": "08:00"}],
}


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "policies.sqlite3"


async def test_curfew_switches_sockets_off_at_night_and_on_in_the_morning(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(at(2026, 3, 2, 22, 59, 50))
    async with running(site, [CURFEW], store, clock, calendar) as rig:
        for room in ("101", "102", "201", "202"):
            rig.set(f"dorm-1.{room}.elec.relay", True)
        await rig.advance(9)
        assert rig.value(RELAY) is True
        await rig.advance(2)
        assert rig.value(RELAY) is False
        assert len(rig.devices.writes) == 4
        clock.set(at(2026, 3, 3, 5, 49, 58))
        await rig.advance(3)
        assert rig.value(RELAY) is True
        actions = [(e.actor, e.result, e.details["value"]) for e in rig.audit.query(target=RELAY)]
        assert actions == [("policy:curfew", "ok", True), ("policy:curfew", "ok", False)]
        assert rig.engine.status()["holds"] == 0


async def test_commands_against_a_policy_are_refused_unless_staff_override(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(at(2026, 3, 2, 23, 0))
    async with running(site, [CURFEW], store, clock, calendar, manual_override_s=600) as rig:
        rig.set(RELAY, True)
        await rig.advance(1)
        assert rig.value(RELAY) is False
        refused = await rig.controller.commands.send(RELAY, True, actor="app:student", source="app")
        assert not refused.ok
        assert refused.error is not None
        assert "curfew" in refused.error
        assert rig.value(RELAY) is False
        granted = await rig.controller.commands.send(
            RELAY, True, actor="staff:wang", source="manual"
        )
        assert granted.ok
        (override,) = rig.engine.views.overrides()
        assert (override.kind, override.actor, override.policies) == (
            "manual",
            "staff:wang",
            frozenset({"curfew"}),
        )
        await rig.advance(590, step=10)
        assert rig.value(RELAY) is True  # the manual command holds while the override lasts
        await rig.advance(20, step=5)
        assert rig.value(RELAY) is False  # the override ended by itself: curfew resumes
        assert rig.engine.views.overrides() == []
        assert [e.action for e in rig.audit.query(actor="system")] == ["override.expire"]
        assert rig.engine.status()["refused"] == 1


async def test_an_override_keeps_a_rooms_ac_on_until_it_expires(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(at(2026, 3, 2, 14, 0))
    async with running(site, [AC_HOURS], store, clock, calendar) as rig:
        for room in ("101", "102"):
            rig.set(f"dorm-1.{room}.ac.power_switch", "on")
        rig.engine.staff.grant_override(
            {"rooms": ["dorm-1/101"]},
            policy_id="ac-hours",
            actor="staff:wang",
            reason="sick student needs AC",
            duration_s=3600,
        )
        await rig.advance(1800 + 5, step=5)  # 14:30: the window closes
        assert rig.value("dorm-1.102.ac.power_switch") == "off"
        assert rig.value("dorm-1.101.ac.power_switch") == "on"
        await rig.advance(1800, step=5)  # 15:00: the override expires
        assert rig.value("dorm-1.101.ac.power_switch") == "off"
        assert [e.action for e in rig.audit.query(action="override.grant")] == ["override.grant"]


async def test_staff_actions_are_validated(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(at(2026, 3, 2, 14, 0))
    async with running(site, [AC_HOURS], store, clock, calendar) as rig:
        engine = rig.engine
        with pytest.raises(Invalid, match="reason"):
            engine.staff.grant_override(
                {"rooms": ["dorm-1/101"]}, actor="staff:wang", reason=" ", duration_s=60
            )
        with pytest.raises(Invalid, match="matches no device"):
            engine.staff.grant_override(
                {"devices": ["nope"]}, actor="staff:wang", reason="x", duration_s=60
            )
        with pytest.raises(Invalid, match="future"):
            engine.staff.grant_override(
                {"rooms": ["dorm-1/101"]}, actor="staff:wang", reason="x", duration_s=0
            )
        with pytest.raises(NotFound):
            engine.staff.grant_override(
                {"rooms": ["dorm-1/101"]}, policy_id="nope", actor="a", reason="x", duration_s=60
            )
        with pytest.raises(NotFound):
            engine.staff.end_override("nope", actor="a", reason="x")


async def test_restart_forgets_nothing(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    quota = {
        "id": "quota",
        "type": "quota",
        "resource": "electricity",
        "per_room": 10,
        "action": "cut",
    }
    overload = {
        "id": "load",
        "type": "overload",
        "limit_w": 1000,
        "over_for_s": 0,
        "restores_per_day": 0,
    }
    clock = FakeClock(at(2026, 3, 10, 12, 0))
    async with running(site, [quota, overload, AC_HOURS], store, clock, calendar) as rig:
        rig.set("dorm-1.101.elec.energy", 100.0)
        rig.set("dorm-1.101.elec.relay", True)
        rig.set("dorm-1.102.elec.relay", True)
        await rig.advance(1)
        rig.set("dorm-1.101.elec.energy", 111.0)  # quota used up: cut
        rig.set("dorm-1.102.elec.power", 2500.0)  # overload: trip and lock out
        await rig.advance(2)
        assert rig.value("dorm-1.101.elec.relay") is False
        assert rig.value("dorm-1.102.elec.relay") is False
        rig.engine.staff.top_up("quota", "dorm-1/101", 0.5, actor="staff:li", reason="paid")
        override = rig.engine.staff.grant_override(
            {"rooms": ["dorm-1/201"]},
            policy_id="ac-hours",
            actor="staff:wang",
            reason="sick",
            duration_s=7200,
        )
        await rig.advance(1)
        raised_before = len(rig.audit.query(action="alarm.raise"))
    clock.advance(600)  # the controller is down for ten minutes
    async with running(
        site, [quota, overload, AC_HOURS], store, clock, calendar, startup_grace_s=30
    ) as rig:
        (balance,) = rig.engine.views.quota_balances(room="dorm-1/101")
        assert (balance.allowance, balance.topup) == (10, 0.5)
        rig.set("dorm-1.101.elec.energy", 111.0)
        rig.set("dorm-1.101.elec.relay", True)  # as read after the restart
        rig.set("dorm-1.102.elec.relay", True)
        rig.set("dorm-1.102.elec.power", 0.0)
        await rig.advance(2)
        (balance,) = rig.engine.views.quota_balances(room="dorm-1/101")
        assert balance.used == 11.0  # the baseline survived
        assert rig.value("dorm-1.101.elec.relay") is False
        assert rig.value("dorm-1.102.elec.relay") is False  # still locked out
        assert [o.id for o in rig.engine.views.overrides()] == [override.id]
        kinds = {a.alarm.kind for a in rig.engine.views.active_alarms()}
        assert {"lockout", "quota_exhausted"} <= kinds
        assert len(rig.audit.query(action="alarm.raise")) == raised_before  # not raised again
        assert (
            rig.engine.staff.release(
                "dorm-1.102.elec", what="lockout", actor="staff:li", reason="checked"
            )
            == 1
        )
        await rig.advance(61, step=5)
        assert rig.value("dorm-1.102.elec.relay") is True


async def test_restart_restores_points_released_while_down(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(at(2026, 3, 2, 23, 0))
    async with running(site, [CURFEW], store, clock, calendar) as rig:
        rig.set(RELAY, True)
        await rig.advance(1)
        assert rig.value(RELAY) is False
    clock.set(at(2026, 3, 3, 7, 0))  # down across the end of the curfew
    async with running(site, [CURFEW], store, clock, calendar, startup_grace_s=60) as rig:
        rig.set(RELAY, False)
        await rig.advance(50, step=10)
        assert rig.value(RELAY) is False  # readings may still change the picture
        await rig.advance(11)
        assert rig.value(RELAY) is True


async def test_policy_edits_are_audited_and_persisted(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(at(2026, 3, 2, 22, 0))
    async with running(site, [CURFEW], store, clock, calendar) as rig:
        rig.engine.admin.upsert(
            {**CURFEW, "windows": [{"start": "22:00", "end": "06:00"}]},
            actor="staff:li",
            reason="exam week",
        )
        rig.engine.admin.upsert(AC_HOURS, actor="staff:li", reason="summer")
        rig.engine.admin.set_enabled("ac-hours", False, actor="staff:li", reason="cool day")
        rig.set(RELAY, True)
        await rig.advance(1)
        assert rig.value(RELAY) is False
        actions = [e.action for e in rig.audit.query(actor="staff:li")]
        assert actions == ["policy.update", "policy.create", "policy.update"]
    async with running(site, [CURFEW], store, clock, calendar, startup_grace_s=5) as rig:
        rig.set(RELAY, False)
        listed = {p["id"]: p for p in rig.engine.admin.declared()}
        assert listed["curfew"]["source"] == "runtime"
        assert listed["curfew"]["config"]["windows"][0]["start"] == "22:00"
        assert listed["ac-hours"]["enabled"] is False
        rig.engine.admin.delete("curfew", actor="staff:li", reason="holidays")
        await rig.advance(6)
        assert rig.value(RELAY) is True  # released by the deletion


async def test_dry_run_now_sends_nothing(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    clock = FakeClock(at(2026, 3, 2, 23, 30))
    async with running(site, [], store, clock, calendar) as rig:
        for room in ("101", "102", "201", "202"):
            rig.set(f"dorm-1.{room}.elec.relay", True)
        report = rig.engine.views.dry_run(CURFEW)
        assert report.units == 4
        assert [(c.entity_id, c.value) for c in report.commands] == [
            (f"dorm-1.{room}.elec.relay", False) for room in ("101", "102", "201", "202")
        ]
        assert report.summary() == "would send 4 commands now to 4 units, 0 alarms"
        await rig.advance(1)
        assert rig.devices.writes == []


async def test_leak_closes_the_valve_until_released(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    leak = {"id": "leak", "type": "leak", "threshold_lpm": 1.0, "duration_min": 5}
    clock = FakeClock(at(2026, 3, 2, 14, 0))
    valve = "dorm-1.101.cold.valve"
    async with running(site, [leak], store, clock, calendar) as rig:
        rig.set(valve, "open")
        rig.set("dorm-1.101.cold.flow", 0.3)
        await rig.advance(301, step=10)
        assert rig.value(valve) == "closed"
        (alarm,) = rig.engine.views.active_alarms()
        assert alarm.alarm.kind == "leak"
        rig.set("dorm-1.101.cold.flow", 0.0)
        rig.engine.staff.acknowledge(alarm.alarm.key, actor="staff:zhao")
        assert (
            rig.engine.staff.release(
                "dorm-1.101.cold", what="leak", actor="staff:zhao", reason="fixed"
            )
            == 1
        )
        await rig.advance(30, step=5)
        assert rig.value(valve) == "closed"  # minimum off time: no flapping
        await rig.advance(31, step=5)
        assert rig.value(valve) == "open"
        assert rig.engine.views.active_alarms() == []


async def test_top_ups_say_what_is_wrong_with_the_typed_errors(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    quota = {"id": "quota", "type": "quota", "resource": "electricity", "per_room": 10}
    clock = FakeClock(at(2026, 3, 10, 12, 0))
    async with running(site, [quota, AC_HOURS], store, clock, calendar) as rig:
        staff, admin = rig.engine.staff, rig.engine.admin
        with pytest.raises(Invalid) as bad_amount:
            staff.top_up("quota", "dorm-1/101", 0, actor="billing:card", reason="paid")
        assert bad_amount.value.field == "amount"
        with pytest.raises(Invalid) as not_quota:
            staff.top_up("ac-hours", "dorm-1/101", 1, actor="billing:card", reason="paid")
        assert not_quota.value.field == "policy_id"
        with pytest.raises(NotFound) as no_room:
            staff.top_up("quota", "dorm-9/999", 1, actor="billing:card", reason="paid")
        assert (no_room.value.kind, no_room.value.key) == ("room", "dorm-9/999")
        with pytest.raises(NotFound) as no_policy:
            staff.top_up("nope", "dorm-1/101", 1, actor="billing:card", reason="paid")
        assert no_policy.value.kind == "policy"
        admin.set_enabled("quota", False, actor="staff:li", reason="vacation")
        with pytest.raises(Refused, match="disabled"):
            staff.top_up("quota", "dorm-1/101", 1, actor="billing:card", reason="paid")
        admin.set_enabled("quota", True, actor="staff:li", reason="term starts")
        balance = staff.top_up("quota", "dorm-1/101", 1, actor="billing:card", reason="paid")
        assert balance.topup == 1
        (entry,) = rig.audit.query(action="quota.top_up")
        assert entry.actor == "billing:card"
        with pytest.raises(NotFound) as no_alarm:
            staff.acknowledge("nope", actor="alarms:desk")
        assert no_alarm.value.kind == "alarm"


async def test_a_burst_of_readings_is_decided_in_a_few_evaluations(
    site: LoadedSite, store: Path, calendar: SiteCalendar
) -> None:
    """Readings that arrive within ``eval_gap_s`` of an evaluation are decided together by the
    next one, and an evaluation that changes nothing writes nothing; a reading that matters is
    still acted on within the gap."""
    overload = {"id": "load", "type": "overload", "limit_w": 1000, "over_for_s": 0}
    clock = FakeClock(at(2026, 3, 10, 12, 0))
    async with running(site, [overload], store, clock, calendar, eval_gap_s=0.2) as rig:
        rig.set("dorm-1.102.elec.relay", True)
        await asyncio.sleep(0.5)
        evaluations, writes = rig.engine.counters["evaluations"], rig.engine.ctx.store.writes
        for burst in range(10):  # 1,000 readings in ~0.1 s, all under the limit
            for n in range(100):
                rig.set("dorm-1.101.elec.power", 100.0 + n + burst)
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.5)
        assert rig.engine.counters["evaluations"] - evaluations <= 3
        assert rig.engine.ctx.store.writes == writes
        rig.set("dorm-1.102.elec.power", 2500.0)  # an overload: tripped within the gap
        deadline = time.monotonic() + 2.0
        while rig.value("dorm-1.102.elec.relay") is not False:
            assert time.monotonic() < deadline, "the overload was not tripped"
            await asyncio.sleep(0.02)
        assert rig.engine.ctx.store.writes > writes  # the lock-out is stored
