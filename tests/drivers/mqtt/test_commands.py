"""Command payloads and refusals, before anything reaches the broker."""

from __future__ import annotations

import pytest

from drivers.mqtt.commands import encode_command, tolerance
from drivers.mqtt.errors import CommandRefused
from drivers.mqtt.spec import CommandSpec

RELAY = CommandSpec(key="relay", topic="cmnd/plug/POWER", encode={"on": "ON", "off": "OFF"})
VALVE = CommandSpec(
    key="valve", topic="s/set", path=("valve",), encode={"open": "open", "closed": "closed"}
)
ENABLED = CommandSpec(key="enabled", topic="s/set", path=("enabled",), encode={"on": True})
DELAY = CommandSpec(key="delay", topic="s/set", path=("delay_s",), range=(5, 600))
SETPOINT = CommandSpec(key="sp", topic="ac/set", path=("sp",), range=(17, 30), scale=0.1)


@pytest.mark.parametrize(
    ("spec", "value", "payload", "expected"),
    [
        (RELAY, "on", b"ON", "on"),
        (VALVE, "closed", b'{"valve":"closed"}', "closed"),
        (ENABLED, "on", b'{"enabled":true}', "on"),
        (DELAY, 30, b'{"delay_s":30}', 30),
        (DELAY, 7.5, b'{"delay_s":7.5}', 7.5),
        (SETPOINT, 26, b'{"sp":260}', 26),
    ],
)
def test_encode(spec: CommandSpec, value: object, payload: bytes, expected: object) -> None:
    assert encode_command("dev", spec, value) == (payload, expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "value", "reason"),
    [
        (RELAY, "toggle", "allowed values"),
        (RELAY, True, "allowed values"),
        (DELAY, 601, "outside the range"),
        (DELAY, "30", "expected a number"),
        (DELAY, True, "expected a number"),
        (DELAY, float("nan"), "finite"),
    ],
)
def test_refused(spec: CommandSpec, value: object, reason: str) -> None:
    with pytest.raises(CommandRefused, match=reason) as err:
        encode_command("dev", spec, value)  # type: ignore[arg-type]
    assert err.value.device_id == "dev"
    assert err.value.key == spec.key


def test_tolerance_is_half_a_step_of_scaled_points() -> None:
    assert tolerance(SETPOINT) == pytest.approx(0.05)
    assert tolerance(DELAY) == pytest.approx(1e-6)
