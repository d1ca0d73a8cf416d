"""The meter emulators' own BCD packing (DL/T 645 and CJ/T 188 values, least significant byte
first; signed items carry the sign in the top bit of the top byte)."""

from __future__ import annotations

import pytest

from emulators.meterbus.bcd import from_bcd, sum8, to_bcd


@pytest.mark.parametrize(
    ("number", "size", "sign", "wire"),
    [
        (26, 4, False, "26 00 00 00"),  # DOMAIN.md §5: 000000.26 kWh
        (906, 2, True, "06 09"),  # power factor 0.906 (X.XXX, signed)
        (-906, 2, True, "06 89"),  # leading: sign bit set
        (7999, 2, True, "99 79"),  # the largest signed two-byte value
        (12000, 2, True, "99 79"),  # saturates, as a display does
        (10**8, 4, False, "99 99 99 99"),
        (-4321, 3, True, "21 43 80"),  # reverse current -4.321 A (XXX.XXX)
    ],
)
def test_to_bcd(number: int, size: int, sign: bool, wire: str) -> None:
    assert to_bcd(number, size, sign=sign) == bytes.fromhex(wire)


def test_from_bcd_and_the_checksum() -> None:
    assert from_bcd(bytes.fromhex("26 00 00 00")) == 26
    with pytest.raises(ValueError, match="not BCD"):
        from_bcd(b"\x1a")
    assert sum8(bytes.fromhex("68 61 01 00 00 00 00 68 11 04 33 33 34 33")) == 0x14
