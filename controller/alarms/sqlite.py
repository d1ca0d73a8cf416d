"""Opening the alarm layer's SQLite files the way every store of the controller is opened.

Private (0600: alarm evidence names rooms and staff), WAL (API readers and the CLI do not block
the service), a busy timeout (``sanjie alarms ack`` may write while the service runs), and the
schema version checked and migrated (``controller.schema_version``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from controller.core.files import private_file
from controller.schema_version import SchemaTooNew, migrate

from .model import AlarmError

__all__ = ["StoreError", "open_store"]


class StoreError(AlarmError):
    """A store file that cannot be opened (unreadable, or from a newer sanjie)."""


def open_store(path: str | Path, what: str, migrations: Sequence[str]) -> sqlite3.Connection:
    """The migrated connection of ``path`` (``":memory:"`` for tests that need no restart)."""
    memory = str(path) == ":memory:"
    if not memory:
        private_file(Path(path))
    try:
        db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=5)
        if not memory:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        migrate(db, path, migrations)
    except (sqlite3.Error, SchemaTooNew) as err:
        raise StoreError(f"cannot open {what} {path}: {err}") from err
    return db
