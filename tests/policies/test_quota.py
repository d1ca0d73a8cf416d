"""Quotas: baselines per month, warnings, cuts, top-ups, month rollover, meter resets."""

from __future__ import annotations

from typing import Any

from controller.core.events import State
from controller.policies.quota import QuotaMemory

from .conftest import at

ELEC = {"id": "quota", "type": "quota", "resource": "electricity", "per_bed": 8, "action": "cut"}
ENERGY = "dorm-1.101.elec.energy"


def energy(value: float, when: Any) -> dict[str, State]:
    return {ENERGY: State(value, when.timestamp())}


def test_units_are_rooms_with_bed_based_allowance(make_policy: Any) -> None:
    policy = make_policy(ELEC)
    unit = policy.units[0]
    assert unit.key == "dorm-1/101"
    assert unit.allowance == 32  # 8 kWh × 4 beds
    assert unit.meters == (ENERGY,)
    assert [w.entity_id for w in unit.cuts] == ["dorm-1.101.elec.relay"]


def test_warns_at_80_and_cuts_at_100_percent(make_policy: Any) -> None:
    policy = make_policy(ELEC)
    unit = policy.units[0]
    start = at(2026, 3, 1, 0, 0)
    first = policy.decide(policy.tick(start), unit, energy(1000.0, start), None)
    assert first.memory == QuotaMemory("2026-03", (1000.0,))
    assert not first.wants
    assert not first.alarms
    later = at(2026, 3, 20, 12, 0)
    warned = policy.decide(policy.tick(later), unit, energy(1026.0, later), first.memory)
    (alarm,) = warned.alarms
    assert (alarm.kind, alarm.severity, alarm.key) == (
        "quota_warning",
        "info",
        "quota:warn80:dorm-1/101",
    )
    assert not warned.wants
    cut = policy.decide(policy.tick(later), unit, energy(1032.0, later), first.memory)
    (alarm,) = cut.alarms
    assert alarm.kind == "quota_exhausted"
    assert alarm.evidence == {"used": 32.0, "allowance": 32.0, "unit": "kWh"}
    (want,) = cut.wants
    assert (want.entity_id, want.value, want.restore) == ("dorm-1.101.elec.relay", False, True)


def test_flag_only_never_cuts(make_policy: Any) -> None:
    policy = make_policy({**ELEC, "action": "flag"})
    unit = policy.units[0]
    now = at(2026, 3, 20, 12, 0)
    decision = policy.decide(
        policy.tick(now), unit, energy(1100.0, now), QuotaMemory("2026-03", (1000.0,))
    )
    assert decision.alarms
    assert not decision.wants


def test_next_month_starts_from_the_current_reading(make_policy: Any) -> None:
    policy = make_policy(ELEC)
    unit = policy.units[0]
    april = at(2026, 4, 1, 0, 0)
    decision = policy.decide(
        policy.tick(april), unit, energy(1100.0, april), QuotaMemory("2026-03", (1000.0,), 5.0)
    )
    assert decision.memory == QuotaMemory("2026-04", (1100.0,))
    assert not decision.wants
    assert not decision.alarms


def test_top_up_lifts_the_cut(make_policy: Any) -> None:
    policy = make_policy(ELEC)
    unit = policy.units[0]
    now = at(2026, 3, 20, 12, 0)
    tick = policy.tick(now)
    memory = QuotaMemory("2026-03", (1000.0,))
    assert policy.decide(tick, unit, energy(1040.0, now), memory).wants
    topped = policy.top_up(tick, memory, 10)
    assert topped.topup == 10
    decision = policy.decide(tick, unit, energy(1040.0, now), topped)
    assert not decision.wants
    balance = policy.balance(tick, unit, energy(1040.0, now), topped)
    assert (balance.allowance, balance.topup, balance.used, balance.remaining) == (32, 10, 40, 2)
    assert not balance.cut


def test_a_meter_that_goes_back_is_rebaselined(make_policy: Any) -> None:
    policy = make_policy(ELEC)
    unit = policy.units[0]
    now = at(2026, 3, 20, 12, 0)
    decision = policy.decide(
        policy.tick(now), unit, energy(3.0, now), QuotaMemory("2026-03", (1000.0,))
    )
    assert decision.memory == QuotaMemory("2026-03", (3.0,))


def test_water_quota_sums_cold_and_hot_per_room(make_policy: Any) -> None:
    policy = make_policy(
        {"id": "water", "type": "quota", "resource": "water", "per_room": 10, "action": "cut"}
    )
    unit = policy.units[0]
    assert unit.meters == ("dorm-1.101.cold.volume", "dorm-1.101.hot.volume")
    assert [w.entity_id for w in unit.cuts] == ["dorm-1.101.hot.valve"]
    now = at(2026, 3, 20, 12, 0)
    current = {
        "dorm-1.101.cold.volume": State(106.0, now.timestamp()),
        "dorm-1.101.hot.volume": State(54.0, now.timestamp()),
    }
    decision = policy.decide(policy.tick(now), unit, current, QuotaMemory("2026-03", (100.0, 50.0)))
    assert decision.alarms[0].evidence["used"] == 10.0
    (want,) = decision.wants
    assert (want.value, want.restore) == ("closed", "open")
