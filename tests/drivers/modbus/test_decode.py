"""Table-driven decoding: raw register words in, engineering value out, for every data type
and word order. Expected words are written out by hand, not produced by any encoder."""

from __future__ import annotations

import math

import pytest

from drivers.modbus import PointSpec, compile_decoder, encode_value
from drivers.modbus.decode import same_reading
from wire.modbus import DataType, Table, WordOrder

H = Table.HOLDING


def point(dtype: DataType, order: WordOrder = WordOrder.ABCD, **kw: object) -> PointSpec:
    table = kw.pop("table", H)
    return PointSpec(key="p", table=table, address=0, dtype=dtype, order=order, **kw)  # type: ignore[arg-type]


def decode(p: PointSpec, words: list[int]) -> tuple[object, bool]:
    reading = compile_decoder(p)([0xDEAD, *words], 1)  # the point sits at index 1 of a block
    return reading.value, reading.ok


ORDERS_32 = [
    # 0x11223344 as it arrives in each order
    (WordOrder.ABCD, [0x1122, 0x3344]),
    (WordOrder.CDAB, [0x3344, 0x1122]),
    (WordOrder.BADC, [0x2211, 0x4433]),
    (WordOrder.DCBA, [0x4433, 0x2211]),
]


@pytest.mark.parametrize(("order", "words"), ORDERS_32)
def test_uint32_every_word_order(order: WordOrder, words: list[int]) -> None:
    assert decode(point(DataType.UINT32, order), words) == (0x11223344, True)


@pytest.mark.parametrize(
    ("order", "words"),
    [
        (WordOrder.ABCD, [0x0102, 0x0304, 0x0506, 0x0708]),
        (WordOrder.CDAB, [0x0708, 0x0506, 0x0304, 0x0102]),
        (WordOrder.BADC, [0x0201, 0x0403, 0x0605, 0x0807]),
        (WordOrder.DCBA, [0x0807, 0x0605, 0x0403, 0x0201]),
    ],
)
def test_uint64_every_word_order(order: WordOrder, words: list[int]) -> None:
    assert decode(point(DataType.UINT64, order), words) == (0x0102030405060708, True)


@pytest.mark.parametrize(
    ("dtype", "order", "words", "expected"),
    [
        (DataType.INT16, WordOrder.ABCD, [0xFFFE], -2),
        (DataType.INT16, WordOrder.BADC, [0xFEFF], -2),
        (DataType.UINT16, WordOrder.ABCD, [0xFFFE], 65534),
        (DataType.UINT16, WordOrder.DCBA, [0x3412], 0x1234),
        (DataType.INT32, WordOrder.ABCD, [0xFFFF, 0xFA24], -1500),
        (DataType.INT32, WordOrder.CDAB, [0xFA24, 0xFFFF], -1500),
        (DataType.INT32, WordOrder.BADC, [0xFFFF, 0x24FA], -1500),
        (DataType.INT32, WordOrder.DCBA, [0x24FA, 0xFFFF], -1500),
        (DataType.INT64, WordOrder.ABCD, [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF], -1),
        (DataType.INT64, WordOrder.CDAB, [0x0000, 0x0000, 0x0000, 0x8000], -(2**63)),
        # DOMAIN.md known answers
        (DataType.FLOAT32, WordOrder.ABCD, [0x4366, 0x3334], 230.2),
        (DataType.FLOAT32, WordOrder.CDAB, [0x806B, 0x4212], 36.625),
        (DataType.FLOAT32, WordOrder.BADC, [0x6643, 0x3433], 230.2),
        (DataType.FLOAT32, WordOrder.DCBA, [0x3433, 0x6643], 230.2),
        (DataType.FLOAT64, WordOrder.ABCD, [0x4059, 0x0000, 0x0000, 0x0000], 100.0),
        (DataType.FLOAT64, WordOrder.CDAB, [0x0000, 0x0000, 0x0000, 0x4059], 100.0),
        (DataType.FLOAT64, WordOrder.DCBA, [0x0000, 0x0000, 0x0000, 0x5940], 100.0),
        (DataType.BCD16, WordOrder.ABCD, [0x1234], 1234),
        (DataType.BCD32, WordOrder.ABCD, [0x0012, 0x3456], 123456),
        (DataType.BCD32, WordOrder.CDAB, [0x3456, 0x0012], 123456),
    ],
)
def test_data_types(dtype: DataType, order: WordOrder, words: list[int], expected: float) -> None:
    value, ok = decode(point(dtype, order), words)
    assert ok
    # DOMAIN.md's 36.625 is the manual's rounding of 0x4212806B (36.62541)
    assert value == pytest.approx(expected, abs=1e-3)


