"""What the CJ/T 188 driver is told: frozen specs of meters and their points."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from .data import Field

__all__ = ["DeviceSpec", "DiOrder", "PointSpec"]


class DiOrder(StrEnum):
    """How identifiers go on the wire: ``901F`` as ``90 1F`` (2004 edition) or ``1F 90``
    (2018 edition). Replies are accepted in either order."""

    HIGH_FIRST = "901F"
    LOW_FIRST = "1F90"


@dataclass(frozen=True, slots=True, kw_only=True)
class PointSpec:
    """One field of the 901F reply; the ``valve`` point may be writable (open/closed)."""

    key: str
    field: Field
    scale: float = 1.0
    writable: bool = False
    valid_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.writable and self.field is not Field.VALVE:
            raise ValueError(f"point {self.key}: only the valve is writable")
        if self.scale == 0:
            raise ValueError(f"point {self.key}: scale must not be 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceSpec:
    device_id: str
    meter_type: int
    address: bytes
    points: tuple[PointSpec, ...]
    di_order: DiOrder = DiOrder.HIGH_FIRST
    scan_interval: float = 300.0
    fail_threshold: int = 3
    backoff_max: float = 1800.0
    retries: int = 1
    by_key: Mapping[str, PointSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.address) != 7:
            raise ValueError(f"device {self.device_id}: a CJ/T 188 address is 7 bytes")
        if not 0x10 <= self.meter_type <= 0x49:
            raise ValueError(f"device {self.device_id}: meter type {self.meter_type:02X}")
        if self.scan_interval <= 0:
            raise ValueError(f"device {self.device_id}: scan interval must be positive")
        by_key = {p.key: p for p in self.points}
        if len(by_key) != len(self.points):
            raise ValueError(f"device {self.device_id}: duplicate point keys")
        object.__setattr__(self, "by_key", by_key)
