"""Every staff page renders in Chinese and English, with its JSON twin, for the roles and
buildings that may see it (no browser: the HTML and the data it is made of)."""

from __future__ import annotations

import pytest

from tests.api.test_write_auth import ROOM, Campus, _alarm, _override, campus
from tests.integrations.modbus_harness import wait_until

__all__ = ["campus"]  # the fixture, re-used

PAGES = [
    "/",
    "/b/dorm-1",
    "/b/dorm-1/r/101",
    "/policies",
    "/policies/ac-limits",
    "/policies/ac-limits?copy=true",
    "/overrides",
    "/alarms",
    "/alarms?history=true",
    "/audit",
    "/users",
    "/calendar",
    "/calendar?year=2031",
    "/reports",
]


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_every_page_renders_in_both_languages(campus: Campus, lang: str) -> None:
    _override(campus)
    _alarm(campus)
    async with campus.client("admin1") as admin:
        for page in PAGES:
            sep = "&" if "?" in page else "?"
            html = await admin.get(f"{page}{sep}lang={lang}")
            assert html.status_code == 200, (page, html.text[:500])
            assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in html.text
            data = await admin.get(f"{page}{sep}format=json")
            assert data.status_code == 200, page
            assert isinstance(data.json(), dict)


async def test_pages_filter_and_page_on_the_server(campus: Campus) -> None:
    for n in range(3):
        campus.engine.staff.grant_override(
            {"rooms": [ROOM]}, actor="setup", reason=f"r{n}", duration_s=3600 + n
        )
    async with campus.client("admin1") as admin:
        first = (await admin.get("/policies?format=json&type=quota")).json()
        assert [p["id"] for p in first["page"]["items"]] == ["quota-elec"]
        found = (await admin.get("/audit?format=json&what=override.grant&who=setup")).json()
        assert found["page"]["total"] == 3
        none = (await admin.get("/audit?format=json&who=nobody")).json()
        assert none["page"]["total"] == 0
        listed = (await admin.get("/overrides?format=json&offset=2")).json()["page"]
        assert (listed["total"], listed["offset"], len(listed["items"])) == (3, 2, 1)
        assert listed["prev"] == 0


async def test_roles_and_buildings_on_the_pages(campus: Campus) -> None:
    _override(campus)
    _alarm(campus)
    async with campus.client("viewer1") as viewer:
        assert (await viewer.get("/users")).status_code == 403
        overrides = await viewer.get("/overrides")
        assert "grant-form" not in overrides.text  # a viewer may not grant
        assert "end-override" not in overrides.text
    async with campus.client("admin2") as elsewhere:
        for page in ("/overrides", "/alarms", "/policies"):
            data = (await elsewhere.get(f"{page}?format=json")).json()
            assert data["page"]["total"] == 0, page
        assert (await elsewhere.get("/policies/ac-limits")).status_code == 404
        assert (await elsewhere.get("/b/dorm-1")).status_code == 404


async def test_calendar_names_the_source_of_each_day(campus: Campus) -> None:
    async with campus.client("viewer1") as viewer:
        data = (await viewer.get("/calendar?format=json&year=2026")).json()
    days = [d for month in data["months"] for d in month]
    assert len(days) == 365
    national = next(d for d in days if d["date"] == "2026-10-01")
    assert "holiday" in national["types"]
    assert national["source"] in ("chinese_calendar", "holidays_file", "site")
    assert data["sources"]


async def test_overview_names_the_policies_acting_now(campus: Campus) -> None:
    ctrl = campus.controller
    ctrl.states.set("dorm-1.101.elec.relay", True)
    all_day = {"start": "00:00", "end": "23:59"}
    campus.engine.admin.upsert(
        {"id": "night", "type": "curfew", "windows": [all_day]}, actor="test", reason="test"
    )
    await wait_until(lambda: bool(campus.engine.core.holds()), "the curfew holding the relay")
    async with campus.client("viewer1") as viewer:
        data = (await viewer.get("/?format=json")).json()
        html = (await viewer.get("/")).text
    (building,) = data["buildings"]
    assert ["night", 1] in building["acting"]
    assert 'data-policy="night"' in html


async def test_a_top_up_token_reads_no_page(campus: Campus) -> None:
    from controller.accounts import TokenScope

    _, secret = campus.accounts.create_token("op1", scope=TokenScope.TOP_UP)
    campus.tokens["bridge"] = {"Authorization": f"Bearer {secret}"}
    async with campus.client("bridge") as bridge:
        for path in ("/", "/alarms", "/web/series?building=dorm-1", "/web/live?entities=x"):
            assert (await bridge.get(path)).status_code == 403, path


async def test_room_page_shows_its_policies_quota_overrides_and_commands(campus: Campus) -> None:
    """Issue 13: a room page carries the room's policies, quota, overrides and recent commands
    (a dorm manager answering "why is my socket off?" needs them in one place)."""
    override = _override(campus)
    before = campus.audit.recorded
    async with campus.client("op1") as operator:
        sent = await operator.post(
            "/api/commands",
            json={"entity_id": "dorm-1.101.elec.relay", "value": False, "reason": "检修插座"},
        )
        assert sent.status_code == 200, sent.text
    await wait_until(lambda: campus.audit.recorded > before, "the command's audit record")
    async with campus.client("viewer1") as viewer:
        data = (await viewer.get("/b/dorm-1/r/101?format=json")).json()["policies"]
        html = (await viewer.get("/b/dorm-1/r/101")).text
        english = (await viewer.get("/b/dorm-1/r/101?lang=en")).text
    assert {"quota-elec", "ac-limits"} <= set(data["covering"])
    (quota,) = data["quotas"]
    assert (quota["policy_id"], quota["room"], quota["allowance"]) == ("quota-elec", ROOM, 32.0)
    (exempt,) = data["overrides"]
    assert exempt["id"] == override
    assert set(exempt["devices"]) == {"dorm-1.101.elec", "dorm-1.101.ac"}
    (command,) = data["commands"]
    assert command["entity_id"] == "dorm-1.101.elec.relay"
    assert (command["value"], command["result"], command["reason"]) == (False, "ok", "检修插座")
    assert command["actor"] == "王丽 (op1)"
    assert 'id="room-policies"' in html
    assert "本房间的策略" in html
    assert 'data-quota="quota-elec"' in html
    assert f'data-override="{override}"' in html
    assert "检修插座" in html
    assert "Policies for this room" in english


async def test_room_page_names_the_policy_holding_a_point(campus: Campus) -> None:
    campus.controller.states.set("dorm-1.101.elec.relay", True)
    all_day = {"start": "00:00", "end": "23:59"}
    campus.engine.admin.upsert(
        {"id": "night", "type": "curfew", "windows": [all_day]}, actor="test", reason="test"
    )
    await wait_until(lambda: bool(campus.engine.core.holds()), "the curfew holding the relay")
    async with campus.client("viewer1") as viewer:
        data = (await viewer.get("/b/dorm-1/r/101?format=json")).json()["policies"]
        html = (await viewer.get("/b/dorm-1/r/101")).text
    assert "night" in data["covering"]
    (hold,) = data["holds"]
    assert (hold["policy"], hold["entity_id"], hold["value"]) == (
        "night",
        "dorm-1.101.elec.relay",
        False,
    )
    assert 'data-entity="dorm-1.101.elec.relay" data-policy="night">' in html
    assert "night → " in html
    assert "关" in html.split('class="hold"', 1)[1].split("</span>", 1)[0]  # off, in words
    assert "开" not in html.split('class="hold"', 1)[1].split("</span>", 1)[0]
