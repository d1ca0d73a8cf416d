"""Work orders through the API: a student's public report, the abuse limit, the staff life cycle,
an order opened from an alarm whose device must be back before it closes, SLA escalation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from controller.alarms import AlarmManager, AlarmStore
from controller.alarms.component import AlarmService
from controller.api import create_api
from controller.app import Controller
from controller.config import load_site
from controller.core import FakeClock
from controller.core.events import AvailabilityChanged
from controller.workorders import Category, WorkOrders, WorkOrderStore

from ..api.test_api import SITE

USER = {"X-Sanjie-User": "zhang.wei"}


@dataclass
class Rig:
    ctrl: Controller
    clock: FakeClock
    service: AlarmService
    orders: WorkOrders
    offline: set[str]
    client: httpx.AsyncClient


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
    )
    service = AlarmService(manager, ctrl.bus, workorders=orders)
    ctrl.add(service)
    transport = httpx.ASGITransport(app=create_api(ctrl))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield Rig(ctrl, clock, service, orders, offline, c)


async def test_student_report_becomes_a_work_order_and_a_flood_is_refused(rig: Rig) -> None:
    link = (await rig.client.get("/api/workorders/report-link/dorm-1/101", headers=USER)).json()
    report = {"category": "water", "description": "卫生间水龙头漏水"}
    bad = await rig.client.post(link["path"], json={"category": "pets", "description": "x"})
    assert bad.status_code == 422
    assert "category" in bad.text
    first = await rig.client.post(link["path"], json=report)
    assert first.status_code == 201
    order = (await rig.client.get(f"/api/workorders/{first.json()['id']}")).json()
    assert order["room"] == "dorm-1/101"
    assert order["status"] == "new"
    assert order["opened_by"] == "public:form"
    codes = [(await rig.client.post(link["path"], json=report)).status_code for _ in range(5)]
    assert codes == [201, 201, 429, 429, 429]
    assert (await rig.client.post("/api/public/report/nope", json=report)).status_code == 404


async def test_staff_life_cycle_history_and_figures(rig: Rig) -> None:
    made = await rig.client.post(
        "/api/workorders",
        json={"room": "dorm-1/102", "category": "ac", "description": "空调不制冷"},
        headers=USER,
    )
    oid = made.json()["id"]
    await rig.client.post(f"/api/workorders/{oid}/assign", json={"assignee": "li.si"}, headers=USER)
    await rig.client.post(f"/api/workorders/{oid}/start", headers=USER)
    skip = await rig.client.post(f"/api/workorders/{oid}/close", json={"note": "x"}, headers=USER)
    assert skip.status_code == 422  # in progress cannot close without done
    await rig.client.post(f"/api/workorders/{oid}/done", json={}, headers=USER)
    rig.clock.set(rig.clock.time() + 7200)
    shut = await rig.client.post(
        f"/api/workorders/{oid}/close", json={"note": "换了电容"}, headers=USER
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
    figures = (await rig.client.get("/api/workorders/figures")).json()
    assert figures["categories"]["ac"]["mean_hours_to_close"] == 2.0


async def test_bus_alarm_opens_an_order_that_closes_only_when_the_device_is_back(rig: Rig) -> None:
    m = rig.service.manager
    rig.offline.add("gw")
    m.handle(AvailabilityChanged("m1", False, rig.clock.time()))
    rig.clock.set(rig.clock.time() + 61)
    rig.service.step()
    orders = (await rig.client.get("/api/workorders")).json()
    assert len(orders) == 1
    assert orders[0]["alarm_key"] == "bus:gw"
    oid = orders[0]["id"]
    refused = await rig.client.post(
        f"/api/workorders/{oid}/close", json={"note": "重启网关"}, headers=USER
    )
    assert refused.status_code == 422
    assert "offline" in refused.text
    rig.offline.clear()
    ok = await rig.client.post(
        f"/api/workorders/{oid}/close", json={"note": "重启网关"}, headers=USER
    )
    assert ok.status_code == 200
    alarms = (await rig.client.get("/api/alarm-center/alarms")).json()
    assert [a["key"] for a in alarms] == ["bus:gw"]
    acked = await rig.client.post("/api/alarm-center/alarms/bus:gw/ack", headers=USER)
    assert acked.json()["acked_by"] == "zhang.wei"


async def test_sla_escalates_once(rig: Rig) -> None:
    rig.orders.open("dorm-1/103", "water", "马桶堵了", actor="zhang.wei")
    rig.clock.set(rig.clock.time() + 4 * 3600)
    assert len(rig.orders.check_sla()) == 1
    assert rig.orders.check_sla() == []
