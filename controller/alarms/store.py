"""SQLite keeping of alarms, so a restart neither forgets an active alarm nor raises it twice.

One row per alarm key, the whole record as JSON (the record is small and read whole); WAL mode
keeps API readers from blocking the manager.
"""

from __future__ import annotations

import json
from pathlib import Path

from controller.schema_version import declare

from .model import AlarmRecord
from .sqlite import open_store

__all__ = ["AlarmStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alarms (
    key TEXT PRIMARY KEY, active INTEGER NOT NULL, last_seen REAL NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS alarms_active ON alarms (active, last_seen);
CREATE TABLE IF NOT EXISTS acks (
    key TEXT NOT NULL, first_seen REAL NOT NULL, actor TEXT NOT NULL, ts REAL NOT NULL,
    PRIMARY KEY (key, first_seen));
"""
_MIGRATIONS = declare("alarms", [_SCHEMA])


class AlarmStore:
    """Alarm records by key; ``":memory:"`` for tests that need no restart."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = open_store(path, "alarm store", _MIGRATIONS)

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

    def add_ack(self, key: str, first_seen: float, actor: str, ts: float) -> bool:
        """Record that ``actor`` saw the alarm ``key`` raised at ``first_seen``; False if it
        was acknowledged already. A separate table: the CLI may write it while the service
        runs, and the service's next write of the record must not undo it."""
        cur = self._db.execute(
            "INSERT OR IGNORE INTO acks (key, first_seen, actor, ts) VALUES (?, ?, ?, ?)",
            (key, first_seen, actor, ts),
        )
        return cur.rowcount == 1

    def acks_after(self, row: int = 0) -> list[tuple[int, str, float, str, float]]:
        """(row, key, first_seen, actor, ts) of the acknowledgements stored after ``row``."""
        rows = self._db.execute(
            "SELECT rowid, key, first_seen, actor, ts FROM acks WHERE rowid > ? ORDER BY rowid",
            (row,),
        )
        return [(int(r), str(k), float(f), str(a), float(t)) for r, k, f, a, t in rows]

    def close(self) -> None:
        self._db.close()
