"""State files readable by the controller's own user only: folders 0700, files 0600.

The audit log names staff, the outbox holds every reading, the policy store the overrides: none
of it is for other accounts on the machine. The mode is set when a file is created (no window
with the umask's 0644) and tightened on files an older version created.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "private_dir", "private_file"]

DIR_MODE = 0o700
FILE_MODE = 0o600
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing; the folder itself ends up 0700.

    Only a folder this controller owns should be passed: an existing one is tightened too.
    """
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists with mode 0600 before SQLite opens it.

    SQLite gives its WAL and shared-memory files the database file's mode, so they follow.
    The folder is created if missing (0700) but an existing one is left as it is: a configured
    path may point into a shared folder.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)
    for suffix in _SQLITE_SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path.with_name(path.name + suffix), FILE_MODE)
    return path
