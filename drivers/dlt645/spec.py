"""What the DL/T 645 driver is told: frozen specs of meters and their points.

The controller's glue (``controller.integrations.meters``) builds these from a site and its
profiles; the driver never sees pydantic models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from .items import Item, block_of, known_item

__all__ = ["CloseCommand", "DeviceSpec", "PointSpec", "RelayMode", "RelaySpec"]


class RelayMode(StrEnum):
    PLAIN = "plain"
    """Control code 1C with a plain password (level 02/04) and operator code."""
    ESAM = "esam"
    """The relay needs ESAM-encrypted commands (level 98): reported, never sent in plain."""


class CloseCommand(StrEnum):
    ALLOWED = "allowed"
    """1B: close allowed (the meter closes; some wait for a button press)."""
    DIRECT = "direct"
    """1C: close at once."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PointSpec:
    """One value read by data identifier. ``bit`` picks a bit of a status word (a bool,
    inverted by ``invert``); ``scale`` multiplies the decoded value (kW → W: 1000);
    ``relay`` marks the point whose writes switch the meter's relay (True = supply on)."""

    key: str
    di: int
    item: Item
    scale: float = 1.0
    bit: int | None = None
    invert: bool = False
    relay: bool = False
    valid_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.scale == 0:
            raise ValueError(f"point {self.key}: scale must not be 0")
        if self.bit is not None and not 0 <= self.bit < 8 * self.item.length:
            raise ValueError(f"point {self.key}: bit {self.bit} outside the item")
        if self.relay and self.bit is None:
            raise ValueError(f"point {self.key}: the relay point reads a status-word bit")

    @staticmethod
    def of(key: str, di: int, item: Item | None = None, **options: object) -> PointSpec:
        """A point whose packing comes from the standard table unless ``item`` is given."""
        packing = item or known_item(di)
        if packing is None:
            raise ValueError(
                f"point {key}: DI {di:08X} is not a standard identifier; give its length"
            )
        return PointSpec(key=key, di=di, item=packing, **options)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class RelaySpec:
    """How this meter's relay is commanded. ``password`` is 6 digits, ``operator`` 8 hex
    digits; both come from the site configuration (no defaults: a wrong password locks some
    meters out for the day)."""

    mode: RelayMode = RelayMode.PLAIN
    password: str | None = None
    password_level: int = 2
    operator: str = "00000000"
    close: CloseCommand = CloseCommand.DIRECT
    validity: float = 600.0
    timezone: str = "Asia/Shanghai"

    def __repr__(self) -> str:  # the password never reaches a log
        return f"RelaySpec(mode={self.mode}, level={self.password_level:02X}, close={self.close})"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceSpec:
    """A meter on a link: its 6-byte address, points and polling options.

    ``block_reads``: read a family of identifiers in one request (DI1 = FF) when two or more
    of its points are wanted; only for meters that answer block identifiers.
    """

    device_id: str
    address: bytes
    points: tuple[PointSpec, ...]
    scan_interval: float = 60.0
    fail_threshold: int = 3
    backoff_max: float = 300.0
    retries: int = 1
    block_reads: bool = False
    relay: RelaySpec | None = None
    by_key: Mapping[str, PointSpec] = field(init=False, repr=False, compare=False)
    requests: tuple[tuple[int, tuple[PointSpec, ...]], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if len(self.address) != 6:
            raise ValueError(f"device {self.device_id}: a DL/T 645 address is 6 bytes")
        if self.scan_interval <= 0:
            raise ValueError(f"device {self.device_id}: scan interval must be positive")
        by_key = {p.key: p for p in self.points}
        if len(by_key) != len(self.points):
            raise ValueError(f"device {self.device_id}: duplicate point keys")
        object.__setattr__(self, "by_key", by_key)
        object.__setattr__(self, "requests", self._plan())

    def _plan(self) -> tuple[tuple[int, tuple[PointSpec, ...]], ...]:
        """One request per identifier, or per block when block reads are on and pay off."""
        by_di: dict[int, list[PointSpec]] = {}
        for point in self.points:
            by_di.setdefault(point.di, []).append(point)
        if not self.block_reads:
            return tuple((di, tuple(points)) for di, points in by_di.items())
        blocks: dict[int, list[int]] = {}
        for di in by_di:
            blocks.setdefault(block_of(di) or di, []).append(di)
        plan: list[tuple[int, tuple[PointSpec, ...]]] = []
        for block, dis in blocks.items():
            if len(dis) > 1:
                plan.append((block, tuple(p for di in dis for p in by_di[di])))
            else:
                plan.extend((di, tuple(by_di[di])) for di in dis)
        return tuple(plan)
