"""Wire faults of emulated DL/T 645 and CJ/T 188 meters: the Modbus emulator's device faults
(no reply, error reply, malformed: short/crc/garbage, extra latency) plus the two a shared
meter bus adds: a reply from another address, and a reply to another request."""

from __future__ import annotations

from dataclasses import dataclass

from ..modbus.faults import DeviceFaults

__all__ = ["MeterFaults"]


@dataclass
class MeterFaults(DeviceFaults):
    wrong_address: bool = False
    stale: bool = False

    def clear(self) -> None:
        super().clear()
        self.wrong_address = False
        self.stale = False
