"""The billing API through a real FastAPI app: roles, scopes, idempotency, 4xx, imports, exports."""

from __future__ import annotations

import contextlib
import dataclasses
import io
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from openpyxl import load_workbook

from controller.accounts import AccountStore, Role, TokenScope
from controller.api.app import create_api
from controller.app import Controller
from controller.audit import AuditLog
from controller.billing import BillingComponent
from controller.billing.statements import SUMMARY_COLUMNS
from controller.config import LoadedSite
from controller.core import FakeClock
from controller.recorder.query import ConsumptionQuery, ConsumptionRow

from .conftest import ts

PASSWORD = "correct horse battery"
ROOM = "dorm-1.101"


class NoHistory:
    """The recorder is not running in these tests: charging waits, the rest works."""

    async def consumption(self, query: ConsumptionQuery) -> list[ConsumptionRow]:
        raise RuntimeError("the recorder is not running")


class Api:
    def __init__(self, client: httpx.AsyncClient, tokens: dict[str, str], billing: Any) -> None:
        self.client = client
        self.tokens = tokens
        self.billing = billing

    async def call(self, method: str, path: str, who: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}", **kwargs.pop("headers", {})}
        return await self.client.request(method, f"/api/billing{path}", headers=headers, **kwargs)


@pytest.fixture
async def api(site: LoadedSite, tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(site, tmp_path) as served:
        yield served


@contextlib.asynccontextmanager
async def serve(site: LoadedSite, tmp_path: Path) -> AsyncIterator[Api]:
    """The API of a controller running billing for ``site``, with one token per role."""
    clock = FakeClock(ts(2026, 3, 2, 12))
    controller = Controller(site, clock)
    audit = AuditLog(tmp_path / "audit.sqlite3", clock, controller.bus)
    billing = BillingComponent(
        controller, store_path=tmp_path / "billing.sqlite3", source=NoHistory(), audit=audit
    )
    controller.add(billing)
    await billing.open()
    accounts = AccountStore(
        tmp_path / "accounts.sqlite3",
        clock,
        hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1),
    )
    accounts.add("admin1", Role.ADMIN, PASSWORD)
    accounts.add("op", Role.OPERATOR, PASSWORD)
    accounts.add("op2", Role.OPERATOR, PASSWORD, buildings=frozenset({"canteen-1"}))
    accounts.add("view", Role.VIEWER, PASSWORD)
    tokens = {
        "admin": accounts.create_token("admin1")[1],
        "op": accounts.create_token("op")[1],
        "op2": accounts.create_token("op2")[1],
        "view": accounts.create_token("view")[1],
        "pay": accounts.create_token("op", scope=TokenScope.TOP_UP)[1],
    }
    app = create_api(controller)
    app.state.accounts = accounts
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            yield Api(client, tokens, billing)
    finally:
        await billing.close()
        accounts.close()
        audit.close()


async def test_a_top_up_is_applied_once_per_key(api: Api) -> None:
    body = {"amount": "20.00", "key": "order-1"}
    first = await api.call("POST", f"/accounts/{ROOM}/top-up", "pay", json=body)
    again = await api.call("POST", f"/accounts/{ROOM}/top-up", "pay", json=body)
    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert first.json()["entry"]["seq"] == again.json()["entry"]["seq"]
    assert first.json()["entry"]["actor"] == "op"
    header = await api.call(
        "POST",
        f"/accounts/{ROOM}/top-up",
        "op",
        json={"amount": 5},
        headers={"Idempotency-Key": "order-2"},
    )
    assert header.status_code == 201
    reused = await api.call(
        "POST", f"/accounts/{ROOM}/top-up", "pay", json={"amount": "21", "key": "order-1"}
    )
    assert reused.status_code == 409
    view = await api.call("GET", f"/accounts/{ROOM}", "view")
    assert Decimal(view.json()["balance"]) == Decimal(25)


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"amount": "20"}, "key", "idempotency key is required"),
        ({"amount": "0.001", "key": "k"}, "amount", "2 decimals"),
        ({"amount": "-3", "key": "k"}, "amount", "more than 0"),
        ({"amount": "lots", "key": "k"}, "amount", "not a number"),
    ],
)
async def test_bad_top_ups_say_which_field_and_why(
    api: Api, body: dict[str, Any], field: str, reason: str
) -> None:
    reply = await api.call("POST", f"/accounts/{ROOM}/top-up", "pay", json=body)
    assert reply.status_code == 422
    (detail,) = reply.json()["errors"]
    assert detail["loc"] == ["body", field]
    assert reason in detail["msg"]


