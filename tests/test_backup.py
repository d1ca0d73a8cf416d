"""``sanjie backup`` / ``sanjie restore`` and the stores' schema versions."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import sqlite3
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from controller.accounts import Role
from controller.audit import AuditLog
from controller.backup import BackupError, backup, hold_lock, known_versions, restore
from controller.cli import app
from controller.config import load_site
from controller.core import FakeClock, SystemClock
from controller.policies.store import PolicyStore, StoreError
from controller.reports.diners import DinerCount, DinerStore
from controller.schema_version import STORES, SchemaTooNew, migrate
from controller.service import ServiceOptions, run_service, state_dir
from emulators.modbus import SiteEmulator
from tests.auth_helpers import service_token
from tests.integrations.modbus_harness import wait_until
from tests.servers import free_port


def test_new_store_carries_its_schema_version(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.sqlite3", FakeClock(0))
    log.close()
    with sqlite3.connect(tmp_path / "audit.sqlite3") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == STORES["audit"] >= 1


def test_a_store_written_by_a_newer_sanjie_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policies.sqlite3"
    PolicyStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match=r"schema version 99.*up to"):
        PolicyStore(path)


def test_migrations_run_in_order_once(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "x.sqlite3", isolation_level=None)
    steps = [
        "CREATE TABLE t (a INTEGER);",
        "ALTER TABLE t ADD COLUMN b TEXT NOT NULL DEFAULT 'x';",
    ]
    assert migrate(db, "x", steps[:1]) == 1
    db.execute("INSERT INTO t (a) VALUES (1)")
    assert migrate(db, "x", steps) == 2
    assert migrate(db, "x", steps) == 2  # nothing left to do
    assert db.execute("SELECT a, b FROM t").fetchall() == [(1, "x")]
    with pytest.raises(SchemaTooNew, match="version 2"):
        migrate(db, "x", steps[:1])


def test_a_file_from_before_versions_is_adopted(tmp_path: Path) -> None:
    """Files made by 0.1.0 have the tables but user_version 0: the first migration fits."""
    path = tmp_path / "audit.sqlite3"
    log = AuditLog(path, FakeClock(0))
    log.record("王丽", "command", "dorm-1.101.elec.relay")
    log.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 0")
    log = AuditLog(path, FakeClock(0))
    assert [e.actor for e in log.query()] == ["王丽"]
    log.close()


def test_every_store_the_controller_names_is_versioned() -> None:
    """Each ``<name>.sqlite3`` the code opens declares its schema, so a backup records the
    version and a restore refuses one from a newer sanjie (the diner counts once did not)."""
    root = Path(__file__).resolve().parent.parent / "controller"
    named = {
        stem
        for path in root.rglob("*.py")
        for stem in re.findall(r"([a-z_]+)\.sqlite3", path.read_text(encoding="utf-8"))
    }
    assert {"audit", "diners", "history"} <= named  # the walk sees the stores
    assert named <= set(known_versions()), sorted(named - set(known_versions()))


def test_diner_counts_carry_a_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "diners.sqlite3"
    store = DinerStore(path)
    store.put([DinerCount("canteen-1", dt.date(2026, 12, 7), "lunch", 812)], source="t", now=0)
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == STORES["diners"] == 1
        db.execute("PRAGMA user_version = 0")  # a file written before the store had versions
    store = DinerStore(path)
    assert [c.count for c in store.between(dt.date(2026, 12, 1), dt.date(2026, 12, 31))] == [812]
    store.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 2")
    with pytest.raises(SchemaTooNew, match="schema version 2"):
        DinerStore(path)


SITE = """\
campus: {id: bk, name: {zh: 备份测试}}
buildings:
  - {id: b1, kind: dorm, name: {zh: 一号楼}, rooms: [{id: "101", floor: 1, capacity: 4}]}
devices:
  - {id: b1.101.elec, profile: eastron/sdm120, building: b1, room: "101",
     link: gw-1, unit_id: 1, scan_interval: 1, circuit: sockets}
links:
  - {id: gw-1, type: modbus_tcp, host: 127.0.0.1, port: PORT, timeout: 0.5}
policies:
  - id: room-quota
    type: quota
    name: {zh: 宿舍用电额度}
    scope: {building_kinds: [dorm]}
    resource: electricity
    per_bed: 30
    action: flag
"""


TOKEN: dict[str, str] = {}
"""The operator's API token of the running service (``_request`` sends it)."""


