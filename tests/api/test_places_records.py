"""Buildings, rooms, raw history and the audit log through the API, with accounts (a real
account store, a running recorder with the embedded history, a real audit log)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher

from controller.accounts import AccountStore, Role
from controller.api import create_api
from controller.app import Controller
from controller.audit import AuditLog
from controller.config import load_site
from controller.core import FakeClock
from controller.core.events import Value
from controller.recorder import Recorder

TZ = dt.timezone(dt.timedelta(hours=8))
H0 = dt.datetime(2026, 11, 2, 8, 0, tzinfo=TZ).timestamp()
PASSWORD = "correct horse battery"

SITE = """
campus: {id: t, name: {zh: 测试校区, en: Test campus}, timezone: Asia/Shanghai}
buildings:
  - id: dorm-1
    kind: dorm
    name: {zh: 一号楼, en: Dorm 1}
    floors: 2
    rooms:
      - {id: "101", floor: 1, capacity: 4, occupants: 3}
      - {id: "201", floor: 2, capacity: 4}
  - id: dorm-2
    kind: dorm
    name: {zh: 二号楼, en: Dorm 2}
    floors: 1
    rooms: [{id: "101", floor: 1, capacity: 6, occupants: 5}]
links:
  - {id: gw, type: modbus_tcp, host: 127.0.0.1, port: 1502}
devices:
  - {id: dorm-1.main, profile: chint/ddsu666, building: dorm-1, link: gw, unit_id: 9,
     circuit: main}
  - {id: dorm-1.101.elec, profile: generic/dorm-prepaid-meter, building: dorm-1, room: "101",
     link: gw, unit_id: 1, circuit: sockets, name: {zh: 101 插座表, en: Room 101 sockets}}
  - {id: dorm-1.101.ac, profile: intesis/ac-gateway, building: dorm-1, room: "101",
     link: gw, unit_id: 2, circuit: ac}
  - {id: dorm-2.101.elec, profile: generic/dorm-prepaid-meter, building: dorm-2, room: "101",
     link: gw, unit_id: 3, circuit: sockets}
"""


class _Confirming:
    """The device side of a command: confirms whatever it is told (the value it received)."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, Value]] = []

    async def write(self, device_id: str, point_key: str, value: Value) -> Value:
        self.writes.append((device_id, point_key, value))
        return value


@dataclass
class Rig:
    ctrl: Controller
    recorder: Recorder
    audit: AuditLog
    accounts: AccountStore
    device: _Confirming
    tokens: dict[str, str]

    def as_(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE, encoding="utf-8")
    clock = FakeClock(H0)
    ctrl = Controller(load_site(site_file), clock)
    device = _Confirming()
    for device_id in ctrl.site.devices:
        ctrl.commands.register(device_id, device)
    recorder = Recorder.from_site(ctrl, data_dir=tmp_path)
    audit = AuditLog(tmp_path / "audit.sqlite3", clock, ctrl.bus)
    ctrl.add(recorder)
    ctrl.add(audit)
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    accounts = AccountStore(tmp_path / "accounts.sqlite3", clock, hasher=fast)
    accounts.add("wangli", Role.VIEWER, PASSWORD, display_name="王丽")
    accounts.add("mgr1", Role.VIEWER, PASSWORD, buildings=frozenset({"dorm-1"}))
    accounts.add("lina", Role.OPERATOR, PASSWORD, display_name="李娜")
    tokens = {name: accounts.create_token(name)[1] for name in ("wangli", "mgr1", "lina")}
    try:
        async with ctrl.running():
            await recorder.wait_started()
            yield Rig(ctrl, recorder, audit, accounts, device, tokens)
    finally:
        accounts.close()
        audit.close()


@pytest.fixture
async def client(rig: Rig) -> AsyncIterator[httpx.AsyncClient]:
    app = create_api(rig.ctrl, accounts=rig.accounts)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def test_reads_need_an_account(client: httpx.AsyncClient) -> None:
    for path in ("/api/buildings", "/api/rooms", "/api/audit", "/api/history/dorm-1.main.energy"):
        reply = await client.get(path)
        assert reply.status_code == 401, path
        assert reply.json()["detail"]


async def test_buildings_with_occupants_and_their_own_devices(
    client: httpx.AsyncClient, rig: Rig
) -> None:
    who = rig.as_("wangli")
    page = (await client.get("/api/buildings", headers=who)).json()
    assert page["total"] == 2
    first = page["items"][0]
    assert (first["id"], first["name"], first["rooms"], first["devices"]) == (
        "dorm-1",
        "一号楼",
        2,
        3,
    )
    assert (first["capacity"], first["occupants"]) == (8, 7)  # room 201: occupants = beds

    rig.ctrl.states.set("dorm-1.main.energy", 1234.5)
    one = await client.get("/api/buildings/dorm-1", params={"lang": "en"}, headers=who)
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["name"] == "Dorm 1"
    [main] = body["building_devices"]
    assert (main["id"], main["manufacturer"], main["model"]) == ("dorm-1.main", "CHINT", "DDSU666")
    energy = next(s for s in main["states"] if s["entity_id"] == "dorm-1.main.energy")
    assert (energy["value"], energy["unit"], energy["available"]) == (1234.5, "kWh", True)
    assert energy["name"]
    missing = await client.get("/api/buildings/dorm-9", headers=who)
    assert missing.status_code == 404


