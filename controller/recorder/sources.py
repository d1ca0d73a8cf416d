"""Backends that answer the consumption query: the embedded history and InfluxDB 1.x.

Hourly queries come back as hourly sums per group; day and month queries are summed inside the
database per ``query.Window`` (``hourly_fold=True`` restores the old hourly path, kept so the
benchmark can show the difference). Periods and rounding are left to ``query.aggregate``. The
InfluxDB 2.x query language (Flux) is not implemented: with a v2 sink the recorder still keeps
hourly statistics in the embedded history, which answers the query.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from .dbthread import DbThread
from .errors import QueryError
from .history import History, StoredReading
from .lineproto import CONSUMPTION_MEASUREMENT, to_ms
from .query import (
    ConsumptionQuery,
    ConsumptionRow,
    HourlySum,
    Period,
    PeriodSum,
    Window,
    aggregate,
    windows,
)

__all__ = ["HistoryConsumption", "InfluxV1Consumption"]


class HistoryConsumption:
    """The consumption query answered from the SQLite history, on the history's own thread."""

    def __init__(
        self, history: History, db: DbThread, tz: zoneinfo.ZoneInfo, *, hourly_fold: bool = False
    ) -> None:
        self._history = history
        self._db = db
        self.tz = tz
        self.hourly_fold = hourly_fold

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, path: Path | str, tz: zoneinfo.ZoneInfo
    ) -> AsyncIterator[HistoryConsumption]:
        """A read-side view of a history file (for reports run outside the controller)."""
        db = DbThread("history-query")
        try:
            history = await db.call(History, path, {})
            try:
                yield cls(history, db, tz)
            finally:
                await db.call(history.close)
        finally:
            db.close()

    async def readings(
        self, entity_id: str, start: float, end: float, limit: int, offset: int
    ) -> tuple[list[StoredReading], int]:
        """A page of raw readings in [start, end) and the total (``History.readings_page``)."""
        return await self._db.call(
            self._history.readings_page, entity_id, start, end, limit, offset
        )

    def folding_hours(self) -> HistoryConsumption:
        """The same history answering the old way, hourly sums folded in Python (benchmarks)."""
        return HistoryConsumption(self._history, self._db, self.tz, hourly_fold=True)

    async def consumption(self, query: ConsumptionQuery) -> list[ConsumptionRow]:
        if query.period is Period.HOUR or self.hourly_fold:
            sums = await self._db.call(
                self._history.hourly_sums,
                query.start_ts,
                query.end_ts,
                query.group_by,
                query.filters,
            )
            return aggregate(sums, query, self.tz)
        summed = await self._db.call(
            self._history.period_sums, windows(query, self.tz), query.group_by, query.filters
        )
        return aggregate(summed, query, self.tz)


def _quote_tag(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxV1Consumption:
    """The consumption query answered by InfluxDB 1.x with InfluxQL over ``/query``."""

    def __init__(
        self,
        url: str,
        database: str,
        tz: zoneinfo.ZoneInfo,
        *,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        hourly_fold: bool = False,
    ) -> None:
        self.tz = tz
        self.hourly_fold = hourly_fold
        self._database = database
        self._rp = retention_policy
        self._auth = {"u": username, "p": password or ""} if username is not None else {}
        self._client = httpx.AsyncClient(base_url=url.rstrip("/"), timeout=timeout)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def __aenter__(self) -> InfluxV1Consumption:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    def influxql(self, query: ConsumptionQuery) -> str:
        """Hourly sums per group; hours are aligned to the zone's offset from UTC."""
        offset = dt.datetime.fromtimestamp(query.start_ts, self.tz).utcoffset()
        shift = int(offset.total_seconds()) % 3600 if offset is not None else 0
        return self._select(query, query.start_ts, query.end_ts, f"time(1h, {shift}s)")

    def window_influxql(self, query: ConsumptionQuery, window: Window) -> str:
        """Sums per group over one window: per local day (``time(1d)`` shifted to the window's
        local midnight), or over the whole window."""
        bucket = f"time(1d, {-window.shift % 86400}s)" if window.daily else ""
        return self._select(query, window.start, window.end, bucket)

    def _select(self, query: ConsumptionQuery, start: float, end: float, bucket: str) -> str:
        measurement = f'"{CONSUMPTION_MEASUREMENT}"'
        if self._rp:
            measurement = f'"{self._rp}".{measurement}'
        where = [f"time >= {to_ms(start) * 1_000_000}", f"time < {to_ms(end) * 1_000_000}"]
        for tag, values in query.filters:
            where.append("(" + " OR ".join(f'"{tag}" = {_quote_tag(v)}' for v in values) + ")")
        group = ", ".join([*([bucket] if bucket else []), *(f'"{t}"' for t in query.group_by)])
        return (
            f'SELECT sum("consumption"), sum("held_out"), max("partial") FROM {measurement} '  # noqa: S608 (whitelisted tags)
            f"WHERE {' AND '.join(where)}"
            + (f" GROUP BY {group}" if group else "")
            + (" fill(none)" if bucket else "")
        )

    async def _run(self, influxql: str) -> dict[str, Any]:
        params = {"db": self._database, "q": influxql, "epoch": "s", **self._auth}
        try:
            reply = await self._client.get("/query", params=params)
        except httpx.HTTPError as err:
            raise QueryError(f"InfluxDB query failed: {type(err).__name__}: {err}") from err
        if not reply.is_success:
            raise QueryError(f"InfluxDB query failed: HTTP {reply.status_code}: {reply.text[:500]}")
        try:
            result: dict[str, Any] = reply.json()["results"][0]
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise QueryError(f"unexpected InfluxDB answer: {reply.text[:500]}") from err
        if "error" in result:
            raise QueryError(f"InfluxDB query failed: {result['error']}")
        return result

    async def consumption(self, query: ConsumptionQuery) -> list[ConsumptionRow]:
        if query.period is not Period.HOUR and not self.hourly_fold:
            return aggregate(await self._period_sums(query), query, self.tz)
        result = await self._run(self.influxql(query))
        sums: list[HourlySum] = []
        for series in result.get("series", []):
            tags = series.get("tags") or {}
            group = tuple(str(tags.get(tag, "")) for tag in query.group_by)
            for hour, consumption, held_out, partial in series.get("values", []):
                sums.append(
                    HourlySum(
                        float(hour),
                        group,
                        float(consumption or 0.0),
                        float(held_out or 0.0),
                        bool(partial),
                    )
                )
        return aggregate(sums, query, self.tz)

    async def _period_sums(self, query: ConsumptionQuery) -> list[PeriodSum]:
        sums: list[PeriodSum] = []
        for window in windows(query, self.tz):
            result = await self._run(self.window_influxql(query, window))
            for series in result.get("series", []):
                tags = series.get("tags") or {}
                group = tuple(str(tags.get(tag, "")) for tag in query.group_by)
                for ts, consumption, held_out, partial in series.get("values", []):
                    if consumption is None and held_out is None:
                        continue  # a window with no points for this group
                    day = window.day_of((int(ts) + window.shift) // 86400)
                    sums.append(
                        PeriodSum(
                            day if window.daily else window.first,
                            group,
                            float(consumption or 0.0),
                            float(held_out or 0.0),
                            bool(partial),
                        )
                    )
        return sums
