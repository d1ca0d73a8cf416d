"""DL/T 645-2007 data identifiers (DI) and how their values are packed.

A DI is written ``DI3 DI2 DI1 DI0`` (``00010000``) and sent DI0 first. Values are packed BCD,
least significant byte first, with a fixed number of decimals; currents, powers and power
factors carry a sign in the top bit. Run-status words (``040005xx``) are binary bit fields.

Blocks: setting DI1 to FF asks for a whole family at once (``0001FF00``: forward active energy
total and every tariff; ``0201FF00``: the three phase voltages), one transaction instead of
several, where the meter supports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..bcd import bcd_decode

__all__ = [
    "Encoding",
    "Item",
    "block_of",
    "block_offset",
    "di_bytes",
    "di_text",
    "known_item",
]


class Encoding(StrEnum):
    BCD = "bcd"
    """Packed BCD, least significant byte first."""
    WORD = "word"
    """A binary word, least significant byte first (status words)."""


@dataclass(frozen=True, slots=True)
class Item:
    """The packing of one DI's value: ``length`` bytes, ``decimals`` implied decimals."""

    length: int
    decimals: int = 0
    signed: bool = False
    encoding: Encoding = Encoding.BCD

    def decode(self, data: bytes | memoryview) -> float | int:
        """The value of ``length`` bytes (BcdError on a non-BCD byte)."""
        if self.encoding is Encoding.WORD:
            return int.from_bytes(data, "little")
        raw = bcd_decode(data, signed=self.signed)
        return raw / 10**self.decimals if self.decimals else raw


# (DI3, DI2) families whose DI1 picks a tariff or phase; the item packing of each.
_FAMILIES: dict[tuple[int, int], Item] = {
    (0x00, 0x00): Item(4, 2),  # combined active energy, kWh
    (0x00, 0x01): Item(4, 2),  # forward active energy
    (0x00, 0x02): Item(4, 2),  # reverse active energy
    (0x00, 0x03): Item(4, 2),  # combined reactive energy 1, kvarh
    (0x00, 0x04): Item(4, 2),  # combined reactive energy 2
    (0x02, 0x01): Item(2, 1),  # voltage per phase, V
    (0x02, 0x02): Item(3, 3, signed=True),  # current per phase, A
    (0x02, 0x03): Item(3, 4, signed=True),  # active power total/per phase, kW
    (0x02, 0x04): Item(3, 4, signed=True),  # reactive power, kvar
    (0x02, 0x05): Item(3, 4, signed=True),  # apparent power, kVA
    (0x02, 0x06): Item(2, 3, signed=True),  # power factor
}
# Families whose DI1 starts at 01 (phases A, B, C) rather than 00 (total first).
_PHASE_ONLY = frozenset({(0x02, 0x01), (0x02, 0x02)})

_SINGLE: dict[int, Item] = {
    0x02800001: Item(3, 3, signed=True),  # neutral current, A
    0x02800002: Item(2, 2),  # grid frequency, Hz
    0x02800008: Item(2, 2),  # clock battery voltage, V
    0x00900100: Item(4, 2),  # remaining energy (prepaid by kWh), kWh
    0x00900200: Item(4, 2),  # remaining amount (prepaid by money), yuan
    0x00900201: Item(4, 2),  # overdraft amount, yuan
    0x04000401: Item(6),  # communication address
}


def di_bytes(di: int) -> bytes:
    """A DI as sent: DI0 first."""
    return di.to_bytes(4, "little")


def di_text(di: int) -> str:
    return f"{di:08X}"


def known_item(di: int) -> Item | None:
    """The packing of a standard DI, or None if the standard table here does not know it."""
    if 0x04000501 <= di <= 0x04000507:
        return Item(2, encoding=Encoding.WORD)  # run-status words 1–7
    single = _SINGLE.get(di)
    if single is not None:
        return single
    family = (di >> 24, (di >> 16) & 0xFF)
    item = _FAMILIES.get(family)
    if item is None or (family[0] == 0x02 and di & 0xFF):
        return None  # instantaneous values have no settlement-month variants
    return item


def block_of(di: int) -> int | None:
    """The block DI that carries ``di`` among its family (DI1 → FF), if it has one."""
    family = (di >> 24, (di >> 16) & 0xFF)
    if family not in _FAMILIES or (di >> 8) & 0xFF == 0xFF:
        return None
    return di | 0x0000FF00


def block_offset(di: int) -> int:
    """Where ``di``'s value starts inside its block reply (in items)."""
    family = (di >> 24, (di >> 16) & 0xFF)
    first = 1 if family in _PHASE_ONLY else 0
    return ((di >> 8) & 0xFF) - first
