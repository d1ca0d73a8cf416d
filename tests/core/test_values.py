"""Switch and valve values across profiles: coils, on/off labels, open/close commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import load_profile
from controller.core.values import is_on, same_value, switch_values, valve_values

PROFILES = Path(__file__).resolve().parents[2] / "profiles"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (1, True),
        (0, False),
        (2, None),
        ("on", True),
        ("OFF", False),
        ("open", True),
        ("closed", False),
        ("close", False),
        ("abnormal", None),
        (None, None),
    ],
)
def test_is_on(value: object, expected: bool | None) -> None:
    assert is_on(value) is expected  # type: ignore[arg-type]


def test_same_value() -> None:
    assert same_value(26, 26.000000000000004)
    assert not same_value(True, 1)
    assert same_value("on", "on")
    assert not same_value(26, 26.5)


@pytest.mark.parametrize(
    ("profile", "point", "expected"),
    [
        ("generic/dorm-prepaid-meter", "relay", (True, False, True, False)),
        ("tasmota/energy-plug", "relay", ("on", "off", "on", "off")),
        ("intesis/ac-gateway", "power_switch", ("on", "off", "on", "off")),
        ("xintai/water-meter-valve", "valve", ("open", "closed", "open", "closed")),
        ("generic/mqtt-shower-valve", "valve", ("open", "closed", "open", "closed")),
    ],
)
def test_switch_values(profile: str, point: str, expected: tuple[object, ...]) -> None:
    values = switch_values(load_profile(PROFILES / f"{profile}.yaml").point(point))
    assert values is not None
    assert (values.on_state, values.off_state, values.on_command, values.off_command) == expected


def test_valve_with_a_separate_command_point() -> None:
    profile = load_profile(PROFILES / "generic" / "delay-valve.yaml")
    values = valve_values(profile.point("valve"), profile.point("command"))
    assert values is not None
    assert (values.on_state, values.off_state, values.on_command, values.off_command) == (
        "open",
        "closed",
        "open",
        "close",
    )


def test_not_two_state() -> None:
    profile = load_profile(PROFILES / "intesis" / "ac-gateway.yaml")
    assert switch_values(profile.point("mode")) is None
    assert switch_values(profile.point("setpoint")) is None
