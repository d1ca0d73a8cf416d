"""Threshold rules with duration and hysteresis, through the manager."""

from __future__ import annotations

import pytest

from controller.alarms import AlarmManager, AlarmStore, ThresholdRule, ThresholdRules
from controller.alarms.model import AlarmError
from controller.core import FakeClock
from controller.core.events import State, StateChanged

ENTITY = "bath-1.hot_water.outlet_temp"


def _reading(value: float, ts: float) -> StateChanged:
    return StateChanged(ENTITY, None, State(value, ts), True)


def test_hot_water_below_55_for_30_min_raises_and_clears_with_hysteresis() -> None:
    clock = FakeClock()
    rule = ThresholdRule.from_config(
        {"id": "hw-low", "entity": ENTITY, "below": 55, "hysteresis": 2, "duration_s": 1800}
    )
    m = AlarmManager(AlarmStore(":memory:"), clock, rules=ThresholdRules([rule]))
    t0 = clock.time()
    m.handle(_reading(53.0, t0))
    clock.set(t0 + 1000)
    m.tick()
    assert m.active() == []
    clock.set(t0 + 1800)
    m.tick()  # no new reading: the duration is checked on tick
    assert [r.key for r in m.active()] == ["rule:hw-low"]
    m.handle(_reading(56.0, t0 + 1900))  # above 55 but inside the hysteresis band
    assert [r.key for r in m.active()] == ["rule:hw-low"]
    m.handle(_reading(57.5, t0 + 2000))
    assert m.active() == []


def test_a_short_dip_does_not_raise() -> None:
    clock = FakeClock()
    rules = ThresholdRules([ThresholdRule("r", ENTITY, below=55, duration_s=600)])
    t0 = clock.time()
    assert rules.feed(ENTITY, 50.0, t0) == []
    assert rules.feed(ENTITY, 60.0, t0 + 300) == []
    assert rules.tick(t0 + 700) == []


def test_bad_rule_names_the_field() -> None:
    with pytest.raises(AlarmError, match="entity"):
        ThresholdRule.from_config({"id": "r", "below": 1})
    with pytest.raises(AlarmError, match="exactly one"):
        ThresholdRule.from_config({"id": "r", "entity": "e"})
