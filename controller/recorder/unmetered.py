"""Unmetered remainder: what a parent meter counted beyond the sum of its child meters.

Line losses, a circuit nobody sub-metered, or theft: campuses watch this figure. It is computed
from two runs of the one consumption query (``query``), so every backend gives the same answer:
the children summed per ``parent`` tag, and the parents themselves per ``device`` tag.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .query import DECIMALS, ConsumptionQuery, ConsumptionSource, Period

__all__ = ["RemainderRow", "unmetered"]


@dataclass(frozen=True, slots=True)
class RemainderRow:
    """One parent meter in one period: its own figure, its children's sum, the difference."""

    period_start: dt.datetime
    building: str
    device: str
    metered: float
    children: float
    unmetered: float
    partial: bool = False

    @property
    def share(self) -> float | None:
        """The unmetered part as a fraction of the parent's figure (None when it read 0)."""
        return round(self.unmetered / self.metered, 4) if self.metered else None


async def unmetered(
    source: ConsumptionSource,
    start: dt.datetime,
    end: dt.datetime,
    kind: str,
    *,
    period: Period = Period.DAY,
    where: Mapping[str, str | Sequence[str]] | None = None,
) -> list[RemainderRow]:
    """Per parent meter of ``kind`` and period: parent − Σ children (negative means the
    children counted more than their parent: a wrong parent link or a meter fault)."""
    base = {k: v for k, v in (where or {}).items() if k not in ("kind", "device", "parent")}
    children = await source.consumption(
        ConsumptionQuery(start, end, period, ("parent",), {**base, "kind": kind})
    )
    sums: dict[tuple[dt.datetime, str], tuple[float, bool]] = {}
    for row in children:
        parent = row.tags["parent"]
        if parent:
            sums[(row.period_start, parent)] = (row.consumption, row.partial)
    parents = sorted({parent for _, parent in sums})
    if not parents:
        return []
    own = await source.consumption(
        ConsumptionQuery(
            start,
            end,
            period,
            ("building", "device"),
            {**base, "kind": kind, "device": parents},
        )
    )
    out = []
    for row in own:
        tags = row.tags
        child_sum, child_partial = sums.get((row.period_start, tags["device"]), (0.0, False))
        out.append(
            RemainderRow(
                row.period_start,
                tags["building"],
                tags["device"],
                row.consumption,
                child_sum,
                round(row.consumption - child_sum, DECIMALS) + 0.0,
                row.partial or child_partial,
            )
        )
    return out
