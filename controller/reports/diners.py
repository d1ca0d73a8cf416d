"""Diner counts imported from a canteen's card system or turnstile export (CSV).

Many canteens have no counter on the network but their card system (一卡通) exports meals
served per canteen, day and meal. The export is imported as-is into ``var/diners.sqlite3``; a
report then uses an imported count for that canteen, day and meal instead of any metered one
(the card system is the record of who ate; a turnstile is a fallback).

The format, UTF-8 (a BOM from Excel is fine), one header line, comma-separated::

    canteen,date,meal,count
    canteen-1,2026-11-02,lunch,1234

``canteen`` is a canteen building's id, ``date`` YYYY-MM-DD, ``meal`` breakfast / lunch / dinner
(or 早餐 / 午餐 / 晚餐), ``count`` a whole number of diners. A file with any bad row is refused
whole, with the line and field of every problem, so a corrected file imports cleanly.
Re-importing is idempotent: a (canteen, date, meal) keeps one count, the latest imported.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from controller.config import LoadedSite
from controller.config.site import BuildingKind
from controller.core.files import private_file
from controller.schema_version import declare, migrate

from .errors import DinerCsvError

__all__ = ["COLUMNS", "DinerCount", "DinerImport", "DinerStore", "parse_diner_csv"]

COLUMNS = ("canteen", "date", "meal", "count")
MEAL_WORDS = {
    "breakfast": "breakfast",
    "lunch": "lunch",
    "dinner": "dinner",
    "早餐": "breakfast",
    "午餐": "lunch",
    "晚餐": "dinner",
}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS diners (
    canteen TEXT NOT NULL, date TEXT NOT NULL, meal TEXT NOT NULL, count INTEGER NOT NULL,
    source TEXT NOT NULL, imported REAL NOT NULL, PRIMARY KEY (canteen, date, meal));
"""
_MIGRATIONS = declare("diners", [_SCHEMA])
"""Version 1 is the table files written before versions already have (they are adopted)."""
MAX_COUNT = 1_000_000
"""More diners than this in one meal of one canteen is a typo, not a canteen."""


@dataclass(frozen=True, slots=True)
class DinerCount:
    canteen: str
    date: dt.date
    meal: str
    count: int


@dataclass(frozen=True, slots=True)
class DinerImport:
    """What one import did: rows read, and of them new, changed and already there."""

    rows: int
    added: int
    changed: int
    unchanged: int


def parse_diner_csv(text: str, site: LoadedSite) -> list[DinerCount]:
    """The rows of a diner-count export; ``DinerCsvError`` lists every bad one."""
    canteens = {b for b, bld in site.buildings.items() if bld.kind is BuildingKind.CANTEEN}
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = [h.strip().lower() for h in next(reader, [])]
    if header != list(COLUMNS):
        raise DinerCsvError(
            [(1, "header", f"expected {','.join(COLUMNS)}, got {','.join(header)}")]
        )
    problems: list[tuple[int, str, str]] = []
    rows: list[DinerCount] = []
    seen: dict[tuple[str, dt.date, str], int] = {}
    for line, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(COLUMNS):
            problems.append((line, "row", f"{len(cells)} fields, expected {len(COLUMNS)}"))
            continue
        row = _row(line, [c.strip() for c in cells], canteens, problems)
        if row is None:
            continue
        key = (row.canteen, row.date, row.meal)
        if key in seen:
            problems.append((line, "meal", f"repeats line {seen[key]} (same canteen, date, meal)"))
            continue
        seen[key] = line
        rows.append(row)
    if problems:
        raise DinerCsvError(problems)
    return rows


def _row(
    line: int, cells: list[str], canteens: set[str], problems: list[tuple[int, str, str]]
) -> DinerCount | None:
    canteen, date_text, meal_text, count_text = cells
    before = len(problems)
    if canteen not in canteens:
        known = ", ".join(sorted(canteens)) or "none"
        problems.append((line, "canteen", f"{canteen!r} is not a canteen (canteens: {known})"))
    try:
        date = dt.date.fromisoformat(date_text)
    except ValueError:
        problems.append((line, "date", f"{date_text!r} is not a date YYYY-MM-DD"))
    meal = MEAL_WORDS.get(meal_text.lower())
    if meal is None:
        problems.append((line, "meal", f"{meal_text!r}: use breakfast, lunch or dinner"))
    count = int(count_text) if count_text.isdigit() else -1
    if not 0 <= count <= MAX_COUNT:
        problems.append((line, "count", f"{count_text!r} is not a whole number 0–{MAX_COUNT}"))
    if len(problems) > before or meal is None:
        return None
    return DinerCount(canteen, date, meal, count)


class DinerStore:
    """Imported diner counts, one per canteen, date and meal (SQLite, WAL)."""

    def __init__(self, path: Path) -> None:
        """Open (creating it 0600) and migrate; ``SchemaTooNew`` for a file of a newer sanjie."""
        private_file(path)
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        migrate(self._db, path, _MIGRATIONS)

    def close(self) -> None:
        self._db.close()

    def put(self, rows: Iterable[DinerCount], *, source: str, now: float) -> DinerImport:
        """Store ``rows`` in one transaction: new keys added, others replaced if different."""
        added = changed = unchanged = total = 0
        with self._db:
            for row in rows:
                total += 1
                key = (row.canteen, row.date.isoformat(), row.meal)
                old = self._db.execute(
                    "SELECT count FROM diners WHERE canteen = ? AND date = ? AND meal = ?", key
                ).fetchone()
                if old is not None and old[0] == row.count:
                    unchanged += 1
                    continue
                added, changed = (added + 1, changed) if old is None else (added, changed + 1)
                self._db.execute(
                    "INSERT OR REPLACE INTO diners VALUES (?, ?, ?, ?, ?, ?)",
                    (*key, row.count, source, now),
                )
        return DinerImport(total, added, changed, unchanged)

    def between(self, first: dt.date, last: dt.date) -> list[DinerCount]:
        """Counts of the days first..last, by canteen, date and meal."""
        found = self._db.execute(
            "SELECT canteen, date, meal, count FROM diners WHERE date BETWEEN ? AND ?"
            " ORDER BY canteen, date, meal",
            (first.isoformat(), last.isoformat()),
        )
        return [DinerCount(c, dt.date.fromisoformat(d), m, n) for c, d, m, n in found]