def _request(url: str, body: dict[str, object] | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    req.add_header("Content-Type", "application/json")
    for key, value in TOKEN.items():
        req.add_header(key, value)
    with urllib.request.urlopen(req, timeout=5) as reply:
        return json.loads(reply.read())


async def _until_up(url: str) -> object:
    async with asyncio.timeout(30):
        while True:
            try:
                return await asyncio.to_thread(_request, url)
            except OSError:
                await asyncio.sleep(0.2)


def _count(path: Path, table: str) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not created yet
    finally:
        db.close()


async def _quota(api: str) -> dict[str, object]:
    page = await asyncio.to_thread(_request, f"{api}/api/quotas?policy_id=room-quota")
    assert isinstance(page, dict)
    rows = page["items"]
    assert isinstance(rows, list)
    assert len(rows) == 1
    row = rows[0]
    assert isinstance(row, dict)
    return row


@pytest.mark.integration
async def test_backup_while_running_restores_into_a_controller_that_resumes(
    tmp_path: Path,
) -> None:
    site_path = tmp_path / "site.yaml"
    site_path.write_text(SITE.replace("PORT", str(free_port())), encoding="utf-8")
    site = load_site(site_path)
    saved = tmp_path / "backup"
    emulator = SiteEmulator(site, SystemClock(), latency=0)
    async with emulator:
        # 1. A running controller: a top-up changes the quota, readings reach the history.
        port = free_port()
        api = f"http://127.0.0.1:{port}"
        stop = asyncio.Event()
        first = ServiceOptions(site_path, tmp_path / "first", "127.0.0.1", port)
        TOKEN.update(service_token(first.data_dir, role=Role.OPERATOR))
        async with asyncio.TaskGroup() as group:
            group.create_task(run_service(first, stop, site=site))
            await _until_up(f"{api}/api/health")
            before = await _quota(api)
            await asyncio.to_thread(
                _request,
                f"{api}/api/quotas/room-quota/top-up?room=b1/101",
                {"amount": 12.5, "reason": "备份测试"},
            )
            topped = await _quota(api)
            assert topped != before
            history = state_dir(first.data_dir) / "history.sqlite3"
            await wait_until(lambda: _count(history, "readings") > 0, "readings recorded")
            # `sanjie restore` refuses to replace the files of a running controller.
            with pytest.raises(BackupError, match="running"):
                restore(tmp_path, state_dir(first.data_dir))
            manifest = backup(state_dir(first.data_dir), saved)  # while it runs
            stop.set()
        names = {f.name for f in manifest.files}
        assert {"audit.sqlite3", "policies.sqlite3", "history.sqlite3", "accounts.sqlite3"} <= names
        assert all(f.schema_version >= 1 for f in manifest.files)
        assert oct(saved.stat().st_mode & 0o777) == "0o700"

        # 2. Restore into a fresh folder; a controller there resumes where the first stood.
        second = ServiceOptions(site_path, tmp_path / "second", "127.0.0.1", free_port())
        restore(saved, state_dir(second.data_dir))
        restored = state_dir(second.data_dir) / "history.sqlite3"
        assert _count(restored, "readings") > 0
        assert _count(restored, "series") > 0
        api = f"http://127.0.0.1:{second.api_port}"
        stop = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            group.create_task(run_service(second, stop, site=site))
            await _until_up(f"{api}/api/health")
            resumed = await _quota(api)
            stop.set()
    assert {k: resumed[k] for k in topped if k != "used"} == {
        k: topped[k] for k in topped if k != "used"
    }
    log = AuditLog(state_dir(second.data_dir) / "audit.sqlite3", FakeClock(0))
    assert any(e.reason == "备份测试" for e in log.query())
    log.close()


def test_restore_refuses_a_damaged_or_newer_backup(tmp_path: Path) -> None:
    var = tmp_path / "var"
    AuditLog(var / "audit.sqlite3", FakeClock(0)).close()
    saved = tmp_path / "saved"
    backup(var, saved)
    with pytest.raises(BackupError, match="not empty"):
        backup(var, saved)
    copy = saved / "audit.sqlite3"
    with sqlite3.connect(copy) as db:
        db.execute("PRAGMA user_version = 42")
    with pytest.raises(BackupError, match="checksum"):
        restore(saved, tmp_path / "other")
    manifest = json.loads((saved / "manifest.json").read_text())
    manifest["files"][0]["schema_version"] = 42
    manifest["files"][0]["sha256"] = __import__("hashlib").sha256(copy.read_bytes()).hexdigest()
    (saved / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="version 42"):
        restore(saved, tmp_path / "other")
    assert not (tmp_path / "other" / "audit.sqlite3").exists()


def test_lock_is_exclusive(tmp_path: Path) -> None:
    with hold_lock(tmp_path), pytest.raises(BackupError, match="running"), hold_lock(tmp_path):
        pass


def test_cli_backup_and_restore(tmp_path: Path) -> None:
    var = tmp_path / "data" / "var"
    log = AuditLog(var / "audit.sqlite3", FakeClock(0))
    log.record("ops", "test", "x")
    log.close()
    runner = CliRunner()
    made = runner.invoke(app, ["backup", str(tmp_path / "b"), "--data-dir", str(tmp_path / "data")])
    assert made.exit_code == 0, made.output
    assert "audit.sqlite3" in made.output
    back = runner.invoke(app, ["restore", str(tmp_path / "b"), "--data-dir", str(tmp_path / "new")])
    assert back.exit_code == 0, back.output
    assert (tmp_path / "new" / "var" / "audit.sqlite3").is_file()
    bad = runner.invoke(app, ["restore", str(tmp_path), "--data-dir", str(tmp_path / "new")])
    assert bad.exit_code == 1
    assert "not a sanjie backup" in bad.output
