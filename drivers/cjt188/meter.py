"""One CJ/T 188 meter as the frame poller drives it: one 901F read per poll, and its valve,
commanded (C 04, DI A017) and confirmed by reading the status bits back."""

from __future__ import annotations

from collections.abc import Sequence

from ..link.errors import WriteNotConfirmed, WriteRefused
from ..link.frames import FrameLink
from ..link.gate import Priority
from ..link.meters import Request, SpecFigures
from ..link.readings import Reading, Value
from .data import Field
from .frame import Control, Frame, address_text
from .protocol import (
    DI_CURRENT,
    DI_VALVE,
    READ_SER,
    WRITE_SER,
    decode_points,
    read_request,
    reply_check,
    reply_payload,
    valve_request,
)
from .spec import DeviceSpec

__all__ = ["Cjt188Meter", "wants_open"]

_OPEN = frozenset({"open", "on", "true", "1"})
_CLOSED = frozenset({"closed", "close", "off", "false", "0"})


def wants_open(value: Value) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.lower()
        return True if word in _OPEN else False if word in _CLOSED else None
    return None


class Cjt188Meter(SpecFigures):
    """A meter of ``spec`` on ``link_id``; satisfies ``drivers.link.meters.Meter``."""

    spec: DeviceSpec

    def __init__(self, spec: DeviceSpec, link_id: str) -> None:
        self.spec = spec
        self.link_id = link_id
        self.where = f"type {spec.meter_type:02X} address {address_text(spec.address)}"
        self._check = reply_check(spec.meter_type, spec.address, Control.READ, DI_CURRENT, READ_SER)
        self.requests: Sequence[Request[Frame]] = (
            Request("DI 901F", read_request(spec), self._check, self._decode),
        )

    def _decode(self, frame: Frame) -> list[Reading]:
        payload = reply_payload(
            frame, DI_CURRENT, READ_SER, link=self.link_id, device=self.spec.device_id
        )
        return decode_points(self.spec, self.spec.points, payload)

    async def write(
        self, link: FrameLink[Frame], key: str, value: Value, now: float
    ) -> tuple[Value, list[Reading]]:
        spec = self.spec
        point = spec.by_key.get(key)
        if point is None:
            raise WriteRefused(spec.device_id, key, value, "the profile has no such point")
        if not point.writable or point.field is not Field.VALVE:
            raise WriteRefused(spec.device_id, key, value, "only a valve point is writable")
        open_ = wants_open(value)
        if open_ is None:
            raise WriteRefused(spec.device_id, key, value, "a valve takes open/closed")
        check = reply_check(spec.meter_type, spec.address, Control.WRITE, DI_VALVE, WRITE_SER)
        reply = await link.request(
            spec.device_id, valve_request(spec, open_), check, Priority.WRITE
        )
        reply_payload(reply, DI_VALVE, WRITE_SER, link=self.link_id, device=spec.device_id)
        back = await link.request(spec.device_id, read_request(spec), self._check, Priority.WRITE)
        readings = self._decode(back)
        state = next(r for r in readings if r.key == key)
        wanted = "open" if open_ else "closed"
        if state.value != wanted:
            raise WriteNotConfirmed(spec.device_id, key, wanted, state.value)
        return state.value, readings
