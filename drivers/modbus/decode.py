"""Register words ↔ engineering values, table-driven and compiled once per point.

``compile_block`` turns a read block's points into one function (words → readings), built
once at start-up: the poll path packs the block's words to bytes once and reads each point
with a precompiled ``struct`` format, without dispatching on data type or word order.
Readings that are NaN, infinite, outside ``valid_range``, not valid BCD or an unknown enum
code come back with ``ok=False``: bad quality, never stored as a good reading.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from typing import Any

from wire.modbus import DataType, WordOrder

from ..link.readings import Reading, Value
from .spec import PointSpec

__all__ = [
    "BlockDecoder",
    "Decoder",
    "Reading",
    "Value",
    "compile_block",
    "compile_decoder",
    "encode_value",
    "same_reading",
    "words_to_bytes",
]

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


def words_to_bytes(words: Sequence[int], order: WordOrder) -> bytes:
    """The value's bytes most significant first (ABCD), from words as they arrived."""
    ordered = list(reversed(words)) if order.word_swap else list(words)
    fmt = "<" if order.byte_swap else ">"
    return struct.pack(f"{fmt}{len(ordered)}H", *ordered)


def _round_sig(value: float, digits: int) -> float:
    """Round to ``digits`` significant digits: float32 230.1999969 → 230.2."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def _scale_digits(scale: float) -> int:
    """Decimals a scaled integer needs: ×0.01 → 2, ×0.1 → 1, ×10 → 0."""
    return max(0, -math.floor(math.log10(abs(scale)) + 1e-9))


def _float_digits(point: PointSpec) -> int | None:
    """Fixed decimals that keep a float32's 7 significant digits over the point's valid range
    (one ``round`` instead of a logarithm per reading); None if the range is unknown."""
    if point.valid_range is None:
        return None
    magnitude = max(abs(point.valid_range[0]), abs(point.valid_range[1]), 1e-9)
    return max(0, 6 - math.floor(math.log10(magnitude)))


_FORMATS = {
    DataType.INT16: "h",
    DataType.UINT16: "H",
    DataType.ENUM: "H",
    DataType.INT32: "i",
    DataType.UINT32: "I",
    DataType.INT64: "q",
    DataType.UINT64: "Q",
    DataType.FLOAT32: "f",
    DataType.FLOAT64: "d",
}

ByteReader = Callable[[bytes, int], Any]
"""(block as big-endian bytes, byte offset of the point) → raw number (None if invalid)."""


def _byte_reader(point: PointSpec) -> ByteReader:
    """Read the raw number of ``point`` from a block's bytes (words as they arrived)."""
    dtype, order, count = point.dtype, point.order, point.count
    if dtype in _BCD:
        words = struct.Struct(f">{count}H")

        def bcd(data: bytes, at: int) -> int | None:
            digits = words_to_bytes(words.unpack_from(data, at), order).hex()
            return int(digits) if digits.isdigit() else None

        return bcd
    fmt = _FORMATS[dtype]
    if count == 1 or order is WordOrder.ABCD or order is WordOrder.DCBA:
        # one word, or all bytes reversed: a single unpack in the right byte order
        little = order.byte_swap if count == 1 else order is WordOrder.DCBA
        unpack_from = struct.Struct(("<" if little else ">") + fmt).unpack_from
        return lambda data, at: unpack_from(data, at)[0]
    # CDAB, BADC: reorder the words, then unpack big-endian
    words_in = struct.Struct(("<" if order.byte_swap else ">") + "H" * count).unpack_from
    pack = struct.Struct(">" + "H" * count).pack
    unpack = struct.Struct(">" + fmt).unpack
    if order.word_swap:
        return lambda data, at: unpack(pack(*reversed(words_in(data, at))))[0]
    return lambda data, at: unpack(pack(*words_in(data, at)))[0]


