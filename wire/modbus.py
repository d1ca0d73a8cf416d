"""Modbus wire vocabulary: the four data tables, the data types and the orders of their bytes.

One definition for profiles (``controller.config.profile``), driver specs
(``drivers.modbus.spec``) and emulators, so a profile's ``order: CDAB`` reaches the driver as
the same enum member, with no translation. This module imports nothing but the standard
library.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

__all__ = ["REGISTER_COUNT", "DataType", "Table", "WordOrder"]


class Table(StrEnum):
    """The four Modbus data tables."""

    COIL = "coil"
    DISCRETE = "discrete"
    INPUT = "input"
    HOLDING = "holding"

    @property
    def is_bits(self) -> bool:
        """Coils and discrete inputs hold single bits; the other two hold 16-bit registers."""
        return self in (Table.COIL, Table.DISCRETE)


class DataType(StrEnum):
    """Wire data types. BCD types hold packed decimal digits (4 per register)."""

    BOOL = "bool"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    BCD16 = "bcd16"
    BCD32 = "bcd32"
    BITFIELD = "bitfield"
    ENUM = "enum"


class WordOrder(StrEnum):
    """Byte order of a multi-register value, named as the bytes of a 32-bit value arrive.

    ABCD: big-endian (most significant word and byte first). CDAB: words swapped ("low word
    first"). BADC: bytes swapped within each word. DCBA: fully little-endian. For 64-bit values
    the same two swaps apply to all four words.
    """

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"

    @property
    def word_swap(self) -> bool:
        """The least significant register arrives first."""
        return self in (WordOrder.CDAB, WordOrder.DCBA)

    @property
    def byte_swap(self) -> bool:
        """Each register's low byte arrives first."""
        return self in (WordOrder.BADC, WordOrder.DCBA)


REGISTER_COUNT: Mapping[DataType, int] = {
    DataType.BOOL: 1,
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.BITFIELD: 1,
    DataType.ENUM: 1,
    DataType.BCD16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.FLOAT32: 2,
    DataType.BCD32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT64: 4,
}
"""Registers (or bits, for coil/discrete tables) each data type occupies."""
