"""CJ/T 188 framing for the emulated meters, written from the standard."""

from __future__ import annotations

from dataclasses import dataclass

from ..meterbus.bcd import sum8

__all__ = ["Request", "reply_frame", "split_requests"]


@dataclass(frozen=True, slots=True)
class Request:
    meter_type: int
    address: bytes
    control: int
    data: bytes


def reply_frame(meter_type: int, address: bytes, control: int, data: bytes) -> bytes:
    body = bytearray([0x68, meter_type, *address, control, len(data), *data])
    body.append(sum8(body))
    body.append(0x16)
    return bytes(body)


def split_requests(buffer: bytearray) -> tuple[list[Request], bool]:
    """Complete requests at the head of ``buffer`` (consumed); True if bytes were dropped."""
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
        if len(buffer) < 13:
            break
        end = 13 + buffer[10]
        if len(buffer) < end:
            break
        frame = bytes(buffer[:end])
        if frame[-1] != 0x16 or sum8(frame[:-2]) != frame[-2]:
            del buffer[:1]
            bad = True
            continue
        del buffer[:end]
        requests.append(Request(frame[1], frame[2:9], frame[9], frame[11:-2]))
    return requests, bad
