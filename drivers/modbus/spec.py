"""What the Modbus driver is told: frozen specs of links, devices and points.

The controller's glue (``controller.integrations.modbus``) builds these from a site and its
profiles; the driver never sees pydantic models. Addresses are 0-based wire addresses; tables,
data types and word orders are the wire's own vocabulary (``wire.modbus``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from wire.modbus import REGISTER_COUNT, DataType, Table, WordOrder

__all__ = [
    "DeviceSpec",
    "LinkSpec",
    "PointSpec",
    "Transport",
]


class Transport(StrEnum):
    TCP = "tcp"
    """Modbus TCP (MBAP framing) to a gateway or device."""
    RTU_OVER_TCP = "rtu_over_tcp"
    """RTU frames with CRC through a transparent RS-485-to-Ethernet gateway."""
    SERIAL = "serial"
    """RTU on a local serial port (RS-485 adapter)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSpec:
    """One bus: a TCP gateway or a serial port. Timeouts and gaps are wall-clock seconds."""

    link_id: str
    transport: Transport
    host: str = ""
    port: int = 502
    serial_port: str = ""
    baudrate: int = 9600
    parity: str = "N"
    stopbits: int = 1
    bytesize: int = 8
    timeout: float = 1.0
    inter_frame_gap: float = 0.0
    reconnect_min: float = 0.5
    reconnect_max: float = 30.0

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError(f"link {self.link_id}: timeout must be positive")
        if self.transport is Transport.SERIAL and not self.serial_port:
            raise ValueError(f"link {self.link_id}: a serial link needs serial_port")
        if self.transport is not Transport.SERIAL and not self.host:
            raise ValueError(f"link {self.link_id}: a TCP link needs host")

    @property
    def where(self) -> str:
        if self.transport is Transport.SERIAL:
            return self.serial_port
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PointSpec:
    """One point. ``labels`` maps raw codes to enum words; ``write_range`` is in engineering
    units; ``valid_range`` bounds plausible readings (outside is bad quality). ``mask`` keeps
    only some bits of a 16-bit raw value; raw values in ``not_available`` read as no value."""

    key: str
    table: Table
    address: int
    dtype: DataType = DataType.UINT16
    order: WordOrder = WordOrder.ABCD
    scale: float = 1.0
    offset: float = 0.0
    bit: int | None = None
    labels: Mapping[int, str] | None = None
    writable: bool = False
    write_range: tuple[float, float] | None = None
    write_labels: frozenset[str] | None = None
    valid_range: tuple[float, float] | None = None
    mask: int | None = None
    not_available: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if self.table.is_bits != (self.dtype is DataType.BOOL):
            raise ValueError(f"point {self.key}: bool goes with coil/discrete tables only")
        if (self.dtype is DataType.BITFIELD) != (self.bit is not None):
            raise ValueError(f"point {self.key}: bitfield points (only) need a bit")
        if self.dtype is DataType.ENUM and not self.labels:
            raise ValueError(f"point {self.key}: enum points need labels")
        if self.scale == 0:
            raise ValueError(f"point {self.key}: scale must not be 0")

    @property
    def count(self) -> int:
        return REGISTER_COUNT[self.dtype]

    @property
    def end(self) -> int:
        """Last address the point occupies."""
        return self.address + self.count - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceSpec:
    """A device on a link: its unit id, points, scan interval and block-read limits.

    ``fail_threshold``: consecutive failed polls before the device is marked unavailable.
    ``backoff_max``: longest wait between probes of a dead device (seconds, clock time).
    """

    device_id: str
    unit_id: int
    points: tuple[PointSpec, ...]
    scan_interval: float = 60.0
    max_gap: int = 8
    max_registers: int = 100
    max_bits: int = 800
    fail_threshold: int = 3
    backoff_max: float = 300.0
    retries: int = 1
    by_key: Mapping[str, PointSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.unit_id <= 255:
            raise ValueError(f"device {self.device_id}: unit id {self.unit_id} out of range")
        if self.scan_interval <= 0:
            raise ValueError(f"device {self.device_id}: scan interval must be positive")
        if not 1 <= self.max_registers <= 125 or not 1 <= self.max_bits <= 2000:
            raise ValueError(f"device {self.device_id}: block limits are 125 registers/2000 bits")
        by_key = {p.key: p for p in self.points}
        if len(by_key) != len(self.points):
            raise ValueError(f"device {self.device_id}: duplicate point keys")
        object.__setattr__(self, "by_key", by_key)
