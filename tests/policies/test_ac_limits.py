"""AC temperature limits: correct setpoints outside 26 °C cooling / 20 °C heating."""

from __future__ import annotations

from typing import Any

import pytest

from controller.policies.model import IDLE

from .conftest import at, states

NOW = at(2026, 7, 1, 14, 0)


def ac(mode: str, setpoint: float, power: str = "on") -> dict[str, Any]:
    return states(
        NOW.timestamp(),
        **{
            "dorm-1__101__ac__mode": mode,
            "dorm-1__101__ac__setpoint": setpoint,
            "dorm-1__101__ac__power_switch": power,
        },
    )


@pytest.mark.parametrize(
    ("mode", "setpoint", "expected"),
    [
        ("cool", 18.0, 26.0),
        ("dry", 20.0, 26.0),
        ("heat", 28.0, 20.0),
        ("cool", 26.0, None),
        ("cool", 27.5, None),
        ("heat", 20.0, None),
        ("fan", 17.0, None),
    ],
)
def test_corrects_only_outside_the_limits(
    make_policy: Any, mode: str, setpoint: float, expected: float | None
) -> None:
    policy = make_policy({"id": "limits", "type": "ac_limits"})
    unit = policy.units[0]
    decision = policy.decide(policy.tick(NOW), unit, ac(mode, setpoint), None)
    if expected is None:
        assert decision is IDLE
    else:
        (want,) = decision.wants
        assert (want.entity_id, want.value, want.command) == (
            "dorm-1.101.ac.setpoint",
            expected,
            expected,
        )
        assert want.restore is None


def test_units_that_are_off_are_left_alone_unless_configured(make_policy: Any) -> None:
    policy = make_policy({"id": "limits", "type": "ac_limits"})
    assert policy.decide(policy.tick(NOW), policy.units[0], ac("cool", 18, "off"), None) is IDLE
    strict = make_policy({"id": "limits", "type": "ac_limits", "only_when_on": False})
    assert strict.decide(strict.tick(NOW), strict.units[0], ac("cool", 18, "off"), None).wants


def test_configurable_limits_and_schedule(make_policy: Any) -> None:
    policy = make_policy(
        {
            "id": "limits",
            "type": "ac_limits",
            "cool_min_c": 27,
            "schedule": [{"start": "08:00", "end": "22:00"}],
        }
    )
    unit = policy.units[0]
    (want,) = policy.decide(policy.tick(NOW), unit, ac("cool", 26), None).wants
    assert want.value == 27
    assert policy.decide(policy.tick(at(2026, 7, 1, 23, 0)), unit, ac("cool", 18), None) is IDLE


def test_commands_breaking_the_limits_are_refused(make_policy: Any) -> None:
    policy = make_policy({"id": "limits", "type": "ac_limits"})
    unit = policy.units[0]
    tick = policy.tick(NOW)
    current = ac("cool", 26)
    assert "breaks the AC limits" in (
        policy.vet(tick, unit, current, "dorm-1.101.ac.setpoint", 18) or ""
    )
    assert policy.vet(tick, unit, current, "dorm-1.101.ac.setpoint", 27) is None
    assert policy.vet(tick, unit, current, "dorm-1.101.ac.mode", "heat") is None
