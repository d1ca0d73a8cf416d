"""/api/reports on a running controller over the seeded history: generate, list, download,
and a weekly schedule firing on the controller's clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from controller.accounts import AccountStore, Role
from controller.api import create_api
from controller.core import FakeClock
from controller.core.clock import SystemClock
from controller.reports.service import ReportService, last_period

from .running import report_controller
from .seed import TZ, Seeded

PASSWORD = "a long enough pass phrase 42"
NOW = dt.datetime(2026, 11, 16, 0, 30, tzinfo=TZ)  # a Monday, after the seeded days


@dataclass
class Running:
    client: httpx.AsyncClient
    service: ReportService
    operator: dict[str, str]
    viewer: dict[str, str]
    clock: FakeClock


@pytest.fixture
async def running(seeded: Seeded, tmp_path: Path) -> AsyncIterator[Running]:
    made = report_controller(
        seeded,
        tmp_path / "campus",
        NOW,
        "  schedules:\n  - {id: weekly, every: week, formats: [csv, xlsx]}\n",
    )
    made.ctrl.add(made.service)
    accounts = AccountStore(made.folder / "var" / "accounts.sqlite3", SystemClock())
    accounts.add("op", Role.OPERATOR, PASSWORD)
    accounts.add("view", Role.VIEWER, PASSWORD)
    _, op_token = accounts.create_token("op")
    _, view_token = accounts.create_token("view")
    transport = httpx.ASGITransport(app=create_api(made.ctrl, accounts=accounts))
    try:
        async with (
            made.ctrl.running(),
            httpx.AsyncClient(transport=transport, base_url="http://t") as client,
        ):
            await made.recorder.wait_started()
            yield Running(
                client,
                made.service,
                {"Authorization": f"Bearer {op_token}"},
                {"Authorization": f"Bearer {view_token}"},
                made.clock,
            )
    finally:
        accounts.close()
        made.audit.close()


async def test_generate_list_download(running: Running) -> None:
    client = running.client
    body = {"period": "2026-10-12..2026-11-15", "formats": ["pdf", "csv"], "language": "en"}
    refused = await client.post("/api/reports", json=body, headers=running.viewer)
    assert refused.status_code == 403
    made = await client.post("/api/reports", json=body, headers=running.operator)
    assert made.status_code == 202, made.text
    job = running.service.jobs.get(made.json()["id"])
    assert job is not None
    await job.wait()
    assert job.report is not None, job.error
    stored = (await client.get(made.headers["location"], headers=running.viewer)).json()["report"]
    assert stored["by"] == "op"
    assert stored["baseline"] == "2026-09-07..2026-10-11"
    listing = (await client.get("/api/reports", headers=running.viewer)).json()
    assert [r["id"] for r in listing["items"]] == [stored["id"]]
    pdf = next(name for name in stored["files"] if name.endswith(".pdf"))
    got = await client.get(f"/api/reports/{stored['id']}/{pdf}", headers=running.viewer)
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/pdf"
    assert got.content.startswith(b"%PDF")
    missing = await client.get(f"/api/reports/{stored['id']}/manifest.json", headers=running.viewer)
    assert missing.status_code == 404
    outside = await client.get("/api/reports/..%2Fvar/site.yaml", headers=running.viewer)
    assert outside.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"period": "2026-1"}, "period"),
        ({"period": "2026-11", "scope": "room:dorm-1/999"}, "scope"),
        ({"period": "2026-11", "baseline": "2025-11-30..2025-11-01"}, "baseline"),
    ],
)
async def test_bad_requests_name_the_field(
    running: Running, body: dict[str, str], field: str
) -> None:
    reply = await running.client.post("/api/reports", json=body, headers=running.operator)
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["loc"] == ["body", field]


async def test_the_weekly_schedule_stores_last_week(running: Running) -> None:
    running.clock.set(NOW.replace(hour=1).timestamp())
    assert await running.service.scheduler.run_due() == 1
    [stored] = running.service.store.list()
    assert stored.schedule == "weekly"
    assert stored.period == "2026-11-09..2026-11-15"
    assert any(name.endswith(".xlsx") for name in stored.files)


def test_last_period() -> None:
    assert last_period("week", dt.date(2026, 11, 18)).label() == "2026-11-09..2026-11-15"
    assert last_period("month", dt.date(2026, 1, 1)).label() == "2025-12-01..2025-12-31"


async def test_operators_import_diner_counts(running: Running) -> None:
    client = running.client
    body = b"canteen,date,meal,count\ncanteen-1,2026-11-02,lunch,1200\n"
    refused = await client.post("/api/diners", content=body, headers=running.viewer)
    assert refused.status_code == 403
    done = await client.post("/api/diners", content=body, headers=running.operator)
    assert done.status_code == 200, done.text
    assert done.json() == {"rows": 1, "added": 1, "changed": 0, "unchanged": 0}
    again = await client.post("/api/diners", content=body, headers=running.operator)
    assert again.json()["unchanged"] == 1
    bad = (
        b"canteen,date,meal,count\ncanteen-1,2026-11-02,lunch,1200\ncanteen-1,2026-11-31,lunch,5\n"
    )
    reply = await client.post("/api/diners", content=bad, headers=running.operator)
    assert reply.status_code == 422
    assert [e["loc"] for e in reply.json()["errors"]] == [["body", 3, "date"]]
    params = {"start": "2026-11-01", "end": "2026-11-30"}
    listed = await client.get("/api/diners", params=params, headers=running.viewer)
    assert listed.json() == [
        {"canteen": "canteen-1", "date": "2026-11-02", "meal": "lunch", "count": 1200}
    ]
    audited = list(running.service.audit.between(0, 4e9, ("diners.import",)))
    assert [(e.actor, e.details["rows"]) for e in audited] == [("op", 1), ("op", 1)]
