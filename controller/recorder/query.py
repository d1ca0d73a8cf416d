"""The one consumption query reports use, whichever backend answers it.

A query asks for consumption summed per group (any of the recorder's tags: building, floor,
room, circuit, kind, ...) per period (hour, day or month in the campus's time zone). Every
backend returns sums per group and *hour*; ``aggregate`` turns those into periods the same way
for all of them and rounds to 1e-6, so InfluxDB and SQLite give identical numbers.

For day and month queries the backends sum inside the database instead, per :class:`Window`
(one UTC offset each, so a local day is ``(hour + offset) // 86400``), and return
:class:`PeriodSum` rows that ``aggregate`` folds the same way: per-meter queries over a semester
fold days, not hours.
"""

from __future__ import annotations

import datetime as dt
import itertools
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
    "PeriodSum",
    "Window",
    "aggregate",
    "period_start",
    "windows",
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


MAX_SPAN = dt.timedelta(days=100 * 366)
"""The longest [start, end) a consumption query may cover: a century, far beyond retention."""


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
        if self.end - self.start > MAX_SPAN:
            # splitting a span into windows samples the zone's offset daily: a typo'd year
            # 8388 would keep a query (and the API worker) busy for minutes
            raise ValueError(f"start to end spans more than {MAX_SPAN.days // 366} years")
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
class PeriodSum:
    """What a backend returns for day and month queries: one group's consumption summed over
    the hours of one :class:`Window` bucket (``day``: the local date the bucket starts on).

    Summing inside the database makes Python fold days (or months), not hours: a semester of
    hourly rows per meter is 24× (or 720×) more rows than the report needs.
    """

    day: dt.date
    group: tuple[str, ...]
    consumption: float
    held_out: float = 0.0
    partial: bool = False


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch of a query the backend sums in one statement, at one UTC offset.

    ``daily``: one bucket per local day, keyed ``(hour + shift) // 86400`` (days since
    1970-01-01 in local time, exact because the offset is constant inside the window); else the
    whole window is one bucket, starting on local date ``first``.
    """

    start: int
    end: int
    shift: int
    daily: bool
    first: dt.date

    def day_of(self, key: int) -> dt.date:
        return _EPOCH + dt.timedelta(days=key)


_EPOCH = dt.date(1970, 1, 1)


def _offset(ts: float, tz: zoneinfo.ZoneInfo) -> int:
    offset = dt.datetime.fromtimestamp(ts, tz).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def _changes(start: int, end: int, tz: zoneinfo.ZoneInfo) -> list[int]:
    """The instants in (start, end) where the zone's UTC offset changes (DST, law changes).

    Offsets are sampled daily and each change is bisected to the second, so no zone is assumed
    to change on the hour.
    """
    out: list[int] = []
    t = start
    while t < end:
        step = min(t + 86400, end)
        if _offset(step - 1, tz) != _offset(t, tz):
            lo, hi = t, step - 1  # offset(lo) differs from offset(hi)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset(mid, tz) == _offset(lo, tz):
                    lo = mid
                else:
                    hi = mid
            out.append(hi)
            t = hi
            continue
        t = step
    return out


def windows(query: ConsumptionQuery, tz: zoneinfo.ZoneInfo) -> list[Window]:
    """How a backend sums a day or month query: split at offset changes (and, for months, at
    local month starts), so each window has one UTC offset and local days are plain arithmetic."""
    if query.period is Period.HOUR:
        raise ValueError("hourly queries are not summed in windows")
    start, end = int(query.start_ts), int(query.end_ts)
    cuts = set(_changes(start, end, tz))
    if query.period is Period.MONTH:
        month = period_start(start, Period.MONTH, tz)
        while True:
            month = (month + dt.timedelta(days=32)).replace(day=1)
            ts = int(month.timestamp())
            if ts >= end:
                break
            cuts.add(ts)
    bounds = [start, *sorted(cuts), end]
    return [
        Window(
            a,
            b,
            _offset(a, tz),
            query.period is Period.DAY,
            dt.datetime.fromtimestamp(a, tz).date(),
        )
        for a, b in itertools.pairwise(bounds)
    ]


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
    sums: Iterable[HourlySum | PeriodSum], query: ConsumptionQuery, tz: zoneinfo.ZoneInfo
) -> list[ConsumptionRow]:
    """Sum hourly (or daily) group sums into the query's periods, in a fixed order, rounded
    to 1e-6."""
    totals: dict[tuple[dt.datetime, tuple[str, ...]], list[float]] = {}
    for item in sorted(sums, key=_order):
        key = (_start_of(item, query.period, tz), item.group)
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


def _order(item: HourlySum | PeriodSum) -> tuple[tuple[str, ...], float]:
    if isinstance(item, HourlySum):
        return item.group, item.hour
    return item.group, float(item.day.toordinal())


def _start_of(item: HourlySum | PeriodSum, period: Period, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    if isinstance(item, HourlySum):
        return period_start(item.hour, period, tz)
    day = item.day if period is Period.DAY else item.day.replace(day=1)
    return dt.datetime.combine(day, dt.time(), tz)
