"""A real PNG made in the test (a small coloured picture), for photo uploads."""

from __future__ import annotations

import struct
import zlib

__all__ = ["png"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(width: int = 64, height: int = 48) -> bytes:
    """An RGB PNG: a blue-to-red gradient with a white diagonal, viewable in any browser."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            on_line = abs(x * height - y * width) < width
            rows += b"\xff\xff\xff" if on_line else bytes((x * 255 // width, 80, 200))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(rows)))
        + _chunk(b"IEND", b"")
    )
