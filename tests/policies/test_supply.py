"""Supply windows: shower and hot-water valves only in supply hours."""

from __future__ import annotations

from typing import Any

from controller.policies.model import IDLE

from .conftest import at

SUPPLY = {
    "id": "hot-water",
    "type": "supply_windows",
    "supply": [{"start": "06:00", "end": "08:00"}, {"start": "20:00", "end": "23:30"}],
}


def test_binds_hot_water_and_shower_valves(make_policy: Any) -> None:
    policy = make_policy(SUPPLY)
    keys = {u.key for u in policy.units}
    assert keys == {
        "bath-1.shower.s01",
        "bath-1.shower.s02",
        "dorm-1.101.hot",
        "dorm-1.102.hot",
        "dorm-1.201.hot",
        "dorm-1.202.hot",
    }


def test_outside_supply_enables_off_and_valves_closed(make_policy: Any) -> None:
    policy = make_policy(SUPPLY)
    by_key = {u.key: u for u in policy.units}
    tick = policy.tick(at(2026, 3, 2, 12, 0))
    shower = policy.decide(tick, by_key["bath-1.shower.s01"], {}, None)
    assert [(w.entity_id, w.value, w.restore) for w in shower.wants] == [
        ("bath-1.shower.s01.enabled", "off", "on"),
        ("bath-1.shower.s01.valve", "closed", None),
    ]
    room = policy.decide(tick, by_key["dorm-1.101.hot"], {}, None)
    assert [(w.entity_id, w.value, w.restore) for w in room.wants] == [
        ("dorm-1.101.hot.valve", "closed", "open"),  # the valve is the supply switch: reopen
    ]
    assert (
        policy.decide(policy.tick(at(2026, 3, 2, 20, 0)), by_key["dorm-1.101.hot"], {}, None)
        is IDLE
    )


def test_open_commands_refused_outside_supply(make_policy: Any) -> None:
    policy = make_policy(SUPPLY)
    unit = next(u for u in policy.units if u.key == "bath-1.shower.s01")
    noon = policy.tick(at(2026, 3, 2, 12, 0))
    assert "supply hours" in (policy.vet(noon, unit, {}, "bath-1.shower.s01.valve", "open") or "")
    assert policy.vet(noon, unit, {}, "bath-1.shower.s01.valve", "closed") is None
    assert (
        policy.vet(policy.tick(at(2026, 3, 2, 21, 0)), unit, {}, "bath-1.shower.s01.valve", "open")
        is None
    )
