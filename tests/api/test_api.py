"""The API against a real Controller core (state store, bus, router) on a small site."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from controller.api import create_api
from controller.app import Controller
from controller.config import load_site
from controller.core import FakeClock, Quality
from controller.core.commands import CommandError
from controller.core.events import CommandCompleted, Value

SITE = """
campus: {id: t, name: {zh: 测试校区, en: Test campus}}
buildings:
  - id: dorm-1
    kind: dorm
    name: {zh: 一号楼, en: Dorm 1}
    floors: 1
    rooms: [{id: "101", floor: 1, capacity: 4}]
links:
  - {id: gw, type: modbus_tcp, host: 127.0.0.1, port: 1502}
devices:
  - {id: dorm-1.101.elec, profile: generic/dorm-prepaid-meter, building: dorm-1, room: "101",
     link: gw, unit_id: 1, circuit: sockets}
  - {id: dorm-1.101.ac, profile: intesis/ac-gateway, building: dorm-1, room: "101",
     link: gw, unit_id: 2, circuit: ac}
"""


class _Relay:
    """A stand-in driver handler: confirms writes to the relay, refuses the rest."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, Value]] = []

    async def write(self, device_id: str, point_key: str, value: Value) -> Value:
        if point_key != "relay":
            raise CommandError("device did not confirm")
        self.writes.append((device_id, point_key, value))
        return value


@pytest.fixture
def controller(tmp_path: Path) -> Controller:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(SITE, encoding="utf-8")
    ctrl = Controller(load_site(site_file), FakeClock(1_780_000_000))
    handler = _Relay()
    ctrl.commands.register("dorm-1.101.elec", handler)
    ctrl.commands.register("dorm-1.101.ac", handler)
    return ctrl


@pytest.fixture
async def client(controller: Controller) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_api(controller))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def test_site_summary_in_chinese_and_english(client: httpx.AsyncClient) -> None:
    zh = (await client.get("/api/site")).json()
    en = (await client.get("/api/site", params={"lang": "en"})).json()
    assert zh["name"] == "测试校区"
    assert en["buildings"][0]["name"] == "Dorm 1"
    assert zh["devices"] == 2
    assert zh["entities"] == 19


async def test_bad_language_is_422(client: httpx.AsyncClient) -> None:
    reply = await client.get("/api/site", params={"lang": "fr"})
    assert reply.status_code == 422
    assert "lang" in reply.text


async def test_entities_filtered_by_tags(client: httpx.AsyncClient) -> None:
    reply = await client.get("/api/entities", params={"kind": "relay", "lang": "en"})
    body = reply.json()
    assert [e["entity_id"] for e in body] == ["dorm-1.101.elec.relay"]
    assert body[0]["name"] == "Socket relay"
    assert body[0]["tags"]["room"] == "101"


async def test_states_reflect_the_store(client: httpx.AsyncClient, controller: Controller) -> None:
    controller.states.set("dorm-1.101.elec.power", 812.0)
    controller.states.set("dorm-1.101.elec.voltage", float("nan"), quality=Quality.BAD)
    power = (await client.get("/api/states/dorm-1.101.elec.power")).json()
    assert power["value"] == 812.0
    assert power["quality"] == "good"
    never = (await client.get("/api/states/dorm-1.101.elec.energy")).json()
    assert never == {
        "entity_id": "dorm-1.101.elec.energy",
        "value": None,
        "timestamp": None,
        "quality": None,
        "available": False,
    }
    assert (await client.get("/api/states/nope")).status_code == 404


async def test_command_is_routed_and_audited(
    client: httpx.AsyncClient, controller: Controller
) -> None:
    events = controller.bus.subscribe("audit", [CommandCompleted])
    reply = await client.post(
        "/api/commands",
        json={"entity_id": "dorm-1.101.elec.relay", "value": False, "reason": "安全检查"},
        headers={"X-Sanjie-User": "wang.li"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["confirmed_value"] is False
    done = await events.get()
    assert isinstance(done, CommandCompleted)
    assert (done.actor, done.reason, done.ok, done.source) == ("wang.li", "安全检查", True, "api")


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"entity_id": "dorm-1.101.elec.power", "value": 1, "reason": "x"}, 409, "read-only"),
        ({"entity_id": "nope", "value": 1, "reason": "x"}, 404, "unknown entity"),
        ({"entity_id": "dorm-1.101.elec.relay", "value": True}, 422, "reason"),
        (
            {"entity_id": "dorm-1.101.elec.relay", "value": True, "reason": "x", "extra": 1},
            422,
            "extra",
        ),
        ({"entity_id": "dorm-1.101.ac.setpoint", "value": 26, "reason": "x"}, 502, "confirm"),
    ],
)
async def test_bad_commands_get_a_4xx_or_5xx_with_the_reason(
    client: httpx.AsyncClient, body: dict[str, object], status: int, needle: str
) -> None:
    reply = await client.post("/api/commands", json=body, headers={"X-Sanjie-User": "t"})
    assert reply.status_code == status
    assert needle in reply.text


async def test_status_lists_bus_queues(client: httpx.AsyncClient, controller: Controller) -> None:
    controller.bus.subscribe("recorder", maxsize=5)
    body = (await client.get("/api/status")).json()
    assert body["bus"][0]["name"] == "recorder"
    assert body["bus"][0]["maxsize"] == 5
    assert body["unavailable_devices"] == []


async def test_metrics_in_prometheus_text(
    client: httpx.AsyncClient, controller: Controller
) -> None:
    controller.bus.subscribe("recorder", maxsize=5)
    controller.states.set("dorm-1.101.elec.power", 5.0)
    text = (await client.get("/api/metrics")).text
    assert "# TYPE sanjie_bus_subscribers_depth gauge" in text
    assert 'sanjie_bus_subscribers_depth{key="recorder"} 1.0' in text
    assert "sanjie_bus_published 1.0" in text
    assert "sanjie_devices_unavailable 0.0" in text
