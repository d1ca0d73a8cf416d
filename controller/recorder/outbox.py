"""The durable outbox: gzip batches of line protocol waiting for InfluxDB, in SQLite (WAL).

Every batch is written here *before* it is sent (write-ahead), so a batch survives a crash or a
SIGKILL at any moment once its flush has committed; a batch is deleted only after the server
acknowledged it. The file is bounded: past ``max_bytes`` the oldest batches are dropped and
counted. Batches the server rejects as bad data move to ``quarantine`` with the server's words.

Not thread-safe: the recorder uses one instance from its single database thread.
"""

from __future__ import annotations

import gzip
import logging
import sqlite3
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from controller.schema_version import SchemaTooNew, declare, migrate

from .errors import RecorderError
from .sqlite import connect, transaction

__all__ = ["Batch", "Outbox", "OutboxStats", "QuarantinedBatch", "encode_batch"]

_LOGGER = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    lines INTEGER NOT NULL,
    size INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    quarantined REAL NOT NULL,
    lines INTEGER NOT NULL,
    body BLOB NOT NULL,
    status INTEGER,
    error TEXT NOT NULL
);
"""
_MIGRATIONS = declare("outbox", [_SCHEMA])


def encode_batch(lines: Sequence[str], level: int = 1) -> bytes:
    """Join lines and gzip them (``mtime=0``: the same lines always give the same bytes)."""
    return gzip.compress("\n".join(lines).encode(), compresslevel=level, mtime=0)


@dataclass(frozen=True, slots=True)
class Batch:
    """One request's worth of line protocol, gzip-compressed."""

    id: int
    created: float
    lines: int
    body: bytes


@dataclass(frozen=True, slots=True)
class QuarantinedBatch:
    id: int
    created: float
    quarantined: float
    lines: int
    status: int | None
    error: str

    def text(self, body: bytes) -> str:
        return gzip.decompress(body).decode()


@dataclass(frozen=True, slots=True)
class OutboxStats:
    batches: int
    points: int
    bytes: int
    max_bytes: int
    quarantined: int
    dropped_batches: int
    dropped_points: int

    @property
    def fill(self) -> float:
        return self.bytes / self.max_bytes if self.max_bytes else 0.0


class Outbox:
    """Batches in arrival order, bounded in bytes, surviving restarts."""

    def __init__(self, path: Path | str, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self._db = connect(self.path, "outbox")
        try:
            migrate(self._db, self.path, _MIGRATIONS)
        except (sqlite3.Error, SchemaTooNew) as err:
            raise RecorderError(f"cannot use the outbox {self.path}: {err}") from err
        row = self._db.execute(
            "SELECT count(*), coalesce(sum(lines), 0), coalesce(sum(size), 0) FROM batches"
        ).fetchone()
        self._count, self._points, self._bytes = int(row[0]), int(row[1]), int(row[2])
        self._quarantined = int(self._db.execute("SELECT count(*) FROM quarantine").fetchone()[0])
        self.dropped_batches = 0
        self.dropped_points = 0
        if self._count:
            _LOGGER.info(
                "Outbox %s holds %d batch(es), %d point(s) from before the restart",
                self.path,
                self._count,
                self._points,
            )

    def close(self) -> None:
        self._db.close()

    def append(self, body: bytes, lines: int, created: float | None = None) -> Batch:
        """Store a batch durably; drop the oldest batches if the outbox would exceed its bound."""
        created = time.time() if created is None else created
        cursor = self._db.execute(
            "INSERT INTO batches (created, lines, size, body) VALUES (?, ?, ?, ?)",
            (created, lines, len(body), body),
        )
        batch_id = cursor.lastrowid
        assert batch_id is not None
        self._count += 1
        self._points += lines
        self._bytes += len(body)
        if self._bytes > self.max_bytes:
            self._drop_oldest(keep=batch_id)
        return Batch(batch_id, created, lines, body)

    def _drop_oldest(self, keep: int) -> None:
        rows = self._db.execute(
            "SELECT id, lines, size FROM batches WHERE id != ? ORDER BY id", (keep,)
        )
        doomed: list[int] = []
        for batch_id, lines, size in rows:
            if self._bytes <= self.max_bytes:
                break
            doomed.append(batch_id)
            self._count -= 1
            self._points -= lines
            self._bytes -= size
            self.dropped_batches += 1
            self.dropped_points += lines
        self._db.executemany("DELETE FROM batches WHERE id = ?", [(i,) for i in doomed])

    def first(self, exclude: Collection[int] = ()) -> Batch | None:
        """The oldest batch whose id is not in ``exclude``."""
        batches = self.oldest(exclude, 1)
        return batches[0] if batches else None

    def oldest(self, exclude: Collection[int] = (), limit: int = 1) -> list[Batch]:
        """Up to ``limit`` oldest batches whose ids are not in ``exclude``, oldest first."""
        marks = ", ".join("?" for _ in exclude)
        ids = [
            row[0]
            for row in self._db.execute(
                f"SELECT id FROM batches WHERE id NOT IN ({marks}) ORDER BY id LIMIT ?",  # noqa: S608
                (*exclude, limit),
            )
        ]
        batches = []
        for batch_id in ids:
            row = self._db.execute(
                "SELECT created, lines, body FROM batches WHERE id = ?", (batch_id,)
            ).fetchone()
            if row is not None:
                batches.append(Batch(batch_id, *row))
        return batches

    def delete(self, batch_id: int) -> bool:
        """Forget a batch the server acknowledged; False if it was already gone."""
        row = self._db.execute(
            "DELETE FROM batches WHERE id = ? RETURNING lines, size", (batch_id,)
        ).fetchone()
        if row is None:
            return False
        self._count -= 1
        self._points -= row[0]
        self._bytes -= row[1]
        return True

    def quarantine(self, batch_id: int, status: int | None, error: str) -> bool:
        """Move a rejected batch aside with the server's error; False if it was already gone."""
        with transaction(self._db):
            row = self._db.execute(
                "DELETE FROM batches WHERE id = ? RETURNING created, lines, size, body",
                (batch_id,),
            ).fetchone()
            if row is None:
                return False
            created, lines, size, body = row
            self._db.execute(
                "INSERT INTO quarantine (id, created, quarantined, lines, body, status, error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (batch_id, created, time.time(), lines, body, status, error),
            )
        self._count -= 1
        self._points -= lines
        self._bytes -= size
        self._quarantined += 1
        return True

    def quarantined(self, limit: int = 100) -> list[tuple[QuarantinedBatch, bytes]]:
        """The most recent quarantined batches with their bodies (for staff and the API)."""
        rows = self._db.execute(
            "SELECT id, created, quarantined, lines, status, error, body FROM quarantine "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [(QuarantinedBatch(*row[:6]), row[6]) for row in rows]

    def requeue(self, batch_id: int) -> bool:
        """Put a quarantined batch back in line (after the data or the schema was fixed)."""
        with transaction(self._db):
            row = self._db.execute(
                "DELETE FROM quarantine WHERE id = ? RETURNING created, lines, body", (batch_id,)
            ).fetchone()
            if row is None:
                return False
            created, lines, body = row
            self._db.execute(
                "INSERT INTO batches (created, lines, size, body) VALUES (?, ?, ?, ?)",
                (created, lines, len(body), body),
            )
        self._count += 1
        self._points += lines
        self._bytes += len(body)
        self._quarantined -= 1
        return True

    def stats(self) -> OutboxStats:
        return OutboxStats(
            self._count,
            self._points,
            self._bytes,
            self.max_bytes,
            self._quarantined,
            self.dropped_batches,
            self.dropped_points,
        )
