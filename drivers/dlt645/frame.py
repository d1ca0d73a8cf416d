"""DL/T 645-2007 frames: ``[FE…] 68 A0..A5 68 C L DATA CS 16``.

The address is 6 BCD bytes, least significant first; every data byte travels +0x33 (so a
frame of zeros never looks like idle line); CS is the byte sum from the first 68 to the byte
before CS. Masters send up to four FE bytes to wake the meter's UART, and meters echo them in
replies: the parser skips them, and any other bytes before a frame, as line noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ..bcd import BcdError, checksum, digits_to_bytes
from ..link.frames import Parsed

__all__ = [
    "BROADCAST",
    "PREAMBLE",
    "WILDCARD",
    "Control",
    "Frame",
    "FrameError",
    "address_bytes",
    "address_text",
    "encode_frame",
    "parse_frame",
]

PREAMBLE = b"\xfe\xfe\xfe\xfe"
BROADCAST = b"\x99" * 6
"""Time broadcast goes to 999999999999; no meter replies."""
WILDCARD = b"\xaa" * 6
"""AAAAAAAAAAAA: "whichever meter is on the line" (read its address, one meter attached)."""
_HEAD = 10  # 68 A0..A5 68 C L
_MAX_DATA = 200


class Control(IntEnum):
    """Function codes (D4–D0 of C). D7 marks a reply, D6 an error reply, D5 more frames."""

    BROADCAST_TIME = 0x08
    READ = 0x11
    READ_NEXT = 0x12
    READ_ADDRESS = 0x13
    WRITE = 0x14
    RELAY = 0x1C

    @property
    def reply(self) -> int:
        return self | 0x80

    @property
    def error_reply(self) -> int:
        return self | 0xC0


REPLY = 0x80
ERROR = 0x40
MORE = 0x20


class FrameError(ValueError):
    """Bytes that are not a DL/T 645 frame (the caller counts and drops them)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """A frame as the application sees it: data bytes already without the +0x33."""

    address: bytes
    control: int
    data: bytes

    @property
    def function(self) -> int:
        return self.control & 0x1F

    @property
    def is_reply(self) -> bool:
        return bool(self.control & REPLY)

    @property
    def is_error(self) -> bool:
        return bool(self.control & ERROR)

    @property
    def more(self) -> bool:
        return bool(self.control & MORE)


def address_bytes(address: str) -> bytes:
    """A 12-digit meter address as printed (most significant digit first) → wire bytes.

    ``AAAAAAAAAAAA`` is the wildcard; shorter numbers are zero-padded on the left.
    """
    if address.upper() == "A" * 12:
        return WILDCARD
    try:
        return digits_to_bytes(address, 6)
    except BcdError as err:
        raise ValueError(f"DL/T 645 address {address!r}: {err}") from None


def address_text(address: bytes) -> str:
    """Wire address bytes → the 12 digits printed on the meter."""
    return address[::-1].hex().upper()


def encode_frame(
    address: bytes, control: int, data: bytes = b"", *, preamble: bool = True
) -> bytes:
    """A complete frame (with the FE wake-up bytes unless ``preamble`` is False)."""
    if len(address) != 6:
        raise ValueError("a DL/T 645 address is 6 bytes")
    if len(data) > _MAX_DATA:
        raise ValueError(f"{len(data)} data bytes; a frame carries at most {_MAX_DATA}")
    body = bytearray(b"\x68")
    body += address
    body += b"\x68"
    body.append(control)
    body.append(len(data))
    body += bytes((b + 0x33) & 0xFF for b in data)
    body.append(checksum(body))
    body.append(0x16)
    return (PREAMBLE if preamble else b"") + bytes(body)


def parse_frame(buf: bytes | bytearray) -> Parsed[Frame]:
    """The first frame in ``buf``.

    Leading FE bytes and noise are skipped (``dropped`` counts noise, not FE). A frame that is
    not complete yet gives ``frame=None`` with ``used`` at its start; a corrupt one is
    consumed with ``error`` set: ``checksum``, or ``framing`` (no end byte 16, absurd length).
    """
    start = 0
    dropped = 0
    size = len(buf)
    while start < size:
        byte = buf[start]
        if byte == 0x68 and (start + 7 >= size or buf[start + 7] == 0x68):
            break
        if byte != 0xFE:
            dropped += 1
        start += 1
    if size - start < _HEAD:
        return Parsed(None, start, dropped)
    length = buf[start + 9]
    if length > _MAX_DATA:
        return Parsed(None, start + 1, dropped + 1, "framing")
    end = start + _HEAD + length + 2
    if size < end:
        return Parsed(None, start, dropped)
    if buf[end - 1] != 0x16:
        return Parsed(None, start + 1, dropped + 1, "framing")
    if checksum(memoryview(buf)[start : end - 2]) != buf[end - 2]:
        return Parsed(None, end, dropped, "checksum")
    data = bytes((b - 0x33) & 0xFF for b in buf[start + _HEAD : end - 2])
    frame = Frame(bytes(buf[start + 1 : start + 7]), buf[start + 8], data)
    return Parsed(frame, end, dropped)
