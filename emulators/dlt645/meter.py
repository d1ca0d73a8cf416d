"""One emulated DL/T 645-2007 meter: answers reads by identifier (and block identifiers) from
its behaviour model, obeys relay commands given the right password, takes time broadcasts and
tells its address to a wildcard read, as a meter's firmware would.

Packing comes from the profile, or for standard identifiers from this module's own table
(written from DL/T 645-2007 Appendix A; not the driver's).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from controller.config import Point

from ..meterbus.bcd import from_bcd, to_bcd
from ..meterbus.faults import MeterFaults
from ..models import BoundDevice, CommandRejected, ModelClock
from .codec import Request, reply_frame

__all__ = ["EmulatedDlt645Meter"]

_LOGGER = logging.getLogger(__name__)
_ERR_OTHER, _ERR_NO_DATA, _ERR_PASSWORD = 0x01, 0x02, 0x04
_WILDCARD = b"\xaa" * 6
_BROADCAST = b"\x99" * 6


@dataclass(frozen=True, slots=True)
class _Packing:
    size: int
    decimals: int = 0
    signed: bool = False
    word: bool = False


def _standard(di: int) -> _Packing | None:
    if 0x04000501 <= di <= 0x04000507:
        return _Packing(2, word=True)
    singles = {
        0x02800001: _Packing(3, 3, True),
        0x02800002: _Packing(2, 2),
        0x02800008: _Packing(2, 2),
        0x00900100: _Packing(4, 2),
        0x00900200: _Packing(4, 2),
        0x00900201: _Packing(4, 2),
    }
    if di in singles:
        return singles[di]
    top, kind = di >> 24, (di >> 16) & 0xFF
    if top == 0x00 and kind <= 0x04:
        return _Packing(4, 2)
    variables = {
        0x01: _Packing(2, 1),
        0x02: _Packing(3, 3, True),
        0x03: _Packing(3, 4, True),
        0x04: _Packing(3, 4, True),
        0x05: _Packing(3, 4, True),
        0x06: _Packing(2, 3, True),
    }
    if top == 0x02 and kind in variables and di & 0xFF == 0:
        return variables[kind]
    return None


# Block identifiers (DI1 = FF): which DI1 values the block holds, per (DI3, DI2).
def _block_members(di: int) -> list[int] | None:
    top, kind = di >> 24, (di >> 16) & 0xFF
    if (di >> 8) & 0xFF != 0xFF:
        return None
    base = di & 0xFFFF00FF
    if top == 0x00 and kind <= 0x04:
        return [base | t << 8 for t in range(5)]  # total and tariffs 1–4
    if top == 0x02 and kind in (0x01, 0x02):
        return [base | p << 8 for p in (1, 2, 3)]  # phases A, B, C
    if top == 0x02 and 0x03 <= kind <= 0x06:
        return [base | p << 8 for p in range(4)]  # total, A, B, C
    return None


class EmulatedDlt645Meter:
    """A meter at ``address`` (6 bytes, low first), serving ``bound``'s profile and model.

    ``password``: the 6 digits relay commands must carry (None: every relay command is
    refused as unauthorised). ``esam``: the relay only obeys encrypted commands.
    """

    def __init__(
        self,
        address: bytes,
        bound: BoundDevice,
        clock: ModelClock,
        *,
        password: str | None,
        password_level: int = 2,
        esam: bool = False,
        refresh: float = 1.0,
    ) -> None:
        self.address = address
        self.bound = bound
        self.clock = clock
        self.refresh = refresh
        self.faults = MeterFaults()
        self.requests = 0
        self.rollover_offsets: dict[str, int] = {}
        self.relay_commands: list[int] = []
        self.clock_set: list[bytes] = []
        self._password = password
        self._level = password_level
        self._esam = esam
        self._points: dict[int, list[tuple[Point, _Packing]]] = {}
        for point in bound.profile.points:
            addr = point.dlt645
            if addr is None:
                continue
            packing = (
                _Packing(addr.length, addr.decimals, addr.signed, addr.encoding == "word")
                if addr.length is not None
                else _standard(addr.identifier)
            )
            if packing is None:
                _LOGGER.warning("%s: no packing for DI %s", self.device_id, addr.di)
                continue
            self._points.setdefault(addr.identifier, []).append((point, packing))
        self._values: dict[str, object] = {}
        self._built_at = float("-inf")

    @property
    def device_id(self) -> str:
        return self.bound.device_id

    # -- values ---------------------------------------------------------------------------
    def rebuild(self) -> None:
        self._values = dict(self.bound.read())
        self._built_at = self.clock.time()

    def rollover(self, margin: int = 3) -> list[str]:
        """Bring integer counters near their BCD maximum (999999.99 kWh), to wrap soon."""
        affected = []
        values = self.bound.read()
        for entries in self._points.values():
            for point, packing in entries:
                value = values.get(point.key)
                if not point.is_cumulative or not isinstance(value, int | float):
                    continue
                scale = point.dlt645.scale if point.dlt645 else 1.0
                top = 10 ** (2 * packing.size) - 1
                raw = round(float(value) / scale * 10**packing.decimals)
                self.rollover_offsets[point.key] = top - margin - raw
                affected.append(point.key)
        self._built_at = float("-inf")
        return affected

    def _encode(self, di: int) -> bytes | None:
        entries = self._points.get(di)
        if not entries:
            return None
        if self.clock.time() - self._built_at >= self.refresh:
            self.rebuild()
        packing = entries[0][1]
        if packing.word:
            word = 0
            for point, _ in entries:
                addr = point.dlt645
                if addr is not None and addr.bit is not None:
                    on = bool(self._values.get(point.key, False))
                    if on != addr.invert:
                        word |= 1 << addr.bit
            return word.to_bytes(packing.size, "little")
        point = entries[0][0]
        value = self._values.get(point.key, 0)
        scale = point.dlt645.scale if point.dlt645 else 1.0
        number = float(value) if isinstance(value, int | float) else 0.0
        raw = round(number / scale * 10**packing.decimals) + self.rollover_offsets.get(point.key, 0)
        if not packing.signed:
            raw %= 10 ** (2 * packing.size)  # a counter past 999999.99 wraps, as meters do
        return to_bcd(raw, packing.size, sign=packing.signed)

    # -- requests -------------------------------------------------------------------------
    def handle(self, request: Request) -> bytes | None:
        """The reply frame to a request addressed to this meter, or None (silence)."""
        self.requests += 1
        faults = self.faults
        function = request.control & 0x1F
        if request.address == _BROADCAST:
            if function == 0x08:
                self.clock_set.append(request.data)
            return None
        if faults.no_reply:
            return None
        if faults.exception is not None:
            return self._reply(function | 0xC0, bytes((faults.exception & 0xFF,)))
        return self._answer(function, request)

    def _answer(self, function: int, request: Request) -> bytes:
        if function == 0x11 and len(request.data) >= 4:
            return self._read(request.data)
        if function == 0x13:
            return self._reply(0x93, self.address)
        if function == 0x1C and len(request.data) >= 16:
            return self._relay(request.data)
        return self._reply(function | 0xC0, bytes((_ERR_OTHER,)))

    def _reply(self, control: int, data: bytes) -> bytes:
        address = self.address
        if self.faults.wrong_address:
            address = bytes((address[0] ^ 0x01,)) + address[1:]
        frame = reply_frame(address, control, data)
        how = self.faults.malformed
        if how == "short":
            return frame[:-3]
        if how == "crc":
            return frame[:-2] + bytes(((frame[-2] + 1) & 0xFF,)) + frame[-1:]
        if how == "garbage":
            return os.urandom(len(frame))
        return frame

    def _read(self, data: bytes) -> bytes:
        di = int.from_bytes(data[:4], "little")
        members = _block_members(di)
        if members is not None:
            chunks = []
            for member in members:
                packing = _standard(member)
                if packing is None:
                    break
                chunks.append(self._encode(member) or bytes(packing.size))
            payload = b"".join(chunks) if any(self._points.get(m) for m in members) else None
        else:
            payload = self._encode(di)
        if payload is None:
            return self._reply(0xD1, bytes((_ERR_NO_DATA,)))
        if self.faults.stale:
            di ^= 0x01000000  # the answer to some other identifier
        return self._reply(0x91, di.to_bytes(4, "little") + payload)

    def _relay(self, data: bytes) -> bytes:
        level, password, command = data[0], data[1:4], data[8]
        try:
            given = f"{from_bcd(password):06d}"
        except ValueError:
            given = ""
        if self._esam or self._password is None or level != self._level or given != self._password:
            return self._reply(0xDC, bytes((_ERR_PASSWORD,)))
        if command not in (0x1A, 0x1B, 0x1C):
            return self._reply(0xDC, bytes((_ERR_OTHER,)))
        relay = next(
            (
                p
                for entries in self._points.values()
                for p, _ in entries
                if p.dlt645 and p.dlt645.relay
            ),
            None,
        )
        if relay is None:
            return self._reply(0xDC, bytes((_ERR_OTHER,)))
        try:
            self.bound.write(relay.key, command != 0x1A)
        except CommandRejected:
            return self._reply(0xDC, bytes((_ERR_OTHER,)))
        self.relay_commands.append(command)
        self._built_at = float("-inf")
        return self._reply(0x9C, b"")
