"""Register words ↔ engineering values, table-driven and compiled once per point.

``compile_decoder`` turns a ``PointSpec`` into a small function (words, index) → Reading, so
the poll path does no dispatch on data type or word order. Readings that are NaN, infinite,
outside ``valid_range``, not valid BCD or an unknown enum code come back with ``ok=False``:
bad quality, never stored as a good reading.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from typing import NamedTuple

from .spec import DataType, PointSpec, WordOrder

__all__ = [
    "Decoder",
    "Reading",
    "Value",
    "compile_decoder",
    "encode_value",
    "same_reading",
    "words_to_bytes",
]

Value = float | int | bool | str | None


class Reading(NamedTuple):
    """One decoded point: its key, engineering value (or label) and whether it is good."""

    key: str
    value: Value
    ok: bool


Decoder = Callable[[Sequence[int], int], Reading]
"""(words of a block, index of the point's first word) → Reading."""

_FLOAT_FORMAT = {DataType.FLOAT32: ">f", DataType.FLOAT64: ">d"}
_INT_BITS = {
    DataType.INT16: 16,
    DataType.UINT16: 16,
    DataType.ENUM: 16,
    DataType.INT32: 32,
    DataType.UINT32: 32,
    DataType.INT64: 64,
    DataType.UINT64: 64,
}
_SIGNED = frozenset({DataType.INT16, DataType.INT32, DataType.INT64})
_BCD = frozenset({DataType.BCD16, DataType.BCD32})


def _word_swap(order: WordOrder) -> bool:
    return order in (WordOrder.CDAB, WordOrder.DCBA)


def _byte_swap(order: WordOrder) -> bool:
    return order in (WordOrder.BADC, WordOrder.DCBA)


def words_to_bytes(words: Sequence[int], order: WordOrder) -> bytes:
    """The value's bytes most significant first (ABCD), from words as they arrived."""
    ordered = list(reversed(words)) if _word_swap(order) else list(words)
    fmt = "<" if _byte_swap(order) else ">"
    return struct.pack(f"{fmt}{len(ordered)}H", *ordered)


def _round_sig(value: float, digits: int) -> float:
    """Round to ``digits`` significant digits: float32 230.1999969 → 230.2."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def _scale_digits(scale: float) -> int:
    """Decimals a scaled integer needs: ×0.01 → 2, ×0.1 → 1, ×10 → 0."""
    return max(0, -math.floor(math.log10(abs(scale)) + 1e-9))


def _raw_reader(point: PointSpec) -> Callable[[Sequence[int], int], int | float | None]:
    """(words, index) → raw number before scaling; None for invalid BCD."""
    dtype, order, count = point.dtype, point.order, point.count
    if dtype in _FLOAT_FORMAT:
        unpack = struct.Struct(_FLOAT_FORMAT[dtype]).unpack
        pack = struct.Struct(("<" if _byte_swap(order) else ">") + "H" * count).pack
        if _word_swap(order):
            return lambda w, i: unpack(pack(*reversed(w[i : i + count])))[0]
        return lambda w, i: unpack(pack(*w[i : i + count]))[0]
    if dtype in _BCD:

        def bcd(w: Sequence[int], i: int) -> int | None:
            digits = words_to_bytes(w[i : i + count], order).hex()
            return int(digits) if digits.isdigit() else None

        return bcd
    bits = _INT_BITS[dtype]
    signed = dtype in _SIGNED
    if count == 1 and not _byte_swap(order):
        if signed:
            return lambda w, i: w[i] - 0x10000 if w[i] & 0x8000 else w[i]
        return lambda w, i: w[i]

    def integer(w: Sequence[int], i: int) -> int:
        raw = int.from_bytes(words_to_bytes(w[i : i + count], order), "big")
        return raw - (1 << bits) if signed and raw >> (bits - 1) else raw

    return integer


def compile_decoder(point: PointSpec) -> Decoder:
    """A decoder for ``point`` (see module docstring for what makes a reading bad)."""
    key = point.key
    if point.dtype is DataType.BOOL:
        return lambda w, i: Reading(key, bool(w[i]), True)
    if point.dtype is DataType.BITFIELD:
        mask = 1 << (point.bit or 0)
        return lambda w, i: Reading(key, bool(w[i] & mask), True)
    read_raw = _raw_reader(point)
    if point.labels is not None:
        labels = point.labels

        def label(w: Sequence[int], i: int) -> Reading:
            raw = read_raw(w, i)
            word = labels.get(int(raw)) if raw is not None else None
            return Reading(key, raw, False) if word is None else Reading(key, word, True)

        return label
    scale, offset = point.scale, point.offset
    low, high = point.valid_range or (-math.inf, math.inf)
    is_float = point.dtype in _FLOAT_FORMAT
    plain = scale == 1 and offset == 0
    digits = 7 if is_float else _scale_digits(scale)

    def number(w: Sequence[int], i: int) -> Reading:
        raw = read_raw(w, i)
        if raw is None:
            return Reading(key, None, False)
        if plain and not is_float:
            value: float | int = raw
        elif is_float:
            if not math.isfinite(raw):
                return Reading(key, None, False)
            value = _round_sig(raw * scale + offset, digits)
        else:
            value = round(raw * scale + offset, digits)
        return Reading(key, value, low <= value <= high)

    return number


_ON = frozenset({"on", "true", "open"})
_OFF = frozenset({"off", "false", "closed", "close"})


def encode_value(point: PointSpec, value: Value) -> list[int] | bool:
    """Words (or a coil state) to write ``value`` to ``point``; ValueError says why not.

    Checks the profile's rules: writable, enum words in ``write_labels``, numbers inside
    ``write_range`` and representable in the register type.
    """
    if not point.writable:
        raise ValueError("the point is not writable")
    if point.dtype is DataType.BOOL:
        return _as_bool(value)
    if point.dtype is DataType.BITFIELD:
        raise ValueError("single bits inside a register cannot be written")
    if point.labels is not None:
        return [_enum_code(point, value)]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {value!r}")  # noqa: TRY004 (a refused command)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    if point.write_range is not None and not (
        point.write_range[0] <= value <= point.write_range[1]
    ):
        raise ValueError(
            f"outside the allowed range {point.write_range[0]:g}–{point.write_range[1]:g}"
        )
    raw = (value - point.offset) / point.scale
    if point.dtype in _FLOAT_FORMAT:
        data = struct.pack(_FLOAT_FORMAT[point.dtype], raw)
    elif point.dtype in _BCD:
        digits = 4 * point.count
        number = round(raw)
        if not 0 <= number < 10**digits:
            raise ValueError(f"{value} does not fit {digits} BCD digits")
        data = bytes.fromhex(str(number).zfill(digits))
    else:
        bits = _INT_BITS[point.dtype]
        signed = point.dtype in _SIGNED
        number = round(raw)
        try:
            data = number.to_bytes(bits // 8, "big", signed=signed)
        except OverflowError as err:
            raise ValueError(f"{value} does not fit {point.dtype}") from err
    return _order_words(data, point.order)


def _order_words(data: bytes, order: WordOrder) -> list[int]:
    fmt = "<" if _byte_swap(order) else ">"
    words = list(struct.unpack(f"{fmt}{len(data) // 2}H", data))
    return words[::-1] if _word_swap(order) else words


def _as_bool(value: Value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _ON | _OFF:
        return value.lower() in _ON
    raise ValueError(f"expected on/off, got {value!r}")


def _enum_code(point: PointSpec, value: Value) -> int:
    assert point.labels is not None
    allowed = point.write_labels or frozenset(point.labels.values())
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"expected one of {sorted(allowed)}, got {value!r}")
    return next(code for code, word in point.labels.items() if word == value)


def same_reading(point: PointSpec, wanted: Value, read_back: Value) -> bool:
    """Whether a read-back confirms a write (numbers within half a register step)."""
    if point.dtype is DataType.BOOL:
        try:
            return _as_bool(wanted) == read_back
        except ValueError:
            return False
    if isinstance(wanted, str) or isinstance(read_back, str):
        return wanted == read_back
    if isinstance(wanted, int | float) and isinstance(read_back, int | float):
        if point.dtype in _FLOAT_FORMAT:
            return math.isclose(wanted, read_back, rel_tol=1e-6, abs_tol=1e-6)
        return abs(wanted - read_back) <= abs(point.scale) / 2 + 1e-9
    return wanted == read_back
