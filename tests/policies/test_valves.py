"""Delayed-closing valves: delays, maximum-open guard, no-contact report, counters."""

from __future__ import annotations

from typing import Any

from controller.core.events import State
from controller.policies.valves import ValveMemory

from .conftest import at

VALVES = {
    "id": "valves",
    "type": "delay_valves",
    "delay_s": 7,
    "per_valve": {"canteen-1.handwash.v02": 5},
    "max_open_s": 60,
    "no_contact_s": 600,
}
V1 = "canteen-1.handwash.v01"


def unit_of(policy: Any, key: str = V1) -> Any:
    return next(u for u in policy.units if u.key == key)


def valve(when: float, **values: Any) -> dict[str, State]:
    return {f"{V1}.{k}": State(v, when) for k, v in values.items()}


def test_sets_delays_and_the_device_guard(make_policy: Any) -> None:
    policy = make_policy(VALVES)
    now = at(2026, 3, 2, 12, 0)
    t = now.timestamp()
    decision = policy.decide(
        policy.tick(now), unit_of(policy), valve(t, valve="closed", delay=10, max_open=300), None
    )
    assert [(w.entity_id, w.value) for w in decision.wants] == [
        (f"{V1}.delay", 7),
        (f"{V1}.max_open", 60),
    ]
    v2 = unit_of(policy, "canteen-1.handwash.v02")
    assert v2.settings[0].value == 5
    done = policy.decide(
        policy.tick(now), unit_of(policy), valve(t, valve="closed", delay=7, max_open=60), None
    )
    assert not done.wants


def test_stuck_open_valve_is_forced_closed(make_policy: Any) -> None:
    policy = make_policy(VALVES)
    unit = unit_of(policy)
    t0 = at(2026, 3, 2, 12, 0).timestamp()
    current = valve(t0, valve="open", delay=7, max_open=60)
    first = policy.decide(policy.tick(at(2026, 3, 2, 12, 0)), unit, current, None)
    assert first.memory.open_since == t0
    assert first.wake_at == t0 + 60
    stuck = policy.decide(policy.tick(at(2026, 3, 2, 12, 1)), unit, current, first.memory)
    (want,) = stuck.wants
    assert (want.entity_id, want.value, want.command_entity, want.command) == (
        f"{V1}.valve",
        "closed",
        f"{V1}.command",
        "close",
    )
    (alarm,) = stuck.alarms
    assert alarm.kind == "stuck_open"


def test_new_presses_restart_the_timer(make_policy: Any) -> None:
    policy = make_policy(VALVES)
    unit = unit_of(policy)
    t0 = at(2026, 3, 2, 12, 0).timestamp()
    first = policy.decide(
        policy.tick(at(2026, 3, 2, 12, 0)), unit, valve(t0, valve="open", presses=10), None
    )
    busy = valve(t0 + 50, valve="open", presses=12)  # still open, but pressed twice since
    again = policy.decide(policy.tick(at(2026, 3, 2, 12, 0, 50)), unit, busy, first.memory)
    assert again.memory.open_since == t0 + 50
    later = policy.decide(policy.tick(at(2026, 3, 2, 12, 1, 10)), unit, busy, again.memory)
    assert not later.wants  # 20 s since the last press, not 70
    stuck = policy.decide(policy.tick(at(2026, 3, 2, 12, 1, 50)), unit, busy, again.memory)
    assert stuck.wants


def test_no_contact_is_reported(make_policy: Any) -> None:
    policy = make_policy(VALVES)
    unit = unit_of(policy)
    t0 = at(2026, 3, 2, 12, 0).timestamp()
    current = valve(t0, valve="closed", delay=7, max_open=60)
    fresh = policy.decide(policy.tick(at(2026, 3, 2, 12, 5)), unit, current, None)
    assert not fresh.alarms
    assert fresh.wake_at == t0 + 600
    silent = policy.decide(policy.tick(at(2026, 3, 2, 12, 10)), unit, current, None)
    (alarm,) = silent.alarms
    assert alarm.kind == "no_contact"
    assert alarm.evidence == {"last_seen": t0}


def test_presses_and_litres_per_press_today(make_policy: Any) -> None:
    policy = make_policy(VALVES)
    unit = unit_of(policy)
    morning = at(2026, 3, 2, 0, 0)
    start = valve(morning.timestamp(), valve="closed", presses=1000, volume=12.0)
    memory = policy.decide(policy.tick(morning), unit, start, None).memory
    assert memory == ValveMemory("2026-03-02", 1000, 12.0)
    noon = at(2026, 3, 2, 12, 0)
    now = valve(noon.timestamp(), valve="closed", presses=1100, volume=12.08)
    stats = policy.stats(policy.tick(noon), unit, now, memory)
    assert (stats.presses, stats.litres, stats.litres_per_press) == (100, 80.0, 0.8)
    tomorrow = policy.decide(policy.tick(at(2026, 3, 3, 0, 0)), unit, now, memory).memory
    assert tomorrow.presses0 == 1100
