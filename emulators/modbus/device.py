"""One emulated Modbus device: a register image built from a behaviour model, and the
request handling (function codes 1–6, 15, 16) a meter's firmware would do.

The image is rebuilt from the model at most every ``refresh`` seconds of the model's clock,
so a gateway serving thousands of polls a second does not re-simulate physics per request.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field

from controller.config import Point
from wire.modbus import DataType, Table

from ..models import BoundDevice, CommandRejected, ModelClock
from .encode import EncodeError, decode_write, encode_point, raw_maximum, raw_of
from .faults import DeviceFaults

__all__ = ["EmulatedDevice", "ExceptionCode"]

_LOGGER = logging.getLogger(__name__)


class ExceptionCode:
    ILLEGAL_FUNCTION = 1
    ILLEGAL_ADDRESS = 2
    ILLEGAL_VALUE = 3
    DEVICE_FAILURE = 4


_READ_TABLE = {1: Table.COIL, 2: Table.DISCRETE, 3: Table.HOLDING, 4: Table.INPUT}
_BIT_TABLES = (Table.COIL, Table.DISCRETE)
_FLOATS = (DataType.FLOAT32, DataType.FLOAT64)


@dataclass
class _Image:
    """A table's mapped span [lo, hi] as words (or 0/1 for bits); gaps read as 0."""

    lo: int
    hi: int
    words: list[int]
    points: list[Point] = field(default_factory=list)
    starts: dict[int, Point] = field(default_factory=dict)


def _exception(fc: int, code: int) -> bytes:
    return bytes((fc | 0x80, code))


def _allowed(point: Point, value: float | int | str) -> bool:
    """The device's own check of a written value against its documented range or words."""
    if isinstance(value, str):
        return point.write_values is None or value in point.write_values
    if point.range is not None:
        return point.range[0] <= value <= point.range[1]
    return True


