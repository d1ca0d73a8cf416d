"""Policy, override, quota and alarm routes against a real PolicyEngine on a small site."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from controller.accounts import AccountStore, Role
from controller.api import create_api
from controller.app import Controller
from controller.config import load_site
from controller.core import FakeClock
from controller.policies.engine import PolicyEngine
from tests.auth_helpers import bearer, fast_store

from .test_api import SITE

POLICIES = """
policies:
  - {id: quota-elec, type: quota, scope: {building_kinds: [dorm]}, resource: electricity,
     per_bed: 8, action: cut}
  - {id: ac-limits, type: ac_limits, scope: {circuits: [ac]}}
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[PolicyEngine]:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE + POLICIES, encoding="utf-8")
    ctrl = Controller(load_site(site_file), FakeClock(1_780_000_000))
    engine = PolicyEngine(ctrl, store_path=tmp_path / "policies.sqlite3")
    ctrl.add(engine)
    yield engine
    engine.close()


@pytest.fixture
def accounts(tmp_path: Path, engine: PolicyEngine) -> Iterator[AccountStore]:
    store = fast_store(tmp_path / "accounts.sqlite3", engine.controller.clock)
    yield store
    store.close()


@pytest.fixture
async def client(engine: PolicyEngine, accounts: AccountStore) -> AsyncIterator[httpx.AsyncClient]:
    """Signed in as the admin zhang.wei (every change is audited under that name)."""
    headers = bearer(accounts, "zhang.wei", Role.ADMIN)
    transport = httpx.ASGITransport(app=create_api(engine.controller, accounts=accounts))
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as c:
        yield c


async def test_lists_site_policies(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/policies")).json()["items"]
    assert {p["id"]: p["type"] for p in body} == {"quota-elec": "quota", "ac-limits": "ac_limits"}
    assert all(p["source"] == "site" for p in body)


async def test_override_granted_listed_and_ended(client: httpx.AsyncClient) -> None:
    grant = await client.post(
        "/api/overrides",
        json={
            "scope": {"rooms": ["dorm-1/101"]},
            "policy_id": "ac-limits",
            "reason": "病假，医生证明",
            "duration_s": 3600,
        },
    )
    assert grant.status_code == 201, grant.text
    override = grant.json()
    assert override["actor"] == "zhang.wei"
    listed = (await client.get("/api/overrides")).json()["items"]
    assert [o["id"] for o in listed] == [override["id"]]
    ended = await client.request(
        "DELETE", f"/api/overrides/{override['id']}", json={"reason": "已康复"}
    )
    assert ended.status_code == 200
    assert (await client.get("/api/overrides")).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"scope": {"rooms": ["dorm-1/101"]}, "reason": "x"}, 422, "exactly one"),
        ({"scope": {"rooms": ["dorm-9/999"]}, "reason": "x", "duration_s": 60}, 422, "no device"),
        ({"scope": {}, "policy_id": "nope", "reason": "x", "duration_s": 60}, 404, "nope"),
        ({"scope": {"bogus": 1}, "reason": "x", "duration_s": 60}, 422, "bogus"),
    ],
)
async def test_bad_overrides_are_refused_with_the_reason(
    client: httpx.AsyncClient, body: dict[str, object], status: int, needle: str
) -> None:
    reply = await client.post("/api/overrides", json=body)
    assert reply.status_code == status, reply.text
    assert needle in reply.text


@pytest.mark.parametrize(
    ("until", "status"),
    [
        ("2026-05-29T12:46:40+08:00", 201),  # ISO 8601 with its zone
        (1_780_030_000, 201),  # epoch seconds
        ("1780030000", 201),
        ("2026-05-29T12:46:40", 422),  # no zone: refused in a body, never guessed
        ("tomorrow", 422),
        (1_780_030_000_000, 422),  # milliseconds by mistake
    ],
)
async def test_override_until_takes_iso_or_epoch(
    client: httpx.AsyncClient, until: object, status: int
) -> None:
    body = {"scope": {"rooms": ["dorm-1/101"]}, "reason": "病假", "until": until}
    reply = await client.post("/api/overrides", json=body)
    assert reply.status_code == status, reply.text
    if status == 201:
        assert reply.json()["expires_at"] == 1_780_030_000
    else:
        assert reply.json()["errors"][0]["loc"][:2] == ["body", "until"]


async def test_changes_need_an_account(client: httpx.AsyncClient) -> None:
    reply = await client.post(
        "/api/overrides",
        json={"scope": {}, "reason": "x", "duration_s": 60},
        headers={"Authorization": "", "X-Sanjie-User": "zhang.wei"},
    )
    assert reply.status_code == 401


async def test_quota_balance_and_top_up(client: httpx.AsyncClient) -> None:
    balances = (await client.get("/api/quotas")).json()["items"]
    assert [(b["room"], b["allowance"]) for b in balances] == [("dorm-1/101", 32.0)]
    reply = await client.post(
        "/api/quotas/quota-elec/top-up",
        params={"room": "dorm-1/101"},
        json={"amount": 10, "reason": "考试周补贴"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["topup"] == 10.0
    missing = await client.post(
        "/api/quotas/quota-elec/top-up",
        params={"room": "dorm-1/999"},
        json={"amount": 10, "reason": "x"},
    )
    assert missing.status_code == 404


async def test_policy_edit_is_validated_and_persisted(
    client: httpx.AsyncClient, engine: PolicyEngine
) -> None:
    bad = await client.put(
        "/api/policies/ac-limits",
        json={"config": {"type": "ac_limits", "cool_min_c": 5}, "reason": "x"},
    )
    assert bad.status_code == 422
    assert "cool_min_c" in bad.text
    good = await client.put(
        "/api/policies/ac-limits",
        json={"config": {"type": "ac_limits", "cool_min_c": 27}, "reason": "迎峰度夏"},
    )
    assert good.status_code == 200, good.text
    assert engine.admin.configs["ac-limits"].cool_min_c == 27  # type: ignore[union-attr]
    listed = {p["id"]: p for p in (await client.get("/api/policies")).json()["items"]}
    assert listed["ac-limits"]["source"] == "runtime"


async def test_dry_run_reports_without_sending(client: httpx.AsyncClient) -> None:
    reply = await client.post(
        "/api/policies/dry-run", json={"config": {"id": "try", "type": "ac_limits"}}
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["policy_id"] == "try"
    assert "summary_zh" in reply.json()


async def test_engine_missing_is_503(tmp_path: Path) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE, encoding="utf-8")
    ctrl = Controller(load_site(site_file))
    accounts = fast_store(tmp_path / "accounts.sqlite3", ctrl.clock)
    headers = bearer(accounts, "zhang.wei", Role.VIEWER)
    transport = httpx.ASGITransport(app=create_api(ctrl, accounts=accounts))
    async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as c:
        reply = await c.get("/api/alarms")
    accounts.close()
    assert reply.status_code == 503
    assert "PolicyEngine" in reply.text
