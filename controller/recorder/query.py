"""The one consumption query reports use, whichever backend answers it.

A query asks for consumption summed per group (any of the recorder's tags: building, floor,
room, circuit, kind, ...) per period (hour, day or month in the campus's time zone). Every
backend returns sums per group and *hour*; ``aggregate`` turns those into periods the same way
for all of them and rounds to 1e-6, so InfluxDB and SQLite give identical numbers.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

__all__ = [
    "GROUP_KEYS",
    "ConsumptionQuery",
    "ConsumptionRow",
    "ConsumptionSource",
    "HourlySum",
    "Period",
    "aggregate",
    "period_start",
]

GROUP_KEYS = (
    "campus",
    "building",
    "building_kind",
    "floor",
    "room",
    "area",
    "device",
    "profile",
    "circuit",
    "kind",
    "point",
    "level",
    "parent",
)
"""Tags a query may group or filter by (absent tags read as the empty string).

``level`` and ``parent`` place a consumption counter in the meter hierarchy
(``controller.config.hierarchy``): filter ``level=0`` for the top meters, which count every
unit once; a meter's children are those with ``parent=<its device id>``.
"""

DECIMALS = 6


class Period(StrEnum):
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


def _normalise(where: Mapping[str, str | Sequence[str]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    items = []
    for key, value in sorted(where.items()):
        values = (value,) if isinstance(value, str) else tuple(value)
        if not values:
            raise ValueError(f"filter {key!r} lists no values")
        items.append((key, values))
    return tuple(items)


@dataclass(frozen=True, slots=True)
class ConsumptionQuery:
    """Consumption in [start, end) summed per ``group_by`` per ``period``.

    ``where`` filters tags by equality (a sequence means any of those values). Summing kWh with
    m³ is meaningless, so ``kind`` must be filtered or grouped by. Filtering matters in other
    ways too: a building's main meter and its room meters both measure the building, so filter
    by ``level`` (``"0"``: the top meters) to count the same energy once.
    """

    start: dt.datetime
    end: dt.datetime
    period: Period = Period.DAY
    group_by: tuple[str, ...] = ("building",)
    where: Mapping[str, str | Sequence[str]] = field(
        default_factory=dict, hash=False, compare=False
    )
    filters: tuple[tuple[str, tuple[str, ...]], ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end must be timezone-aware datetimes")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        object.__setattr__(self, "period", Period(self.period))
        object.__setattr__(self, "group_by", tuple(self.group_by))
        unknown = [k for k in (*self.group_by, *self.where) if k not in GROUP_KEYS]
        if unknown:
            raise ValueError(f"unknown tag(s) {unknown}; use {', '.join(GROUP_KEYS)}")
        if len(set(self.group_by)) != len(self.group_by):
            raise ValueError("group_by lists a tag twice")
        if "kind" not in self.where and "kind" not in self.group_by:
            raise ValueError("filter or group by 'kind': kWh and m³ do not add up")
        object.__setattr__(self, "filters", _normalise(self.where))

    @property
    def start_ts(self) -> float:
        return self.start.timestamp()

    @property
    def end_ts(self) -> float:
        return self.end.timestamp()


@dataclass(frozen=True, slots=True)
class HourlySum:
    """What a backend returns: one group's consumption in one hour (``hour`` = its start)."""

    hour: float
    group: tuple[str, ...]
    consumption: float
    held_out: float = 0.0
    partial: bool = False
    """The hour is still running (or a meter has not reported its end yet)."""


@dataclass(frozen=True, slots=True)
class ConsumptionRow:
    """One group's consumption in one period. ``group`` pairs the group_by tags with values."""

    period_start: dt.datetime
    group: tuple[tuple[str, str], ...]
    consumption: float
    held_out: float = 0.0
    partial: bool = False
    """Some hour in the period is not complete yet: the figure will still grow."""

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.group)


class ConsumptionSource(Protocol):
    """Anything that answers the consumption query (SQLite history, InfluxDB)."""

    async def consumption(self, query: ConsumptionQuery) -> list[ConsumptionRow]:
        """Rows sorted by period, then group."""
        ...


def period_start(hour: float, period: Period, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    """The local start of the period an hour belongs to."""
    local = dt.datetime.fromtimestamp(hour, tz)
    if period is Period.HOUR:
        return local
    if period is Period.DAY:
        return local.replace(hour=0, minute=0, second=0, microsecond=0)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def aggregate(
    sums: Iterable[HourlySum], query: ConsumptionQuery, tz: zoneinfo.ZoneInfo
) -> list[ConsumptionRow]:
    """Sum hourly group sums into the query's periods, in a fixed order, rounded to 1e-6."""
    totals: dict[tuple[dt.datetime, tuple[str, ...]], list[float]] = {}
    for item in sorted(sums, key=lambda s: (s.group, s.hour)):
        key = (period_start(item.hour, query.period, tz), item.group)
        acc = totals.setdefault(key, [0.0, 0.0, 0.0])
        acc[0] += item.consumption
        acc[1] += item.held_out
        if item.partial:
            acc[2] = 1.0
    rows = [
        ConsumptionRow(
            start,
            tuple(zip(query.group_by, group, strict=True)),
            round(acc[0], DECIMALS) + 0.0,
            round(acc[1], DECIMALS) + 0.0,
            partial=acc[2] > 0,
        )
        for (start, group), acc in totals.items()
    ]
    rows.sort(key=lambda r: (r.period_start, r.group))
    return rows
