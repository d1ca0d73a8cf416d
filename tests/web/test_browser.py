"""The staff web app in a real headless Chromium against the emulated campus."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, Page, expect

from controller.config import LoadedSite, load_site
from tests.conftest import EXAMPLE_SITE

from .harness import WebCampus, artifacts, chromium, sign_in, web_campus

pytestmark = pytest.mark.integration

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def site() -> LoadedSite:
    return load_site(EXAMPLE_SITE)


@pytest.fixture
async def campus(site: LoadedSite) -> AsyncIterator[WebCampus]:
    async with web_campus(site) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as b:
        yield b


async def _page(browser: Browser, viewport: dict[str, int] = DESKTOP) -> Page:
    context = await browser.new_context(viewport=viewport, locale="zh-CN")  # type: ignore[arg-type]
    return await context.new_page()


async def test_sign_in_overview_and_wrong_password(campus: WebCampus, browser: Browser) -> None:
    page = await _page(browser)
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
    page = await _page(browser)
    await sign_in(page, campus.url, "admin1")
    await page.goto(f"{campus.url}/b/dorm-1/r/101")
    power = page.locator('.live[data-entity="dorm-1.101.elec.power"]').first
    await expect(power).to_contain_text("W", timeout=15_000)
    first = await power.get_attribute("data-updates")
    # The same element, without navigation, receives further pushed values.
    await page.wait_for_function(
        "(n) => Number(document.querySelector("
        "'.live[data-entity=\"dorm-1.101.elec.power\"]').dataset.updates) > n",
        arg=int(first or 0),
        timeout=15_000,
    )
    assert page.url.endswith("/b/dorm-1/r/101")


async def test_switch_to_english_is_remembered(campus: WebCampus, browser: Browser) -> None:
    page = await _page(browser)
    await sign_in(page, campus.url, "admin1")
    await page.click("#lang-switch")
    await expect(page.locator("h1")).to_contain_text("Campus overview")
    assert campus.accounts.get("admin1").lang == "en"
    await page.goto(f"{campus.url}/b/dorm-1")
    await expect(page.locator(".nav")).to_contain_text("Policies")


async def test_dorm_manager_sees_only_their_building(campus: WebCampus, browser: Browser) -> None:
    page = await _page(browser)
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


@pytest.mark.parametrize(("label", "viewport"), [("desktop", DESKTOP), ("phone", PHONE)])
async def test_screenshots_of_every_main_page(
    campus: WebCampus, browser: Browser, label: str, viewport: dict[str, int]
) -> None:
    out = artifacts()
    page = await _page(browser, viewport)
    await page.goto(f"{campus.url}/login")
    await page.screenshot(path=out / f"login-{label}.png", full_page=True)
    await sign_in(page, campus.url, "admin1")
    await page.screenshot(path=out / f"overview-{label}.png", full_page=True)
    await page.goto(f"{campus.url}/b/dorm-1")
    await expect(page.locator(".live[data-entity]").first).to_contain_text("W", timeout=15_000)
    await page.screenshot(path=out / f"building-{label}.png", full_page=True)
    await page.goto(f"{campus.url}/b/dorm-1/r/101")
    await expect(page.locator("#chart-day")).to_have_attribute("data-drawn", "0", timeout=15_000)
    await expect(page.locator(".live[data-entity]").first).not_to_have_text("—", timeout=15_000)
    await page.screenshot(path=out / f"room-{label}.png", full_page=True)
    for name in ("login", "overview", "building", "room"):
        assert (out / f"{name}-{label}.png").stat().st_size > 5_000
