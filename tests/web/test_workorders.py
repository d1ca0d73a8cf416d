"""The work-order pages in a real headless Chromium against the emulated campus: a building
manager opens an order from an alarm and takes it through every step to closed."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, FilePayload, expect

from controller.alarms.component import AlarmService, alarm_service
from controller.audit import AuditLog
from controller.config import LoadedSite, load_site
from controller.config.alarms import WorkOrdersConfig
from tests.alarms.photos import png
from tests.conftest import EXAMPLE_SITE

from .harness import (
    PHONE,
    SESSION_LOOP,
    WebCampus,
    artifacts,
    new_page,
    no_leaked_tasks_on_the_session_loop,
    sign_in,
    web_campus,
)

pytestmark = [pytest.mark.integration, SESSION_LOOP]
_no_leaked_tasks = no_leaked_tasks_on_the_session_loop  # the leak check on this loop


@pytest.fixture(scope="module")
def site() -> LoadedSite:
    base = load_site(EXAMPLE_SITE)
    return dataclasses.replace(base, workorders=WorkOrdersConfig(sla_s={"water": 4 * 3600}))


@pytest_asyncio.fixture(loop_scope="session")
async def campus(site: LoadedSite) -> AsyncIterator[WebCampus]:
    async with web_campus(site, alarms=True) as running:
        yield running


def _service(campus: WebCampus) -> AlarmService:
    service = alarm_service(campus.controller.components)
    assert service is not None
    return service


def _opened_elsewhere(campus: WebCampus, room: str) -> int:
    """An order another account opened (set-up, straight through the service)."""
    orders = _service(campus).workorders
    assert orders is not None
    return int(orders.open(room, "ac", "空调不制冷", actor="李主任 (admin1)").id)


async def test_a_manager_takes_an_order_from_alarm_to_closed(
    campus: WebCampus, browser: Browser
) -> None:
    service = _service(campus)
    service.manager.raise_(
        "leak:dorm-1.101.cold",
        kind="leak",
        severity="warning",
        scope="device",
        target="dorm-1.101.cold",
        message_en="dorm-1/101: water running all night",
        message_zh="dorm-1/101：夜间持续用水",
    )
    other = _opened_elsewhere(campus, "dorm-2/201")

    page = await new_page(browser)
    await sign_in(page, campus.url, "manager1")
    await page.click("nav >> text=报修工单")
    await page.wait_for_url("**/workorders")
    await expect(page.locator("h1")).to_have_text("报修工单")
    await expect(page.locator("#order-list tbody tr")).to_have_count(1)  # dorm-2's is not listed
    await expect(page.locator("#order-list")).to_contain_text("无")

    await page.click("#new-order summary")
    form = page.locator("#order-form")
    await form.locator("input[name=room]").fill("101")
    await form.locator("select[name=category]").select_option("water")
    await form.locator("select[name=alarm_key]").select_option("leak:dorm-1.101.cold")
    await form.locator("textarea[name=description]").fill("卫生间水龙头关不上，整夜滴水")
    await page.screenshot(path=artifacts() / "workorders-new-form-desktop.png", full_page=True)
    await form.locator("button[type=submit]").click()
    await page.wait_for_url("**/workorders/*")
    number = int(page.url.rsplit("/", 1)[1])
    await expect(page.locator("#order-status")).to_have_text("待派单")
    await expect(page.locator("#order-alarm")).to_contain_text("夜间持续用水")
    await page.screenshot(path=artifacts() / "workorder-new-desktop.png", full_page=True)

    photo = page.locator("#photo-form")
    text = FilePayload(name="notes.png", mimeType="image/png", buffer=b"not a picture at all")
    await photo.locator("input[type=file]").set_input_files(files=[text])
    await photo.locator("button[type=submit]").click()
    await expect(photo.locator(".outcome")).to_contain_text("not a JPEG, PNG or WebP")
    picture = FilePayload(name="leak.png", mimeType="image/png", buffer=png())
    await photo.locator("input[type=file]").set_input_files(files=[picture])
    await photo.locator("button[type=submit]").click()
    shown = page.locator("img.wo-photo")
    await expect(shown).to_have_count(1)
    await expect(shown).to_have_js_property("naturalWidth", 64)  # served, decoded, shown

    steps = [
        ("assign", "已派单", {"assignee": "张师傅"}),
        ("start", "维修中", {}),
        ("done", "已完成", {"note": "更换阀芯"}),
    ]
    for action, status, fields in steps:
        step = page.locator(f"form.wo-action[data-action={action}]")
        for name, value in fields.items():
            await step.locator(f"input[name={name}]").fill(value)
        await step.locator("button[type=submit]").click()
        await expect(page.locator("#order-status")).to_have_text(status)
    await expect(page.locator("#order-assignee")).to_have_text("张师傅")

    close = page.locator("form.wo-action[data-action=close]")
    await close.locator("button[type=submit]").click()  # no closing note: refused, still done
    await expect(page.locator("#action-outcome")).to_have_text("必填")
    await expect(page.locator("#order-status")).to_have_text("已完成")
    await close.locator("input[name=note]").fill("已修复，学生确认")
    await close.locator("button[type=submit]").click()
    await expect(page.locator("#order-status")).to_have_text("已关闭")
    await expect(page.locator("#order-history tbody tr")).to_have_count(6)
    await expect(page.locator("#order-history")).to_contain_text("王丽")
    await expect(page.locator("form.wo-action")).to_have_count(0)
    await page.screenshot(path=artifacts() / "workorder-closed-desktop.png", full_page=True)

    assert service.workorders is not None
    order = service.workorders.get(number)
    actions = ["open", "photo", "assigned", "in_progress", "done", "closed"]
    assert [c.action for c in order.history] == actions
    actors = {c.actor for c in order.history}
    assert len(actors) == 1
    assert "manager1" in actors.pop()
    assert order.alarm_key == "leak:dorm-1.101.cold"
    assert order.room == "dorm-1/101"
    audit = next(c for c in campus.controller.components if isinstance(c, AuditLog))
    entries = [e for e in audit.query(limit=50) if e.action.startswith("workorder.")]
    assert [e.action for e in reversed(entries)] == [
        "workorder.open",
        "workorder.photo",
        "workorder.assign",
        "workorder.start",
        "workorder.done",
        "workorder.close",
    ]
    assert {e.target for e in entries} == {"dorm-1/101"}
    assert all("manager1" in e.actor for e in entries)

    await page.click("#order-alarm a")  # the alarm service's one list, not only policies
    await page.wait_for_url("**/alarms")
    await expect(page.locator('[data-alarm="leak:dorm-1.101.cold"]')).to_contain_text(
        "夜间持续用水"
    )
    await page.screenshot(path=artifacts() / "alarms-service-desktop.png", full_page=True)

    await page.goto(f"{campus.url}/workorders/{other}")  # another building: as if absent
    await expect(page.locator("h1")).to_have_text("找不到该页面")

    await page.goto(f"{campus.url}/workorders?status=closed")
    await expect(page.locator("#order-list tbody tr")).to_have_count(1)
    await expect(page.locator("#order-list")).to_contain_text("dorm-1/101")
    await page.screenshot(path=artifacts() / "workorders-desktop.png", full_page=True)
    await page.context.close()

    phone = await new_page(browser, PHONE)
    await sign_in(phone, campus.url, "manager1")
    await phone.goto(f"{campus.url}/workorders")
    await phone.click("#new-order summary")
    await phone.screenshot(path=artifacts() / "workorders-phone.png", full_page=True)
    await phone.goto(f"{campus.url}/workorders/{number}")
    await phone.screenshot(path=artifacts() / "workorder-phone.png", full_page=True)
    await phone.goto(f"{campus.url}/workorders?lang=en")
    await expect(phone.locator("h1")).to_have_text("Work orders")
    await expect(phone.locator("#order-list")).to_contain_text("Closed")
    await phone.goto(f"{campus.url}/workorders/{number}?lang=en")
    await expect(phone.locator("h1")).to_contain_text(f"Work order #{number}")
    await expect(phone.locator("#order-history")).to_contain_text("photo added")
    twin = await phone.request.get(f"{campus.url}/workorders/{number}?format=json")
    assert (await twin.json())["order"]["status"] == "closed"
    listed = await phone.request.get(f"{campus.url}/workorders?format=json&category=water")
    assert [o["id"] for o in (await listed.json())["page"]["items"]] == [number]
    await phone.context.close()


async def test_a_viewer_reads_but_has_no_actions(campus: WebCampus, browser: Browser) -> None:
    number = _opened_elsewhere(campus, "dorm-1/102")
    page = await new_page(browser)
    await sign_in(page, campus.url, "viewer1")
    await page.goto(f"{campus.url}/workorders")
    await expect(page.locator("#order-list tbody tr")).to_have_count(1)
    await expect(page.locator("#new-order")).to_have_count(0)
    await page.goto(f"{campus.url}/workorders/{number}")
    await expect(page.locator("#order-status")).to_have_text("待派单")
    await expect(page.locator("form.wo-action")).to_have_count(0)
    await page.context.close()
