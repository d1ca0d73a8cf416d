"""The embedded history: readings and hourly consumption in one SQLite file, with retention.

Series are stored once (entity, measurement and tags, like InfluxDB's series) and rows refer to
them, so tags cost nothing per row and a device moved to another room starts a new series
without rewriting its past. Readings are keyed by (time, series) and hourly rows by
(hour, series): writing the same point twice overwrites it, as in InfluxDB.

The statistics engine's state lives here too, committed in the same transaction as the hours it
produced, so a restart continues exactly where the last flush left off.

Not thread-safe: use one instance from one thread (the recorder's database thread).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from controller.core.events import Value
from controller.schema_version import SchemaTooNew, declare, migrate

from .errors import QueryError, RecorderError
from .lineproto import CONSUMPTION_MEASUREMENT, SeriesKey, series_tags, to_ms
from .query import GROUP_KEYS, HourlySum, PeriodSum, Window
from .sqlite import connect, transaction
from .stats import Adjustment, ConsumptionAnomaly, HourStat, MeterSwap

__all__ = ["History", "MeterEvent", "SeededSpan", "StoredReading"]

_LOGGER = logging.getLogger(__name__)

DAY = 86400.0
_dumps = orjson.dumps
"""Counter states as JSON: a tenth of ``json.dumps``'s cost for thousands of states a flush
(their numbers are finite by construction: orjson would write NaN as null, which ``restore``
refuses and resets that counter). ``json.loads`` reads both back alike."""
_SELECT_KEYS = 500
"""Series keys looked up per SELECT after creating new series (well under SQLite's limit of
bound parameters)."""
_TAGS = ", ".join(f"{tag} TEXT NOT NULL DEFAULT ''" for tag in GROUP_KEYS)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    entity TEXT NOT NULL,
    measurement TEXT NOT NULL,
    {_TAGS}
);
CREATE TABLE IF NOT EXISTS readings (
    ts INTEGER NOT NULL,
    series INTEGER NOT NULL,
    value,
    PRIMARY KEY (ts, series)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS consumption_hourly (
    hour INTEGER NOT NULL,
    series INTEGER NOT NULL,
    consumption REAL NOT NULL,
    held_out REAL NOT NULL DEFAULT 0,
    partial INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hour, series)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stats_state (
    entity TEXT PRIMARY KEY,
    state TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meter_events (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL,
    entity TEXT NOT NULL,
    kind TEXT NOT NULL,
    old REAL,
    new REAL,
    amount REAL,
    held_out REAL,
    actor TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS meter_events_ts ON meter_events (ts);
"""
_SEEDED = """
CREATE TABLE IF NOT EXISTS seeded_history (
    id TEXT PRIMARY KEY,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    note TEXT NOT NULL,
    written REAL NOT NULL
);
"""
"""Spans of hours written from made-up figures (the demo's month), not from readings."""
_MIGRATIONS = declare("history", [_SCHEMA, _SEEDED])


@dataclass(frozen=True, slots=True)
class StoredReading:
    entity_id: str
    timestamp: float
    value: Value


@dataclass(frozen=True, slots=True)
class SeededSpan:
    """Hours in [start, end) that were seeded (``note`` says by what), not measured."""

    id: str
    start: float
    end: float
    rows: int
    note: str
    written: float


@dataclass(frozen=True, slots=True)
class MeterEvent:
    """A meter swap or consumption anomaly, as kept for staff and audits."""

    timestamp: float
    entity_id: str
    kind: str
    old: float | None
    new: float | None
    amount: float | None
    held_out: float | None
    actor: str


