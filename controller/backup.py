"""Backups and restores of every SQLite store in the controller's state folder.

``backup`` uses SQLite's online backup API, which copies a consistent snapshot page by page
while the controller keeps writing (a plain ``cp`` of a WAL-mode file can catch it half
written). A manifest records each file's schema version and checksum, so ``restore`` can
refuse a damaged copy, or one written by a newer sanjie, *before* it replaces anything.

A running controller holds an advisory lock on ``<state dir>/.lock`` (:func:`hold_lock`);
``restore`` refuses to overwrite the files under it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import importlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from controller import __version__
from controller.schema_version import STORES, SchemaTooNew, file_version

__all__ = [
    "BackupError",
    "BackupFile",
    "Manifest",
    "backup",
    "hold_lock",
    "known_versions",
    "restore",
]

_STORE_MODULES = (
    "controller.accounts.store",
    "controller.alarms.store",
    "controller.alarms.notify.outbox",
    "controller.workorders.store",
    "controller.audit",
    "controller.billing.store",
    "controller.policies.store",
    "controller.recorder.history",
    "controller.recorder.outbox",
    "controller.reports.diners",
)
"""Modules that keep a SQLite store; each declares its schema version when imported."""

MANIFEST = "manifest.json"
LOCK = ".lock"


class BackupError(Exception):
    """A backup or restore that cannot be done; nothing was changed."""


@dataclass(frozen=True, slots=True)
class BackupFile:
    name: str
    schema_version: int
    bytes: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    sanjie_version: str
    created: str
    files: tuple[BackupFile, ...]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _copy(src: Path, dst: Path, *, read_only: bool) -> int:
    """Online-backup ``src`` into a new ``dst``; returns the schema version copied."""
    uri = f"file:{src}?mode=ro" if read_only else f"file:{src}"
    source = sqlite3.connect(uri, uri=True)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            return file_version(target)
        finally:
            target.close()
    finally:
        source.close()


def backup(state_dir: Path, dest: Path) -> Manifest:
    """Copy every ``*.sqlite3`` of ``state_dir`` into ``dest`` (new or empty), with a manifest."""
    stores = sorted(state_dir.glob("*.sqlite3"))
    if not stores:
        raise BackupError(f"no SQLite stores in {state_dir}: is that the state folder?")
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty; back up into a new folder")
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = []
    for path in stores:
        out = dest / path.name
        try:
            version = _copy(path, out, read_only=True)
        except sqlite3.Error as err:
            raise BackupError(f"cannot back up {path}: {err}") from err
        out.chmod(0o600)
        files.append(BackupFile(path.name, version, out.stat().st_size, _sha256(out)))
    manifest = Manifest(__version__, dt.datetime.now(dt.UTC).isoformat(), tuple(files))
    target = dest / MANIFEST
    target.write_text(json.dumps(asdict(manifest), indent=2) + "\n", encoding="utf-8")
    target.chmod(0o600)
    return manifest


def _read_manifest(source: Path) -> Manifest:
    try:
        raw = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
        files = tuple(BackupFile(**f) for f in raw["files"])
        return Manifest(raw["sanjie_version"], raw["created"], files)
    except FileNotFoundError:
        raise BackupError(f"{source} has no {MANIFEST}: not a sanjie backup") from None
    except (ValueError, KeyError, TypeError) as err:
        raise BackupError(f"{source / MANIFEST} is damaged: {err}") from err


def _check(source: Path, manifest: Manifest) -> None:
    """Every file is there, intact, and not newer than this code knows."""
    for entry in manifest.files:
        path = source / entry.name
        if not path.is_file():
            raise BackupError(f"{path} is missing from the backup")
        if _sha256(path) != entry.sha256:
            raise BackupError(f"{path} does not match its checksum: the copy is damaged")
        known = known_versions().get(path.stem)
        if known is not None and entry.schema_version > known:
            raise BackupError(str(SchemaTooNew(path, entry.schema_version, known)))


def known_versions() -> dict[str, int]:
    for module in _STORE_MODULES:
        importlib.import_module(module)
    return STORES


@contextlib.contextmanager
def hold_lock(state_dir: Path) -> Iterator[None]:
    """Held by a running controller: a restore refuses to replace its files meanwhile."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(state_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"another sanjie controller is running on {state_dir}; stop it first"
            ) from None
        yield
    finally:
        os.close(fd)


def restore(source: Path, state_dir: Path) -> Manifest:
    """Replace the stores of ``state_dir`` with the backup in ``source``.

    Checks everything first (manifest, checksums, schema versions, no controller running),
    then swaps each file in whole: a restore that fails midway leaves every file either the
    old one or the restored one, never a mixture inside one file.
    """
    manifest = _read_manifest(source)
    _check(source, manifest)
    with hold_lock(state_dir):
        for entry in manifest.files:
            target = state_dir / entry.name
            staging = state_dir / f".{entry.name}.restoring"
            staging.unlink(missing_ok=True)
            try:
                _copy(source / entry.name, staging, read_only=True)
            except sqlite3.Error as err:
                staging.unlink(missing_ok=True)
                raise BackupError(f"cannot restore {entry.name}: {err}") from err
            staging.chmod(0o600)
            for companion in ("-wal", "-shm"):
                Path(f"{target}{companion}").unlink(missing_ok=True)
            staging.replace(target)
    return manifest
