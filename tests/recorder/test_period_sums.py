"""Day and month queries summed inside SQLite and InfluxDB equal the fold of the hourly query.

Hours straddle local midnight in Shanghai (16:00 UTC), one meter has a partial hour and one a
held-out amount, and the windows split a query at a daylight-saving change where a zone has one.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.core.registry import EntityRegistry
from controller.recorder import History, HistoryConsumption, HourStat, InfluxV1Consumption
from controller.recorder.dbthread import DbThread
from controller.recorder.lineproto import LineFormatter
from controller.recorder.query import ConsumptionQuery, Period, windows
from tests.recorder.sites import make_site
from tests.servers import InfluxServer

pytestmark = pytest.mark.integration

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 1, 30, 20, tzinfo=TZ)  # 20:00 local, 12:00 UTC; crosses 1 February

QUERIES: list[tuple[Period, tuple[str, ...], dict[str, Any]]] = [
    (Period.DAY, ("device", "parent", "circuit"), {"kind": "active_energy"}),
    (Period.DAY, ("building",), {"kind": "active_energy", "level": "0"}),
    (Period.MONTH, ("device", "parent", "circuit"), {"kind": "active_energy"}),
    (Period.MONTH, (), {"kind": "active_energy"}),
]


def _hours(entities: list[str]) -> list[HourStat]:
    rng = random.Random(3)
    base = START.timestamp()
    out = []
    for h in range(60):  # 20:00 on 30 January to 08:00 on 2 February, local time
        for i, entity in enumerate(entities):
            held = 0.25 if (i == 1 and h == 5) else 0.0
            partial = i == 0 and h == 59
            out.append(
                HourStat(entity, base + h * 3600, round(rng.uniform(0, 2), 3), held, partial)
            )
    return out


async def test_summed_in_the_database_equals_the_hourly_fold(
    tmp_path: Path, influxdb: InfluxServer, unique_name: str
) -> None:
    site = make_site(tmp_path / "site", 6, buildings=2, main_meters=True)
    formatter = LineFormatter(EntityRegistry.from_site(site))
    entities = sorted(e for e in formatter.keys if e.endswith(".energy"))
    hours = _hours(entities)
    history = History(tmp_path / "history.sqlite3", formatter.keys)
    history.commit(hours=hours)
    history.close()
    influxdb.query(f'CREATE DATABASE "{unique_name}"')
    lines = [
        formatter.consumption(h.entity_id, h.hour, h.consumption, h.held_out, h.partial)
        for h in hours
    ]
    async with httpx.AsyncClient() as client:
        reply = await client.post(
            f"{influxdb.url}/write",
            params={"db": unique_name, "precision": "ms"},
            content="\n".join(line for line in lines if line).encode(),
        )
        reply.raise_for_status()
    begin, end = START - dt.timedelta(hours=3), START + dt.timedelta(hours=61)
    async with HistoryConsumption.open(tmp_path / "history.sqlite3", TZ) as sqlite:
        db = DbThread("fold")
        try:
            hist = await db.call(History, tmp_path / "history.sqlite3", {})
            fold = HistoryConsumption(hist, db, TZ, hourly_fold=True)
            async with (
                InfluxV1Consumption(influxdb.url, unique_name, TZ) as influx,
                InfluxV1Consumption(influxdb.url, unique_name, TZ, hourly_fold=True) as ifold,
            ):
                for period, group_by, where in QUERIES:
                    query = ConsumptionQuery(begin, end, period, group_by, where)
                    expected = await fold.consumption(query)
                    assert expected, query
                    assert await sqlite.consumption(query) == expected, query
                    assert await influx.consumption(query) == expected, query
                    assert await ifold.consumption(query) == expected, query
            await db.call(hist.close)
        finally:
            db.close()
    days = {r.period_start for r in expected}
    assert days == {dt.datetime(2026, 1, 1, tzinfo=TZ), dt.datetime(2026, 2, 1, tzinfo=TZ)}
    daily = await _daily_rows(tmp_path, begin, end)
    assert [r.period_start.day for r in daily] == [30, 31, 1, 2]
    assert [r.partial for r in daily] == [False, False, False, True]
    assert [r.held_out for r in daily] == [0.0, 0.25, 0.0, 0.0]


async def _daily_rows(tmp_path: Path, begin: dt.datetime, end: dt.datetime) -> list[Any]:
    async with HistoryConsumption.open(tmp_path / "history.sqlite3", TZ) as sqlite:
        return await sqlite.consumption(
            ConsumptionQuery(begin, end, Period.DAY, (), {"kind": "active_energy"})
        )


def test_windows_split_at_a_daylight_saving_change_and_at_month_starts() -> None:
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    start = dt.datetime(2026, 3, 28, tzinfo=berlin)
    query = ConsumptionQuery(
        start, start + dt.timedelta(days=6), Period.MONTH, (), {"kind": "active_energy"}
    )
    split = windows(query, berlin)
    change = dt.datetime(2026, 3, 29, 1, tzinfo=dt.UTC).timestamp()  # 02:00 CET becomes 03:00
    april = dt.datetime(2026, 4, 1, tzinfo=berlin).timestamp()
    assert [(w.start, w.shift, w.first.isoformat()) for w in split] == [
        (int(start.timestamp()), 3600, "2026-03-28"),
        (int(change), 7200, "2026-03-29"),
        (int(april), 7200, "2026-04-01"),
    ]
    daily = windows(
        ConsumptionQuery(start, start + dt.timedelta(days=3), Period.DAY, (), {"kind": "x"}),
        berlin,
    )
    assert [w.shift for w in daily] == [3600, 7200]
    assert all(w.daily for w in daily)
    # local midnight on 30 March (CEST) is day 30 March by the window's arithmetic
    midnight = int(dt.datetime(2026, 3, 30, tzinfo=berlin).timestamp())
    assert daily[1].day_of((midnight + daily[1].shift) // 86400) == dt.date(2026, 3, 30)
