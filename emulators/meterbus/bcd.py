"""The emulators' own packed-BCD arithmetic (they never borrow the drivers' code)."""

from __future__ import annotations

__all__ = ["from_bcd", "sum8", "to_bcd"]


def sum8(data: bytes | bytearray) -> int:
    total = 0
    for byte in data:
        total = (total + byte) & 0xFF
    return total


def to_bcd(number: int, size: int, *, sign: bool = False) -> bytes:
    """``number`` as ``size`` BCD bytes, least significant first; with ``sign`` a negative
    number sets the top bit. Values that do not fit are clamped to the largest that does
    (a meter's display saturates; it does not wrap into nonsense)."""
    negative = number < 0
    # signed: the top digit gives up its high bit to the sign, so it runs 0-7 (four digits
    # with three decimals reach 7.999)
    magnitude = min(abs(number), (8 * 10 ** (2 * size - 1) if sign else 10 ** (2 * size)) - 1)
    digits = f"{magnitude:0{2 * size}d}"
    out = bytearray(int(digits[i : i + 2], 16) for i in range(0, 2 * size, 2))
    out.reverse()
    if sign and negative:
        out[-1] |= 0x80
    return bytes(out)


def from_bcd(data: bytes) -> int:
    """Digits of BCD bytes, least significant first (ValueError on a non-BCD nibble)."""
    text = bytes(reversed(data)).hex()
    if not text.isdigit():
        raise ValueError(f"not BCD: {text}")
    return int(text)
