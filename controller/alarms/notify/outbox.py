"""The durable delivery queue: every notification is a row before anything is sent.

A restart loses nothing (pending rows survive in SQLite) and sends nothing twice: a row is
enqueued once per ``dedup`` key (the same alarm change for the same channel is one row, however
often it is offered), and it is marked sent in the same transaction that records the successful
attempt. The one unavoidable window — the receiver got it, then the process died before the
commit — is covered by the ``X-Sanjie-Delivery`` id / Message-ID a receiver can de-duplicate on.
Each attempt is recorded; failures retry with exponential backoff up to ``max_attempts``.
Sending runs in a worker thread while the event loop enqueues: one lock serialises the
connection. Rows done for more than ``keep_s`` are pruned.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.core import Clock
from controller.schema_version import declare

from ..sqlite import open_store
from .channels import Channel, DeliveryError

__all__ = ["ChannelFailure", "Delivery", "Outbox"]

_LOGGER = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY, dedup TEXT NOT NULL UNIQUE, channel TEXT NOT NULL,
    message TEXT NOT NULL, created REAL NOT NULL, next_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, state TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_at);
CREATE TABLE IF NOT EXISTS attempts (
    delivery INTEGER NOT NULL, ts REAL NOT NULL, ok INTEGER NOT NULL, error TEXT);
"""
_MIGRATIONS = declare("notify", [_SCHEMA])


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    dedup: str
    channel: str
    message: dict[str, Any]
    attempts: int
    state: str
    next_at: float
    last_error: str | None


@dataclass(frozen=True, slots=True)
class ChannelFailure:
    """A channel whose deliveries were given up on since it last delivered one."""

    channel: str
    failed: int
    since: float
    last_at: float
    last_error: str | None


