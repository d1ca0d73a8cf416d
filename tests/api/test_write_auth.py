"""Every write endpoint, one table (issue 13): success with the right role, 401 without
credentials, 403 with too small a role and outside the account's buildings, 422 naming the
failing field, and an audit record naming the account.

The controller runs for real (policy engine, audit log on the bus, a stand-in relay driver);
accounts are real accounts with real API tokens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.accounts import AccountStore, Role
from controller.api import create_api
from controller.app import Controller
from controller.audit import AuditLog
from controller.config import load_site
from controller.core import FakeClock
from controller.policies.alarms import ActiveAlarm
from controller.policies.engine import PolicyEngine
from controller.policies.model import Alarm
from tests.auth_helpers import bearer, fast_store
from tests.integrations.modbus_harness import wait_until

from .test_api import SITE, _Relay
from .test_policies_api import POLICIES

ROOM = "dorm-1/101"


@dataclass
class Campus:
    controller: Controller
    engine: PolicyEngine
    audit: AuditLog
    accounts: AccountStore
    app: Any
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)

    def client(self, who: str | None) -> httpx.AsyncClient:
        headers = self.tokens[who] if who else {}
        transport = httpx.ASGITransport(app=self.app)
        return httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers)


@pytest.fixture
async def campus(tmp_path: Path) -> AsyncIterator[Campus]:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE + POLICIES, encoding="utf-8")
    ctrl = Controller(load_site(site_file), FakeClock(1_780_000_000))
    relay = _Relay()
    ctrl.commands.register("dorm-1.101.elec", relay)
    audit = AuditLog(tmp_path / "audit.sqlite3", ctrl.clock, ctrl.bus)
    engine = PolicyEngine(ctrl, store_path=tmp_path / "policies.sqlite3", audit=audit)
    ctrl.add(audit)
    ctrl.add(engine)
    accounts = fast_store(tmp_path / "accounts.sqlite3", ctrl.clock)
    app = create_api(ctrl, accounts=accounts)
    found = Campus(ctrl, engine, audit, accounts, app)
    for name, role, buildings in [
        ("admin1", Role.ADMIN, None),
        ("op1", Role.OPERATOR, None),
        ("viewer1", Role.VIEWER, None),
        ("admin2", Role.ADMIN, frozenset({"dorm-2"})),  # a dorm manager of another building
    ]:
        found.tokens[name] = bearer(accounts, name, role, buildings=buildings, display_name="王丽")
    try:
        async with ctrl.running():
            yield found
    finally:
        accounts.close()
        engine.close()
        audit.close()


def _override(c: Campus) -> str:
    granted = c.engine.staff.grant_override(
        {"rooms": [ROOM]}, actor="setup", reason="setup", duration_s=3600
    )
    return granted.id


def _alarm(c: Campus) -> str:
    alarm = Alarm("a1", "leak", "warning", "漏水", "leak", "ac-limits", "dorm-1.101.elec.power")
    c.engine.core.alarms["a1"] = ActiveAlarm(alarm, c.controller.clock.time())
    return "a1"


@dataclass(frozen=True)
class Write:
    """One write endpoint: how to call it well and badly, who may, what it audits."""

    name: str
    method: str
    path: str
    body: dict[str, Any] | None
    role: Role
    bad: dict[str, Any] | None = None
    """A body that fails validation, and ``field``: the field the 422 must name."""
    field: str = ""
    action: str | None = None
    """The audit action recorded under the account (None: nothing to audit, see ``why``)."""
    why: str = ""
    setup: Any = None


WRITES = [
    Write(
        "command",
        "POST",
        "/api/commands",
        {"entity_id": "dorm-1.101.elec.relay", "value": False, "reason": "安全检查"},
        Role.OPERATOR,
        {"entity_id": "dorm-1.101.elec.relay", "value": 7, "reason": "x"},
        "value",
        "command",
    ),
    Write(
        "policy edit",
        "PUT",
        "/api/policies/ac-limits",
        {"config": {"type": "ac_limits", "cool_min_c": 27}, "reason": "迎峰度夏"},
        Role.ADMIN,
        {"config": {"type": "ac_limits", "cool_min_c": 5}, "reason": "x"},
        "cool_min_c",
        "policy.update",
    ),
    Write(
        "policy delete",
        "DELETE",
        "/api/policies/ac-limits",
        {"reason": "不再需要"},
        Role.ADMIN,
        {},
        "reason",
        "policy.delete",
    ),
    Write(
        "policy enable",
        "POST",
        "/api/policies/ac-limits/enable",
        {"reason": "恢复"},
        Role.ADMIN,
        {"reason": ""},
        "reason",
        "policy.update",
    ),
    Write(
        "policy disable",
        "POST",
        "/api/policies/ac-limits/disable",
        {"reason": "假期"},
        Role.ADMIN,
        {"reason": 5},
        "reason",
        "policy.update",
    ),
    Write(
        "dry run",
        "POST",
        "/api/policies/dry-run",
        {"config": {"id": "try", "type": "ac_limits", "scope": {"rooms": [ROOM]}}},
        Role.ADMIN,
        {"config": {"id": "try", "type": "ac_limits", "cool_min_c": 99}},
        "cool_min_c",
        None,
        "a dry run changes nothing",
    ),
    Write(
        "override grant",
        "POST",
        "/api/overrides",
        {"scope": {"rooms": [ROOM]}, "reason": "病假", "duration_s": 3600},
        Role.OPERATOR,
        {"scope": {"rooms": [ROOM]}, "reason": "x", "duration_s": -5},
        "duration_s",
        "override.grant",
    ),
    Write(
        "override end",
        "DELETE",
        "/api/overrides/{override}",
        {"reason": "已康复"},
        Role.OPERATOR,
        {"reason": ""},
        "reason",
        "override.end",
        setup=_override,
    ),
    Write(
        "top-up",
        "POST",
        f"/api/quotas/quota-elec/top-up?room={ROOM}",
        {"amount": 10, "reason": "考试周补贴"},
        Role.OPERATOR,
        {"amount": -1, "reason": "x"},
        "amount",
        "quota.top_up",
    ),
    Write(
        "release",
        "POST",
        "/api/releases",
        {"target": "dorm-1.101.elec", "reason": "已检查"},
        Role.OPERATOR,
        {"target": "dorm-1.101.elec", "what": "everything", "reason": "x"},
        "what",
        None,
        "nothing is latched, so nothing is released or audited",
    ),
    Write(
        "alarm acknowledge",
        "POST",
        "/api/alarms/{alarm}/ack",
        None,
        Role.OPERATOR,
        None,
        "",
        "alarm.ack",
        setup=_alarm,
    ),
    Write(
        "meter swap",
        "POST",
        "/api/meter-swaps",
        None,  # needs a running recorder: its success is tests/api/test_history_api.py's
        Role.OPERATOR,
        {"entity_id": "dorm-1.101.elec.energy", "at": "soon", "old_final": 1, "new_start": 0},
        "at",
    ),
    Write(
        "account add",
        "POST",
        "/web/users",
        {"name": "new1", "role": "viewer"},
        Role.ADMIN,
        {"name": "new1", "role": "root"},
        "role",
        "user.add",
    ),
    Write(
        "account disable",
        "POST",
        "/web/users/viewer1/disable",
        None,
        Role.ADMIN,
        None,
        "",
        "user.disable",
    ),
]

SMALLER = {Role.OPERATOR: "viewer1", Role.ADMIN: "op1"}
RIGHT = {Role.OPERATOR: "op1", Role.ADMIN: "admin1"}


def _path(write: Write, campus: Campus) -> str:
    key = write.setup(campus) if write.setup else ""
    return write.path.replace("{override}", key).replace("{alarm}", key)


async def _send(c: httpx.AsyncClient, write: Write, path: str, body: Any) -> httpx.Response:
    if body is None:
        return await c.request(write.method, path)
    return await c.request(write.method, path, json=body)


@pytest.mark.parametrize("write", WRITES, ids=[w.name for w in WRITES])
async def test_write_endpoint(campus: Campus, write: Write) -> None:
    path = _path(write, campus)
    body = write.body if write.body is not None else write.bad
    async with campus.client(None) as anonymous:
        assert (await _send(anonymous, write, path, body)).status_code == 401
    async with campus.client(SMALLER[write.role]) as small:
        reply = await _send(small, write, path, body)
        assert reply.status_code == 403, reply.text
        assert "role" in reply.json()["detail"]
    if write.path.startswith("/api/") and write.name != "meter swap":
        async with campus.client("admin2") as elsewhere:
            reply = await _send(elsewhere, write, path, write.body)
            assert reply.status_code == 403, reply.text
            assert "may not act" in reply.json()["detail"]
    async with campus.client(RIGHT[write.role]) as right:
        if write.bad is not None:
            reply = await _send(right, write, path, write.bad)
            assert reply.status_code == 422, reply.text
            named = {str(part) for e in reply.json()["errors"] for part in e["loc"]}
            assert write.field in named, reply.text
        if write.body is None and write.action is None:
            return
        before = campus.audit.recorded
        reply = await _send(right, write, path, write.body)
        assert reply.status_code < 300, reply.text
    if write.action is None:
        assert write.why
        return
    await wait_until(lambda: campus.audit.recorded > before, "the audit record", limit=5)
    (entry,) = campus.audit.query(action=write.action, limit=1)
    assert entry.actor == f"王丽 ({RIGHT[write.role]})"


async def test_top_up_token_may_only_top_up(campus: Campus) -> None:
    from controller.accounts import TokenScope

    _, secret = campus.accounts.create_token("op1", scope=TokenScope.TOP_UP)
    campus.tokens["bridge"] = {"Authorization": f"Bearer {secret}"}
    async with campus.client("bridge") as bridge:
        topped = await bridge.post(
            f"/api/quotas/quota-elec/top-up?room={ROOM}", json={"amount": 5, "reason": "充值"}
        )
        command = await bridge.post(
            "/api/commands",
            json={"entity_id": "dorm-1.101.elec.relay", "value": False, "reason": "x"},
        )
        read = await bridge.get("/api/states")
    assert (topped.status_code, command.status_code, read.status_code) == (200, 403, 403)


async def test_lists_keep_to_the_accounts_buildings(campus: Campus) -> None:
    _override(campus)
    _alarm(campus)
    async with campus.client("admin2") as elsewhere:
        for path in ("/api/overrides", "/api/alarms", "/api/quotas", "/api/policies"):
            page = (await elsewhere.get(path)).json()
            assert page["total"] == 0, (path, page)
    async with campus.client("viewer1") as everyone:
        for path in ("/api/overrides", "/api/alarms", "/api/quotas", "/api/policies"):
            assert (await everyone.get(path)).json()["total"] >= 1, path
