"""Overload and prohibited-appliance cut-off: limits, signatures, reclose, lock-out."""

from __future__ import annotations

from typing import Any

import pytest

from controller.core.events import State
from controller.policies.overload import OverloadMemory, step_power_factor

from .conftest import at

POWER, PF = "dorm-1.101.elec.power", "dorm-1.101.elec.power_factor"
OVERLOAD = {
    "id": "load",
    "type": "overload",
    "per_bed_w": 300,
    "over_for_s": 10,
    "signature": {
        "step_w": 300,
        "min_pf": 0.95,
        "persist_s": 30,
        "whitelist": [{"name": "饮水机", "min_w": 450, "max_w": 550}],
    },
    "reclose_after_s": 600,
    "restores_per_day": 2,
}


def reading(power: float, pf: float, when: float) -> dict[str, State]:
    return {POWER: State(power, when), PF: State(pf, when)}


def test_step_power_factor_of_the_added_load() -> None:
    # 100 W at PF 0.6 is 133 var; a 1000 W kettle adds no reactive power: PF 1100/√(1100²+133²).
    assert step_power_factor(100, 0.6, 1100, 0.99274) == pytest.approx(1.0, abs=0.001)
    assert step_power_factor(100, 1.0, 500, 0.7) < 0.8  # an inductive load added


def test_limit_is_per_bed(make_policy: Any) -> None:
    assert make_policy(OVERLOAD).units[0].limit_w == 1200


def test_power_over_the_limit_trips_after_t_seconds(make_policy: Any) -> None:
    policy = make_policy({**OVERLOAD, "signature": None})
    unit = policy.units[0]
    t0 = at(2026, 3, 2, 20, 0).timestamp()
    normal = policy.decide(policy.tick(at(2026, 3, 2, 20, 0)), unit, reading(300, 0.9, t0), None)
    over = policy.decide(
        policy.tick(at(2026, 3, 2, 20, 0, 5)), unit, reading(1500, 0.9, t0 + 5), normal.memory
    )
    assert over.memory.over_since == t0 + 5
    assert over.wake_at == t0 + 15
    assert not over.wants
    trip = policy.decide(
        policy.tick(at(2026, 3, 2, 20, 0, 15)), unit, reading(1500, 0.9, t0 + 5), over.memory
    )
    (want,) = trip.wants
    assert (want.entity_id, want.value, want.restore) == ("dorm-1.101.elec.relay", False, True)
    (alarm,) = trip.alarms
    assert alarm.kind == "overload"
    assert alarm.evidence["before_w"] == 300
    assert alarm.evidence["after_w"] == 1500
    assert trip.wake_at == t0 + 15 + 600
    # Recloses after the delay.
    reclosed = policy.decide(
        policy.tick(at(2026, 3, 2, 20, 10, 15)), unit, reading(0, 1, t0 + 600), trip.memory
    )
    assert not reclosed.wants
    assert not reclosed.alarms


def test_resistive_step_trips_when_it_persists(make_policy: Any) -> None:
    policy = make_policy(OVERLOAD)
    unit = policy.units[0]
    t0 = at(2026, 3, 2, 20, 0).timestamp()
    base = policy.decide(policy.tick(at(2026, 3, 2, 20, 0)), unit, reading(100, 0.6, t0), None)
    step = policy.decide(
        policy.tick(at(2026, 3, 2, 20, 0, 30)), unit, reading(900, 0.95, t0 + 30), base.memory
    )
    assert step.memory.step_since == t0 + 30
    assert step.wake_at == t0 + 60
    assert not step.wants
    trip = policy.decide(
        policy.tick(at(2026, 3, 2, 20, 1)), unit, reading(900, 0.95, t0 + 30), step.memory
    )
    (alarm,) = trip.alarms
    assert alarm.kind == "prohibited_appliance"
    assert alarm.evidence["before_w"] == 100
    assert alarm.evidence["after_w"] == 900
    assert alarm.evidence["step_pf"] > 0.95
    assert trip.wants


@pytest.mark.parametrize(
    ("after", "pf", "why"),
    [
        (600, 0.9, "whitelisted water dispenser (500 W step)"),
        (300, 0.6, "step too small"),
        (700, 0.45, "inductive step"),
    ],
)
def test_steps_that_do_not_trip(make_policy: Any, after: float, pf: float, why: str) -> None:
    policy = make_policy(OVERLOAD)
    unit = policy.units[0]
    t0 = at(2026, 3, 2, 20, 0).timestamp()
    base = policy.decide(policy.tick(at(2026, 3, 2, 20, 0)), unit, reading(100, 0.6, t0), None)
    step = policy.decide(
        policy.tick(at(2026, 3, 2, 20, 0, 30)), unit, reading(after, pf, t0 + 30), base.memory
    )
    assert step.memory.step_since is None, why
    assert step.memory.base_w == after


def test_a_step_that_goes_away_does_not_trip(make_policy: Any) -> None:
    policy = make_policy(OVERLOAD)
    unit = policy.units[0]
    t0 = at(2026, 3, 2, 20, 0).timestamp()
    memory = OverloadMemory(
        day="2026-03-02", base_w=100, base_pf=0.6, step_since=t0, step_base_w=100, step_pf_now=1.0
    )
    gone = policy.decide(
        policy.tick(at(2026, 3, 2, 20, 0, 20)), unit, reading(120, 0.6, t0 + 20), memory
    )
    assert gone.memory.step_since is None
    assert not gone.wants


def test_kth_trip_of_the_day_locks_out_until_released(make_policy: Any) -> None:
    policy = make_policy({**OVERLOAD, "signature": None, "over_for_s": 0})
    unit = policy.units[0]
    memory = None
    for minute in (0, 20, 40):
        now = at(2026, 3, 2, 20, minute)
        t = now.timestamp()
        memory = policy.decide(policy.tick(now), unit, reading(300, 0.9, t), memory).memory
        decision = policy.decide(policy.tick(now), unit, reading(2000, 0.9, t), memory)
        memory = decision.memory
    assert memory.trips == 3
    assert memory.locked
    assert decision.alarms[0].kind == "lockout"
    # Still locked the next morning (the day's count resets, the lock-out does not).
    morning = policy.decide(policy.tick(at(2026, 3, 3, 8, 0)), unit, reading(0, 1, t), memory)
    assert morning.wants
    assert morning.memory.trips == 0
    released = policy.release(unit, morning.memory, "lockout")
    assert not released.locked
    assert not policy.decide(
        policy.tick(at(2026, 3, 3, 8, 0)), unit, reading(0, 1, t), released
    ).wants


def test_alarm_only_mode_never_switches(make_policy: Any) -> None:
    policy = make_policy({**OVERLOAD, "signature": None, "over_for_s": 0, "action": "alarm"})
    unit = policy.units[0]
    now = at(2026, 3, 2, 20, 0)
    decision = policy.decide(policy.tick(now), unit, reading(2000, 0.9, now.timestamp()), None)
    assert not decision.wants
    assert "alarm only" in decision.alarms[0].message_en
