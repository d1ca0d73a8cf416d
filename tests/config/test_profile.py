"""Device profiles: every shipped one loads, and broken ones get positioned errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from controller.config import ConfigError, load_profile
from controller.config.loader import ProfileLibrary
from controller.config.paths import builtin_dir
from controller.config.profile import Profile
from wire.modbus import REGISTER_COUNT, DataType, WordOrder

PROFILES = sorted(builtin_dir("profiles").rglob("*.yaml"))


def test_the_shipped_profiles_are_found() -> None:
    ids = ProfileLibrary([]).available()
    assert {"eastron/sdm120", "xintai/water-meter-valve"} <= set(ids)
    assert len(ids) == len(PROFILES)


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.parent.name + "/" + p.stem)
def test_every_shipped_profile_loads(path: Path) -> None:
    profile = load_profile(path)
    assert profile.source, "every profile names the manual its register map comes from"
    for point in profile.points:
        if profile.protocol == "modbus":
            assert point.modbus is not None
        if point.writable and point.modbus is not None and point.modbus.type != DataType.BOOL:
            assert (
                point.range is not None or point.values is not None or point.modbus.bit is not None
            )


HEAD = """\
manufacturer: Acme
model: M1
protocol: modbus
source: Acme M1 manual v1
points:
"""


def problems(tmp_path: Path, points: str, head: str = HEAD) -> list[str]:
    path = tmp_path.resolve() / "m1.yaml"
    path.write_text(head + textwrap.dedent(points), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_profile(path)
    return [str(issue).replace(f"{path}:", "") for issue in info.value.issues]


def test_register_count_must_match_the_type(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """\
        - key: energy
          name: {zh: 电能}
          kind: active_energy
          modbus: {table: holding, address: 10, type: uint32, count: 1}
        """,
    ) == ["9:62 points[0].modbus.count: count 1 does not match type uint32 (2 register(s))"]


def test_overlap_and_duplicate_keys(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """\
        - {key: v, name: {zh: V}, kind: voltage, modbus: {table: input, address: 0, type: float32}}
        - {key: i, name: {zh: 电流}, kind: current, modbus: {table: input, address: 1}}
        - {key: v, name: {zh: 电压}, kind: voltage, modbus: {table: holding, address: 0}}
        - {key: b0, name: {zh: 位0}, kind: status,
           modbus: {table: holding, address: 9, type: bitfield, bit: 0}}
        - {key: b1, name: {zh: 位1}, kind: status,
           modbus: {table: holding, address: 9, type: bitfield, bit: 1}}
        - {key: b2, name: {zh: 位1}, kind: status,
           modbus: {table: holding, address: 9, type: bitfield, bit: 1}}
        """,
    ) == [
        "7:75 points[1].modbus.address: 'i' overlaps 'v' (points[0]) at input register 1 (0x0001)",
        "8:9 points[2].key: duplicate point key 'v' (also points[0])",
        "14:38 points[5].modbus.address: 'b2' overlaps 'b1' (points[4]) at holding register 9 "
        "(0x0009)",
    ]


def test_point_field_errors(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """\
        - {key: relay, name: {zh: 继电器}, kind: relay,
           modbus: {table: coil, address: 0, type: uint16}}
        - {key: mode, name: {zh: 模式}, kind: ac_mode, writable: true,
           modbus: {table: holding, address: 1, type: enum}}
        - {key: temp, name: {zh: 温度}, kind: temperature, modbus: {table: input, adress: 2}}
        - {key: Temp2, name: {zh: 温度}, kind: temperature, modbus: {table: input, address: 3}}
        - {key: set, name: {zh: 设定}, kind: setpoint, writable: true,
           modbus: {table: holding, address: 4}}
        - {key: pf, name: {zh: 功率因数}, kind: power_factor, writable: true, range: [0, 1],
           modbus: {table: input, address: 5}}
        """,
    ) == [
        "7:44 points[0].modbus.type: coil points hold single bits: type must be bool",
        "8:3 points[1]: writable points must declare 'range' or 'values'",
        "10:58 points[2].modbus.address: required field is missing",
        "10:73 points[2].modbus.adress: unknown field (did you mean 'address'?)",
        "11:9 points[3].key: 'Temp2' is not a valid point key: use lower-case letters, digits and "
        "'_', starting with a letter",
        "12:3 points[4]: writable points must declare 'range' or 'values'",
        "14:3 points[5]: input registers are read-only; cannot be writable",
    ]


def test_missing_source_and_no_points(tmp_path: Path) -> None:
    head = "manufacturer: Acme\nmodel: M1\nprotocol: modbus\npoints: []\n"
    assert problems(tmp_path, "", head) == [
        "1:1 source: required field is missing",
        "4:9 points: List should have at least 1 item after validation, not 0",
    ]


def test_mqtt_profile_points_need_mqtt_addressing(tmp_path: Path) -> None:
    head = HEAD.replace("protocol: modbus", "protocol: mqtt")
    assert problems(
        tmp_path,
        "- {key: power, name: {zh: 功率}, kind: active_power,\n"
        "   modbus: {table: input, address: 0}}\n",
        head,
    ) == ["6:3 points[0]: point 'power' has no mqtt address"]


def test_coils_default_to_bool_and_orders_swap_as_named(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(
        HEAD + "- {key: relay, name: {zh: 继电器}, kind: relay, writable: true,"
        " modbus: {table: coil, address: 0}}\n",
        encoding="utf-8",
    )
    point = load_profile(path).point("relay")
    assert point.modbus is not None
    assert point.modbus.type is DataType.BOOL
    assert (WordOrder.CDAB.word_swap, WordOrder.CDAB.byte_swap) == (True, False)
    assert (WordOrder.BADC.word_swap, WordOrder.BADC.byte_swap) == (False, True)
    assert (WordOrder.DCBA.word_swap, WordOrder.DCBA.byte_swap) == (True, True)
    assert REGISTER_COUNT[DataType.FLOAT64] == 4


def test_profile_validation_outside_the_loader_still_checks_across_points() -> None:
    data = {
        "manufacturer": "Acme",
        "model": "M1",
        "protocol": "modbus",
        "source": "x",
        "points": [
            {
                "key": "a",
                "name": {"zh": "a"},
                "kind": "voltage",
                "modbus": {"table": "input", "address": 0},
            },
            {
                "key": "a",
                "name": {"zh": "b"},
                "kind": "voltage",
                "modbus": {"table": "input", "address": 0},
            },
        ],
    }
    with pytest.raises(ValueError, match=r"points\[1\]\.key: duplicate point key 'a'"):
        Profile.model_validate(data)
