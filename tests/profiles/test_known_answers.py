"""Known answers for every Modbus profile: raw register words → engineering value, decoded by
the driver from the real profile files, for every word order each profile uses.

Words are written out by hand from the manuals' examples (``DOMAIN.md`` §4), not encoded by
any code under test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import Profile, load_profile
from controller.config.paths import builtin_dir
from controller.integrations.modbus import point_spec
from drivers.modbus import compile_decoder
from wire.modbus import DataType

PROFILES = builtin_dir("profiles")

# (profile id, point key, words as they arrive, expected engineering value)
KNOWN_ANSWERS: list[tuple[str, str, list[int], float | str | bool]] = [
    # Eastron: input registers, float32 ABCD
    ("eastron/sdm120", "voltage", [0x4366, 0x3334], 230.2),  # DOMAIN.md known answer
    ("eastron/sdm120", "current", [0x40A0, 0x0000], 5.0),
    ("eastron/sdm120", "power", [0x44BB, 0x8000], 1500.0),
    ("eastron/sdm120", "power_factor", [0x3F7A, 0xE148], 0.98),
    ("eastron/sdm120", "frequency", [0x4248, 0x0000], 50.0),
    ("eastron/sdm120", "energy", [0x4148, 0x0000], 12.5),
    ("eastron/sdm630", "voltage_l1", [0x4366, 0x3334], 230.2),
    ("eastron/sdm630", "power", [0x44BB, 0x8000], 1500.0),
    ("eastron/sdm630", "power_factor", [0x3F7A, 0xE148], 0.98),
    ("eastron/sdm630", "energy", [0x449A, 0x5000], 1234.5),
    # CHINT DDSU666: float32 ABCD, power in kW on the wire
    ("chint/ddsu666", "voltage", [0x435C, 0x0000], 220.0),
    ("chint/ddsu666", "power", [0x400C, 0xCCCD], 2200.0),
    ("chint/ddsu666", "frequency", [0x4248, 0x0000], 50.0),
    ("chint/ddsu666", "energy", [0x449A, 0x5000], 1234.5),
    # CHINT DTSU666: float32 ABCD carrying scaled raw values
    ("chint/dtsu666", "voltage_a", [0x4509, 0x8000], 220.0),  # 2200 × 0.1 V
    ("chint/dtsu666", "current_a", [0x459C, 0x4000], 5.0),  # 5000 × 0.001 A
    ("chint/dtsu666", "power", [0x462B, 0xE000], 1100.0),  # 11000 × 0.1 W
    ("chint/dtsu666", "power_factor", [0x4476, 0x8000], 0.986),  # 986 × 0.001
    ("chint/dtsu666", "frequency", [0x459C, 0x4000], 50.0),  # 5000 × 0.01 Hz
    ("chint/dtsu666", "energy", [0x449A, 0x5000], 1234.5),
    ("chint/dtsu666-101e", "energy", [0x449A, 0x5000], 1234.5),
    # Acrel ADL400: primary-side float32 ABCD from 0x0800 (see test_manual_answers.py)
    ("acrel/adl400", "energy", [0x449A, 0x51EC], 1234.56),
    ("acrel/adl400", "voltage_a", [0x435C, 0x8000], 220.5),
    ("acrel/adl400", "current_a", [0x40A0, 0x0000], 5.0),
    ("acrel/adl400", "power", [0x3FC0, 0x0000], 1500.0),  # 1.5 kW on the wire
    ("acrel/adl400", "power_factor", [0x3F7A, 0xE148], 0.98),
    ("acrel/adl400", "frequency", [0x4248, 0x0000], 50.0),
    # Xintai water meter: float32 DCBA (little-endian bytes)
    ("xintai/water-meter-valve", "volume", [0x0080, 0xF642], 123.25),
    ("xintai/water-meter-valve", "flow", [0x0000, 0xC03F], 1.5),
    ("xintai/water-meter-valve", "valve", [1], "open"),
    ("xintai/water-meter-valve", "valve", [2], "closed"),
    # TUF-2000M: float32 and int32 low word first (CDAB)
    ("generic/tuf2000m", "supply_temperature", [0x806B, 0x4212], 36.625),  # DOMAIN.md
    ("generic/tuf2000m", "flow", [0x0000, 0x3FC0], 1.5),
    ("generic/tuf2000m", "volume", [0x1170, 0x0001], 70000),
    ("generic/tuf2000m", "heat_energy", [0xE240, 0x0001], 123456),
    ("generic/tuf2000m", "error_code", [0], 0),
    # Intesis AC gateway: holding registers, temperatures × 10 (see test_manual_answers.py)
    ("intesis/ac-gateway", "power_switch", [1], "on"),
    ("intesis/ac-gateway", "mode", [4], "cool"),
    ("intesis/ac-gateway", "mode", [1], "heat"),
    ("intesis/ac-gateway", "fan", [3], "high"),
    ("intesis/ac-gateway", "setpoint", [260], 26.0),
    ("intesis/ac-gateway", "room_temperature", [0xFFEC], -2.0),
    ("intesis/ac-gateway-panasonic", "setpoint", [260], 26.0),
    ("intesis/ac-gateway-panasonic", "energy", [0x0001, 0xE240], 123.456),
    # Delayed-closing valve controller
    ("generic/delay-valve", "valve", [1], "open"),
    ("generic/delay-valve", "command", [2], "close"),
    ("generic/delay-valve", "delay", [7], 7),
    ("generic/delay-valve", "presses", [0x0001, 0x0000], 65536),
    ("generic/delay-valve", "volume", [0x0000, 0x04D2], 1.234),
    ("generic/delay-valve", "flow", [30], 3.0),
    ("generic/delay-valve", "stuck_open", [0b01], True),
    ("generic/delay-valve", "low_battery", [0b10], True),
    # Canteen waste scale (reference map): kg × 100
    ("generic/modbus-waste-scale", "waste", [0x0001, 0x0000], 655.36),
    ("generic/modbus-waste-scale", "last_weighing", [1234], 12.34),
    # Dorm prepaid meter: 32-bit values byte-swapped within words (BADC)
    ("generic/dorm-prepaid-meter", "energy", [0x0100, 0x40E2], 1234.56),
    ("generic/dorm-prepaid-meter", "power", [0x0000, 0xDC05], 1500),
    ("generic/dorm-prepaid-meter", "balance", [0x0000, 0x8813], 50.0),
    ("generic/dorm-prepaid-meter", "voltage", [2205], 220.5),
    ("generic/dorm-prepaid-meter", "overload_trip", [0b01], True),
    ("generic/dorm-prepaid-meter", "load_trip", [0b01], False),
    ("generic/dorm-prepaid-meter", "relay", [1], True),
]


def modbus_profiles() -> dict[str, Profile]:
    out = {}
    for path in sorted(PROFILES.glob("*/*.yaml")):
        profile = load_profile(path)
        if profile.protocol == "modbus":
            out[f"{path.parent.name}/{path.stem}"] = profile
    return out


@pytest.mark.parametrize(
    ("profile_id", "key", "words", "expected"),
    KNOWN_ANSWERS,
    ids=[f"{p}.{k}={e}" for p, k, _, e in KNOWN_ANSWERS],
)
def test_known_answer(profile_id: str, key: str, words: list[int], expected: object) -> None:
    profile = load_profile(Path(PROFILES) / f"{profile_id}.yaml")
    reading = compile_decoder(point_spec(profile.point(key)))(words, 0)
    assert reading.ok
    if isinstance(expected, float):
        assert reading.value == pytest.approx(expected, abs=1e-3)
    else:
        assert reading.value == expected


def test_every_modbus_profile_and_word_order_has_known_answers() -> None:
    covered = {(pid, profile_key) for pid, profile_key, _, _ in KNOWN_ANSWERS}
    missing = []
    for pid, profile in modbus_profiles().items():
        assert profile.source.strip(), f"{pid} names no source"
        orders_used = {
            p.modbus.order
            for p in profile.points
            if p.modbus is not None and p.modbus.register_count > 1
        }
        for order in orders_used:
            keys = {
                p.key
                for p in profile.points
                if p.modbus is not None and p.modbus.register_count > 1 and p.modbus.order is order
            }
            if not any((pid, k) in covered for k in keys):
                missing.append(f"{pid} {order}")
        if not any(p_id == pid for p_id, _ in covered):
            missing.append(pid)
    assert not missing, f"no known answers for: {missing}"
    assert len(modbus_profiles()) >= 9


def test_profiles_point_types_match_the_manual_layouts() -> None:
    """Guards against edits that would silently change a register map."""
    p = modbus_profiles()
    assert p["eastron/sdm120"].point("energy").modbus.address == 0x0048  # type: ignore[union-attr]
    assert p["chint/dtsu666"].point("energy").modbus.address == 0x401E  # type: ignore[union-attr]
    adl_power = p["acrel/adl400"].point("power").modbus
    assert adl_power is not None
    assert (adl_power.address, adl_power.type) == (0x081A, DataType.FLOAT32)  # primary side
    assert p["eastron/sdm630"].point("power_factor").modbus.address == 0x3E  # type: ignore[union-attr]
    assert p["chint/dtsu666-101e"].point("energy").modbus.address == 0x101E  # type: ignore[union-attr]
    assert p["generic/tuf2000m"].point("error_code").modbus.address == 71  # type: ignore[union-attr]
    assert p["xintai/water-meter-valve"].point("valve").modbus.address == 0x1C  # type: ignore[union-attr]
