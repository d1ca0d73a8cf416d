"""SQLite keeping of alarms, so a restart neither forgets an active alarm nor raises it twice.

One row per alarm key, the whole record as JSON (the record is small and read whole); WAL mode
keeps API readers from blocking the manager.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from .model import AlarmRecord

__all__ = ["AlarmStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alarms (
    key TEXT PRIMARY KEY, active INTEGER NOT NULL, last_seen REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alarms_active ON alarms (active, last_seen);
"""


class AlarmStore:
    """Alarm records by key; ``":memory:"`` for tests that need no restart."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        if self.path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def put(self, record: AlarmRecord) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO alarms (key, active, last_seen, data) VALUES (?, ?, ?, ?)",
            (record.key, int(record.active), record.last_seen, json.dumps(record.to_json())),
        )

    def get(self, key: str) -> AlarmRecord | None:
        row = self._db.execute("SELECT data FROM alarms WHERE key = ?", (key,)).fetchone()
        return None if row is None else AlarmRecord.from_json(json.loads(row[0]))

    def active(self) -> list[AlarmRecord]:
        rows = self._db.execute("SELECT data FROM alarms WHERE active = 1 ORDER BY last_seen")
        return [AlarmRecord.from_json(json.loads(r[0])) for r in rows]

    def history(self, limit: int = 200) -> list[AlarmRecord]:
        rows = self._db.execute(
            "SELECT data FROM alarms ORDER BY last_seen DESC LIMIT ?", (max(1, limit),)
        )
        return [AlarmRecord.from_json(json.loads(r[0])) for r in rows]

    def close(self) -> None:
        self._db.close()
