"""Block-read planning: merge a device's points into as few requests as its limits allow.

Planned once per device at start-up. Points of one table are sorted by address and merged
while the hole between them is at most ``max_gap`` registers and the block stays within
``max_registers`` (``max_bits`` for coils and discrete inputs). Each block carries its
compiled decoder (words → readings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .decode import BlockDecoder, compile_block
from .spec import DeviceSpec, PointSpec, Table

__all__ = ["ReadBlock", "plan_reads"]

MAX_REGISTERS = 125
MAX_BITS = 2000


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: ``count`` registers (or bits) of ``table`` from ``start``."""

    table: Table
    start: int
    count: int
    points: tuple[PointSpec, ...]
    decode: BlockDecoder

    @property
    def end(self) -> int:
        return self.start + self.count - 1


def _block(table: Table, points: Sequence[PointSpec]) -> ReadBlock:
    start = min(p.address for p in points)
    end = max(p.end for p in points)
    return ReadBlock(
        table=table,
        start=start,
        count=end - start + 1,
        points=tuple(points),
        decode=compile_block([(p, p.address - start) for p in points], bits=table.is_bits),
    )


def plan_reads(device: DeviceSpec) -> tuple[ReadBlock, ...]:
    """The device's read blocks, ordered by table then address."""
    blocks: list[ReadBlock] = []
    for table in Table:
        points = sorted((p for p in device.points if p.table is table), key=lambda p: p.address)
        limit = min(
            device.max_bits if table.is_bits else device.max_registers,
            MAX_BITS if table.is_bits else MAX_REGISTERS,
        )
        current: list[PointSpec] = []
        start = end = 0
        for point in points:
            fits = (
                current
                and point.address - end - 1 <= device.max_gap
                and max(end, point.end) - start + 1 <= limit
            )
            if fits:
                current.append(point)
                end = max(end, point.end)
                continue
            if current:
                blocks.append(_block(table, current))
            current, start, end = [point], point.address, point.end
        if current:
            blocks.append(_block(table, current))
    return tuple(blocks)
