"""Schema versions and migrations for every SQLite store the controller keeps.

Each store lists its migrations, oldest first: migration *n* turns a version *n − 1* file into
version *n*, and a new file runs them all. The version lives in SQLite's own
``PRAGMA user_version``, so ``sanjie backup`` and ``sanjie restore`` can read it from any file
without knowing the store. A file newer than the code (a downgrade, or a backup from a newer
release) is refused with a message that says so, instead of being half-understood.

Migrations must be idempotent scripts (``CREATE TABLE IF NOT EXISTS``, ``ALTER TABLE`` guarded
by the version): the first migration of each store is its original schema, which files made
before versions existed already have.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

__all__ = ["STORES", "SchemaTooNew", "file_version", "migrate"]

STORES: dict[str, int] = {}
"""Store name (its usual file name without ``.sqlite3``) → the schema version this code writes.
Filled by :func:`migrate`'s callers at import time through :func:`declare`."""


class SchemaTooNew(RuntimeError):
    """A store file was written by a newer sanjie than this one."""

    def __init__(self, path: Path | str, found: int, known: int) -> None:
        super().__init__(
            f"{path} has schema version {found}, but this sanjie knows versions up to {known}: "
            "install the newer sanjie again, or restore a backup made by this version"
        )
        self.path = str(path)
        self.found = found
        self.known = known


def declare(store: str, migrations: Sequence[str]) -> Sequence[str]:
    """Record that ``store`` is at ``len(migrations)`` in this code; returns ``migrations``."""
    STORES[store] = len(migrations)
    return migrations


def file_version(db: sqlite3.Connection) -> int:
    """The schema version a file carries (0: made before versions, or empty)."""
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: sqlite3.Connection, path: Path | str, migrations: Sequence[str]) -> int:
    """Bring ``db`` to the newest version, one committed migration at a time.

    Raises :class:`SchemaTooNew` when the file is newer than ``migrations`` know.
    """
    found = file_version(db)
    if found > len(migrations):
        raise SchemaTooNew(path, found, len(migrations))
    for version in range(found + 1, len(migrations) + 1):
        # executescript commits first; the version is written in the same script so a crash
        # between the two cannot leave a migrated file with the old number.
        db.executescript(
            f"BEGIN;\n{migrations[version - 1]}\nPRAGMA user_version = {version};\nCOMMIT;"
        )
    return len(migrations)