async def test_an_account_limited_to_a_building_sees_only_it(
    client: httpx.AsyncClient, rig: Rig
) -> None:
    mine = rig.as_("mgr1")
    page = (await client.get("/api/buildings", headers=mine)).json()
    assert [b["id"] for b in page["items"]] == ["dorm-1"]
    assert (await client.get("/api/buildings/dorm-2", headers=mine)).status_code == 403
    assert (await client.get("/api/rooms/dorm-2/101", headers=mine)).status_code == 403
    rooms = (await client.get("/api/rooms", headers=mine)).json()
    assert {r["building"] for r in rooms["items"]} == {"dorm-1"}
    history = await client.get("/api/history/dorm-2.101.elec.energy", headers=mine)
    assert history.status_code == 403


async def test_rooms_by_building_and_floor_and_one_room_with_its_devices(
    client: httpx.AsyncClient, rig: Rig
) -> None:
    who = rig.as_("wangli")
    floor1 = (
        await client.get("/api/rooms", params={"building": "dorm-1", "floor": 1}, headers=who)
    ).json()
    assert [(r["building"], r["id"], r["occupants"], r["devices"]) for r in floor1["items"]] == [
        ("dorm-1", "101", 3, 2)
    ]
    everywhere = (await client.get("/api/rooms", params={"floor": 1}, headers=who)).json()
    assert [(r["building"], r["id"]) for r in everywhere["items"]] == [
        ("dorm-1", "101"),
        ("dorm-2", "101"),
    ]
    too_high = await client.get(
        "/api/rooms", params={"building": "dorm-1", "floor": 7}, headers=who
    )
    assert too_high.status_code == 422
    assert too_high.json()["errors"][0]["loc"] == ["query", "floor"]

    rig.ctrl.states.set("dorm-1.101.elec.relay", True)
    rig.ctrl.states.set("dorm-1.101.ac.power_switch", "on")
    room = (await client.get("/api/rooms/dorm-1/101", headers=who)).json()
    assert (room["capacity"], room["occupants"]) == (4, 3)
    devices = {d["id"]: d for d in room["devices"]}
    assert devices.keys() == {"dorm-1.101.elec", "dorm-1.101.ac"}
    assert devices["dorm-1.101.elec"]["name"] == "101 插座表"
    relay = next(s for s in devices["dorm-1.101.elec"]["states"] if s["name"] == "插座继电器")
    ac = next(s for s in devices["dorm-1.101.ac"]["states"] if s["entity_id"].endswith("switch"))
    assert relay["value"] == ac["value"] == "on"  # one vocabulary for a coil and an enum
    assert (await client.get("/api/rooms/dorm-1/999", headers=who)).status_code == 404


async def test_unknown_filters_and_filter_values_are_422(
    client: httpx.AsyncClient, rig: Rig
) -> None:
    who = rig.as_("wangli")
    typo = await client.get("/api/rooms", params={"buildng": "dorm-1"}, headers=who)
    assert typo.status_code == 422
    assert typo.json()["errors"][0]["loc"] == ["query", "buildng"]
    for path in ("/api/entities", "/api/states"):
        nowhere = await client.get(
            path, params={"building": "dorm-9", "kind": "relais"}, headers=who
        )
        assert nowhere.status_code == 422, path
        assert {tuple(e["loc"]) for e in nowhere.json()["errors"]} == {
            ("query", "building"),
            ("query", "kind"),
        }
    assert (
        await client.get("/api/rooms", params={"building": "dorm-9"}, headers=who)
    ).status_code == 404
    socket = await client.get("/api/entities", params={"circuit": "socket"}, headers=who)
    assert socket.status_code == 422  # the circuit is "sockets"
    assert socket.json()["errors"][0]["loc"] == ["query", "circuit"]
    sockets = await client.get("/api/entities", params={"circuit": "sockets"}, headers=who)
    assert sockets.status_code == 200
    assert sockets.json()["total"] > 0


async def test_entities_carry_options_and_ranges(client: httpx.AsyncClient, rig: Rig) -> None:
    who = rig.as_("wangli")
    page = (
        await client.get("/api/entities", params={"device": "dorm-1.101.ac"}, headers=who)
    ).json()
    by_key = {e["entity_id"].rsplit(".", 1)[1]: e for e in page["items"]}
    assert by_key["power_switch"]["options"] == ["off", "on"]
    assert by_key["mode"]["options"] == ["auto", "heat", "dry", "fan", "cool"]
    assert by_key["setpoint"]["min"] == 16  # intesis/ac-gateway: range [16, 32]
    assert by_key["setpoint"]["max"] == 32
    relay = (await client.get("/api/entities/dorm-1.101.elec.relay", headers=who)).json()
    assert (relay["options"], relay["write_options"]) == (["off", "on"], ["off", "on"])


