"""Fault injection settings for emulated Modbus devices and gateways.

Tests and ``sanjie emulate`` flip these at run time; the server reads them per request, so a
fault starts and stops at once. Value-level faults (stuck values, counter reset, spikes) are
on ``BoundDevice`` (shared with the MQTT emulator); these are the wire-level ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["DeviceFaults", "GatewayFaults", "Malformed"]

Malformed = Literal["short", "crc", "garbage"]
"""``short``: a valid frame with one register too few; ``crc``: a corrupted checksum (RTU) or
length field (TCP); ``garbage``: random bytes."""


@dataclass
class DeviceFaults:
    """Per unit id. ``exception``: answer every request with this Modbus exception code."""

    no_reply: bool = False
    exception: int | None = None
    malformed: Malformed | None = None
    extra_latency: float = 0.0

    def clear(self) -> None:
        self.no_reply = False
        self.exception = None
        self.malformed = None
        self.extra_latency = 0.0


@dataclass
class GatewayFaults:
    """Per gateway. ``refuse``: accept TCP connections and drop them at once (gateway down).

    ``drop_every``: close the connection after every N requests (a flaky gateway).
    """

    refuse: bool = False
    drop_every: int | None = None

    def clear(self) -> None:
        self.refuse = False
        self.drop_every = None
