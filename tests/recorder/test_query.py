"""The consumption query: validation and periods in the campus's time zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from controller.recorder.query import ConsumptionQuery, HourlySum, Period, aggregate

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=TZ)


def test_a_query_needs_aware_times_known_tags_and_a_kind() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ConsumptionQuery(dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2))  # noqa: DTZ001
    with pytest.raises(ValueError, match="after start"):
        ConsumptionQuery(local(2026, 1, 2), local(2026, 1, 1), where={"kind": "active_energy"})
    with pytest.raises(ValueError, match="unknown tag"):
        ConsumptionQuery(local(2026, 1, 1), local(2026, 1, 2), group_by=("kind", "colour"))
    with pytest.raises(ValueError, match="kWh and m³"):
        ConsumptionQuery(local(2026, 1, 1), local(2026, 1, 2))
    query = ConsumptionQuery(
        local(2026, 1, 1), local(2026, 1, 2), where={"kind": "active_energy", "room": ["1", "2"]}
    )
    assert query.filters == (("kind", ("active_energy",)), ("room", ("1", "2")))


def test_days_and_months_are_local() -> None:
    query = ConsumptionQuery(
        local(2026, 1, 31), local(2026, 2, 2), Period.DAY, ("building",), {"kind": "active_energy"}
    )
    late = local(2026, 1, 31, 23).timestamp()  # 15:00 UTC: still 31 January in Shanghai
    early = local(2026, 2, 1, 0).timestamp()  # 16:00 UTC on 31 January
    sums = [
        HourlySum(late, ("dorm-1",), 1.0),
        HourlySum(early, ("dorm-1",), 2.0),
        HourlySum(early + 3600, ("dorm-1",), 0.1),
        HourlySum(early, ("dorm-2",), 0.2, 5.0),
    ]
    rows = aggregate(sums, query, TZ)
    assert [(r.period_start, r.tags, r.consumption, r.held_out) for r in rows] == [
        (local(2026, 1, 31), {"building": "dorm-1"}, 1.0, 0.0),
        (local(2026, 2, 1), {"building": "dorm-1"}, 2.1, 0.0),
        (local(2026, 2, 1), {"building": "dorm-2"}, 0.2, 5.0),
    ]
    monthly = ConsumptionQuery(
        local(2026, 1, 1), local(2026, 3, 1), Period.MONTH, (), {"kind": "active_energy"}
    )
    ungrouped = [HourlySum(s.hour, (), s.consumption, s.held_out) for s in sums]
    assert [(r.period_start, r.consumption) for r in aggregate(ungrouped, monthly, TZ)] == [
        (local(2026, 1, 1), 1.0),
        (local(2026, 2, 1), 2.3),
    ]
