"""The emulator's own encoding, checked against hand-written register words."""

from __future__ import annotations

import pytest

from controller.config import Point
from emulators.modbus.encode import (
    EncodeError,
    apply_order,
    decode_write,
    encode_point,
    raw_maximum,
    to_bcd,
)


def point(**modbus: object) -> Point:
    extra = modbus.pop("extra", {})
    return Point.model_validate(
        {
            "key": "p",
            "name": {"zh": "p"},
            "kind": "status",
            "modbus": {"table": "holding", "address": 0, **modbus},
            **extra,  # type: ignore[dict-item]
        }
    )


@pytest.mark.parametrize(
    ("order", "words"),
    [
        ("ABCD", [0x1122, 0x3344]),
        ("CDAB", [0x3344, 0x1122]),
        ("BADC", [0x2211, 0x4433]),
        ("DCBA", [0x4433, 0x2211]),
    ],
)
def test_word_orders(order: str, words: list[int]) -> None:
    assert encode_point(point(type="uint32", order=order), 0x11223344) == words
    assert apply_order(bytes.fromhex("11223344"), order) == words  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("modbus", "value", "words"),
    [
        ({"type": "float32"}, 230.2, [0x4366, 0x3333]),
        ({"type": "float32", "order": "CDAB"}, 36.625, [0x8000, 0x4212]),
        ({"type": "float32", "order": "DCBA"}, 123.25, [0x0080, 0xF642]),
        ({"type": "float64", "order": "CDAB"}, 100.0, [0, 0, 0, 0x4059]),
        ({"type": "int16"}, -2, [0xFFFE]),
        ({"type": "int32"}, -1500, [0xFFFF, 0xFA24]),
        ({"type": "int64"}, -1, [0xFFFF] * 4),
        ({"type": "uint16", "scale": 0.1}, 230.2, [2302]),
        ({"type": "int16", "scale": 0.1}, -2.0, [0xFFEC]),
        ({"type": "uint16", "scale": 0.1, "offset": -40}, -30.0, [100]),
        ({"type": "bcd16"}, 1234, [0x1234]),
        ({"type": "bcd32"}, 123456, [0x0012, 0x3456]),
        ({"type": "float32", "scale": 1000}, 2200.0, [0x400C, 0xCCCD]),
    ],
)
def test_known_answers(modbus: dict[str, object], value: float, words: list[int]) -> None:
    assert encode_point(point(**modbus), value) == words


def test_enum_labels_become_codes_and_back() -> None:
    p = point(type="enum", extra={"values": {1: "open", 2: "closed"}})
    assert encode_point(p, "closed") == [2]
    assert decode_write(p, [1]) == "open"
    with pytest.raises(EncodeError):
        encode_point(p, "ajar")
    with pytest.raises(EncodeError):
        decode_write(p, [3])


def test_counters_truncate_like_meters_and_measurements_round() -> None:
    counter = point(type="uint32", scale=0.01, extra={"state_class": "total_increasing"})
    assert encode_point(counter, 12.349) == [0, 1234]
    gauge = point(type="uint16", scale=0.01)
    assert encode_point(gauge, 12.349) == [1235]


def test_rollover_wraps_at_the_register_maximum() -> None:
    counter = point(type="uint32", extra={"state_class": "total_increasing"})
    top = raw_maximum(counter.modbus.type)  # type: ignore[union-attr]
    assert top == 0xFFFFFFFF
    offset = top - 3 - 100  # as EmulatedDevice.rollover sets it for a counter at 100
    assert encode_point(counter, 100, rollover=offset) == [0xFFFF, 0xFFFC]
    assert encode_point(counter, 105, rollover=offset) == [0x0000, 0x0001]
    assert raw_maximum(point(type="bcd16").modbus.type) == 9999  # type: ignore[union-attr]


def test_writes_are_decoded_with_the_points_layout() -> None:
    assert decode_write(point(type="int16", scale=0.1), [260]) == pytest.approx(26.0)
    assert decode_write(point(type="float32", order="CDAB"), [0x8000, 0x4212]) == 36.625
    assert decode_write(point(type="uint16"), [7]) == 7
    assert to_bcd(42, 4) == 0x0042
    with pytest.raises(EncodeError):
        decode_write(point(type="bcd16"), [0x00A0])
