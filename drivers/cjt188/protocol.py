"""CJ/T 188 requests and replies, without I/O: read current data (901F), valve control
(C 04, DI A017, 55 open / 99 close) and address discovery (C 03, DI 810A)."""

from __future__ import annotations

import math

from ..link.errors import BadFrame
from ..link.frames import Check
from ..link.readings import Reading
from .data import layout_of
from .errors import MeterErrorReply
from .frame import ANY_TYPE, WILDCARD, Control, Frame, encode_frame
from .spec import DeviceSpec, DiOrder, PointSpec

__all__ = [
    "DI_ADDRESS",
    "DI_CURRENT",
    "DI_VALVE",
    "VALVE_CLOSE",
    "VALVE_OPEN",
    "address_request",
    "decode_points",
    "read_request",
    "reply_check",
    "reply_payload",
    "valve_request",
]

DI_CURRENT = 0x901F
DI_VALVE = 0xA017
DI_ADDRESS = 0x810A
VALVE_OPEN = 0x55
VALVE_CLOSE = 0x99
READ_SER = 0x00
WRITE_SER = 0x01


def _di(di: int, order: DiOrder) -> bytes:
    return di.to_bytes(2, "big" if order is DiOrder.HIGH_FIRST else "little")


def read_request(spec: DeviceSpec) -> bytes:
    return encode_frame(
        spec.meter_type,
        spec.address,
        Control.READ,
        _di(DI_CURRENT, spec.di_order) + bytes((READ_SER,)),
    )


def valve_request(spec: DeviceSpec, open_: bool) -> bytes:
    data = _di(DI_VALVE, spec.di_order) + bytes((WRITE_SER, VALVE_OPEN if open_ else VALVE_CLOSE))
    return encode_frame(spec.meter_type, spec.address, Control.WRITE, data)


def address_request(meter_type: int = ANY_TYPE) -> bytes:
    return encode_frame(
        meter_type, WILDCARD, Control.READ_ADDRESS, _di(DI_ADDRESS, DiOrder.HIGH_FIRST) + b"\x00"
    )


def reply_check(
    meter_type: int, address: bytes, function: int, di: int | None = None, ser: int | None = None
) -> Check[Frame]:
    """Whether a frame answers a request of ``function`` (for ``di`` and ``ser``, either DI
    byte order) to the meter; another DI or SER is a late answer to an earlier request."""
    orders = (di.to_bytes(2, "big"), di.to_bytes(2, "little")) if di is not None else ()

    def check(frame: Frame) -> str | None:
        if address not in (WILDCARD, frame.address):
            return "address"
        if meter_type not in (ANY_TYPE, frame.meter_type):
            return "address"
        if not frame.is_reply:
            return "echo"
        if frame.function != function:
            return "stale"
        if orders and not frame.is_error and _other_request(frame.data, orders, ser):
            return "stale"
        return None

    return check


def _other_request(data: bytes, orders: tuple[bytes, ...], ser: int | None) -> bool:
    return data[:2] not in orders or (ser is not None and data[2:3] != bytes((ser,)))


def reply_payload(frame: Frame, di: int, ser: int, *, link: str, device: str) -> bytes:
    """The data after DI and SER; MeterErrorReply for an error frame; BadFrame (stale) for a
    reply to another identifier or sequence number. DI is accepted in either byte order."""
    if frame.is_error:
        st = frame.data[-2] | frame.data[-1] << 8 if len(frame.data) >= 2 else 0
        raise MeterErrorReply(st, function=frame.function, link=link, device=device)
    data = frame.data
    if len(data) < 3 or data[:2] not in (di.to_bytes(2, "big"), di.to_bytes(2, "little")):
        raise BadFrame(f"reply is not for DI {di:04X}", why="stale", link=link, device=device)
    if data[2] != ser:
        raise BadFrame(f"reply SER {data[2]} for {ser}", why="stale", link=link, device=device)
    return data[3:]


def decode_points(spec: DeviceSpec, points: tuple[PointSpec, ...], payload: bytes) -> list[Reading]:
    layout = layout_of(spec.meter_type)
    readings = []
    for point in points:
        value = layout.value(point.field, payload)
        if value is None:
            readings.append(Reading(point.key, None, False))
            continue
        if isinstance(value, float):
            value *= point.scale
            valid = point.valid_range
            ok = math.isfinite(value) and (valid is None or valid[0] <= value <= valid[1])
            readings.append(Reading(point.key, value, ok))
        else:
            readings.append(Reading(point.key, value, True))  # "abnormal" is a valve state
    return readings
