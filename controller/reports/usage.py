"""Consumption a report needs, fetched with the recorder's one consumption query.

Per period (the report's, then the baseline's) two kinds of query per metered quantity:
per meter over the counted days (``Period.MONTH`` buckets summed, up to a quarter per query) for
buildings, floors, rooms and circuits, and per day for the trend. Vacation days left out
by the settings split the period into runs of counted days, one query each, so nothing is
pro-rated: the figures are what the meters counted on the days that count.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from controller.calendar import SiteCalendar
from controller.recorder.query import ConsumptionQuery, ConsumptionSource, Period

from .places import HOT_CIRCUITS, Places
from .span import DateSpan, Scope

__all__ = ["KINDS", "MeterKey", "Usage", "counted_days", "fetch_usage"]

KINDS = {"active_energy": "electricity", "water_volume": "water"}
"""Consumption kinds a report reads, and what they become (water splits hot/cold by circuit)."""

MeterKey = tuple[str, str, str, str]
"""(device, parent, circuit, quantity) of one consumption counter."""


def quantity_of(kind: str, circuit: str) -> str:
    if KINDS[kind] == "electricity":
        return "electricity"
    return "hot_water" if circuit in HOT_CIRCUITS else "cold_water"


@dataclass(slots=True)
class Usage:
    """One period's consumption in one scope."""

    span: DateSpan
    days: list[dt.date]
    """The counted days (vacation days left out when the settings say so)."""
    meters: dict[MeterKey, float] = field(default_factory=lambda: defaultdict(float))
    daily: dict[tuple[dt.date, str], float] = field(default_factory=lambda: defaultdict(float))
    held_out: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    partial: bool = False
    queries: int = 0

    def total(self, quantity: str, places: Places, scope: Scope) -> float:
        return sum(
            amount
            for (device, parent, _, q), amount in self.meters.items()
            if q == quantity and places.counts_in_scope(device, parent, scope)
        )


def counted_days(span: DateSpan, calendar: SiteCalendar, exclude_vacation: bool) -> list[dt.date]:
    days = span.dates()
    if not exclude_vacation:
        return days
    return [d for d in days if calendar.day(d).vacation is None]


WINDOW_DAYS = 92
"""Days per per-meter query. Backends sum day and month queries inside the database
(``recorder.query.Window``), so a query returns one row per meter and month, not per hour:
a quarter at a time keeps rows and queries few even on a 10,000-room campus."""


def _runs(days: list[dt.date]) -> list[DateSpan]:
    """Consecutive days as spans of at most ``WINDOW_DAYS``."""
    runs: list[DateSpan] = []
    for day in days:
        if runs and runs[-1].last + dt.timedelta(days=1) == day and runs[-1].days < WINDOW_DAYS:
            runs[-1] = DateSpan(runs[-1].first, day)
        else:
            runs.append(DateSpan(day, day))
    return runs


async def fetch_usage(
    source: ConsumptionSource,
    *,
    places: Places,
    scope: Scope,
    span: DateSpan,
    days: list[dt.date],
    tz: zoneinfo.ZoneInfo,
    step: Callable[[], None] = lambda: None,
) -> Usage:
    """The period's per-meter totals and per-day scope totals over ``days``."""
    usage = Usage(span, days)
    counted = set(days)
    narrow: dict[str, str] = {} if scope.kind == "campus" else {"building": str(scope.building)}
    for kind in KINDS:
        for run in _runs(days):
            start, end = run.bounds(tz)
            rows = await source.consumption(
                ConsumptionQuery(
                    start,
                    end,
                    Period.MONTH,
                    ("device", "parent", "circuit"),
                    {"kind": kind, **narrow},
                )
            )
            usage.queries += 1
            for row in rows:
                device, parent, circuit = (value for _, value in row.group)
                quantity = quantity_of(kind, circuit)
                usage.meters[(device, parent, circuit, quantity)] += row.consumption
                usage.held_out[quantity] += row.held_out
                usage.partial |= row.partial
        step()
        start, end = span.bounds(tz)
        by_device = scope.kind in ("floor", "room")
        group = ("device" if by_device else "building", "parent", "circuit")
        rows = await source.consumption(
            ConsumptionQuery(start, end, Period.DAY, group, {"kind": kind, **narrow})
        )
        usage.queries += 1
        for row in rows:
            day = row.period_start.date()
            if day not in counted:
                continue
            place, parent, circuit = (value for _, value in row.group)
            if by_device:
                keep = places.counts_in_scope(place, parent, scope)
            elif scope.kind == "campus":
                keep = not parent
            else:
                owner = places.of(parent) if parent else None
                keep = owner is None or owner.building != place
            if keep:
                usage.daily[(day, quantity_of(kind, circuit))] += row.consumption
        step()
    return usage