def _screened(point: PointSpec, read_raw: ByteReader) -> ByteReader:
    """``read_raw`` with the point's "no value" codes turned into None and its mask applied."""
    absent, mask = point.not_available, point.mask
    if not absent and mask is None:
        return read_raw

    def screened(data: bytes, at: int) -> Any:
        raw = read_raw(data, at)
        if raw is None or raw in absent:
            return None
        return raw & mask if mask is not None else raw

    return screened


isfinite = math.isfinite
_reading = tuple.__new__  # Reading(...) without the Python-level __new__: the hot path


def _byte_decoder(point: PointSpec) -> Callable[[bytes, int], Reading]:
    """(block bytes, byte offset) → Reading for a register point."""
    key = point.key
    if point.dtype is DataType.BITFIELD:
        mask = 1 << (point.bit or 0)
        word = struct.Struct(">H").unpack_from
        return lambda data, at: _reading(Reading, (key, bool(word(data, at)[0] & mask), True))
    read_raw = _screened(point, _byte_reader(point))
    if point.labels is not None:
        labels = point.labels

        def label(data: bytes, at: int) -> Reading:
            raw = read_raw(data, at)
            word = labels.get(raw) if raw is not None else None
            if word is None:
                return _reading(Reading, (key, raw, False))
            return _reading(Reading, (key, word, True))

        return label
    scale, offset = point.scale, point.offset
    low, high = point.valid_range or (-math.inf, math.inf)
    if point.dtype in _FLOAT_FORMAT:
        fixed = _float_digits(point)

        def real(data: bytes, at: int) -> Reading:
            raw = read_raw(data, at)
            if raw is None or not isfinite(raw):
                return _reading(Reading, (key, None, False))
            value = raw * scale + offset
            value = round(value, fixed) if fixed is not None else _round_sig(value, 7)
            return _reading(Reading, (key, value, low <= value <= high))

        return real
    if scale == 1 and offset == 0:

        def integer(data: bytes, at: int) -> Reading:
            raw = read_raw(data, at)
            if raw is None:
                return _reading(Reading, (key, None, False))
            return _reading(Reading, (key, raw, low <= raw <= high))

        return integer
    digits = _scale_digits(scale)

    def scaled(data: bytes, at: int) -> Reading:
        raw = read_raw(data, at)
        if raw is None:
            return _reading(Reading, (key, None, False))
        value = round(raw * scale + offset, digits)
        return _reading(Reading, (key, value, low <= value <= high))

    return scaled


BlockDecoder = Callable[[Sequence[int]], list[Reading]]
"""Words of a whole read block → a Reading for each of its points."""


def compile_block(points: Sequence[tuple[PointSpec, int]], *, bits: bool) -> BlockDecoder:
    """A decoder for a block holding ``points`` at the given word (or bit) offsets.

    Register blocks are packed to bytes once per read; each point is then one or two
    ``struct`` calls. Bit blocks read their 0/1 values directly.
    """
    if bits:
        keyed = [(p.key, offset) for p, offset in points]
        return lambda words: [_reading(Reading, (k, bool(words[i]), True)) for k, i in keyed]
    decoders = [(_byte_decoder(p), 2 * offset) for p, offset in points]
    span = max(offset + p.count for p, offset in points)
    pack = struct.Struct(f">{span}H").pack

    def block(words: Sequence[int]) -> list[Reading]:
        data = pack(*words[:span])
        return [decode(data, at) for decode, at in decoders]

    return block


def compile_decoder(point: PointSpec) -> Decoder:
    """A decoder for one point: (words of a block, index of its first word) → Reading."""
    if point.dtype is DataType.BOOL:
        key = point.key
        return lambda w, i: Reading(key, bool(w[i]), True)
    decode = _byte_decoder(point)
    count = point.count
    return lambda w, i: decode(struct.pack(f">{count}H", *w[i : i + count]), 0)


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
    fmt = "<" if order.byte_swap else ">"
    words = list(struct.unpack(f"{fmt}{len(data) // 2}H", data))
    return words[::-1] if order.word_swap else words


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
