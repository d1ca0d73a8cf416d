"""Work orders through the API: a student's public report, the abuse limit, the staff life cycle,
an order opened from an alarm whose device must be back before it closes, SLA escalation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher

from controller.accounts import AccountStore, Role
from controller.alarms import AlarmManager, AlarmStore
from controller.alarms.build import build_alarms
from controller.alarms.component import AlarmService
from controller.api import create_api
from controller.app import Controller
from controller.config import load_site
from controller.core import FakeClock
from controller.core.events import AvailabilityChanged
from controller.workorders import Category, WorkOrders, WorkOrderStore

from ..api.test_api import SITE
from .photos import png
from .receivers import http_receiver


@dataclass
class Rig:
    ctrl: Controller
    clock: FakeClock
    service: AlarmService
    orders: WorkOrders
    offline: set[str]
    client: httpx.AsyncClient
    op: dict[str, str]
    viewer: dict[str, str]
    other: dict[str, str]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE, encoding="utf-8")
    clock = FakeClock(1_780_000_000)
    ctrl = Controller(load_site(site_file), clock)
    manager = AlarmManager(AlarmStore(tmp_path / "a.db"), clock, buses={"gw": ["m1"]}, grace_s=60)
    offline: set[str] = set()
    orders = WorkOrders(
        WorkOrderStore(tmp_path / "w.db"),
        clock,
        sla_s={Category.WATER: 4 * 3600},
        auto_kinds={"bus_down"},
        device_online=lambda d: d not in offline,
        places={"dorm-1/101", "dorm-1/102", "dorm-1/103", "dorm-1", "dorm-2/101"},
        place_of=lambda target: "dorm-1",
    )
    service = AlarmService(manager, ctrl.bus, workorders=orders)
    ctrl.add(service)
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    accounts = AccountStore(tmp_path / "accounts.sqlite3", clock, hasher=fast)
    tokens = {}
    for name, role, buildings in [
        ("zhang.wei", Role.OPERATOR, None),
        ("view", Role.VIEWER, None),
        ("op2", Role.OPERATOR, frozenset({"dorm-2"})),
    ]:
        accounts.add(name, role, "correct horse battery", buildings=buildings)
        tokens[name] = {"Authorization": f"Bearer {accounts.create_token(name)[1]}"}
    transport = httpx.ASGITransport(app=create_api(ctrl, accounts=accounts))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield Rig(
            ctrl,
            clock,
            service,
            orders,
            offline,
            c,
            tokens["zhang.wei"],
            tokens["view"],
            tokens["op2"],
        )
    accounts.close()
    service.close()


async def test_student_report_becomes_a_work_order_and_a_flood_is_refused(rig: Rig) -> None:
    link = (await rig.client.get("/api/workorders/report-link/dorm-1/101", headers=rig.op)).json()
    report = {"category": "water", "description": "卫生间水龙头漏水"}
    bad = await rig.client.post(link["api"], json={"category": "pets", "description": "x"})
    assert bad.status_code == 422
    assert "category" in bad.text
    first = await rig.client.post(link["api"], json=report)
    assert first.status_code == 201
    order = (await rig.client.get(f"/api/workorders/{first.json()['id']}", headers=rig.op)).json()
    assert order["room"] == "dorm-1/101"
    assert order["status"] == "new"
    assert order["opened_by"] == "public:form"
    codes = [(await rig.client.post(link["api"], json=report)).status_code for _ in range(5)]
    assert codes == [201, 201, 429, 429, 429]
    assert (await rig.client.post("/api/public/report/nope", json=report)).status_code == 404


async def test_staff_life_cycle_history_and_figures(rig: Rig) -> None:
    made = await rig.client.post(
        "/api/workorders",
        json={"room": "dorm-1/102", "category": "ac", "description": "空调不制冷"},
        headers=rig.op,
    )
    oid = made.json()["id"]
    await rig.client.post(
        f"/api/workorders/{oid}/assign", json={"assignee": "li.si"}, headers=rig.op
    )
    await rig.client.post(f"/api/workorders/{oid}/start", headers=rig.op)
    skip = await rig.client.post(f"/api/workorders/{oid}/close", json={"note": "x"}, headers=rig.op)
    assert skip.status_code == 422  # in progress cannot close without done
    await rig.client.post(f"/api/workorders/{oid}/done", json={}, headers=rig.op)
    rig.clock.set(rig.clock.time() + 7200)
    shut = await rig.client.post(
        f"/api/workorders/{oid}/close", json={"note": "换了电容"}, headers=rig.op
    )
    body = shut.json()
    assert body["status"] == "closed"
    assert body["closing_note"] == "换了电容"
    assert [h["action"] for h in body["history"]] == [
        "open",
        "assigned",
        "in_progress",
        "done",
        "closed",
    ]
    assert all(h["actor"] == "zhang.wei" for h in body["history"])
    figures = (await rig.client.get("/api/workorders/figures", headers=rig.viewer)).json()
    assert figures["categories"]["ac"]["mean_hours_to_close"] == 2.0


async def test_bus_alarm_opens_an_order_that_closes_only_when_the_device_is_back(rig: Rig) -> None:
    m = rig.service.manager
    rig.offline.add("gw")
    m.handle(AvailabilityChanged("m1", False, rig.clock.time()))
    rig.clock.set(rig.clock.time() + 61)
    rig.service.step()
    orders = (await rig.client.get("/api/workorders", headers=rig.viewer)).json()["items"]
    assert len(orders) == 1
    assert orders[0]["alarm_key"] == "bus:gw"
    oid = orders[0]["id"]
    refused = await rig.client.post(
        f"/api/workorders/{oid}/close", json={"note": "重启网关"}, headers=rig.op
    )
    assert refused.status_code == 422
    assert "offline" in refused.text
    rig.offline.clear()
    ok = await rig.client.post(
        f"/api/workorders/{oid}/close", json={"note": "重启网关"}, headers=rig.op
    )
    assert ok.status_code == 200
    alarms = (await rig.client.get("/api/alarms", headers=rig.op)).json()["items"]
    assert [a["key"] for a in alarms] == ["bus:gw"]
    acked = await rig.client.post("/api/alarms/bus:gw/ack", headers=rig.op)
    assert acked.json()["acked_by"] == "zhang.wei"


async def test_sla_escalates_once(rig: Rig) -> None:
    rig.orders.open("dorm-1/103", "water", "马桶堵了", actor="zhang.wei")
    rig.clock.set(rig.clock.time() + 4 * 3600)
    assert len(rig.orders.check_sla()) == 1
    assert rig.orders.check_sla() == []


async def test_roles_and_buildings_are_enforced(rig: Rig) -> None:
    body = {"room": "dorm-1/101", "category": "ac", "description": "空调不制冷"}
    assert (await rig.client.post("/api/workorders", json=body)).status_code == 401
    assert (
        await rig.client.post("/api/workorders", json=body, headers=rig.viewer)
    ).status_code == 403
    assert (
        await rig.client.post("/api/workorders", json=body, headers=rig.other)
    ).status_code == 403
    made = await rig.client.post("/api/workorders", json=body, headers=rig.op)
    oid = made.json()["id"]
    assert (await rig.client.get(f"/api/workorders/{oid}", headers=rig.other)).status_code == 403
    listed = (await rig.client.get("/api/workorders", headers=rig.other)).json()
    assert listed["items"] == []
    assert listed["total"] == 0
    unknown = await rig.client.post(
        "/api/workorders", json={**body, "room": "dorm-9/1"}, headers=rig.op
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["loc"] == ["body", "room"]
    assert (await rig.client.get("/api/workorders?colour=red", headers=rig.op)).status_code == 422


async def test_the_qr_code_page_is_a_form_that_makes_an_order(rig: Rig) -> None:
    link = (await rig.client.get("/api/workorders/report-link/dorm-1/101", headers=rig.op)).json()
    assert link["path"].startswith("/r/")
    page = await rig.client.get(link["path"])
    assert page.status_code == 200
    assert "dorm-1/101" in page.text
    assert '<form method="post">' in page.text
    sent = await rig.client.post(
        link["path"], data={"category": "water", "description": "<b>水龙头</b>漏水"}
    )
    assert sent.status_code == 201, sent.text
    assert "工单号 1" in sent.text
    order = rig.orders.get(1)
    assert order.description == "<b>水龙头</b>漏水"  # kept as written, escaped when shown
    assert order.opened_by == "public:form"
    bad = await rig.client.post(link["path"], data={"category": "pets", "description": "x"})
    assert bad.status_code == 422
    assert "category" in bad.text
    codes = [
        (
            await rig.client.post(link["path"], data={"category": "ac", "description": "热"})
        ).status_code
        for _ in range(3)
    ]
    assert codes == [201, 201, 429]
    assert (await rig.client.get("/r/not-a-room")).status_code == 404


async def test_an_order_past_its_sla_is_sent_to_the_escalation_channel(tmp_path: Path) -> None:
    with http_receiver() as rx:
        sections = f"""
