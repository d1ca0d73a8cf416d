"""The API against a real Controller core (state store, bus, router) on a small site."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from controller.accounts import AccountStore, Role
from controller.api import create_api
from controller.app import Controller
from controller.config import load_site
from controller.core import FakeClock, Quality
from controller.core.commands import CommandError
from controller.core.events import CommandCompleted, Value
from tests.auth_helpers import bearer, fast_store

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
def accounts(tmp_path: Path, controller: Controller) -> Iterator[AccountStore]:
    store = fast_store(tmp_path / "accounts.sqlite3", controller.clock)
    yield store
    store.close()


@pytest.fixture
def staff(accounts: AccountStore) -> dict[str, str]:
    """An unrestricted admin's token: every change below is audited under 王丽 (wang.li)."""
    return bearer(accounts, "wang.li", Role.ADMIN, display_name="王丽")


def _client(
    controller: Controller, accounts: AccountStore, headers: dict[str, str], **kw: float
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_api(controller, accounts=accounts, **kw))
    return httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers)


@pytest.fixture
async def client(
    controller: Controller, accounts: AccountStore, staff: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(controller, accounts, staff) as c:
        yield c


async def test_site_summary_in_chinese_and_english(client: httpx.AsyncClient) -> None:
    zh = (await client.get("/api/site")).json()
    en = (await client.get("/api/site", params={"lang": "en"})).json()
    assert zh["name"] == "测试校区"
    assert en["buildings"][0]["name"] == "Dorm 1"
    assert zh["devices"] == 2
    assert zh["entities"] == 26


async def test_bad_language_is_422(client: httpx.AsyncClient) -> None:
    reply = await client.get("/api/site", params={"lang": "fr"})
    assert reply.status_code == 422
    assert "lang" in reply.text


async def test_entities_filtered_by_tags(client: httpx.AsyncClient) -> None:
    reply = await client.get("/api/entities", params={"kind": "relay", "lang": "en"})
    body = reply.json()["items"]
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
        "device_id": "dorm-1.101.elec",
        "name": "累计电能",
        "unit": "kWh",
    }
    assert (await client.get("/api/states/nope")).status_code == 404


