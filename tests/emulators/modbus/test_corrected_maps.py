"""The emulated devices follow the profiles corrected in issue 12, with their own encoding."""

from __future__ import annotations

import random
import struct

from controller.config import load_profile
from controller.config.paths import builtin_dir
from controller.core import FakeClock
from emulators.modbus.device import EmulatedDevice
from emulators.models import BoundDevice
from emulators.models.hvac import AcUnit
from emulators.models.water import COLD_USES, WaterMeter

PROFILES = builtin_dir("profiles")


def _read(device: EmulatedDevice, address: int, count: int = 1) -> list[int]:
    reply = device.handle(struct.pack(">BHH", 3, address, count))
    assert reply is not None
    assert reply[0] == 3, reply
    return list(struct.unpack(f">{count}H", reply[2:]))


def test_xintai_status_word_is_a_bit_field() -> None:
    clock = FakeClock()
    meter = WaterMeter(clock, random.Random(1), COLD_USES, 4, volume=10.0)
    profile = load_profile(PROFILES / "xintai/water-meter-valve.yaml")
    device = EmulatedDevice(1, BoundDevice("w", profile, meter), clock)
    assert _read(device, 0x001C) == [1]  # open
    meter.state.valve_open = False
    meter.state.low_battery = True
    device.rebuild()
    assert _read(device, 0x001C) == [2 | 8]  # closed + low battery
    # The manual's write: 1 open, 2 close (FC06).
    assert device.handle(struct.pack(">BHH", 6, 0x001C, 1)) is not None
    assert meter.state.valve_open


def test_intesis_gateway_serves_alarm_and_error_not_power_and_honours_the_remote_lock() -> None:
    clock = FakeClock()
    unit = AcUnit(clock, random.Random(1), occupants=4)
    profile = load_profile(PROFILES / "intesis/ac-gateway.yaml")
    device = EmulatedDevice(2, BoundDevice("ac", profile, unit), clock)
    assert _read(device, 10, 2) == [0, 0]  # alarm status, error code
    assert device.handle(struct.pack(">BHH", 6, 8, 1)) is not None  # remote disabled
    assert unit.remote_locked
    assert _read(device, 8) == [1]
    assert _read(device, 23) == [round(unit.setpoint * 10)]  # the real setpoint
