"""AC windows: allowed 12:00–14:30 and 18:00–08:00 on teaching days, free otherwise."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from controller.policies.model import IDLE

from .conftest import at

WINDOWS = {
    "id": "ac-hours",
    "type": "ac_windows",
    "allowed": [{"start": "12:00", "end": "14:30"}, {"start": "18:00", "end": "08:00"}],
    "days": {"include": ["teaching"]},
}


@pytest.mark.parametrize(
    ("now", "restricted"),
    [
        (at(2026, 3, 2, 10, 0), True),  # Monday morning in the semester
        (at(2026, 3, 2, 12, 0), False),
        (at(2026, 3, 2, 14, 30), True),
        (at(2026, 3, 2, 18, 0), False),
        (at(2026, 3, 3, 7, 59), False),  # the evening window runs into the morning
        (at(2026, 3, 3, 8, 0), True),
        (at(2026, 3, 7, 10, 0), False),  # Saturday
        (at(2026, 7, 15, 10, 0), False),  # summer vacation
    ],
)
def test_units_off_only_when_restricted(
    make_policy: Any, now: dt.datetime, restricted: bool
) -> None:
    policy = make_policy(WINDOWS)
    unit = policy.units[0]
    decision = policy.decide(policy.tick(now), unit, {}, None)
    if restricted:
        (want,) = decision.wants
        assert (want.entity_id, want.value, want.restore) == (
            "dorm-1.101.ac.power_switch",
            "off",
            None,
        )
        assert policy.vet(policy.tick(now), unit, {}, "dorm-1.101.ac.power_switch", "on")
    else:
        assert decision is IDLE


def test_binds_ac_units_not_other_power_switches(make_policy: Any) -> None:
    policy = make_policy({**WINDOWS, "scope": {"buildings": ["dorm-1", "canteen-1", "bath-1"]}})
    assert all(u.key.endswith(".ac") for u in policy.units)
    assert len(policy.units) == 4