async def test_command_is_routed_and_audited(
    client: httpx.AsyncClient, controller: Controller
) -> None:
    events = controller.bus.subscribe("audit", [CommandCompleted])
    reply = await client.post(
        "/api/commands",
        json={"entity_id": "dorm-1.101.elec.relay", "value": False, "reason": "安全检查"},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["confirmed_value"] == "off"  # the API's on/off vocabulary
    done = await events.get()
    assert isinstance(done, CommandCompleted)
    assert (done.actor, done.reason, done.ok, done.source) == (
        "王丽 (wang.li)",
        "安全检查",
        True,
        "api",
    )


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
    reply = await client.post("/api/commands", json=body)
    assert reply.status_code == status
    assert needle in reply.text
    assert isinstance(reply.json()["detail"], str)  # one error body everywhere


@pytest.mark.parametrize(
    ("raw", "kind", "allowed"),
    [
        (
            '{"entity_id": "dorm-1.101.ac.setpoint", "value": 99, "reason": "x"}',
            "out_of_range",
            {"min": 16.0, "max": 32.0, "unit": "°C"},
        ),
        (
            '{"entity_id": "dorm-1.101.ac.setpoint", "value": Infinity, "reason": "x"}',
            "finite_number",
            {"min": 16.0, "max": 32.0, "unit": "°C"},
        ),
        (
            '{"entity_id": "dorm-1.101.ac.setpoint", "value": true, "reason": "x"}',
            "number_type",
            {"min": 16.0, "max": 32.0, "unit": "°C"},
        ),
        (
            '{"entity_id": "dorm-1.101.ac.mode", "value": "turbo", "reason": "x"}',
            "not_allowed",
            {"choices": ["auto", "heat", "dry", "fan", "cool"]},
        ),
        (
            '{"entity_id": "dorm-1.101.elec.relay", "value": 1, "reason": "x"}',
            "bool_type",
            {"type": "boolean"},
        ),
    ],
)
async def test_invalid_command_values_are_422_and_never_sent(
    client: httpx.AsyncClient, controller: Controller, raw: str, kind: str, allowed: object
) -> None:
    """Issue 11 defect 3: input errors are the caller's, not the device's (was 502)."""
    events = controller.bus.subscribe("audit", [CommandCompleted])
    reply = await client.post(
        "/api/commands",
        content=raw,
        headers={"Content-Type": "application/json"},
    )
    assert reply.status_code == 422, reply.text
    (error,) = reply.json()["errors"]
    assert error["loc"] == ["body", "value"]
    assert error["type"] == kind
    assert error["allowed"] == allowed
    assert events.stats.depth == 0  # nothing was sent, so nothing completed


async def test_a_name_in_a_header_is_not_an_account(
    controller: Controller, accounts: AccountStore
) -> None:
    """Issue 13: the X-Sanjie-User header is gone; who acts is the authenticated account."""
    body = {"entity_id": "dorm-1.101.elec.relay", "value": False, "reason": "x"}
    async with _client(controller, accounts, {"X-Sanjie-User": "admin"}) as anonymous:
        reply = await anonymous.post("/api/commands", json=body)
        read = await anonymous.get("/api/states")
        health = await anonymous.get("/api/health")
    assert (reply.status_code, read.status_code, health.status_code) == (401, 401, 200)


async def test_a_limited_account_sees_only_its_buildings(
    controller: Controller, accounts: AccountStore
) -> None:
    elsewhere = bearer(accounts, "dorm2", Role.VIEWER, buildings=frozenset({"dorm-2"}))
    async with _client(controller, accounts, elsewhere) as c:
        site = (await c.get("/api/site")).json()
        states = (await c.get("/api/states")).json()
        one = await c.get("/api/states/dorm-1.101.elec.power")
        asked = await c.get("/api/entities", params={"building": "dorm-1"})
        status = await c.get("/api/status")
    assert site["buildings"] == []
    assert states["total"] == 0
    assert (one.status_code, asked.status_code, status.status_code) == (403, 403, 403)


async def test_bodies_over_the_bound_are_413_before_parsing(
    controller: Controller, accounts: AccountStore, staff: dict[str, str]
) -> None:
    """Issue 11 defect 5: a large body is refused, declared or streamed."""
    async with _client(controller, accounts, staff, max_body=1000) as c:
        big = {"entity_id": "dorm-1.101.elec.relay", "value": False, "reason": "x" * 5000}
        declared = await c.post("/api/commands", json=big)

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b" " * 500

        streamed = await c.post(
            "/api/commands",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
    for reply in (declared, streamed):
        assert reply.status_code == 413, reply.text
        assert "over 1000 bytes" in reply.json()["detail"]


async def test_lists_page_with_total_and_next(client: httpx.AsyncClient) -> None:
    """Issue 11 defect 7: nothing is cut silently."""
    first = (await client.get("/api/states", params={"limit": 5})).json()
    assert (first["total"], first["limit"], first["offset"]) == (26, 5, 0)
    seen = [s["entity_id"] for s in first["items"]]
    url = first["next"]
    while url:
        page = (await client.get(url)).json()
        seen += [s["entity_id"] for s in page["items"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 26
    too_many = await client.get("/api/states", params={"limit": 1001})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["loc"] == ["query", "limit"]


async def test_status_lists_bus_queues(client: httpx.AsyncClient, controller: Controller) -> None:
    controller.bus.subscribe("recorder", maxsize=5)
    body = (await client.get("/api/status")).json()
    assert body["bus"][0]["name"] == "recorder"
    assert body["bus"][0]["maxsize"] == 5
    assert body["unavailable_devices"] == []
    assert body["supervision"] == controller.health()
    assert body["event_loop"] == "asyncio"  # pytest's loop; `sanjie run` runs uvloop


async def test_metrics_in_prometheus_text(
    client: httpx.AsyncClient, controller: Controller
) -> None:
    controller.bus.subscribe("recorder", maxsize=5)
    controller.states.set("dorm-1.101.elec.power", 5.0)
    text = (await client.get("/api/metrics")).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    depth = families["sanjie_bus_queue_depth"]
    assert depth.type == "gauge"
    assert [(s.labels, s.value) for s in depth.samples] == [({"subscriber": "recorder"}, 1.0)]
    published = families["sanjie_events_published"]
    assert published.type == "counter"
    assert published.samples[0].name == "sanjie_events_published_total"
    assert published.samples[0].value == 1.0
    assert families["sanjie_devices_unavailable"].samples[0].value == 0.0


class _Silent:
    """A device that never confirms (and never fails)."""

    async def write(self, device_id: str, point_key: str, value: Value) -> Value:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_handler_that_does_not_answer_is_cut_off_with_504(
    controller: Controller, accounts: AccountStore, staff: dict[str, str]
) -> None:
    """Issue 11 defect 8: every handler answers within a bounded time."""
    controller.commands.register("dorm-1.101.elec", _Silent())
    async with _client(controller, accounts, staff, timeout=0.2) as c:
        reply = await c.post(
            "/api/commands",
            json={"entity_id": "dorm-1.101.elec.relay", "value": False, "reason": "x"},
        )
    assert reply.status_code == 504
    assert "no answer within 0.2 s" in reply.json()["detail"]


async def test_every_documented_error_uses_the_one_error_body(controller: Controller) -> None:
    spec = create_api(controller).openapi()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorBody"), (method, path, status)


async def test_every_route_but_liveness_and_metrics_documents_401(
    controller: Controller, accounts: AccountStore
) -> None:
    spec = create_api(controller, accounts=accounts).openapi()
    # (a wrong password at /api/login is a 401 too); a student's fault report goes by the
    # token of the room's QR code, without an account
    public = {"/api/health", "/api/metrics", "/api/public/report/{token}"}
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            documented = "401" in operation["responses"]
            assert documented != (path in public), (method, path)