def _pack_bits(bits: list[int]) -> bytes:
    out = bytearray((len(bits) + 7) // 8)
    for i, bit in enumerate(bits):
        if bit:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


class EmulatedDevice:
    """A unit id behind a gateway, answering from its profile and model."""

    def __init__(
        self, unit_id: int, bound: BoundDevice, clock: ModelClock, *, refresh: float = 1.0
    ) -> None:
        self.unit_id = unit_id
        self.bound = bound
        self.clock = clock
        self.refresh = refresh
        self.faults = DeviceFaults()
        self.requests = 0
        self.rollover_offsets: dict[str, int] = {}
        self._images = self._layout(bound.profile.points)
        self._built_at = float("-inf")
        self._encode_failed: set[str] = set()

    @property
    def device_id(self) -> str:
        return self.bound.device_id

    @staticmethod
    def _layout(points: list[Point]) -> dict[Table, _Image]:
        images: dict[Table, _Image] = {}
        for point in points:
            addr = point.modbus
            if addr is None:
                continue
            last = addr.address + addr.register_count - 1
            image = images.get(addr.table)
            if image is None:
                images[addr.table] = image = _Image(addr.address, last, [])
            image.lo, image.hi = min(image.lo, addr.address), max(image.hi, last)
            image.points.append(point)
            if addr.type is not DataType.BITFIELD:
                image.starts[addr.address] = point
        for image in images.values():
            image.words = [0] * (image.hi - image.lo + 1)
        return images

    # -- image ----------------------------------------------------------------------------
    def rebuild(self) -> None:
        """Re-encode every point from the model now."""
        values = self.bound.read()
        for image in self._images.values():
            words = image.words
            for point in image.points:
                addr = point.modbus
                assert addr is not None
                value = values.get(point.key, 0)
                at = addr.address - image.lo
                if addr.type is DataType.BITFIELD:
                    mask = 1 << (addr.bit or 0)
                    words[at] = (words[at] | mask) if value else (words[at] & ~mask)
                    continue
                try:
                    encoded = encode_point(point, value, self.rollover_offsets.get(point.key, 0))
                except (EncodeError, ValueError, OverflowError) as err:
                    if point.key not in self._encode_failed:
                        self._encode_failed.add(point.key)
                        _LOGGER.warning("%s: cannot encode %s: %s", self.device_id, point.key, err)
                    continue
                words[at : at + len(encoded)] = encoded
        self._built_at = self.clock.time()

    def _fresh(self) -> None:
        if self.clock.time() - self._built_at >= self.refresh:
            self.rebuild()

    def rollover(self, margin: int = 3) -> list[str]:
        """Put integer counters ``margin`` raw steps below their register maximum, so they
        wrap to zero soon (a counter rollover). Returns the keys affected."""
        values = self.bound.read()
        affected = []
        for point in self.bound.profile.points:
            addr = point.modbus
            if addr is None or not point.is_cumulative or addr.type in _FLOATS:
                continue
            raw = raw_of(point, values.get(point.key, 0))
            self.rollover_offsets[point.key] = raw_maximum(addr.type) - margin - int(raw)
            affected.append(point.key)
        self._built_at = float("-inf")
        return affected

    # -- requests -------------------------------------------------------------------------
    def handle(self, pdu: bytes) -> bytes | None:
        """The reply PDU to a request PDU, or None when the device stays silent."""
        self.requests += 1
        faults = self.faults
        if faults.no_reply or not pdu:
            return None
        fc = pdu[0]
        if faults.exception is not None:
            return _exception(fc, faults.exception)
        try:
            if fc in _READ_TABLE:
                return self._read(fc, pdu)
            if fc in (5, 6, 15, 16):
                return self._write(fc, pdu)
        except struct.error:
            return _exception(fc, ExceptionCode.ILLEGAL_VALUE)
        return _exception(fc, ExceptionCode.ILLEGAL_FUNCTION)

    def _read(self, fc: int, pdu: bytes) -> bytes:
        address, count = struct.unpack_from(">HH", pdu, 1)
        table = _READ_TABLE[fc]
        bits = table in _BIT_TABLES
        if not 1 <= count <= (2000 if bits else 125):
            return _exception(fc, ExceptionCode.ILLEGAL_VALUE)
        image = self._images.get(table)
        if image is None or address < image.lo or address + count - 1 > image.hi:
            return _exception(fc, ExceptionCode.ILLEGAL_ADDRESS)
        self._fresh()
        at = address - image.lo
        chunk = image.words[at : at + count]
        if bits:
            data = _pack_bits(chunk)
        else:
            if self.faults.malformed == "short":
                chunk = chunk[:-1]
            data = struct.pack(f">{len(chunk)}H", *chunk)
        return bytes((fc, len(data))) + data

    def _write(self, fc: int, pdu: bytes) -> bytes:
        address = struct.unpack_from(">H", pdu, 1)[0]
        if fc == 5:
            raw = struct.unpack_from(">H", pdu, 3)[0]
            if raw not in (0x0000, 0xFF00):
                return _exception(fc, ExceptionCode.ILLEGAL_VALUE)
            writes = [(Table.COIL, address, [1 if raw else 0])]
        elif fc == 6:
            writes = [(Table.HOLDING, address, [struct.unpack_from(">H", pdu, 3)[0]])]
        elif fc == 16:
            qty, nbytes = struct.unpack_from(">HB", pdu, 3)
            if nbytes != 2 * qty or len(pdu) < 6 + nbytes:
                return _exception(fc, ExceptionCode.ILLEGAL_VALUE)
            words = list(struct.unpack_from(f">{qty}H", pdu, 6))
            writes = [(Table.HOLDING, address, words)]
        else:
            qty, nbytes = struct.unpack_from(">HB", pdu, 3)
            data = pdu[6 : 6 + nbytes]
            bits = [(data[i // 8] >> (i % 8)) & 1 for i in range(qty)]
            writes = [(Table.COIL, address, bits)]
        code = self._apply(*writes[0])
        if code:
            return _exception(fc, code)
        self._built_at = float("-inf")
        return pdu[:5]

    def _apply(self, table: Table, address: int, words: list[int]) -> int:
        """Write ``words`` point by point from ``address``; an exception code or 0."""
        image = self._images.get(table)
        if image is None:
            return ExceptionCode.ILLEGAL_ADDRESS
        at = 0
        while at < len(words):
            point = image.starts.get(address + at)
            if point is None or not point.writable or point.modbus is None:
                return ExceptionCode.ILLEGAL_ADDRESS
            size = 1 if table is Table.COIL else point.modbus.register_count
            if at + size > len(words):
                return ExceptionCode.ILLEGAL_ADDRESS
            try:
                if table is Table.COIL:
                    self.bound.write(point.key, bool(words[at]))
                else:
                    value = decode_write(point, words[at : at + size])
                    if not _allowed(point, value):
                        return ExceptionCode.ILLEGAL_VALUE
                    self.bound.write(point.key, value)
            except (CommandRejected, EncodeError):
                return ExceptionCode.ILLEGAL_VALUE
            at += size
        return 0
