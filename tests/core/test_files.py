"""State files are the controller user's alone (issue 11, defect 6): folders 0700, files 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from controller.audit import AuditLog
from controller.core import FakeClock
from controller.core.files import private_dir, private_file
from controller.policies.store import PolicyStore
from controller.recorder.history import History
from controller.recorder.outbox import Outbox
from controller.service import state_dir


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def _permissive_umask() -> object:
    """The umask most systems ship (022): without care, files would come out 0644."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_every_state_file_and_its_wal_is_0600_in_a_0700_folder(tmp_path: Path) -> None:
    var = private_dir(state_dir(tmp_path))
    audit = AuditLog(var / "audit.sqlite3", FakeClock())
    store = PolicyStore(var / "policies.sqlite3")
    outbox = Outbox(var / "outbox.sqlite3", max_bytes=1 << 20)
    history = History(var / "history.sqlite3", {})
    try:
        audit.record("staff:li", "command", "dorm-1.305.elec.relay", result="ok")
        files = sorted(var.iterdir())
        assert {p.name for p in files} >= {
            "audit.sqlite3",
            "audit.sqlite3-wal",
            "policies.sqlite3",
            "outbox.sqlite3",
            "history.sqlite3",
        }
        assert _mode(var) == 0o700
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        audit.close()
        store.close()
        outbox.close()
        history.close()


def test_files_an_older_version_left_world_readable_are_tightened(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    old = var / "audit.sqlite3"
    old.write_bytes(b"")
    old.chmod(0o644)
    private_dir(var)
    private_file(old)
    assert (_mode(var), _mode(old)) == (0o700, 0o600)
