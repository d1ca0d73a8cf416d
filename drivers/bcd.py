"""Packed BCD and the additive checksum the Chinese meter protocols share.

DL/T 645 and CJ/T 188 both carry numbers as packed BCD, least significant byte first, and
close every frame with the sum of its bytes modulo 256; these few functions are that common
ground (the frame layouts differ and live in each driver).
"""

from __future__ import annotations

__all__ = ["BcdError", "bcd_decode", "bcd_encode", "checksum", "digits_to_bytes"]


class BcdError(ValueError):
    """A byte holds a nibble above 9, or a number does not fit its BCD width."""


def checksum(data: bytes | bytearray | memoryview) -> int:
    """Sum of the bytes modulo 256."""
    return sum(data) & 0xFF


def bcd_decode(data: bytes | bytearray | memoryview, *, signed: bool = False) -> int:
    """The integer of packed BCD bytes, least significant byte first.

    ``signed``: the top bit of the most significant byte is a sign (DL/T 645 currents,
    powers and power factors), not a digit.
    """
    value = 0
    negative = False
    last = len(data) - 1
    for index in range(last, -1, -1):
        byte = data[index]
        if signed and index == last:
            negative = bool(byte & 0x80)
            byte &= 0x7F
        high, low = byte >> 4, byte & 0x0F
        if high > 9 or low > 9:
            raise BcdError(f"byte {data[index]:02X} is not BCD")
        value = value * 100 + high * 10 + low
    return -value if negative else value


def bcd_encode(value: int, width: int, *, signed: bool = False) -> bytes:
    """``value`` as ``width`` packed BCD bytes, least significant first (BcdError if too big)."""
    negative = value < 0
    if negative and not signed:
        raise BcdError(f"{value} is negative")
    magnitude = -value if negative else value
    # signed: the top digit gives one bit to the sign, so it runs 0-7 (3 bytes: up to 799999)
    limit = 8 * 10 ** (2 * width - 1) if signed else 10 ** (2 * width)
    if magnitude >= limit:
        raise BcdError(f"{value} does not fit {width} BCD bytes")
    out = bytearray(width)
    for index in range(width):
        magnitude, pair = divmod(magnitude, 100)
        out[index] = (pair // 10) << 4 | pair % 10
    if negative:
        out[-1] |= 0x80
    return bytes(out)


def digits_to_bytes(digits: str, width: int) -> bytes:
    """A meter address written as decimal digits (most significant first, as printed on the
    nameplate) → ``width`` BCD bytes, least significant first. Shorter numbers are zero-padded."""
    if not digits.isdigit() or len(digits) > 2 * width:
        raise BcdError(f"address {digits!r} is not up to {2 * width} decimal digits")
    return bcd_encode(int(digits), width)
