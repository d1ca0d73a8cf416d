"""Block-read planning: merge a device's points into as few requests as its limits allow.

Planned once per device at start-up. Points of one table are sorted by address and merged
while the hole between them is at most ``max_gap`` registers and the block stays within
``max_registers`` (``max_bits`` for coils and discrete inputs). Each block carries its
compiled decoder (words → readings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wire.modbus import Table

from .decode import BlockDecoder, compile_block
from .spec import DeviceSpec, PointSpec

__all__ = ["PlanCache", "ReadBlock", "plan_reads"]

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


PlanCache = dict[tuple[int, int, int, int], tuple[tuple[PointSpec, ...], tuple[ReadBlock, ...]]]
"""Plans by (id of a points tuple, limits); share one between the pollers of a controller."""


def plan_reads(device: DeviceSpec, cache: PlanCache | None = None) -> tuple[ReadBlock, ...]:
    """The device's read blocks, ordered by table then address.

    With a ``cache``, devices that share one ``points`` tuple (the glue passes the same tuple
    for every device of a profile) and the same limits share one plan: 10,000 meters then
    compile a handful of decoders.
    """
    if cache is None:
        return _plan(device)
    key = (id(device.points), device.max_gap, device.max_registers, device.max_bits)
    cached = cache.get(key)
    if cached is not None and cached[0] is device.points:
        return cached[1]
    blocks = _plan(device)
    cache[key] = (device.points, blocks)
    return blocks


def _plan(device: DeviceSpec) -> tuple[ReadBlock, ...]:
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
