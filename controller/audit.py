"""The append-only audit log: who did what, when and why, and how it ended.

Every command's outcome (``CommandCompleted``: by a policy, staff or the API) and every alarm
(``AlarmRaised``) is recorded from the bus; the policy engine records policy changes,
overrides, releases and top-ups directly. Rows live in SQLite, where triggers refuse UPDATE
and DELETE, so history cannot be rewritten through this process.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from controller.core.bus import BusClosed, EventBus, Overflow
from controller.core.clock import Clock
from controller.core.events import AlarmCleared, AlarmRaised, CommandCompleted, Event
from controller.core.files import private_file
from controller.schema_version import declare, migrate

__all__ = ["AuditEntry", "AuditLog"]

_LOGGER = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL DEFAULT 'ok',
    source TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts);
CREATE INDEX IF NOT EXISTS audit_target ON audit (target);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
_MIGRATIONS = declare("audit", [_SCHEMA])


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited action. ``result`` is ``ok`` or the error; ``details`` is free-form data."""

    seq: int
    ts: float
    actor: str
    action: str
    target: str
    reason: str
    result: str
    source: str
    details: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "reason": self.reason,
            "result": self.result,
            "source": self.source,
            "details": self.details,
        }


class AuditLog:
    """The audit log of one site; also a controller component that records bus events."""

    name = "audit"

    def __init__(self, path: Path | str, clock: Clock, bus: EventBus | None = None) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            private_file(self.path)  # staff names and overrides: the controller's user only
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        migrate(self._db, self.path, _MIGRATIONS)
        self.clock = clock
        self.bus = bus
        self.recorded = 0
        self.failures = 0

    def close(self) -> None:
        self._db.close()

    def record(
        self,
        actor: str,
        action: str,
        target: str,
        *,
        reason: str = "",
        result: str = "ok",
        source: str = "",
        details: Mapping[str, Any] | None = None,
        ts: float | None = None,
    ) -> int:
        """Append one entry; returns its sequence number (0 if the database refused it)."""
        row = (
            self.clock.time() if ts is None else ts,
            actor,
            action,
            target,
            reason,
            result,
            source,
            json.dumps(dict(details or {}), ensure_ascii=False, default=str),
        )
        try:
            cursor = self._db.execute(
                "INSERT INTO audit (ts, actor, action, target, reason, result, source, details) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        except sqlite3.Error as err:
            self.failures += 1
            if self.failures == 1:
                _LOGGER.exception("Audit log %s refused an entry", self.path)
            else:
                _LOGGER.debug("Audit log %s refused an entry: %s", self.path, err)
            return 0
        self.recorded += 1
        return int(cursor.lastrowid or 0)

    def record_event(self, event: Event) -> None:
        """Record a command outcome, or an alarm raised or cleared, from the bus."""
        if isinstance(event, CommandCompleted):
            self.record(
                event.actor,
                "command",
                event.entity_id,
                reason=event.reason,
                result="ok" if event.ok else (event.error or "failed"),
                source=event.source,
                details={"value": event.value},
                ts=event.timestamp,
            )
        elif isinstance(event, AlarmRaised):
            self.record(
                "system",
                "alarm.raise",
                event.entity_id or event.alarm_id,
                reason=event.message_en,
                result=event.severity,
                source="alarm",
                details={
                    "alarm_id": event.alarm_id,
                    **({"kind": event.kind} if event.kind else {}),
                    **event.evidence,
                },
                ts=event.timestamp,
            )
        elif isinstance(event, AlarmCleared):
            self.record(
                "system",
                "alarm.clear",
                event.entity_id or event.alarm_id,
                reason=event.message_en,
                source="alarm",
                details={"alarm_id": event.alarm_id},
                ts=event.timestamp,
            )

    def query(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Entries newest first; ``target`` matches a prefix (a device's entities)."""
        where, args = _where(since, until, actor, action, target)
        sql = "SELECT seq, ts, actor, action, target, reason, result, source, details FROM audit"
        sql += where + " ORDER BY seq DESC LIMIT ? OFFSET ?"
        args.extend([max(1, min(limit, 10_000)), max(0, offset)])
        return [
            AuditEntry(seq, ts, a, act, tgt, why, res, src, json.loads(det))
            for seq, ts, a, act, tgt, why, res, src, det in self._db.execute(sql, args)
        ]

    def count(
        self,
        *,
        since: float | None = None,
        until: float | None = None,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
    ) -> int:
        """How many entries ``query`` with the same filters pages through."""
        where, args = _where(since, until, actor, action, target)
        sql = "SELECT count(*) FROM audit" + where  # noqa: S608 - placeholders only
        row = self._db.execute(sql, args).fetchone()
        return int(row[0])

    def between(self, since: float, until: float, actions: tuple[str, ...]) -> Iterator[AuditEntry]:
        """Every entry with one of ``actions`` in [since, until), oldest first, unbounded.

        Reports summarise a semester of curfew commands (tens of thousands a night on a big
        campus), which ``query``'s limit is not for; this streams them instead.
        """
        marks = ", ".join("?" for _ in actions)
        rows = self._db.execute(
            "SELECT seq, ts, actor, action, target, reason, result, source, details FROM audit "  # noqa: S608 (placeholders only)
            f"WHERE ts >= ? AND ts < ? AND action IN ({marks}) ORDER BY ts, seq",
            (since, until, *actions),
        )
        for seq, ts, a, act, tgt, why, res, src, det in rows:
            yield AuditEntry(seq, ts, a, act, tgt, why, res, src, json.loads(det))

    async def run(self) -> None:
        """Record commands and alarms from the bus until cancelled or the bus closes."""
        if self.bus is None:
            raise RuntimeError("AuditLog.run needs the controller's bus")
        sub = self.bus.subscribe(
            "audit",
            [CommandCompleted, AlarmRaised, AlarmCleared],
            maxsize=100_000,
            overflow=Overflow.DROP_OLDEST,
        )
        try:
            while True:
                try:
                    batch = await sub.get_batch(1000)
                except BusClosed:
                    return
                self._db.execute("BEGIN")
                try:
                    for event in batch:
                        self.record_event(event)
                finally:
                    self._db.execute("COMMIT")
        finally:
            sub.close()

    def status(self) -> dict[str, Any]:
        return {"path": str(self.path), "recorded": self.recorded, "failures": self.failures}


def _where(
    since: float | None,
    until: float | None,
    actor: str | None,
    action: str | None,
    target: str | None,
) -> tuple[str, list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    for clause, value in (
        ("ts >= ?", since),
        ("ts < ?", until),
        ("actor = ?", actor),
        ("action = ?", action),
    ):
        if value is not None:
            where.append(clause)
            args.append(value)
    if target is not None:
        where.append("(target = ? OR target LIKE ? ESCAPE '\\')")
        escaped = target.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args.extend([target, escaped + ".%"])
    return (" WHERE " + " AND ".join(where) if where else ""), args