class Outbox:
    """Queue on disk; ``deliver_due`` sends what is due (called by the notifier's loop)."""

    def __init__(
        self,
        path: str | Path,
        clock: Clock,
        *,
        base_backoff_s: float = 30.0,
        max_backoff_s: float = 3600.0,
        max_attempts: int = 20,
        keep_s: float = 90 * 86400,
    ) -> None:
        """``keep_s``: how long sent and failed deliveries (and their attempts) are kept."""
        self.clock = clock
        self.keep_s = keep_s
        self._lock = threading.Lock()
        self._pruned_at = float("-inf")
        self.base_backoff_s, self.max_backoff_s = base_backoff_s, max_backoff_s
        self.max_attempts = max_attempts
        self._db = open_store(path, "notification outbox", _MIGRATIONS)

    def enqueue(
        self, dedup: str, channel: str, message: Mapping[str, Any], not_before: float | None = None
    ) -> bool:
        """Queue once per ``dedup``; False if it was already queued (or sent)."""
        now = self.clock.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO deliveries (dedup, channel, message, created, next_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (dedup, channel, json.dumps(dict(message)), now, max(now, not_before or now)),
            )
        return cur.rowcount == 1

    def deliver_due(self, channels: Mapping[str, Channel]) -> int:
        """Try every due delivery once; returns how many were sent."""
        now = self.clock.time()
        self._prune(now)
        with self._lock:
            rows = self._db.execute(
                "SELECT id, channel, message, attempts FROM deliveries"
                " WHERE state = 'pending' AND next_at <= ? ORDER BY next_at, id",
                (now,),
            ).fetchall()
        sent = 0
        for did, name, message, attempts in rows:
            channel = channels.get(name)
            error: str | None
            if channel is None:
                error = f"no channel {name!r}"
            else:
                try:
                    channel.send(json.loads(message), f"sanjie-{did}")
                    error = None
                except DeliveryError as exc:
                    error = str(exc)
            self._record(did, attempts + 1, error)
            if error is None:
                sent += 1
            else:  # loudly on the first failure, quietly while it keeps failing
                log = _LOGGER.warning if attempts == 0 else _LOGGER.debug
                log("delivery %s via %s failed (attempt %d): %s", did, name, attempts + 1, error)
        return sent

    def _record(self, did: int, attempts: int, error: str | None) -> None:
        now = self.clock.time()
        with self._lock:
            self._write_attempt(did, attempts, error, now)

    def _write_attempt(self, did: int, attempts: int, error: str | None, now: float) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._db.execute(
                "INSERT INTO attempts (delivery, ts, ok, error) VALUES (?, ?, ?, ?)",
                (did, now, int(error is None), error),
            )
            if error is None:
                state, next_at = "sent", now
            else:
                delay = min(self.max_backoff_s, self.base_backoff_s * 2 ** (attempts - 1))
                state = "failed" if attempts >= self.max_attempts else "pending"
                next_at = now + delay
            self._db.execute(
                "UPDATE deliveries SET attempts = ?, state = ?, next_at = ?, last_error = ?"
                " WHERE id = ?",
                (attempts, state, next_at, error, did),
            )
        finally:
            self._db.execute("COMMIT")

    def deliveries(self, state: str | None = None) -> list[Delivery]:
        sql = (
            "SELECT id, dedup, channel, message, attempts, state, next_at, last_error"
            " FROM deliveries"
        )
        args: tuple[Any, ...] = ()
        if state is not None:
            sql, args = sql + " WHERE state = ?", (state,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY id", args).fetchall()
        return [Delivery(i, d, c, json.loads(m), a, s, n, e) for i, d, c, m, a, s, n, e in rows]

    def count(self, state: str) -> int:
        """How many deliveries are in ``state`` (cheap: for status and metrics)."""
        with self._lock:
            row = self._db.execute("SELECT COUNT(*) FROM deliveries WHERE state = ?", (state,))
            return int(row.fetchone()[0])

    def failing_channels(self) -> list[ChannelFailure]:
        """Channels with deliveries marked failed after their last successful attempt.

        Only a later successful attempt on the same channel clears one (pruning aside), so
        a channel that stays down keeps its failure however many rows it gives up on.
        """
        with self._lock:
            ok = dict(
                self._db.execute(
                    "SELECT d.channel, MAX(a.ts) FROM attempts a JOIN deliveries d"
                    " ON a.delivery = d.id WHERE a.ok = 1 GROUP BY d.channel"
                ).fetchall()
            )
            failed = self._db.execute(
                "SELECT d.channel, MAX(a.ts), d.last_error FROM deliveries d JOIN attempts a"
                " ON a.delivery = d.id WHERE d.state = 'failed' GROUP BY d.id ORDER BY 2"
            ).fetchall()
        out: dict[str, ChannelFailure] = {}
        for channel, at, error in failed:
            if at <= ok.get(channel, float("-inf")):
                continue
            prev = out.get(channel)
            since = prev.since if prev else at
            out[channel] = ChannelFailure(
                channel, (prev.failed if prev else 0) + 1, since, at, error
            )
        return sorted(out.values(), key=lambda f: f.channel)

    def attempts(self, delivery: int) -> list[tuple[float, bool, str | None]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT ts, ok, error FROM attempts WHERE delivery = ? ORDER BY ts", (delivery,)
            ).fetchall()
        return [(ts, bool(ok), err) for ts, ok, err in rows]

    def _prune(self, now: float) -> None:
        """Forget sent and failed deliveries older than ``keep_s`` (at most once an hour)."""
        if now - self._pruned_at < 3600:
            return
        self._pruned_at = now
        with self._lock:
            cutoff = (now - self.keep_s,)
            self._db.execute(
                "DELETE FROM attempts WHERE delivery IN (SELECT id FROM deliveries"
                " WHERE state != 'pending' AND next_at < ?)",
                cutoff,
            )
            self._db.execute(
                "DELETE FROM deliveries WHERE state != 'pending' AND next_at < ?", cutoff
            )

    def close(self) -> None:
        self._db.close()
