"""Leak detection: continuous flow for too long, stricter at night and in vacations."""

from __future__ import annotations

from typing import Any

from controller.core.events import State
from controller.policies.leak import LeakMemory

from .conftest import at

LEAK = {
    "id": "leak",
    "type": "leak",
    "threshold_lpm": 2.0,
    "duration_min": 30,
    "strict": {
        "threshold_lpm": 0.5,
        "duration_min": 10,
        "windows": [{"start": "01:00", "end": "05:00"}],
    },
}
FLOW = "dorm-1.101.cold.flow"


def unit_of(policy: Any, key: str = "dorm-1.101.cold") -> Any:
    return next(u for u in policy.units if u.key == key)


def flow(m3h: float, when: float) -> dict[str, State]:
    return {FLOW: State(m3h, when)}


def test_continuous_flow_latches_a_leak_and_closes_the_valve(make_policy: Any) -> None:
    policy = make_policy(LEAK)
    unit = unit_of(policy)
    t0 = at(2026, 3, 2, 14, 0)
    reading = flow(0.3, t0.timestamp())  # 0.3 m³/h = 5 L/min
    first = policy.decide(policy.tick(t0), unit, reading, None)
    assert first.memory == LeakMemory(above_since=t0.timestamp())
    assert first.wake_at == t0.timestamp() + 1800
    assert not first.wants
    almost = at(2026, 3, 2, 14, 29, 59)
    assert not policy.decide(policy.tick(almost), unit, reading, first.memory).wants
    leak = policy.decide(policy.tick(at(2026, 3, 2, 14, 30)), unit, reading, first.memory)
    (want,) = leak.wants
    assert (want.entity_id, want.value, want.restore) == ("dorm-1.101.cold.valve", "closed", "open")
    (alarm,) = leak.alarms
    assert (alarm.kind, alarm.severity) == ("leak", "critical")
    assert alarm.evidence["flow_lpm"] == 5.0
    assert alarm.evidence["threshold_lpm"] == 2.0
    # Latched: stays closed even when the flow stops, until staff release it.
    stopped = policy.decide(
        policy.tick(at(2026, 3, 2, 15, 0)), unit, flow(0.0, t0.timestamp()), leak.memory
    )
    assert stopped.wants == leak.wants
    released = policy.release(unit, leak.memory, "leak")
    assert not policy.decide(
        policy.tick(at(2026, 3, 2, 15, 0)), unit, flow(0.0, t0.timestamp()), released
    ).wants


def test_flow_dropping_below_resets_the_timer_with_hysteresis(make_policy: Any) -> None:
    policy = make_policy(LEAK)
    unit = unit_of(policy)
    t0 = at(2026, 3, 2, 14, 0).timestamp()
    memory = LeakMemory(above_since=t0)
    tick = policy.tick(at(2026, 3, 2, 14, 10))
    in_band = policy.decide(tick, unit, flow(0.115, t0 + 600), memory)  # 1.92 L/min: within 10 %
    assert in_band.memory == memory
    below = policy.decide(tick, unit, flow(0.06, t0 + 600), memory)  # 1 L/min
    assert below.memory == LeakMemory()


def test_night_rule_is_stricter(make_policy: Any) -> None:
    policy = make_policy(LEAK)
    unit = unit_of(policy)
    t0 = at(2026, 3, 3, 2, 0)
    trickle = flow(0.06, t0.timestamp())  # 1 L/min: fine by day, a leak at night
    day = policy.decide(policy.tick(at(2026, 3, 3, 14, 0)), unit, flow(0.06, t0.timestamp()), None)
    assert day.memory == LeakMemory()
    first = policy.decide(policy.tick(t0), unit, trickle, None)
    assert first.wake_at == t0.timestamp() + 600
    leak = policy.decide(policy.tick(at(2026, 3, 3, 2, 10)), unit, trickle, first.memory)
    assert leak.alarms[0].evidence["threshold_lpm"] == 0.5


def test_vacations_use_the_strict_rule_all_day(make_policy: Any) -> None:
    policy = make_policy(LEAK)
    assert policy.phase(at(2026, 7, 15, 14, 0)) is True
    assert policy.phase(at(2026, 3, 2, 14, 0)) is False


def test_meters_without_a_valve_only_alarm(make_policy: Any) -> None:
    policy = make_policy({**LEAK, "scope": {"devices": ["bath-1.hot-water"]}})
    unit = unit_of(policy, "bath-1.hot-water")
    assert unit.valve is None
    t0 = at(2026, 3, 2, 14, 0).timestamp()
    memory = LeakMemory(above_since=t0)
    decision = policy.decide(
        policy.tick(at(2026, 3, 2, 15, 0)), unit, {"bath-1.hot-water.flow": State(1.0, t0)}, memory
    )
    assert not decision.wants
    assert "no valve" in decision.alarms[0].message_en


def test_a_main_meter_with_sub_meters_is_not_watched_unless_named(calendar: Any) -> None:
    """The bathhouse's hot-water main flows for hours while people shower (it raised a
    critical leak alarm every evening of the demo); its shower valves are watched instead."""
    from controller.config import load_site
    from controller.config.policies import policy_adapter
    from controller.policies.scope import SiteIndex
    from controller.policies.types import build_policy
    from tests.conftest import EXAMPLE_SITE

    index = SiteIndex.from_site(load_site(EXAMPLE_SITE))
    assert "bath-1.hot-water" in index.parents

    def keys(data: dict[str, Any]) -> set[str]:
        policy = build_policy(policy_adapter().validate_python(data), index, calendar)
        return {u.key for u in policy.units}

    watched = keys(LEAK)
    assert "bath-1.hot-water" not in watched
    assert watched  # the meters below it and the dorm meters still are
    named = {**LEAK, "scope": {"devices": ["bath-1.hot-water"]}}
    assert keys(named) == {"bath-1.hot-water"}
