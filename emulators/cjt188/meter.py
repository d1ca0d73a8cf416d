"""One emulated CJ/T 188 water, hot-water or heat meter: answers 901F from its behaviour
model (in m³ and kWh with their unit codes), moves its valve on A017 and tells its address to a
wildcard read, as the firmware of such a meter would."""

from __future__ import annotations

import datetime as dt
import os

from ..meterbus.bcd import to_bcd
from ..meterbus.faults import MeterFaults
from ..models import BoundDevice, CommandRejected, ModelClock
from .codec import Request, reply_frame

__all__ = ["EmulatedCjt188Meter"]

_M3, _KWH, _KW, _M3H = 0x2C, 0x05, 0x17, 0x35
_WILDCARD = b"\xaa" * 7


class EmulatedCjt188Meter:
    """A meter of ``meter_type`` at ``address`` (7 bytes, low first)."""

    def __init__(
        self,
        meter_type: int,
        address: bytes,
        bound: BoundDevice,
        clock: ModelClock,
        *,
        refresh: float = 1.0,
    ) -> None:
        self.meter_type = meter_type
        self.address = address
        self.bound = bound
        self.clock = clock
        self.refresh = refresh
        self.faults = MeterFaults()
        self.requests = 0
        self.rollover_offsets: dict[str, int] = {}
        self.valve_commands: list[int] = []
        self._fields: dict[str, str] = {
            p.cjt188.field: p.key for p in bound.profile.points if p.cjt188
        }
        self._values: dict[str, object] = {}
        self._built_at = float("-inf")

    @property
    def device_id(self) -> str:
        return self.bound.device_id

    def rebuild(self) -> None:
        self._values = dict(self.bound.read())
        self._built_at = self.clock.time()

    def rollover(self, margin: int = 3) -> list[str]:
        """Bring the totals near 999999.99, to wrap soon."""
        affected = []
        for field in ("total", "heat", "volume"):
            key = self._fields.get(field)
            value = self.bound.read().get(key or "")
            if key is not None and isinstance(value, int | float):
                self.rollover_offsets[key] = 99999999 - margin - round(float(value) * 100)
                affected.append(key)
        self._built_at = float("-inf")
        return affected

    def _number(self, field: str, decimals: int) -> int:
        key = self._fields.get(field)
        value = self._values.get(key or "", 0)
        number = float(value) if isinstance(value, int | float) else 0.0
        raw = round(number * 10**decimals) + self.rollover_offsets.get(key or "", 0)
        return int(raw % 100000000)

    def _status(self) -> bytes:
        valve = self._values.get(self._fields.get("valve", ""), "open")
        st = {"open": 0b00, "closed": 0b01}.get(str(valve), 0b11)
        if self._values.get(self._fields.get("battery_low", ""), False):
            st |= 0b100
        return bytes((st, 0x00))

    def _clock(self) -> bytes:
        now = dt.datetime.fromtimestamp(self.clock.time(), dt.UTC)
        parts = (now.second, now.minute, now.hour, now.day, now.month, now.year % 100)
        return b"".join(to_bcd(p, 1) for p in parts) + to_bcd(now.year // 100, 1)

    def _current(self) -> bytes:
        if self.clock.time() - self._built_at >= self.refresh:
            self.rebuild()
        if 0x20 <= self.meter_type <= 0x29:
            body = (
                to_bcd(self._number("heat", 2), 4)  # the settlement-day heat: today's
                + bytes((_KWH,))
                + to_bcd(self._number("heat", 2), 4)
                + bytes((_KWH,))
                + to_bcd(self._number("heat_power", 2), 4)
                + bytes((_KW,))
                + to_bcd(self._number("flow", 4), 4)
                + bytes((_M3H,))
                + to_bcd(self._number("volume", 2), 4)
                + bytes((_M3,))
                + to_bcd(self._number("supply_temperature", 2), 3)
                + to_bcd(self._number("return_temperature", 2), 3)
                + to_bcd(int(self.clock.time() // 3600) % 1000000, 3)
            )
        else:
            total = to_bcd(self._number("total", 2), 4) + bytes((_M3,))
            body = total + total
        return body + self._clock() + self._status()

    # -- requests -------------------------------------------------------------------------
    def handle(self, request: Request) -> bytes | None:
        """The reply to a request addressed to this meter, or None (silence)."""
        self.requests += 1
        faults = self.faults
        if faults.no_reply:
            return None
        function = request.control & 0x3F
        if faults.exception is not None:
            return self._reply(
                function | 0xC0, bytes((0x00,)) + self._status_word(faults.exception)
            )
        return self._answer(function, request.data)

    def _answer(self, function: int, data: bytes) -> bytes:
        faults = self.faults
        if len(data) < 3:
            return self._reply(function | 0xC0, b"\x00\x00\x00")
        di, ser = data[:2], data[2]
        if function == 0x01 and di in (b"\x90\x1f", b"\x1f\x90"):
            if faults.stale:
                ser ^= 0x55
            return self._reply(0x81, di + bytes((ser,)) + self._current())
        if function == 0x03 and di in (b"\x81\x0a", b"\x0a\x81"):
            return self._reply(0x83, di + bytes((ser,)) + self.address)
        if function == 0x04 and di in (b"\xa0\x17", b"\x17\xa0") and len(data) >= 4:
            return self._valve(di, ser, data[3])
        return self._reply(function | 0xC0, bytes((ser,)) + self._status())

    @staticmethod
    def _status_word(code: int) -> bytes:
        return bytes((code & 0xFF, 0x00))

    def _valve(self, di: bytes, ser: int, command: int) -> bytes:
        key = self._fields.get("valve")
        if key is None or command not in (0x55, 0x99):
            return self._reply(0xC4, bytes((ser,)) + self._status())
        try:
            self.bound.write(key, "open" if command == 0x55 else "closed")
        except CommandRejected:
            return self._reply(0xC4, bytes((ser,)) + self._status())
        self.valve_commands.append(command)
        self.rebuild()
        return self._reply(0x84, di + bytes((ser,)) + self._status())

    def _reply(self, control: int, data: bytes) -> bytes:
        address = self.address
        if self.faults.wrong_address:
            address = bytes((address[0] ^ 0x01,)) + address[1:]
        frame = reply_frame(self.meter_type, address, control, data)
        how = self.faults.malformed
        if how == "short":
            return frame[:-3]
        if how == "crc":
            return frame[:-2] + bytes(((frame[-2] + 1) & 0xFF,)) + frame[-1:]
        if how == "garbage":
            return os.urandom(len(frame))
        return frame
