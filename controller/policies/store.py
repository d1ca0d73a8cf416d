"""SQLite persistence of what the policy engine must not forget across a restart.

Policies edited at run time (over the site file's), unit memories (quota baselines and
top-ups, trip counts and lock-outs, latched leaks, valve counters), points owed a restore,
overrides and alarms. Each evaluation's changes are written in one transaction; WAL mode keeps
readers (the API) from blocking the writer.

The store remembers what its memory and holds rows hold (read at ``load``, then every committed
write), and ``save`` leaves out the rows that would not change: the engine reports a unit
memory or a hold whenever it is touched, and most touches write back what is already there.
The file is never behind what was reported, so crash safety is the same as writing everything.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from controller.core.files import private_file
from controller.schema_version import SchemaTooNew, declare, migrate

from .alarms import ActiveAlarm
from .overrides import Override

__all__ = ["PolicyStore", "StoreError", "StoredPolicy", "StoredState"]

_LOGGER = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS policies (
    id TEXT PRIMARY KEY, config TEXT, deleted INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL, updated_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS memory (
    policy_id TEXT NOT NULL, unit TEXT NOT NULL, data TEXT NOT NULL, updated_at REAL NOT NULL,
    PRIMARY KEY (policy_id, unit)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS holds (entity_id TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS overrides (
    id TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at REAL NOT NULL,
    ended_at REAL, ended_by TEXT, end_reason TEXT);
CREATE TABLE IF NOT EXISTS alarms (
    key TEXT NOT NULL, raised_at REAL NOT NULL, data TEXT NOT NULL, cleared_at REAL,
    PRIMARY KEY (key, raised_at));
CREATE INDEX IF NOT EXISTS alarms_active ON alarms (cleared_at);
"""
_MIGRATIONS = declare("policies", [_SCHEMA])


class StoreError(Exception):
    """The policy database cannot be opened or has an unknown schema."""


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """A policy created or edited at run time (``config`` None when deleted)."""

    id: str
    config: dict[str, Any] | None
    updated_at: float
    updated_by: str


@dataclass
class StoredState:
    """Everything loaded at start-up."""

    policies: list[StoredPolicy] = field(default_factory=list)
    memory: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    holds: dict[str, dict[str, Any]] = field(default_factory=dict)
    overrides: list[Override] = field(default_factory=list)
    alarms: list[ActiveAlarm] = field(default_factory=list)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