class History:
    """Readings, hourly consumption, meter events and statistics state in SQLite."""

    def __init__(
        self,
        path: Path | str,
        keys: Mapping[str, SeriesKey],
        retention_days: float = 400,
        readings_retention_days: float = 35,
    ) -> None:
        self.path = Path(path)
        self.keys = keys
        self.retention = retention_days * DAY
        self.readings_retention = readings_retention_days * DAY
        self._db = connect(self.path, "history")
        try:
            migrate(self._db, self.path, _MIGRATIONS)
            _add_missing_columns(self._db)
        except (sqlite3.Error, SchemaTooNew) as err:
            raise RecorderError(f"cannot use the history {self.path}: {err}") from err
        self._series: dict[str, int] = {
            key: sid for sid, key in self._db.execute("SELECT id, key FROM series")
        }
        self._ids: tuple[dict[str, int], dict[str, int]] = ({}, {})
        """Series id per entity, of its readings ([0]) and of its hours ([1]): an entity's keys
        are fixed for the process's life, and deriving the consumption key (a new 250-byte
        string, hashed afresh) for each of 40,000 running hours a minute was most of a
        flush's cost after the SQL."""
        self._fresh: list[tuple[str, str, bool]] = []
        """Series created in the open transaction (key, entity, consumption): forgotten again
        if it rolls back, or a retried flush would refer to ids that no longer exist."""

    def close(self) -> None:
        self._db.close()

    # -- series ----------------------------------------------------------------------------

    def _series_ids(self, entity_ids: Iterable[str], consumption: bool) -> dict[str, int]:
        """The series ids of ``entity_ids`` (unknown entities left out), creating the missing
        series with one INSERT for all and one SELECT per 500: a campus's first running-hour
        flush creates 40,000 consumption series, one INSERT and SELECT each took seconds of
        the database thread."""
        cache = self._ids[consumption]
        found: dict[str, int] = {}
        missing: dict[str, tuple[Any, ...]] = {}
        for entity_id in entity_ids:
            sid = cache.get(entity_id)
            if sid is not None:
                found[entity_id] = sid
                continue
            key = self.keys.get(entity_id)
            if key is None:
                continue
            text = key.consumption if consumption else key.reading
            sid = self._series.get(text)
            if sid is not None:
                found[entity_id] = cache[entity_id] = sid
            else:
                tags = series_tags(key.entity)  # the pairs of key.tags, unsorted
                measurement = CONSUMPTION_MEASUREMENT if consumption else tags.get("kind", "")
                missing[entity_id] = (
                    text,
                    entity_id,
                    measurement,
                    *(tags.get(tag, "") for tag in GROUP_KEYS),
                )
        if missing:
            self._create_series(list(missing.values()))
            for entity_id, row in missing.items():
                found[entity_id] = cache[entity_id] = self._series[row[0]]
                self._fresh.append((row[0], entity_id, consumption))
        return found

    def _create_series(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert series rows ``(key, entity, measurement, *tags)`` and learn their ids."""
        columns = ", ".join(GROUP_KEYS)
        marks = ", ".join("?" for _ in GROUP_KEYS)
        self._db.executemany(
            f"INSERT OR IGNORE INTO series (key, entity, measurement, {columns}) "  # noqa: S608 (fixed names)
            f"VALUES (?, ?, ?, {marks})",
            rows,
        )
        keys = [row[0] for row in rows]
        for start in range(0, len(keys), _SELECT_KEYS):
            part = keys[start : start + _SELECT_KEYS]
            found = self._db.execute(
                f"SELECT id, key FROM series WHERE key IN ({', '.join('?' for _ in part)})",  # noqa: S608 (marks only)
                part,
            )
            for sid, key in found:
                self._series[key] = int(sid)

    # -- writing ---------------------------------------------------------------------------

    def commit(
        self,
        readings: Sequence[tuple[str, float, Value]] = (),
        hours: Sequence[HourStat] = (),
        swaps: Sequence[MeterSwap] = (),
        anomalies: Sequence[ConsumptionAnomaly] = (),
        states: Mapping[str, dict[str, Any]] | None = None,
    ) -> int:
        """Write everything in one transaction; returns how many readings were stored."""
        self._fresh.clear()
        try:
            return self._commit(readings, hours, swaps, anomalies, states)
        except BaseException:
            for key, entity_id, consumption in self._fresh:
                self._series.pop(key, None)
                self._ids[consumption].pop(entity_id, None)
            raise
        finally:
            self._fresh.clear()

    def _commit(
        self,
        readings: Sequence[tuple[str, float, Value]],
        hours: Sequence[HourStat],
        swaps: Sequence[MeterSwap],
        anomalies: Sequence[ConsumptionAnomaly],
        states: Mapping[str, dict[str, Any]] | None,
    ) -> int:
        with transaction(self._db) as db:
            rows = []
            if readings:
                ids = self._series_ids({r[0]: None for r in readings}, consumption=False)
                for entity_id, timestamp, value in readings:
                    sid = ids.get(entity_id)
                    if sid is not None:
                        rows.append((to_ms(timestamp), sid, value))
                db.executemany("INSERT OR REPLACE INTO readings VALUES (?, ?, ?)", rows)
            if hours:
                hour_ids = self._series_ids({h.entity_id: None for h in hours}, consumption=True)
                db.executemany(
                    "INSERT OR REPLACE INTO consumption_hourly "
                    "(hour, series, consumption, held_out, partial) VALUES (?, ?, ?, ?, ?)",
                    [
                        (round(h.hour), sid, h.consumption, h.held_out, int(h.partial))
                        for h in hours
                        if (sid := hour_ids.get(h.entity_id)) is not None
                    ],
                )
            db.executemany(
                "INSERT INTO meter_events (ts, entity, kind, old, new, amount, held_out, actor) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [*_swap_rows(swaps), *_anomaly_rows(anomalies)],
            )
            if states:
                db.executemany(
                    "INSERT OR REPLACE INTO stats_state VALUES (?, ?)",
                    [(eid, _dumps(state).decode()) for eid, state in states.items()],
                )
        return len(rows)

    def adjusted(self, adjustments: Iterable[Adjustment]) -> list[HourStat]:
        """The hours after adding corrections to what is stored (to be written with commit)."""
        result: dict[tuple[str, float], HourStat] = {}
        for adj in adjustments:
            current = result.get((adj.entity_id, adj.hour)) or self.hour(adj.entity_id, adj.hour)
            base = current or HourStat(adj.entity_id, adj.hour, 0.0, 0.0)
            result[(adj.entity_id, adj.hour)] = HourStat(
                adj.entity_id,
                adj.hour,
                round(base.consumption + adj.consumption, 6) + 0.0,
                round(max(base.held_out + adj.held_out, 0.0), 6) + 0.0,
            )
        return list(result.values())

    def seeded(self) -> list[SeededSpan]:
        """The seeded spans, oldest first (empty on a history of measurements only)."""
        rows = self._db.execute(
            "SELECT id, start, end, rows, note, written FROM seeded_history ORDER BY start"
        )
        return [SeededSpan(i, float(a), float(b), n, note, w) for i, a, b, n, note, w in rows]

    def mark_seeded(self, span: SeededSpan) -> None:
        """Record a seeded span (after its hours are committed; a repeat keeps the first)."""
        with transaction(self._db) as db:
            db.execute(
                "INSERT OR IGNORE INTO seeded_history VALUES (?, ?, ?, ?, ?, ?)",
                (span.id, round(span.start), round(span.end), span.rows, span.note, span.written),
            )

    def load_states(self) -> dict[str, dict[str, Any]]:
        states: dict[str, dict[str, Any]] = {}
        for entity_id, text in self._db.execute("SELECT entity, state FROM stats_state"):
            try:
                states[entity_id] = json.loads(text)
            except ValueError:
                _LOGGER.warning("Unreadable statistics state of %s in %s", entity_id, self.path)
        return states

    def prune(self, now: float) -> tuple[int, int]:
        """Delete readings and hours older than their retention; (readings, hours) deleted."""
        cutoff_ms = to_ms(now - self.readings_retention)
        deleted_readings = 0
        while True:
            oldest = self._db.execute("SELECT min(ts) FROM readings").fetchone()[0]
            if oldest is None or oldest >= cutoff_ms:
                break
            step = min(cutoff_ms, int(oldest) + 3_600_000)
            with transaction(self._db) as db:
                deleted_readings += db.execute(
                    "DELETE FROM readings WHERE ts < ?", (step,)
                ).rowcount
        cutoff = now - self.retention
        with transaction(self._db) as db:
            hours = db.execute("DELETE FROM consumption_hourly WHERE hour < ?", (cutoff,)).rowcount
            db.execute("DELETE FROM meter_events WHERE ts < ?", (cutoff,))
        return deleted_readings, hours

    # -- reading ---------------------------------------------------------------------------

    def readings(self, entity_id: str, start: float, end: float) -> list[StoredReading]:
        """An entity's readings in [start, end), oldest first (booleans come back as 0/1)."""
        key = self.keys.get(entity_id)
        sid = self._series.get(key.reading) if key else None
        if sid is None:
            return []
        rows = self._db.execute(
            "SELECT ts, value FROM readings WHERE ts >= ? AND ts < ? AND series = ? ORDER BY ts",
            (to_ms(start), to_ms(end), sid),
        )
        return [StoredReading(entity_id, ts / 1000, value) for ts, value in rows]

    def readings_page(
        self, entity_id: str, start: float, end: float, limit: int, offset: int
    ) -> tuple[list[StoredReading], int]:
        """One page of an entity's readings in [start, end), oldest first, and how many
        there are in all (the API's raw history; a year of minutes is 500,000 rows)."""
        key = self.keys.get(entity_id)
        sid = self._series.get(key.reading) if key else None
        if sid is None:
            return [], 0
        window = (to_ms(start), to_ms(end), sid)
        where = "WHERE ts >= ? AND ts < ? AND series = ?"
        (total,) = self._db.execute(f"SELECT count(*) FROM readings {where}", window).fetchone()  # noqa: S608 - fixed text
        rows = self._db.execute(
            f"SELECT ts, value FROM readings {where} ORDER BY ts LIMIT ? OFFSET ?",  # noqa: S608
            (*window, limit, offset),
        )
        return [StoredReading(entity_id, ts / 1000, value) for ts, value in rows], int(total)

    def hour(self, entity_id: str, hour: float) -> HourStat | None:
        key = self.keys.get(entity_id)
        sid = self._series.get(key.consumption) if key else None
        if sid is None:
            return None
        row = self._db.execute(
            "SELECT consumption, held_out FROM consumption_hourly WHERE hour = ? AND series = ?",
            (round(hour), sid),
        ).fetchone()
        return None if row is None else HourStat(entity_id, hour, row[0], row[1])

    def hours(self, entity_id: str, start: float, end: float) -> list[HourStat]:
        """An entity's hourly consumption with hour starts in [start, end)."""
        key = self.keys.get(entity_id)
        sid = self._series.get(key.consumption) if key else None
        if sid is None:
            return []
        rows = self._db.execute(
            "SELECT hour, consumption, held_out FROM consumption_hourly "
            "WHERE hour >= ? AND hour < ? AND series = ? ORDER BY hour",
            (start, end, sid),
        )
        return [HourStat(entity_id, float(h), c, held) for h, c, held in rows]

    def meter_events(self, since: float = 0.0, limit: int = 1000) -> list[MeterEvent]:
        rows = self._db.execute(
            "SELECT ts, entity, kind, old, new, amount, held_out, actor FROM meter_events "
            "WHERE ts >= ? ORDER BY ts, id LIMIT ?",
            (since, limit),
        )
        return [MeterEvent(*row) for row in rows]

    def hourly_sums(
        self,
        start: float,
        end: float,
        group_by: Sequence[str],
        filters: Sequence[tuple[str, Sequence[str]]],
    ) -> list[HourlySum]:
        """Consumption per group and hour for hours starting in [start, end)."""
        filter_sql, params = self._where(group_by, filters)
        columns = "".join(f", s.{tag}" for tag in group_by)
        sql = (
            f"SELECT h.hour{columns}, sum(h.consumption), sum(h.held_out), max(h.partial) "  # noqa: S608 (whitelisted)
            "FROM consumption_hourly h JOIN series s ON s.id = h.series "
            f"WHERE h.hour >= ? AND h.hour < ?{filter_sql} GROUP BY h.hour{columns}"
        )
        rows = self._fetch(sql, [start, end, *params])
        width = len(group_by)
        return [
            HourlySum(
                float(row[0]),
                tuple(row[1 : 1 + width]),
                row[1 + width],
                row[2 + width],
                bool(row[3 + width]),
            )
            for row in rows
        ]

    def period_sums(
        self,
        windows: Sequence[Window],
        group_by: Sequence[str],
        filters: Sequence[tuple[str, Sequence[str]]],
    ) -> list[PeriodSum]:
        """Consumption per group summed inside SQLite per window bucket (local day, or the
        whole window): what ``hourly_sums`` would give, folded by the database."""
        where, params = self._where(group_by, filters)
        columns = "".join(f", s.{tag}" for tag in group_by)
        width = len(group_by)
        out: list[PeriodSum] = []
        for window in windows:
            key = "(h.hour + ?) / 86400" if window.daily else "?"
            sql = (
                f"SELECT {key} AS bucket{columns}, sum(h.consumption), sum(h.held_out), "  # noqa: S608 (whitelisted)
                "max(h.partial) FROM consumption_hourly h JOIN series s ON s.id = h.series "
                f"WHERE h.hour >= ? AND h.hour < ?{where} GROUP BY bucket{columns}"
            )
            first = window.shift if window.daily else 0
            rows = self._fetch(sql, [first, window.start, window.end, *params])
            out.extend(
                PeriodSum(
                    window.day_of(row[0]) if window.daily else window.first,
                    tuple(row[1 : 1 + width]),
                    row[1 + width],
                    row[2 + width],
                    bool(row[3 + width]),
                )
                for row in rows
            )
        return out

    @staticmethod
    def _where(
        group_by: Sequence[str], filters: Sequence[tuple[str, Sequence[str]]]
    ) -> tuple[str, list[Any]]:
        for tag in (*group_by, *(k for k, _ in filters)):
            if tag not in GROUP_KEYS:
                raise QueryError(f"unknown tag {tag!r}")
        where = ""
        params: list[Any] = []
        for tag, values in filters:
            where += f" AND s.{tag} IN ({', '.join('?' for _ in values)})"
            params.extend(values)
        return where, params

    def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as err:
            raise QueryError(f"history query failed: {err}") from err


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Bring a history written by an older version up to this schema (columns only grow).

    Older files lack the hierarchy tags (``level``, ``parent``) and the ``partial`` flag; the
    defaults ('' and 0) mean what those rows meant then.
    """
    wanted = {
        "series": [(tag, "TEXT NOT NULL DEFAULT ''") for tag in GROUP_KEYS],
        "consumption_hourly": [("partial", "INTEGER NOT NULL DEFAULT 0")],
    }
    for table, columns in wanted.items():
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for name, decl in columns:
            if name not in have:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")
                _LOGGER.info("History: added column %s.%s", table, name)


def _swap_rows(swaps: Iterable[MeterSwap]) -> Iterator[tuple[Any, ...]]:
    for s in swaps:
        kind = "meter_swap_recorded" if s.manual else "meter_swap_detected"
        yield (
            s.timestamp,
            s.entity_id,
            kind,
            s.old_value,
            s.new_value,
            s.counted,
            s.held_out,
            s.actor,
        )


def _anomaly_rows(anomalies: Iterable[ConsumptionAnomaly]) -> Iterator[tuple[Any, ...]]:
    for a in anomalies:
        yield (
            a.timestamp,
            a.entity_id,
            a.kind.value,
            a.previous,
            a.value,
            a.amount,
            None,
            "system",
        )
