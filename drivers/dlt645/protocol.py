"""DL/T 645-2007 requests and replies, without I/O: what to send, whether a frame answers
it, and the values in it. The poller and the tools (address discovery, time broadcast) send
these over a ``FrameLink``; the oracle test compares them with an independent implementation.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo

from ..bcd import BcdError, bcd_decode, bcd_encode
from ..link.errors import BadFrame
from ..link.frames import Check
from ..link.readings import Reading
from .errors import MeterErrorReply
from .frame import BROADCAST, WILDCARD, Control, Frame, encode_frame
from .items import Encoding, block_offset, di_bytes
from .spec import CloseCommand, PointSpec, RelaySpec

__all__ = [
    "RELAY_CLOSE_ALLOWED",
    "RELAY_CLOSE_DIRECT",
    "RELAY_TRIP",
    "address_request",
    "decode_point",
    "read_request",
    "relay_request",
    "reply_check",
    "reply_payload",
    "time_broadcast",
]

RELAY_TRIP = 0x1A
RELAY_CLOSE_ALLOWED = 0x1B
RELAY_CLOSE_DIRECT = 0x1C


def read_request(address: bytes, di: int) -> bytes:
    """Read data (C 11) of one identifier or block."""
    return encode_frame(address, Control.READ, di_bytes(di))


def address_request() -> bytes:
    """Read the address (C 13) of the one meter on the line (to AAAAAAAAAAAA)."""
    return encode_frame(WILDCARD, Control.READ_ADDRESS)


def time_broadcast(when: dt.datetime) -> bytes:
    """Broadcast time (C 08, to 999999999999): ss mm hh DD MM YY, least significant first."""
    fields = (when.second, when.minute, when.hour, when.day, when.month, when.year % 100)
    return encode_frame(
        BROADCAST, Control.BROADCAST_TIME, b"".join(bcd_encode(f, 1) for f in fields)
    )


def relay_request(address: bytes, relay: RelaySpec, on: bool, now: float) -> bytes:
    """Relay control (C 1C): PA P0–P2 (level and password), C0–C3 (operator), N1 (1A trip,
    1B close allowed, 1C close), N2 reserved, N3–N8 validity deadline (ss mm hh DD MM YY)."""
    if relay.password is None:
        raise ValueError("no relay password configured")
    if on:
        command = RELAY_CLOSE_DIRECT if relay.close is CloseCommand.DIRECT else RELAY_CLOSE_ALLOWED
    else:
        command = RELAY_TRIP
    try:
        password = bcd_encode(int(relay.password), 3)
        operator = bytes.fromhex(relay.operator)[::-1]
    except (ValueError, BcdError) as err:
        raise ValueError(f"relay password or operator code: {err}") from None
    if len(operator) != 4:
        raise ValueError("the operator code is 8 hex digits")
    deadline = dt.datetime.fromtimestamp(now + relay.validity, zoneinfo.ZoneInfo(relay.timezone))
    fields = (
        deadline.second,
        deadline.minute,
        deadline.hour,
        deadline.day,
        deadline.month,
        deadline.year % 100,
    )
    data = (
        bytes((relay.password_level,))
        + password
        + operator
        + bytes((command, 0))
        + b"".join(bcd_encode(f, 1) for f in fields)
    )
    return encode_frame(address, Control.RELAY, data)


def reply_check(address: bytes, function: int, di: int | None = None) -> Check[Frame]:
    """Whether a frame answers a request of ``function`` (for identifier ``di``) to
    ``address``; a reply for another identifier is a late answer to an earlier request."""
    expected = di_bytes(di) if di is not None else None

    def check(frame: Frame) -> str | None:
        if address not in (WILDCARD, frame.address):
            return "address"
        if not frame.is_reply:
            return "echo"  # our own request, echoed by a half-duplex adapter
        if frame.function != function:
            return "stale"
        if expected is not None and not frame.is_error and frame.data[:4] != expected:
            return "stale"
        return None

    return check


def reply_payload(frame: Frame, di: int | None, *, link: str, device: str) -> bytes:
    """The data of a reply after its identifier; MeterErrorReply for an error frame."""
    if frame.is_error:
        word = frame.data[0] if frame.data else 0
        raise MeterErrorReply(word, function=frame.function, link=link, device=device)
    if di is None:
        return frame.data
    if frame.data[:4] != di_bytes(di):
        got = int.from_bytes(frame.data[:4], "little")
        raise BadFrame(
            f"reply for DI {got:08X}, asked {di:08X}", why="stale", link=link, device=device
        )
    return frame.data[4:]


def decode_point(point: PointSpec, payload: bytes, request_di: int) -> Reading:
    """The reading of ``point`` from the payload of a read of ``request_di``."""
    item = point.item
    at = 0 if request_di == point.di else block_offset(point.di) * item.length
    chunk = payload[at : at + item.length]
    if len(chunk) != item.length:
        return Reading(point.key, None, False)
    if item.encoding is Encoding.WORD:
        raw = int.from_bytes(chunk, "little")
    else:
        try:
            raw = bcd_decode(chunk, signed=item.signed)
        except BcdError:
            return Reading(point.key, None, False)
    if point.bit is not None:
        return Reading(point.key, bool(raw >> point.bit & 1) != point.invert, True)
    # scale first, divide last: 563 × 1000 / 10⁴ is 56.3, not 56.300000000000004
    value: float | int = (
        raw * point.scale / 10**item.decimals if item.decimals else raw * point.scale
    )
    valid = point.valid_range
    ok = math.isfinite(value) and (valid is None or valid[0] <= value <= valid[1])
    return Reading(point.key, value, ok)
