"""Sign-in, sessions, CSRF, roles and tokens through a real FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from controller.accounts import AccountStore, Role, TokenScope
from controller.api.auth import Admin, LoginLimiter, Operator, TopUp, Viewer
from controller.api.session import session_routes
from controller.core import FakeClock

PASSWORD = "correct horse battery"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[AccountStore]:
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    s = AccountStore(tmp_path / "accounts.sqlite3", FakeClock(1_780_000_000), hasher=fast)
    s.add("admin1", Role.ADMIN, PASSWORD)
    s.add("op", Role.OPERATOR, PASSWORD, buildings=frozenset({"dorm-1"}))
    s.add("view", Role.VIEWER, PASSWORD, display_name="王丽")
    yield s
    s.close()


@pytest.fixture
async def client(store: AccountStore) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.accounts = store
    app.include_router(session_routes(store, LoginLimiter(attempts=5)))

    @app.get("/read")
    async def read(who: Viewer) -> dict[str, str]:
        return {"actor": who.actor}

    @app.post("/command")
    async def command(who: Operator) -> dict[str, str]:
        who.check_building("dorm-1")
        return {"actor": who.actor}

    @app.post("/command/{building}")
    async def command_in(building: str, who: Operator) -> dict[str, str]:
        who.check_building(building)
        return {"actor": who.actor}

    @app.post("/policy")
    async def policy(who: Admin) -> dict[str, str]:
        return {"actor": who.actor}

    @app.post("/top-up")
    async def top_up(who: TopUp) -> dict[str, str]:
        return {"actor": who.actor}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def _login(client: httpx.AsyncClient, name: str) -> str:
    reply = await client.post("/api/login", json={"name": name, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    assert "httponly" in reply.headers["set-cookie"].lower()
    assert "samesite=strict" in reply.headers["set-cookie"].lower()
    return str(reply.json()["csrf"])


async def test_without_credentials_everything_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/read")).status_code == 401
    assert (await client.post("/command")).status_code == 401
    assert (await client.get("/api/me")).status_code == 401


async def test_session_reads_and_writes_with_csrf(client: httpx.AsyncClient) -> None:
    csrf = await _login(client, "op")
    assert (await client.get("/read")).json() == {"actor": "op"}
    assert (await client.post("/command")).status_code == 403  # no CSRF token
    ok = await client.post("/command", headers={"X-CSRF-Token": csrf})
    assert ok.json() == {"actor": "op"}
    outside = await client.post("/command/dorm-2", headers={"X-CSRF-Token": csrf})
    assert outside.status_code == 403
    assert "dorm-2" in outside.json()["detail"]
    assert (await client.post("/policy", headers={"X-CSRF-Token": csrf})).status_code == 403
    me = (await client.get("/api/me")).json()
    assert me["buildings"] == ["dorm-1"]
    await client.post("/api/logout", headers={"X-CSRF-Token": csrf})
    assert (await client.get("/read")).status_code == 401


async def test_audit_name_is_the_display_name_and_account(client: httpx.AsyncClient) -> None:
    await _login(client, "view")
    assert (await client.get("/read")).json() == {"actor": "王丽 (view)"}


async def test_wrong_password_and_rate_limit(client: httpx.AsyncClient) -> None:
    for _ in range(4):
        bad = await client.post("/api/login", json={"name": "op", "password": "nope nope nope"})
        assert bad.status_code == 401
        assert bad.json()["detail"] == "wrong account name or password"
    unknown = await client.post("/api/login", json={"name": "ghost", "password": PASSWORD})
    assert unknown.status_code == 401
    assert unknown.json() == bad.json()  # a missing name says nothing more
    limited = await client.post("/api/login", json={"name": "op", "password": PASSWORD})
    assert limited.status_code == 429


async def test_bearer_tokens_and_their_scope(
    client: httpx.AsyncClient, store: AccountStore
) -> None:
    _, full = store.create_token("admin1")
    _, topup = store.create_token("op", scope=TokenScope.TOP_UP)
    auth = {"Authorization": f"Bearer {full}"}
    assert (await client.post("/policy", headers=auth)).json() == {"actor": "admin1"}
    limited = {"Authorization": f"Bearer {topup}"}
    assert (await client.post("/top-up", headers=limited)).status_code == 200
    assert (await client.post("/command", headers=limited)).status_code == 403
    assert (await client.get("/read", headers=limited)).status_code == 403
    wrong = {"Authorization": "Bearer sj_00000000_nothing"}
    assert (await client.get("/read", headers=wrong)).status_code == 401


async def test_the_session_cookie_is_secure_only_when_served_over_tls(
    client: httpx.AsyncClient,
) -> None:
    body = {"name": "view", "password": PASSWORD}
    plain = (await client.post("/api/login", json=body)).headers["set-cookie"].lower()
    assert "; secure" not in plain  # a browser would drop a Secure cookie sent over http
    behind_tls = await client.post("/api/login", json=body, headers={"X-Forwarded-Proto": "https"})
    assert "; secure" in behind_tls.headers["set-cookie"].lower()
