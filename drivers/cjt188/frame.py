"""CJ/T 188 frames: ``[FE…] 68 T A0..A6 C L DATA CS 16``.

T is the meter type (10 cold water, 11 hot water, 12 drinking water, 13 reclaimed water,
20 heat, 21 cooling; AA any); the address is 7 BCD bytes, least significant first; CS is the
byte sum from 68 to the last data byte. Unlike DL/T 645 the data travels as is (no +0x33) and
there is no second 68: a frame is recognised by its length byte and the end byte 16.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ..bcd import BcdError, checksum, digits_to_bytes
from ..link.frames import Parsed

__all__ = [
    "ANY_TYPE",
    "WILDCARD",
    "Control",
    "Frame",
    "MeterType",
    "address_bytes",
    "address_text",
    "encode_frame",
    "parse_frame",
]

WILDCARD = b"\xaa" * 7
ANY_TYPE = 0xAA
_HEAD = 11  # 68 T A0..A6 C L
_MAX_DATA = 100
_REPLY = 0x80
_ERROR = 0x40


class MeterType(IntEnum):
    COLD_WATER = 0x10
    HOT_WATER = 0x11
    DRINKING_WATER = 0x12
    RECLAIMED_WATER = 0x13
    HEAT = 0x20
    COOLING = 0x21

    @property
    def is_heat(self) -> bool:
        return 0x20 <= self <= 0x29


class Control(IntEnum):
    READ = 0x01
    WRITE = 0x04
    READ_ADDRESS = 0x03


@dataclass(frozen=True, slots=True)
class Frame:
    meter_type: int
    address: bytes
    control: int
    data: bytes

    @property
    def function(self) -> int:
        return self.control & 0x3F

    @property
    def is_reply(self) -> bool:
        return bool(self.control & _REPLY)

    @property
    def is_error(self) -> bool:
        return bool(self.control & _ERROR)


def address_bytes(address: str) -> bytes:
    """A 14-digit meter number as printed (most significant first) → wire bytes."""
    if address.upper() == "A" * 14:
        return WILDCARD
    try:
        return digits_to_bytes(address, 7)
    except BcdError as err:
        raise ValueError(f"CJ/T 188 address {address!r}: {err}") from None


def address_text(address: bytes) -> str:
    return address[::-1].hex().upper()


def encode_frame(
    meter_type: int, address: bytes, control: int, data: bytes = b"", *, preamble: bool = False
) -> bytes:
    """A complete frame; ``preamble`` adds FE FE FE FE for meters that need waking."""
    if len(address) != 7:
        raise ValueError("a CJ/T 188 address is 7 bytes")
    if len(data) > _MAX_DATA:
        raise ValueError(f"{len(data)} data bytes; a frame carries at most {_MAX_DATA}")
    body = bytearray((0x68, meter_type))
    body += address
    body.append(control)
    body.append(len(data))
    body += data
    body.append(checksum(body))
    body.append(0x16)
    return (b"\xfe" * 4 if preamble else b"") + bytes(body)


def parse_frame(buf: bytes | bytearray) -> Parsed[Frame]:
    """The first frame in ``buf`` (see ``drivers.dlt645.frame.parse_frame`` for the contract)."""
    start = 0
    dropped = 0
    size = len(buf)
    while start < size and buf[start] != 0x68:
        if buf[start] != 0xFE:
            dropped += 1
        start += 1
    if size - start < _HEAD:
        return Parsed(None, start, dropped)
    length = buf[start + 10]
    if length > _MAX_DATA:
        return Parsed(None, start + 1, dropped + 1, "framing")
    end = start + _HEAD + length + 2
    if size < end:
        return Parsed(None, start, dropped)
    if buf[end - 1] != 0x16:
        return Parsed(None, start + 1, dropped + 1, "framing")
    if checksum(memoryview(buf)[start : end - 2]) != buf[end - 2]:
        return Parsed(None, end, dropped, "checksum")
    frame = Frame(
        buf[start + 1],
        bytes(buf[start + 2 : start + 9]),
        buf[start + 9],
        bytes(buf[start + 11 : end - 2]),
    )
    return Parsed(frame, end, dropped)
