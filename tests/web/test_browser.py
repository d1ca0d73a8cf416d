"""The staff web app in a real headless Chromium against the emulated campus."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from controller.config import LoadedSite, load_site
from controller.policies.alarms import ActiveAlarm
from controller.policies.engine import PolicyEngine
from controller.policies.model import Alarm
from tests.conftest import EXAMPLE_SITE

from .harness import (
    DESKTOP,
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
    return load_site(EXAMPLE_SITE)


@pytest_asyncio.fixture(loop_scope="session")
async def campus(site: LoadedSite) -> AsyncIterator[WebCampus]:
    async with web_campus(site) as running:
        yield running


async def test_sign_in_overview_and_wrong_password(campus: WebCampus, browser: Browser) -> None:
    page = await new_page(browser)
    await page.goto(campus.url + "/")
    await page.wait_for_url("**/login?next=/")
    await page.fill("input[name=name]", "admin1")
    await page.fill("input[name=password]", "not the password")
    await page.click("button[type=submit]")
    await expect(page.locator(".error")).to_have_text("账户名或密码错误")
    await sign_in(page, campus.url, "admin1")
    await expect(page.locator("h1")).to_contain_text("校园概览")
    cards = page.locator("a.card.building")
    await expect(cards).to_have_count(len(campus.controller.site.buildings))
    await expect(page.locator(".me")).to_have_text("李主任")


async def test_live_value_changes_without_reloading(campus: WebCampus, browser: Browser) -> None:
    page = await new_page(browser)
    await sign_in(page, campus.url, "admin1")
    await page.goto(f"{campus.url}/b/dorm-1/r/101")
    # Voltage, not power: in curfew hours the policy opens the socket relay and the power
    # reads a steady 0 W, which pushes nothing; the supply voltage moves on every read.
    volts = page.locator('.live[data-entity="dorm-1.101.elec.voltage"]').first
    await expect(volts).to_contain_text("V", timeout=15_000)
    first = await volts.get_attribute("data-updates")
    # The same element, without navigation, receives further pushed values.
    await page.wait_for_function(
        "(n) => Number(document.querySelector("
        "'.live[data-entity=\"dorm-1.101.elec.voltage\"]').dataset.updates) > n",
        arg=int(first or 0),
        timeout=15_000,
    )
    assert page.url.endswith("/b/dorm-1/r/101")


async def test_switch_to_english_is_remembered(campus: WebCampus, browser: Browser) -> None:
    page = await new_page(browser)
    await sign_in(page, campus.url, "admin1")
    await page.click("#lang-switch")
    await expect(page.locator("h1")).to_contain_text("Campus overview")
    assert campus.accounts.get("admin1").lang == "en"
    await page.goto(f"{campus.url}/b/dorm-1")
    await expect(page.locator(".nav")).to_contain_text("Policies")


async def test_dorm_manager_sees_only_their_building(campus: WebCampus, browser: Browser) -> None:
    page = await new_page(browser)
    await sign_in(page, campus.url, "manager1")
    cards = page.locator("a.card.building")
    await expect(cards).to_have_count(1)
    await expect(cards.first).to_have_attribute("data-building", "dorm-1")
    other = await page.goto(f"{campus.url}/b/dorm-2")
    assert other is not None
    assert other.status == 404
    reply = await page.request.get(f"{campus.url}/web/live?entities=dorm-2.101.elec.power")
    assert reply.status == 403
    data = await page.request.get(f"{campus.url}/?format=json")
    assert [b["id"] for b in (await data.json())["buildings"]] == ["dorm-1"]


def _engine(campus: WebCampus) -> PolicyEngine:
    return next(c for c in campus.controller.components if isinstance(c, PolicyEngine))


def _raise_alarm(campus: WebCampus) -> str:
    """An alarm as a policy raises it (the leak watch's evidence), into the running engine."""
    alarm = Alarm(
        "leak-watch:dorm-1.101.cold",
        "leak",
        "critical",
        "疑似漏水：夜间持续用水",
        "Suspected leak: water running all night",
        "leak-watch",
        "dorm-1.101.cold.volume",
        {"flow_l_min": 2.4, "minutes": 180, "device": "dorm-1.101.cold"},
    )
    engine = _engine(campus)
    engine.core.alarms[alarm.key] = ActiveAlarm(alarm, campus.controller.clock.time())
    return alarm.key


async def test_invalid_policy_value_shows_the_message(campus: WebCampus, browser: Browser) -> None:
    page = await new_page(browser)
    await sign_in(page, campus.url, "admin1")
    await page.goto(f"{campus.url}/policies/ac-limits")
    await page.fill("input[name=cool_min_c]", "5")
    await page.click("#preview-now")
    message = page.locator('.field-error[data-for="cool_min_c"]')
    await expect(message).not_to_be_empty()
    await expect(page.locator("input[name=cool_min_c]")).to_have_class("invalid")
    await page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top
    await page.screenshot(path=artifacts() / "policy-invalid-desktop.png", full_page=True)


async def test_preview_and_save_a_valid_policy(campus: WebCampus, browser: Browser) -> None:
    page = await new_page(browser)
    await sign_in(page, campus.url, "admin1")
    await page.goto(f"{campus.url}/policies/ac-limits")
    await page.fill("input[name=cool_min_c]", "27")
    await page.click("#preview-now")
    await expect(page.locator("#preview-result")).to_contain_text("现在会执行")
    today = campus.controller.clock.now().date().isoformat()
    await page.fill("input[name=start]", today)
    await page.fill("input[name=end]", today)
    await page.click("#preview-period")
    await expect(page.locator("#preview-result")).to_contain_text("期间会控制")
    await page.fill("input[name=reason]", "迎峰度夏")
    await page.click("#policy-save")
    await expect(page.locator("#save-result")).to_have_text("已保存")
    assert _engine(campus).admin.configs["ac-limits"].cool_min_c == 27  # type: ignore[union-attr]
    await page.goto(f"{campus.url}/policies?q=ac-limits")
    await expect(page.locator('tr[data-policy="ac-limits"]')).to_contain_text("网页/接口修改")


async def test_a_copy_becomes_a_new_policy(campus: WebCampus, browser: Browser) -> None:
    page = await new_page(browser)
    await sign_in(page, campus.url, "admin1")
    await page.goto(f"{campus.url}/policies/dorm-curfew?copy=true")
    await page.fill("input[name=reason]", "考试周提前熄灯")
    await page.fill("input[name=id]", "dorm-curfew")  # taken: saving would replace it
    await page.click("#policy-save")
    await expect(page.locator('.field-error[data-for="id"]')).to_have_text("该编号已被其他策略使用")
    await page.fill("input[name=id]", "exam-curfew")
    await page.click("#policy-save")
    await page.wait_for_url("**/policies/exam-curfew")
    configs = _engine(campus).admin.configs
    assert configs["exam-curfew"].type == configs["dorm-curfew"].type == "curfew"


async def test_grant_an_override_and_see_it_end(campus: WebCampus, browser: Browser) -> None:
    page = await new_page(browser)
    await sign_in(page, campus.url, "manager1")
    await page.goto(f"{campus.url}/overrides")
    await page.fill("#grant-form input[name=room]", "101")
    await page.fill("#grant-form input[name=hours]", "2")
    await page.fill("#grant-form input[name=reason]", "病假，医生证明")
    await page.click("#grant-form button[type=submit]")
    row = page.locator("#override-list tr[data-override]")
    await expect(row).to_have_count(1)
    await expect(row).to_contain_text("病假，医生证明")
    await expect(row).to_contain_text("王丽 (manager1)")
    await page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top
    await page.screenshot(path=artifacts() / "overrides-granted-desktop.png", full_page=True)
    await row.locator("button.end-override").click()
    await page.fill("#reason-form input[name=reason]", "已康复")
    await page.click("#reason-ok")
    await expect(page.locator("#override-list tr[data-override]")).to_have_count(0)
    assert _engine(campus).views.overrides() == []


async def test_send_a_command_and_see_its_confirmation(campus: WebCampus, browser: Browser) -> None:
    page = await new_page(browser)
    await sign_in(page, campus.url, "manager1")
    await page.goto(f"{campus.url}/b/dorm-1/r/101")
    await page.click('button.cmd[data-entity="dorm-1.101.ac.setpoint"]')
    await page.fill("#command-form input[name=value]", "99")
    await page.fill("#command-form input[name=reason]", "测试")
    await page.click("#command-send")
    await expect(page.locator("#command-form .outcome")).to_contain_text("命令被拒绝")
    await page.fill("#command-form input[name=value]", "27")
    await page.click("#command-send")
    outcome = page.locator("#command-form .outcome")
    await expect(outcome).to_contain_text("设备已确认", timeout=15_000)
    await expect(outcome).to_contain_text("27")
    await page.screenshot(path=artifacts() / "command-confirmed-desktop.png", full_page=True)


async def test_acknowledge_an_alarm(campus: WebCampus, browser: Browser) -> None:
    key = _raise_alarm(campus)
    page = await new_page(browser)
    await sign_in(page, campus.url, "manager1")
    await page.goto(f"{campus.url}/alarms")
    alarm = page.locator(f'article[data-alarm="{key}"]')
    await expect(alarm).to_contain_text("疑似漏水")
    await alarm.locator("summary").click()
    await expect(alarm.locator(".evidence")).to_contain_text("flow_l_min")
    await alarm.locator("button.ack-alarm").click()
    await expect(page.locator(f'article[data-alarm="{key}"] .ack')).to_contain_text("王丽")
    assert _engine(campus).core.alarms[key].acked_by == "王丽 (manager1)"


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
async def test_screenshots_of_every_main_page(
    campus: WebCampus, browser: Browser, label: str, viewport: dict[str, int]
) -> None:
    out = artifacts()
    page = await new_page(browser, viewport)
    await page.goto(f"{campus.url}/login")
    await page.screenshot(path=out / f"login-{label}.png", full_page=True)
    await sign_in(page, campus.url, "admin1")
    await page.screenshot(path=out / f"overview-{label}.png", full_page=True)
    await page.goto(f"{campus.url}/b/dorm-1")
    await expect(page.locator(".live[data-entity]").first).to_contain_text("W", timeout=15_000)
    await page.screenshot(path=out / f"building-{label}.png", full_page=True)
    await page.goto(f"{campus.url}/b/dorm-1/r/101")
    # drawn (how many series depends on whether the recorder has closed an hour yet)
    await expect(page.locator("#chart-day")).to_have_attribute(
        "data-drawn", re.compile(r"^\d+$"), timeout=15_000
    )
    await expect(page.locator(".live[data-entity]").first).not_to_have_text("—", timeout=15_000)
    await page.screenshot(path=out / f"room-{label}.png", full_page=True)
    _raise_alarm(campus)
    _engine(campus).staff.grant_override(
        {"rooms": ["dorm-1/102"]}, actor="李主任 (admin1)", reason="设备检修", duration_s=7200
    )
    for name, path in [
        ("policies", "/policies"),
        ("policy", "/policies/dorm-curfew"),
        ("overrides", "/overrides"),
        ("alarms", "/alarms"),
        ("audit", "/audit"),
        ("users", "/users"),
        ("calendar", "/calendar"),
    ]:
        await page.goto(f"{campus.url}{path}")
        await page.wait_for_load_state("networkidle")
        await page.screenshot(path=out / f"{name}-{label}.png", full_page=True)
    await page.click("#lang-switch")
    await page.goto(f"{campus.url}/b/dorm-1/r/101")
    await expect(page.locator(".live[data-entity]").first).not_to_have_text("—", timeout=15_000)
    await page.screenshot(path=out / f"room-en-{label}.png", full_page=True)
    names = ["login", "overview", "building", "room", "policies", "policy", "overrides"]
    for name in [*names, "alarms", "audit", "users", "calendar", "room-en"]:
        assert (out / f"{name}-{label}.png").stat().st_size > 5_000
