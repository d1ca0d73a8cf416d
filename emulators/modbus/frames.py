"""Modbus framing for the emulator: MBAP (Modbus TCP) and RTU (with CRC), written from the spec.

Only what a server needs: cut requests out of a byte stream, wrap replies.
"""

from __future__ import annotations

import struct

__all__ = [
    "crc16",
    "mbap_frame",
    "rtu_frame",
    "split_mbap",
    "split_rtu",
]


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16(data: bytes) -> int:
    """Modbus CRC-16 (poly 0xA001 reflected, init 0xFFFF); sent low byte first."""
    crc = 0xFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def rtu_frame(unit: int, pdu: bytes) -> bytes:
    body = bytes((unit,)) + pdu
    return body + struct.pack("<H", crc16(body))


def mbap_frame(tid: int, unit: int, pdu: bytes) -> bytes:
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


_FIXED_RTU_REQUEST = {1: 8, 2: 8, 3: 8, 4: 8, 5: 8, 6: 8, 22: 10}


def _rtu_length(buf: bytes | bytearray) -> int | None:
    """Length of the request at the start of ``buf``; None if more bytes are needed; 0 if
    the function code is unknown (the stream cannot be framed)."""
    if len(buf) < 2:
        return None
    fc = buf[1]
    fixed = _FIXED_RTU_REQUEST.get(fc)
    if fixed is not None:
        return fixed
    if fc in (15, 16):
        return None if len(buf) < 7 else 9 + buf[6]
    return 0


def split_rtu(buf: bytearray) -> tuple[list[tuple[int, bytes]], bool]:
    """Cut complete requests off ``buf`` (in place) → ([(unit, pdu)], crc_errors_seen).

    A frame with a bad CRC or an unknown function code makes the rest of the buffer
    unusable, as on a real bus: it is discarded and the device stays silent.
    """
    out: list[tuple[int, bytes]] = []
    bad = False
    while True:
        length = _rtu_length(buf)
        if length is None or len(buf) < (length or 0):
            return out, bad
        if length == 0:
            buf.clear()
            return out, True
        frame = bytes(buf[:length])
        del buf[:length]
        if crc16(frame[:-2]) != struct.unpack("<H", frame[-2:])[0]:
            buf.clear()
            return out, True
        out.append((frame[0], frame[1:-2]))


def split_mbap(buf: bytearray) -> tuple[list[tuple[int, int, bytes]], bool]:
    """Cut complete MBAP requests off ``buf`` → ([(tid, unit, pdu)], framing_error)."""
    out: list[tuple[int, int, bytes]] = []
    while len(buf) >= 7:
        tid, proto, length, unit = struct.unpack_from(">HHHB", buf)
        if proto != 0 or not 2 <= length <= 254:
            buf.clear()
            return out, True
        if len(buf) < 6 + length:
            break
        out.append((tid, unit, bytes(buf[7 : 6 + length])))
        del buf[: 6 + length]
    return out, False