async def test_roles_scopes_and_buildings(api: Api) -> None:
    body = {"amount": "1", "key": "x1"}
    assert (await api.call("GET", "/accounts", "pay")).status_code == 403  # top-up only
    refund = {"key": "r1", "reason": "moved out"}
    assert (
        await api.call("POST", f"/accounts/{ROOM}/refund", "pay", json=refund)
    ).status_code == 403
    assert (
        await api.call("POST", f"/accounts/{ROOM}/top-up", "view", json=body)
    ).status_code == 403
    assert (await api.call("POST", f"/accounts/{ROOM}/top-up", "op2", json=body)).status_code == 403
    assert (await api.call("GET", "/accounts", "op2")).json()["items"] == []  # sees no dorm
    exempt = {"duration_s": 86400, "reason": "medical need"}
    assert (
        await api.call("POST", f"/accounts/{ROOM}/exemption", "op", json=exempt)
    ).status_code == 403
    assert (
        await api.call("POST", "/accounts/dorm-1.999/top-up", "op", json=body)
    ).status_code == 404
    unauthenticated = await api.client.get("/api/billing/accounts")
    assert unauthenticated.status_code == 401


async def test_admin_exempts_moves_and_closes(api: Api) -> None:
    exempt = {"duration_s": 86400, "reason": "medical need"}
    reply = await api.call("POST", f"/accounts/{ROOM}/exemption", "admin", json=exempt)
    assert reply.status_code == 200
    assert reply.json()["exempt_reason"] == "medical need"
    beds = await api.call("POST", f"/accounts/{ROOM}/beds", "op", json={"beds": 3, "reason": "in"})
    assert beds.json()["beds"] == 3
    await api.call("POST", f"/accounts/{ROOM}/top-up", "op", json={"amount": "8.5", "key": "t"})
    closed = await api.call("POST", f"/accounts/{ROOM}/close", "admin", json={"reason": "empty"})
    assert closed.json()["refund"]["amount"] == "-8.50"
    again = await api.call("POST", f"/accounts/{ROOM}/close", "admin", json={"reason": "empty"})
    assert again.status_code == 409
    info = (await api.call("GET", f"/accounts/{ROOM}", "view")).json()
    assert [e["action"] for e in info["events"]] == ["open", "exempt", "beds", "close"]
    assert [e["actor"] for e in info["events"][1:]] == ["admin1", "op", "admin1"]
    audit = api.billing.audit
    trail = [(e.actor, e.action, e.target) for e in reversed(audit.query(target=ROOM))]
    assert trail == [
        ("admin1", "billing.exempt", ROOM),
        ("op", "billing.beds", ROOM),
        ("op", "billing.top_up", ROOM),
        ("admin1", "billing.close", ROOM),
    ]
    assert audit.query(action="billing.close")[0].details["refunded"] == "8.50"


async def test_a_bed_account_takes_its_meters(api: Api) -> None:
    bad = {
        "id": "dorm-1.101.b1",
        "building": "dorm-1",
        "room": "101",
        "devices": ["dorm-1.102.elec"],
        "reason": "bed meter",
    }
    reply = await api.call("POST", "/accounts", "admin", json=bad)
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["loc"] == ["body", "devices"]
    good = {**bad, "devices": ["dorm-1.101.elec"]}
    assert (await api.call("POST", "/accounts", "admin", json=good)).status_code == 201
    bed = (await api.call("GET", "/accounts/dorm-1.101.b1", "view")).json()
    room = (await api.call("GET", f"/accounts/{ROOM}", "view")).json()
    assert bed["meters"] == ["dorm-1.101.elec"]
    assert "dorm-1.101.elec" not in room["meters"]
    assert "dorm-1.101.cold" in room["meters"]
    assert (await api.call("POST", "/accounts", "admin", json=good)).status_code == 409