notify:
  channels:
    - {{id: duty, type: webhook, url: "{rx.url}/duty"}}
  escalation: {{after_s: 600, channels: [duty]}}
workorders:
  sla_s: {{water: 3600}}
"""
        site_file = tmp_path / "site.yaml"
        site_file.write_text(SITE + sections, encoding="utf-8")
        clock = FakeClock(1_780_000_000)
        ctrl = Controller(load_site(site_file), clock)
        service = build_alarms(ctrl, tmp_path / "var")
        assert service.workorders is not None
        order = service.workorders.open("dorm-1/101", "water", "水管爆了", actor="王丽 (wangli)")
        clock.set(clock.time() + 3601)
        service.step()
        service.step()
        assert service.notifier is not None
        assert service.notifier.deliver() == 1
        (got,) = [r.json() for r in rx.got if r.path == "/duty"]
        assert got["key"] == f"workorder:{order.id}"
        assert got["change"] == "escalated"
        service.close()


async def test_photos_are_uploaded_checked_and_served_to_who_sees_the_building(
    rig: Rig,
) -> None:
    body = {"room": "dorm-1/101", "category": "water", "description": "水龙头漏水"}
    oid = (await rig.client.post("/api/workorders", json=body, headers=rig.op)).json()["id"]
    url = f"/api/workorders/{oid}/photos"
    picture = png()
    up = await rig.client.post(
        url, content=picture, headers={**rig.op, "Content-Type": "image/png"}
    )
    assert up.status_code == 201, up.text
    (stored,) = up.json()["photos"]
    assert stored.startswith("upload:photo-")
    assert stored.endswith(".png")
    assert up.json()["history"][-1]["action"] == "photo"
    name = stored.removeprefix("upload:")
    got = await rig.client.get(f"{url}/{name}", headers=rig.viewer)
    assert got.status_code == 200
    assert got.content == picture
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert (await rig.client.get(f"{url}/{name}", headers=rig.other)).status_code == 403
    assert (await rig.client.get(f"{url}/{name}")).status_code == 401
    missing = await rig.client.get(f"{url}/photo-0000000000000000.png", headers=rig.op)
    assert missing.status_code == 404
    assert (await rig.client.get(f"{url}/..%2Fw.db", headers=rig.op)).status_code in (404, 422)

    # the type is read from the bytes, whatever the header says
    text = await rig.client.post(
        url, content=b"<svg onload=alert(1)>", headers={**rig.op, "Content-Type": "image/png"}
    )
    assert text.status_code == 415
    rig.orders.photo_max_bytes = 4096
    big = b"\xff\xd8\xff" + bytes(5000)
    large = await rig.client.post(
        url, content=big, headers={**rig.op, "Content-Type": "image/jpeg"}
    )
    assert large.status_code == 413
    empty = await rig.client.post(url, content=b"", headers={**rig.op, "Content-Type": "image/png"})
    assert empty.status_code == 422
    viewer = await rig.client.post(url, content=picture, headers=rig.viewer)
    assert viewer.status_code == 403
    for _ in range(3):
        ok = await rig.client.post(url, content=picture, headers=rig.op)
        assert ok.status_code == 201
    fifth = await rig.client.post(url, content=picture, headers=rig.op)
    assert fifth.status_code == 422
    assert "at most 4" in fifth.text
    assert len(rig.orders.get(oid).photos) == 4