def test_float32_is_rounded_to_its_precision() -> None:
    value, _ = decode(point(DataType.FLOAT32), [0x4366, 0x3334])
    assert value == 230.2  # not 230.1999969482422


@pytest.mark.parametrize(
    ("dtype", "words", "scale", "offset", "expected"),
    [
        (DataType.UINT16, [2302], 0.1, 0.0, 230.2),
        (DataType.UINT32, [0x0001, 0xE240], 0.01, 0.0, 1234.56),
        (DataType.INT16, [0xFC18], 0.001, 0.0, -1.0),
        (DataType.UINT16, [100], 0.1, -40.0, -30.0),
        (DataType.FLOAT32, [0x400C, 0xCCCD], 1000.0, 0.0, 2200.0),
    ],
)
def test_scale_and_offset(
    dtype: DataType, words: list[int], scale: float, offset: float, expected: float
) -> None:
    assert decode(point(dtype, scale=scale, offset=offset), words) == (expected, True)


@pytest.mark.parametrize(
    ("p", "words"),
    [
        (point(DataType.FLOAT32), [0x7FC0, 0x0000]),  # NaN
        (point(DataType.FLOAT32), [0x7F80, 0x0000]),  # +inf
        (point(DataType.BCD16), [0x12A4]),  # not decimal
        (point(DataType.UINT16, valid_range=(0.0, 300.0)), [301]),
        (point(DataType.FLOAT32, valid_range=(0.0, 300.0)), [0xC2C8, 0x0000]),  # -100
    ],
)
def test_bad_readings_are_flagged(p: PointSpec, words: list[int]) -> None:
    _, ok = decode(p, words)
    assert not ok


def test_enum_bitfield_and_bool() -> None:
    labels = {1: "open", 2: "closed"}
    enum = point(DataType.ENUM, labels=labels)
    assert decode(enum, [2]) == ("closed", True)
    assert decode(enum, [7]) == (7, False)
    bit1 = point(DataType.BITFIELD, bit=1)
    assert decode(bit1, [0b10]) == (True, True)
    assert decode(bit1, [0b01]) == (False, True)
    coil = point(DataType.BOOL, table=Table.COIL)
    assert decode(coil, [1]) == (True, True)


@pytest.mark.parametrize(
    ("p", "value", "words"),
    [
        (point(DataType.INT16, writable=True, scale=0.1, write_range=(17, 30)), 26.0, [260]),
        (point(DataType.FLOAT32, WordOrder.CDAB, writable=True, write_range=(0, 1e6)), 36.625,
         [0x8000, 0x4212]),
        (point(DataType.UINT32, WordOrder.BADC, writable=True, write_range=(0, 1e9)), 0x11223344,
         [0x2211, 0x4433]),
        (point(DataType.ENUM, labels={0: "off", 1: "on"}, writable=True), "on", [1]),
        (point(DataType.BCD16, writable=True, write_range=(0, 9999)), 1234, [0x1234]),
    ],
)  # fmt: skip
def test_encode_writes(p: PointSpec, value: float | str, words: list[int]) -> None:
    assert encode_value(p, value) == words
    assert same_reading(p, value, decode(p, words)[0])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("p", "value", "reason"),
    [
        (point(DataType.UINT16), 5, "not writable"),
        (point(DataType.UINT16, writable=True, write_range=(1, 120)), 121, "outside"),
        (point(DataType.UINT16, writable=True, write_range=(1, 120)), "7", "expected a number"),
        (point(DataType.UINT16, writable=True, write_range=(0, 1e9)), 70000, "does not fit"),
        (point(DataType.UINT16, writable=True, write_range=(0, 9)), math.nan, "finite"),
        (
            point(DataType.ENUM, labels={0: "none", 1: "open", 2: "close"}, writable=True,
                  write_labels=frozenset({"open", "close"})),
            "none",
            "expected one of",
        ),
        (point(DataType.BITFIELD, bit=0, writable=True), True, "cannot be written"),
        (point(DataType.BOOL, table=Table.COIL, writable=True), "maybe", "on/off"),
    ],
)  # fmt: skip
def test_encode_refuses(p: PointSpec, value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        encode_value(p, value)  # type: ignore[arg-type]


def test_read_back_comparison_tolerates_register_resolution() -> None:
    p = point(DataType.INT16, writable=True, scale=0.1, write_range=(17, 30))
    assert same_reading(p, 26.04, 26.0)
    assert not same_reading(p, 26.5, 26.0)
    coil = point(DataType.BOOL, table=Table.COIL, writable=True)
    assert same_reading(coil, "on", True)