@pytest.mark.parametrize(
    ("entity", "sent", "device_gets", "shown"),
    [
        ("dorm-1.101.elec.relay", "off", False, "off"),  # a coil takes true/false
        ("dorm-1.101.elec.relay", True, True, "on"),
        ("dorm-1.101.ac.power_switch", False, "off", "off"),  # an enum takes its words
        ("dorm-1.101.ac.power_switch", "ON", "on", "on"),
    ],
)
async def test_on_off_commands_accept_both_forms(
    client: httpx.AsyncClient, rig: Rig, entity: str, sent: object, device_gets: Value, shown: str
) -> None:
    reply = await client.post(
        "/api/commands",
        json={"entity_id": entity, "value": sent, "reason": "巡检"},
        headers=rig.as_("lina"),
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["confirmed_value"] == shown
    assert rig.device.writes[-1][2] == device_gets
    assert type(rig.device.writes[-1][2]) is type(device_gets)


async def test_raw_history_pages_with_iso_or_epoch_times(
    client: httpx.AsyncClient, rig: Rig
) -> None:
    energy = "dorm-1.101.elec.energy"
    for minute in range(5):
        rig.ctrl.states.set(energy, 100.0 + minute, H0 + minute * 60)
    await rig.recorder.flush()
    who = rig.as_("wangli")
    first = await client.get(
        f"/api/history/{energy}",
        params={"start": "2026-11-02T08:00:00+08:00", "end": H0 + 3600, "limit": 2},
        headers=who,
    )
    assert first.status_code == 200, first.text
    page = first.json()
    assert page["total"] == 5
    assert [r["value"] for r in page["items"]] == [100.0, 101.0]
    assert page["items"][1]["time"] == "2026-11-02T08:01:00.000+08:00"
    following = (await client.get(page["next"], headers=who)).json()
    assert [r["value"] for r in following["items"]] == [102.0, 103.0]
    naive = await client.get(  # no zone: campus time
        f"/api/history/{energy}",
        params={"start": "2026-11-02T08:03:00", "end": "2026-11-02T09:00:00"},
        headers=who,
    )
    assert [r["value"] for r in naive.json()["items"]] == [103.0, 104.0]
    bad = await client.get(f"/api/history/{energy}", params={"start": "yesterday"}, headers=who)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"] == ["query", "start"]


async def test_the_audit_log_pages_and_keeps_chinese_names(
    client: httpx.AsyncClient, rig: Rig
) -> None:
    staff = rig.accounts.get("wangli")
    assert staff.label == "王丽 (wangli)"
    for target in ("dorm-1.101.elec.relay", "dorm-1.101.ac.power_switch"):
        rig.audit.record(staff.label, "override", target, reason="宿舍检查")
    rig.audit.record("admin", "policy.update", "curfew", reason="寒假")
    reply = await client.post(  # audited under the account's Chinese display name
        "/api/commands",
        json={"entity_id": "dorm-2.101.elec.relay", "value": "off", "reason": "欠费"},
        headers=rig.as_("lina"),
    )
    assert reply.status_code == 200, reply.text
    who = rig.as_("wangli")

    async def entries(**params: object) -> dict[str, object]:
        answer = await client.get("/api/audit", params=params, headers=who)  # type: ignore[arg-type]
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    await _wait_for_audit(rig, 4)
    page = await entries(limit=2)
    assert page["total"] == 4
    items = page["items"]
    assert isinstance(items, list)
    assert [(e["actor"], e["target"]) for e in items] == [
        ("李娜 (lina)", "dorm-2.101.elec.relay"),
        ("admin", "curfew"),
    ]
    mine = await entries(actor="王丽 (wangli)")
    assert mine["total"] == 2
    since = await entries(since="2026-11-02T08:00:00+08:00", action="override")
    assert since["total"] == 2
    assert (
        await client.get("/api/audit", params={"since": "soon"}, headers=who)
    ).status_code == 422
    limited = (await client.get("/api/audit", headers=rig.as_("mgr1"))).json()
    assert {e["target"] for e in limited["items"]} == {
        "dorm-1.101.elec.relay",
        "dorm-1.101.ac.power_switch",
    }
    assert limited["total"] == 2  # dorm-2's command and the campus-wide policy are not shown


async def _wait_for_audit(rig: Rig, count: int) -> None:
    import asyncio
    import time

    deadline = time.monotonic() + 5
    while rig.audit.count() < count:
        assert time.monotonic() < deadline, rig.audit.count()
        await asyncio.sleep(0.01)
