"""SQLite keeping of work orders (one JSON row each; history rides along), room tokens and
uploaded photos (blobs of at most a few MB, so backups carry them with the orders)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from controller.alarms.sqlite import open_store
from controller.schema_version import declare

from .model import WorkOrder

__all__ = ["WorkOrderStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY, status TEXT NOT NULL, room TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS room_tokens (token TEXT PRIMARY KEY, room TEXT NOT NULL UNIQUE);
"""
_PHOTOS = """
CREATE TABLE IF NOT EXISTS photos (
    order_id INTEGER NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (order_id, name));
"""
_MIGRATIONS = declare("workorders", [_SCHEMA, _PHOTOS])


class WorkOrderStore:
    def __init__(self, path: str | Path) -> None:
        self._db = open_store(path, "work-order store", _MIGRATIONS)

    def next_id(self) -> int:
        row = self._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM orders").fetchone()
        return int(row[0])

    def put(self, order: WorkOrder) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO orders (id, status, room, data) VALUES (?, ?, ?, ?)",
            (order.id, str(order.status), order.room, json.dumps(order.to_json())),
        )

    def get(self, order_id: int) -> WorkOrder | None:
        row = self._db.execute("SELECT data FROM orders WHERE id = ?", (order_id,)).fetchone()
        return None if row is None else WorkOrder.from_json(json.loads(row[0]))

    def list(self, status: str | None = None, room: str | None = None) -> list[WorkOrder]:
        sql, args = "SELECT data FROM orders WHERE 1=1", list[str]()
        if status is not None:
            sql, args = sql + " AND status = ?", [*args, status]
        if room is not None:
            sql, args = sql + " AND room = ?", [*args, room]
        rows = self._db.execute(sql + " ORDER BY id", args)
        return [WorkOrder.from_json(json.loads(r[0])) for r in rows]

    def put_photo(self, order_id: int, name: str, mime: str, data: bytes) -> None:
        self._db.execute(
            "INSERT INTO photos (order_id, name, type, data) VALUES (?, ?, ?, ?)",
            (order_id, name, mime, data),
        )

    def photo(self, order_id: int, name: str) -> tuple[str, bytes] | None:
        """The stored photo's type and bytes, or None."""
        row = self._db.execute(
            "SELECT type, data FROM photos WHERE order_id = ? AND name = ?", (order_id, name)
        ).fetchone()
        return None if row is None else (str(row[0]), bytes(row[1]))

    def room_token(self, room: str) -> str:
        """The room's public-form token (made once; unguessable, 128 bits)."""
        row = self._db.execute("SELECT token FROM room_tokens WHERE room = ?", (room,)).fetchone()
        if row is not None:
            return str(row[0])
        token = secrets.token_urlsafe(16)
        self._db.execute("INSERT INTO room_tokens (token, room) VALUES (?, ?)", (token, room))
        return token

    def room_of_token(self, token: str) -> str | None:
        row = self._db.execute("SELECT room FROM room_tokens WHERE token = ?", (token,)).fetchone()
        return None if row is None else str(row[0])

    def close(self) -> None:
        self._db.close()
