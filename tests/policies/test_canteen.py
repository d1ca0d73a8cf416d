"""Canteen after-hours: non-essential loads only, off outside service, back on inside."""

from __future__ import annotations

from typing import Any

from controller.policies.model import IDLE

from .conftest import at

SERVICE = {
    "id": "canteen",
    "type": "canteen_hours",
    "service": [{"start": "06:30", "end": "09:00"}, {"start": "10:30", "end": "13:30"}],
}


def test_default_scope_is_nonessential_canteen_loads(make_policy: Any) -> None:
    policy = make_policy(SERVICE)
    assert [u.key for u in policy.units] == [
        "canteen-1.plug.display-fridge",
        "canteen-1.plug.drink-cooler",
        "canteen-1.plug.signage",
        "canteen-1.plug.dining-fans",
    ]


def test_off_between_services_on_during(make_policy: Any) -> None:
    policy = make_policy(SERVICE)
    unit = policy.units[2]
    (want,) = policy.decide(policy.tick(at(2026, 3, 2, 9, 0)), unit, {}, None).wants
    assert (want.entity_id, want.value, want.restore) == (
        "canteen-1.plug.signage.relay",
        "off",
        "on",
    )
    assert policy.decide(policy.tick(at(2026, 3, 2, 10, 30)), unit, {}, None) is IDLE
    night = policy.tick(at(2026, 3, 2, 22, 0))
    assert policy.vet(night, unit, {}, "canteen-1.plug.signage.relay", "on")
