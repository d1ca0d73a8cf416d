"""The expected reply to a read, recognised without pymodbus's framer: the poll's hot path.

Nearly every frame a poll receives is the one reply it waits for: the same unit, function and
byte count as asked, a good CRC (RTU) or the same transaction id (Modbus TCP), all in one
segment. ``Expected`` recognises exactly that frame by its length and header (for RTU with
pymodbus's own CRC check) and decodes its registers with one ``struct`` call; anything else (a
partial frame, an exception reply, a stale or corrupt frame, extra bytes) goes to pymodbus's
framer, which handles every case as before. On the campus path the framer cost each reply a
PDU-class lookup, a frame-size calculation, a PDU object and its ``str()`` (for a debug log
that is off) on top of the CRC.
"""

from __future__ import annotations

import struct
from typing import Any

from pymodbus.framer import FramerRTU

__all__ = ["Expected", "ReadReply"]

_check_crc = FramerRTU.check_CRC  # pymodbus's CRC: one implementation on the driver's side


class ReadReply:
    """A read's reply: what the link takes from a pymodbus read response, nothing more."""

    __slots__ = ("bits", "function_code", "registers")

    def __init__(self, function_code: int, registers: list[int], bits: list[bool]) -> None:
        self.function_code = function_code
        self.registers = registers
        self.bits = bits

    def isError(self) -> bool:  # noqa: N802 (pymodbus's name, which the link calls)
        return False


class Expected:
    """The one frame that answers a read of ``count`` registers or bits: its exact length and
    header (for Modbus TCP without the transaction id, which changes per request)."""

    __slots__ = ("data", "function", "header", "rtu", "size", "words")

    def __init__(self, unit: int, function: int, count: int, *, bits: bool, rtu: bool) -> None:
        data = (count + 7) // 8 if bits else 2 * count
        self.data = data
        self.rtu = rtu
        self.function = function
        self.words = None if bits else struct.Struct(f">{count}H")
        if rtu:
            self.header = bytes((unit, function, data))
            self.size = 3 + data + 2
        else:  # after the transaction id: protocol 0, length, unit, function, byte count
            self.header = struct.pack(">HHBBB", 0, 3 + data, unit, function, data)
            self.size = 9 + data

    def sized(self, reply: Any) -> bool:
        """Whether a reply pymodbus's framer decoded carries as many registers or bits as
        this read asked (a late reply to an earlier read of the same unit and function often
        has another length, where RTU has no transaction id to tell them apart)."""
        if self.words is None:
            return len(getattr(reply, "bits", ())) == 8 * self.data
        return 2 * len(getattr(reply, "registers", ())) == self.data

    def match(self, frame: bytes, tid: int) -> ReadReply | None:
        """The decoded reply if ``frame`` is exactly the expected one (with transaction id
        ``tid`` for Modbus TCP), else None."""
        if len(frame) != self.size:
            return None
        if self.rtu:
            if not frame.startswith(self.header):
                return None
            if not _check_crc(frame[:-2], frame[-2] << 8 | frame[-1]):  # low byte first
                return None
            body = frame[3:-2]
        else:
            if frame[0] << 8 | frame[1] != tid or frame[2:9] != self.header:
                return None
            body = frame[9:]
        if self.words is not None:
            return ReadReply(self.function, list(self.words.unpack(body)), [])
        bits = [bool(byte >> i & 1) for byte in body for i in range(8)]
        return ReadReply(self.function, [], bits)
