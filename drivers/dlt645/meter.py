"""One DL/T 645 meter as the frame poller drives it: its read requests (one per identifier
or block, built once) and its relay, commanded and confirmed by reading the run-status word.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..link.errors import WriteNotConfirmed, WriteRefused
from ..link.frames import FrameLink
from ..link.gate import Priority
from ..link.meters import Request, SpecFigures
from ..link.readings import Reading, Value
from .errors import EsamRequired
from .frame import Control, Frame, address_text
from .protocol import decode_point, read_request, relay_request, reply_check, reply_payload
from .spec import DeviceSpec, PointSpec, RelayMode

__all__ = ["Dlt645Meter", "wants_on"]

_ON_WORDS = frozenset({"on", "closed", "close", "true", "1"})
_OFF_WORDS = frozenset({"off", "open", "trip", "false", "0"})


def wants_on(value: Value) -> bool | None:
    """A relay command as on (supply) / off, or None if ``value`` is not one."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value) if value in (0, 1) else None
    if isinstance(value, str):
        word = value.lower()
        return True if word in _ON_WORDS else False if word in _OFF_WORDS else None
    return None


class Dlt645Meter(SpecFigures):
    """A meter of ``spec`` on ``link_id``; satisfies ``drivers.link.meters.Meter``."""

    spec: DeviceSpec

    def __init__(self, spec: DeviceSpec, link_id: str) -> None:
        self.spec = spec
        self.link_id = link_id
        self.where = f"address {address_text(spec.address)}"
        self.requests: Sequence[Request[Frame]] = tuple(
            self._request(di, points) for di, points in spec.requests
        )

    def _request(self, di: int, points: tuple[PointSpec, ...]) -> Request[Frame]:
        link, device = self.link_id, self.spec.device_id

        def decode(frame: Frame) -> list[Reading]:
            payload = reply_payload(frame, di, link=link, device=device)
            return [decode_point(p, payload, di) for p in points]

        check = reply_check(self.spec.address, Control.READ, di)
        return Request(f"DI {di:08X}", read_request(self.spec.address, di), check, decode)

    async def write(
        self, link: FrameLink[Frame], key: str, value: Value, now: float
    ) -> tuple[Value, list[Reading]]:
        spec = self.spec
        point = spec.by_key.get(key)
        if point is None:
            raise WriteRefused(spec.device_id, key, value, "the profile has no such point")
        if not point.relay:
            raise WriteRefused(spec.device_id, key, value, "only the relay point is writable")
        on = wants_on(value)
        if on is None:
            raise WriteRefused(spec.device_id, key, value, "a relay takes on/off")
        relay = spec.relay
        if relay is None or relay.mode is RelayMode.ESAM:
            raise EsamRequired(spec.device_id)
        try:
            frame = relay_request(spec.address, relay, on, now)
        except ValueError as err:
            raise WriteRefused(spec.device_id, key, value, str(err)) from None
        reply = await link.request(
            spec.device_id, frame, reply_check(spec.address, Control.RELAY), Priority.WRITE
        )
        reply_payload(reply, None, link=self.link_id, device=spec.device_id)
        check = reply_check(spec.address, Control.READ, point.di)
        back = await link.request(
            spec.device_id, read_request(spec.address, point.di), check, Priority.WRITE
        )
        reading = decode_point(
            point, reply_payload(back, point.di, link=self.link_id, device=spec.device_id), point.di
        )
        if not reading.ok or reading.value is not on:
            raise WriteNotConfirmed(spec.device_id, key, on, reading.value)
        return reading.value, [reading]
