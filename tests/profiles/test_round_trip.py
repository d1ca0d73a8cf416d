"""Every point of every Modbus profile survives emulator encoding → driver decoding.

The two sides share no code, so agreement here means both read the profile the same way.
"""

from __future__ import annotations

import pytest

from controller.config import Point
from controller.integrations.modbus import point_spec
from drivers.modbus import compile_decoder
from emulators.modbus.encode import encode_point
from wire.modbus import DataType

from .test_known_answers import modbus_profiles

CASES = [(pid, point) for pid, profile in modbus_profiles().items() for point in profile.points]


def sample_values(point: Point) -> list[float | str | bool]:
    addr = point.modbus
    assert addr is not None
    if point.values:
        return list(point.values.values())
    if addr.type in (DataType.BOOL, DataType.BITFIELD):
        return [True, False]
    low, high = point.valid_range or point.range or (0.0, 1000.0)
    if addr.type.value.startswith("uint") or addr.type.value.startswith("bcd"):
        low = max(low, 0.0)
    return [low, (low + high) / 2, high * 0.9 + low * 0.1]


@pytest.mark.parametrize(("pid", "point"), CASES, ids=[f"{pid}.{p.key}" for pid, p in CASES])
def test_round_trip(pid: str, point: Point) -> None:
    spec = point_spec(point)
    decode = compile_decoder(spec)
    addr = point.modbus
    assert addr is not None
    for value in sample_values(point):
        reading = decode(encode_point(point, value), 0)
        if isinstance(value, str | bool):
            assert reading.value == value
        else:
            step = abs(addr.scale)
            assert reading.value == pytest.approx(value, abs=step, rel=1e-6), (pid, value)
