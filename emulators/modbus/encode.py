"""Engineering values → register words, the way a meter's firmware would lay them out.

Written independently of ``drivers.modbus`` (which decodes with its own code): the driver and
the emulator agree only through the profile and the Modbus standard, so a word-order or scale
bug in one is caught by the other instead of cancelling out.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping

from controller.config import Point
from wire.modbus import DataType, WordOrder

__all__ = [
    "EncodeError",
    "apply_order",
    "decode_write",
    "encode_point",
    "raw_maximum",
    "raw_of",
    "to_bcd",
]

_PACK = {
    DataType.INT16: ">h",
    DataType.UINT16: ">H",
    DataType.INT32: ">i",
    DataType.UINT32: ">I",
    DataType.INT64: ">q",
    DataType.UINT64: ">Q",
    DataType.FLOAT32: ">f",
    DataType.FLOAT64: ">d",
}
_BITS = {
    DataType.INT16: 16,
    DataType.UINT16: 16,
    DataType.ENUM: 16,
    DataType.BCD16: 16,
    DataType.INT32: 32,
    DataType.UINT32: 32,
    DataType.BCD32: 32,
    DataType.INT64: 64,
    DataType.UINT64: 64,
}
_SIGNED = (DataType.INT16, DataType.INT32, DataType.INT64)


class EncodeError(ValueError):
    """A value cannot be represented in the point's register layout."""


def raw_maximum(dtype: DataType) -> int:
    """The largest raw value an integer layout holds (the counter rollover point)."""
    if dtype in (DataType.BCD16, DataType.BCD32):
        return int(10 ** (_BITS[dtype] // 4)) - 1
    bits = _BITS[dtype]
    return (1 << (bits - 1)) - 1 if dtype in _SIGNED else (1 << bits) - 1


def apply_order(big_endian: bytes, order: WordOrder) -> list[int]:
    """Split ABCD-ordered bytes into register words laid out in ``order``."""
    words = [big_endian[i : i + 2] for i in range(0, len(big_endian), 2)]
    if order in (WordOrder.CDAB, WordOrder.DCBA):
        words.reverse()
    if order in (WordOrder.BADC, WordOrder.DCBA):
        words = [w[::-1] for w in words]
    return [(w[0] << 8) | w[1] for w in words]


def to_bcd(number: int, digits: int) -> int:
    """Packed BCD: 1234 → 0x1234."""
    if number < 0 or number >= 10**digits:
        raise EncodeError(f"{number} does not fit {digits} BCD digits")
    out = 0
    for shift, digit in enumerate(reversed(str(number).zfill(digits))):
        out |= int(digit) << (4 * shift)
    return out


def raw_of(point: Point, value: float | int | bool | str) -> int | float:
    """The raw wire number for an engineering value (enum label → code, scale/offset undone).

    Counters are truncated, as meters do (12.349 kWh at 0.01 shows 12.34); other values round.
    """
    addr = point.modbus
    assert addr is not None
    if isinstance(value, str):
        for raw, label in (point.values or {}).items():
            if label == value:
                return int(raw)
        raise EncodeError(f"{point.key}: {value!r} is not one of its labels")
    number = float(value)
    if math.isnan(number):
        return number
    scaled = (number - addr.offset) / addr.scale
    if addr.type in (DataType.FLOAT32, DataType.FLOAT64):
        return scaled
    return math.floor(scaled + 1e-9) if point.is_cumulative else round(scaled)


def encode_point(point: Point, value: float | int | bool | str, rollover: int = 0) -> list[int]:
    """Register words for ``value``; ``rollover`` is added to integer counters modulo the
    register maximum (a meter whose counter wrapped).
    """
    addr = point.modbus
    assert addr is not None
    dtype = addr.type
    if dtype is DataType.BOOL:
        return [1 if value else 0]
    if dtype is DataType.BITFIELD:
        return [(1 << (addr.bit or 0)) if value else 0]  # the register with only this bit
    raw = raw_of(point, value)
    if dtype in (DataType.FLOAT32, DataType.FLOAT64):
        return apply_order(struct.pack(_PACK[dtype], float(raw)), addr.order)
    number = int(raw) + rollover
    if dtype in (DataType.BCD16, DataType.BCD32):
        digits = _BITS[dtype] // 4
        number %= 10**digits
        packed = to_bcd(number, digits)
        return apply_order(packed.to_bytes(_BITS[dtype] // 8, "big"), addr.order)
    bits = _BITS[dtype]
    if rollover:
        number %= raw_maximum(dtype) + 1
    if dtype in _SIGNED:
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        lo, hi = 0, (1 << bits) - 1
    number = min(max(number, lo), hi)  # a saturated register, as firmware clamps
    return apply_order(number.to_bytes(bits // 8, "big", signed=dtype in _SIGNED), addr.order)


def decode_write(point: Point, words: list[int]) -> float | int | str:
    """What a master wrote to ``point`` (register words) as an engineering value or label."""
    addr = point.modbus
    assert addr is not None
    dtype = addr.type
    ordered = bytearray()
    chunks = [w.to_bytes(2, "big") for w in words]
    if addr.order in (WordOrder.BADC, WordOrder.DCBA):
        chunks = [c[::-1] for c in chunks]
    if addr.order in (WordOrder.CDAB, WordOrder.DCBA):
        chunks.reverse()
    for chunk in chunks:
        ordered += chunk
    if dtype in (DataType.FLOAT32, DataType.FLOAT64):
        raw: float = struct.unpack(_PACK[dtype], bytes(ordered))[0]
    elif dtype in (DataType.BCD16, DataType.BCD32):
        digits = bytes(ordered).hex()
        if not digits.isdigit():
            raise EncodeError(f"{point.key}: {digits} is not BCD")
        raw = int(digits)
    else:
        raw = int.from_bytes(ordered, "big", signed=dtype in _SIGNED)
    if point.values is not None:
        labels: Mapping[int | str, str] = point.values
        if int(raw) in labels:
            return labels[int(raw)]
        raise EncodeError(f"{point.key}: code {int(raw)} is not one of its values")
    if addr.scale == 1 and addr.offset == 0:
        return raw
    return raw * addr.scale + addr.offset
