"""The reports page on the live emulated campus: a dorm manager builds a report in a real
Chromium, watches it finish and downloads it; the form's CSRF, role and building checks."""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import AsyncIterator

import httpx
import openpyxl
import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect

from controller.config import LoadedSite, load_site
from controller.config.reports import ReportSchedule, ReportSettings
from tests.conftest import EXAMPLE_SITE

from .harness import (
    PASSWORD,
    SESSION_LOOP,
    WebCampus,
    artifacts,
    no_leaked_tasks_on_the_session_loop,
    sign_in,
    web_campus,
)

pytestmark = [pytest.mark.integration, SESSION_LOOP]
_no_leaked_tasks = no_leaked_tasks_on_the_session_loop  # the leak check on this loop

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def site() -> LoadedSite:
    weekly = ReportSchedule(id="dorm-1-weekly", every="week", scope="building:dorm-1")
    campus_monthly = ReportSchedule(id="campus-monthly", every="month")
    return dataclasses.replace(
        load_site(EXAMPLE_SITE), reports=ReportSettings(schedules=[weekly, campus_monthly])
    )


@pytest_asyncio.fixture(loop_scope="session")
async def campus(site: LoadedSite) -> AsyncIterator[WebCampus]:
    async with web_campus(site) as running:
        yield running


def _today(campus: WebCampus) -> str:
    """The campus's today (its clock, not the wall's: see ``harness.CAMPUS_START``)."""
    return campus.controller.clock.now().date().isoformat()


async def test_a_manager_builds_and_downloads_a_report(campus: WebCampus, browser: Browser) -> None:
    site = campus.controller.site
    page = await _new_page(browser, DESKTOP)
    await sign_in(page, campus.url, "manager1")
    await page.click("nav a[href='/reports']")
    await expect(page.locator("h1")).to_contain_text("报表")
    # limited to dorm-1: no campus, no other building; only dorm-1's schedule
    options = page.locator("#report-scope option")
    await expect(options).to_have_count(1)
    assert await options.first.get_attribute("value") == "building:dorm-1"
    await expect(page.locator("#report-schedules tbody tr")).to_have_count(1)
    await expect(page.locator("#report-schedules")).to_contain_text("dorm-1-weekly")
    await page.check("input[name=period_kind][value=range]")
    await page.fill("input[name=start]", _today(campus))
    await page.fill("input[name=end]", _today(campus))
    await page.check("input[name=formats][value=html]")
    await page.click("#start-report")
    await page.wait_for_url(re.compile(r"/reports\?job=job-"))
    row = page.locator("tr.job.highlight")
    await expect(row.locator(".state-word")).to_have_text("已完成", timeout=120_000)
    await expect(row.locator("a.dl-xlsx")).to_be_visible()
    # without a reload, the finished build also joins the earlier reports
    await expect(page.locator("#stored-reports tbody tr[data-report]")).to_have_count(1)
    await page.screenshot(path=artifacts() / "reports-desktop.png", full_page=True)

    async with page.expect_download() as xlsx_download:
        await row.locator("a.dl-xlsx").click()
    xlsx = await (await xlsx_download.value).path()
    book = openpyxl.load_workbook(io.BytesIO(xlsx.read_bytes()))
    assert len(book.sheetnames) > 3
    async with page.expect_download() as pdf_download:
        await row.locator("a.dl-pdf").click()
    pdf = await (await pdf_download.value).path()
    assert pdf.read_bytes().startswith(b"%PDF")

    # the stored report is listed after a reload, with its downloads
    await page.goto(f"{campus.url}/reports")
    listed = page.locator("#stored-reports tbody tr[data-report]")
    await expect(listed).to_have_count(1)
    await expect(listed.locator("a.dl-html")).to_be_visible()

    phone = await _new_page(browser, PHONE)
    await sign_in(phone, campus.url, "manager1")
    await phone.goto(f"{campus.url}/reports")
    await expect(phone.locator("#stored-reports tbody tr[data-report]")).to_have_count(1)
    await phone.screenshot(path=artifacts() / "reports-phone.png", full_page=True)
    english = await _new_page(browser, DESKTOP)
    await sign_in(english, campus.url, "admin1")
    await english.goto(f"{campus.url}/reports?lang=en")
    await expect(english.locator("h1")).to_contain_text("Reports")
    await expect(english.locator("#report-scope option")).to_have_count(1 + len(site.buildings))
    await english.screenshot(path=artifacts() / "reports-en-desktop.png", full_page=True)


async def _new_page(browser: Browser, viewport: dict[str, int]) -> Page:
    context = await browser.new_context(
        viewport=viewport,  # type: ignore[arg-type]
        locale="zh-CN",
        timezone_id="Asia/Shanghai",  # the campus's: times on the page are local
        accept_downloads=True,
    )
    return await context.new_page()


async def _session(url: str, name: str) -> tuple[httpx.AsyncClient, str]:
    client = httpx.AsyncClient(base_url=url, timeout=30)
    reply = await client.post("/api/login", json={"name": name, "password": PASSWORD})
    assert reply.status_code == 200, reply.text
    return client, reply.json()["csrf"]


FORM = {
    "period_kind": "month",
    "month": "2026-11",
    "scope": "building:dorm-1",
    "baseline_kind": "rule",
    "formats": "csv",
    "language": "zh",
}


async def test_the_form_checks_csrf_roles_buildings_and_fields(campus: WebCampus) -> None:
    manager, csrf = await _session(campus.url, "manager1")
    viewer, viewer_csrf = await _session(campus.url, "viewer1")
    try:
        async with httpx.AsyncClient(base_url=campus.url) as anonymous:
            signed_out = await anonymous.post("/reports", data=FORM)
        assert signed_out.status_code == 303
        assert signed_out.headers["location"] == "/login?next=/reports"
        forged = await manager.post("/reports", data=FORM)
        assert forged.status_code == 403  # no CSRF token: another site's form
        outside = await manager.post("/reports", data={**FORM, "csrf": csrf, "scope": "campus"})
        assert outside.status_code == 403
        assert "may not act on the whole campus" in outside.text
        bad = await manager.post("/reports", data={**FORM, "csrf": csrf, "month": "2026-13"})
        assert bad.status_code == 422
        assert 'data-for="period"' in bad.text
        assert "month must be 01–12" in bad.text
        none = await manager.post("/reports", data={"csrf": csrf, **FORM, "formats": []})
        assert none.status_code == 422
        assert 'data-for="formats"' in none.text
        started = await manager.post("/reports", data={**FORM, "csrf": csrf})
        assert started.status_code == 303
        assert started.headers["location"].startswith("/reports?job=job-")
        seen = (await manager.get("/reports?format=json")).json()
        assert [s["value"] for s in seen["scopes"]] == ["building:dorm-1"]
        assert seen["jobs"][0]["by"] == "王丽 (manager1)"
        looked = (await viewer.get("/reports?format=json")).json()
        assert looked["can_build"] is False
        assert "report-form" not in (await viewer.get("/reports")).text
        refused = await viewer.post("/reports", data={**FORM, "csrf": viewer_csrf})
        assert refused.status_code == 403
    finally:
        await manager.aclose()
        await viewer.aclose()
