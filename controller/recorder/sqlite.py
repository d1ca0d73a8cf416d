"""SQLite plumbing shared by the outbox and the embedded history: WAL files, transactions."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from controller.core.files import private_file

from .errors import RecorderError

__all__ = ["connect", "transaction"]


def connect(path: Path, what: str) -> sqlite3.Connection:
    """Open (creating folders, the file 0600) in WAL mode with ``synchronous=NORMAL``.

    In WAL mode NORMAL loses no committed transaction when the *process* dies (SIGKILL), only
    possibly the last ones on power loss, at a fraction of FULL's fsync cost.
    """
    try:
        private_file(path)
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    except (OSError, sqlite3.Error) as err:
        raise RecorderError(f"cannot open the {what} {path}: {err}") from err
    return db


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """An explicit transaction on an autocommit connection: commit, or roll back and raise."""
    db.execute("BEGIN")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
