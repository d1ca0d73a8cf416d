"""DL/T 645-2007 framing for the emulated meters, written from the standard: cut requests out
of a byte stream (after any FE wake-up bytes), build replies with the +33H data offset."""

from __future__ import annotations

from dataclasses import dataclass

from ..meterbus.bcd import sum8

__all__ = ["Request", "reply_frame", "split_requests"]


@dataclass(frozen=True, slots=True)
class Request:
    address: bytes
    control: int
    data: bytes  # already minus 33H


def reply_frame(address: bytes, control: int, data: bytes = b"") -> bytes:
    """A reply as meters send it: FE FE FE FE, then the frame."""
    body = bytearray([0x68, *address, 0x68, control, len(data)])
    body.extend((b + 0x33) & 0xFF for b in data)
    body.append(sum8(body))
    body.append(0x16)
    return b"\xfe\xfe\xfe\xfe" + bytes(body)


def split_requests(buffer: bytearray) -> tuple[list[Request], bool]:
    """Complete requests at the head of ``buffer`` (consumed); True if bytes were thrown
    away (noise or a corrupt frame)."""
    requests: list[Request] = []
    bad = False
    while buffer:
        start = buffer.find(0x68)
        if start < 0:
            bad = bad or any(b != 0xFE for b in buffer)
            buffer.clear()
            break
        if any(b != 0xFE for b in buffer[:start]):
            bad = True
        del buffer[:start]
        if len(buffer) < 12:
            break
        if buffer[7] != 0x68:
            del buffer[:1]
            bad = True
            continue
        end = 12 + buffer[9]
        if len(buffer) < end:
            break
        frame = bytes(buffer[:end])
        del buffer[:end]
        if frame[-1] != 0x16 or sum8(frame[:-2]) != frame[-2]:
            bad = True
            continue
        data = bytes((b - 0x33) & 0xFF for b in frame[10:-2])
        requests.append(Request(frame[1:7], frame[8], data))
    return requests, bad