class PolicyStore:
    """One SQLite file; every write method commits before returning."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            private_file(self.path)  # staff names and overrides: the controller's user only
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            migrate(self._db, self.path, _MIGRATIONS)
        except (sqlite3.Error, SchemaTooNew) as err:
            raise StoreError(f"cannot open policy store {path}: {err}") from err
        self.writes = 0
        self.skipped = 0
        """Rows ``save`` left out because the file already held them."""
        self._loaded = False
        self._memory: dict[tuple[str, str], str | None] = {}
        self._holds: dict[str, str | None] = {}
        """The text of each row as written (None: no row); text, not the engine's dicts, so a
        later change inside one of them cannot make the store believe it was written."""

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ load

    def load(self) -> StoredState:
        """Everything the engine needs at start-up; undecodable rows are logged and skipped."""
        state = StoredState()
        db = self._db
        for pid, config, deleted, at, by in db.execute(
            "SELECT id, config, deleted, updated_at, updated_by FROM policies ORDER BY rowid"
        ):
            data = None if deleted or config is None else _loads(config, f"policy {pid}")
            if data is not None or deleted:
                state.policies.append(StoredPolicy(pid, data, at, by))
        for pid, unit, data in db.execute("SELECT policy_id, unit, data FROM memory"):
            decoded = _loads(data, f"memory {pid}/{unit}")
            self._memory[(pid, unit)] = data
            if isinstance(decoded, dict):
                state.memory.append((pid, unit, decoded))
        for entity, data in db.execute("SELECT entity_id, data FROM holds"):
            decoded = _loads(data, f"hold {entity}")
            self._holds[entity] = data
            if isinstance(decoded, dict):
                state.holds[entity] = decoded
        self._loaded = True  # from here on, a key not remembered has no row
        for (data,) in db.execute("SELECT data FROM overrides WHERE ended_at IS NULL"):
            decoded = _loads(data, "override")
            if isinstance(decoded, dict):
                try:
                    state.overrides.append(Override.from_json(decoded))
                except (KeyError, TypeError, ValueError) as err:
                    _LOGGER.warning("Skipping an unreadable stored override: %s", err)
        for (data,) in db.execute("SELECT data FROM alarms WHERE cleared_at IS NULL"):
            decoded = _loads(data, "alarm")
            if isinstance(decoded, dict):
                try:
                    state.alarms.append(ActiveAlarm.from_json(decoded))
                except (KeyError, TypeError, ValueError) as err:
                    _LOGGER.warning("Skipping an unreadable stored alarm: %s", err)
        return state

    # ----------------------------------------------------------------- write

    def save(
        self,
        now: float,
        *,
        memory: dict[tuple[str, str], dict[str, Any] | None] | None = None,
        holds: dict[str, dict[str, Any] | None] | None = None,
        alarms: Iterable[ActiveAlarm] = (),
    ) -> None:
        """One evaluation's changes, in one transaction; rows the file holds already are left
        out (``skipped``), and nothing is written when nothing changed."""
        mem = self._changed(memory or {}, self._memory)
        held = self._changed(holds or {}, self._holds)
        alarms = list(alarms)
        if not (mem or held or alarms):
            return
        with closing(self._db.cursor()) as cur:
            cur.execute("BEGIN")
            try:
                cur.executemany(
                    "INSERT OR REPLACE INTO memory VALUES (?, ?, ?, ?)",
                    [(p, u, text, now) for (p, u), text in mem.items() if text is not None],
                )
                cur.executemany(
                    "DELETE FROM memory WHERE policy_id=? AND unit=?",
                    [key for key, text in mem.items() if text is None],
                )
                cur.executemany(
                    "INSERT OR REPLACE INTO holds VALUES (?, ?)",
                    [(e, text) for e, text in held.items() if text is not None],
                )
                cur.executemany(
                    "DELETE FROM holds WHERE entity_id=?",
                    [(e,) for e, text in held.items() if text is None],
                )
                cur.executemany(
                    "INSERT OR REPLACE INTO alarms VALUES (?, ?, ?, ?)",
                    [(a.alarm.key, a.raised_at, _dumps(a.to_json()), a.cleared_at) for a in alarms],
                )
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
        self._memory.update(mem)
        self._holds.update(held)
        self.writes += 1

    def _changed(
        self, rows: Mapping[Any, dict[str, Any] | None], saved: dict[Any, str | None]
    ) -> dict[Any, str | None]:
        """The text of each of ``rows`` that differs from what its row holds (None: delete
        it); before ``load`` nothing is known, so everything is written."""
        out = {}
        for key, data in rows.items():
            text = None if data is None else _dumps(data)
            if self._loaded and saved.get(key) == text:
                continue
            out[key] = text
        self.skipped += len(rows) - len(out)
        return out

    def save_policy(
        self, policy_id: str, config: dict[str, Any] | None, now: float, actor: str
    ) -> None:
        """Store a run-time edit (``config`` None deletes the policy, also a site one)."""
        self._db.execute(
            "INSERT OR REPLACE INTO policies VALUES (?, ?, ?, ?, ?)",
            (
                policy_id,
                None if config is None else _dumps(config),
                int(config is None),
                now,
                actor,
            ),
        )
        self.writes += 1

    def save_override(self, override: Override) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO overrides (id, data, expires_at) VALUES (?, ?, ?)",
            (override.id, _dumps(override.to_json()), override.expires_at),
        )
        self.writes += 1

    def end_override(self, override_id: str, now: float, actor: str, reason: str) -> None:
        self._db.execute(
            "UPDATE overrides SET ended_at=?, ended_by=?, end_reason=? WHERE id=?",
            (now, actor, reason, override_id),
        )
        self.writes += 1

    def alarm_history(self, limit: int = 100) -> list[ActiveAlarm]:
        """Recent alarms, newest first, cleared ones included."""
        rows = self._db.execute(
            "SELECT data FROM alarms ORDER BY raised_at DESC LIMIT ?", (limit,)
        ).fetchall()
        out = []
        for (data,) in rows:
            decoded = _loads(data, "alarm")
            if isinstance(decoded, dict):
                out.append(ActiveAlarm.from_json(decoded))
        return out

    def prune(self, before: float) -> int:
        """Forget cleared alarms and ended overrides older than ``before``."""
        with closing(self._db.cursor()) as cur:
            cur.execute(
                "DELETE FROM alarms WHERE cleared_at IS NOT NULL AND cleared_at < ?", (before,)
            )
            removed = cur.rowcount
            cur.execute(
                "DELETE FROM overrides WHERE ended_at IS NOT NULL AND ended_at < ?", (before,)
            )
            return removed + cur.rowcount


def _loads(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        _LOGGER.warning("Skipping unreadable stored %s: %s", what, err)
        return None