async def test_a_bed_meter_under_another_meter_of_the_room_is_refused(
    site: LoadedSite, tmp_path: Path
) -> None:
    devices = dict(site.devices)
    devices["dorm-1.101.ac"] = devices["dorm-1.101.ac"].model_copy(
        update={"parent": "dorm-1.101.elec"}
    )
    async with serve(dataclasses.replace(site, devices=devices), tmp_path) as nested:
        body = {
            "id": "dorm-1.101.b1",
            "building": "dorm-1",
            "room": "101",
            "devices": ["dorm-1.101.ac"],
            "reason": "bed meter",
        }
        reply = await nested.call("POST", "/accounts", "admin", json=body)
        assert reply.status_code == 422
        assert "hang under a meter of the room" in reply.json()["errors"][0]["msg"]
        both = {**body, "devices": ["dorm-1.101.elec", "dorm-1.101.ac"]}  # the bed has both
        assert (await nested.call("POST", "/accounts", "admin", json=both)).status_code == 201


CSV = (
    "txn_id,account,amount,time,note\nC-1,dorm-1.101,50.00,2026-03-01 08:00,\nC-2,dorm-1.102,30,,\n"
)


async def test_campus_card_batch_import(api: Api) -> None:
    reply = await api.call("POST", "/import", "pay", content=CSV.encode())
    assert reply.json() == {
        "lines": 2,
        "applied": 2,
        "duplicates": 0,
        "total": "80.00",
        "duplicate_ids": [],
    }
    again = await api.call("POST", "/import", "pay", content=CSV.encode("gb18030"))
    assert (again.json()["applied"], again.json()["duplicates"]) == (0, 2)
    bad = CSV + "C-3,dorm-1.999,5,,\nC-1,dorm-1.101,abc,,\n"
    reply = await api.call("POST", "/import", "pay", content=bad.encode())
    assert reply.status_code == 422
    problems = [(d["loc"][1], d["loc"][2]) for d in reply.json()["errors"]]
    assert problems == [("line 4", "account"), ("line 5", "txn_id"), ("line 5", "amount")]
    balances = (await api.call("GET", "/accounts", "view")).json()["items"]
    assert {a["id"]: a["balance"] for a in balances}["dorm-1.101"] == "50.00"


async def test_exports_for_the_finance_office(api: Api) -> None:
    await api.call("POST", "/import", "op", content=CSV.encode())
    window = {"start": ts(2026, 3, 1), "end": ts(2026, 4, 1)}
    xlsx = await api.call("GET", "/export", "view", params={**window, "format": "xlsx"})
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == SUMMARY_COLUMNS
    by_account = {r[0]: r for r in rows[1:]}
    assert by_account["dorm-1.101"][SUMMARY_COLUMNS.index("top_ups")] == 50.0
    csv = await api.call("GET", "/export", "view", params=window)
    assert csv.content.startswith("\ufeff".encode())
    statement = await api.call(
        "GET", f"/accounts/{ROOM}/statement", "view", params={**window, "format": "csv"}
    )
    assert "top_up" in statement.text
    by_month = await api.call("GET", "/export", "view", params={"month": "2026-03"})
    assert by_month.content == csv.content
    for bad in ({"month": "2026-13"}, {"month": "2026-03", "start": ts(2026, 3, 1)}):
        refused = await api.call("GET", "/export", "view", params=bad)
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["loc"] == ["query", "month"]
    report = (await api.call("GET", "/report", "view", params=window)).json()
    assert report["buildings"]["dorm-1"]["top_ups"] == "80.00"
    assert report["buildings"]["dorm-1"]["accounts"] == 4


async def test_lists_are_pages_and_unknown_queries_are_refused(api: Api) -> None:
    for n in range(3):
        body = {"amount": "1", "key": f"p-{n}"}
        await api.call("POST", f"/accounts/{ROOM}/top-up", "op", json=body)
    first = (await api.call("GET", f"/accounts/{ROOM}/ledger", "view", params={"limit": 2})).json()
    assert (first["total"], len(first["items"]), first["offset"]) == (3, 2, 0)
    assert first["next"] is not None
    rest = (await api.client.get(first["next"], headers=_bearer(api, "view"))).json()
    assert [e["key"] for e in first["items"] + rest["items"]] == [
        "top_up:p-0",
        "top_up:p-1",
        "top_up:p-2",
    ]
    assert rest["next"] is None
    accounts = (await api.call("GET", "/accounts", "view", params={"limit": 3})).json()
    assert (accounts["total"], len(accounts["items"])) == (4, 3)
    typo = await api.call("GET", "/accounts", "view", params={"buildng": "dorm-1"})
    assert typo.status_code == 422
    assert typo.json()["errors"][0]["loc"] == ["query", "buildng"]


def _bearer(api: Api, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.tokens[who]}"}
