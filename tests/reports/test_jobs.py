"""Report builds as jobs, through the real API served over TCP on the seeded campus.

``POST /api/reports`` answers 202 with the job; the job is polled at its ``Location`` until it
is done (the stored report's links download the files) or failed (the reason). The queue's
bounds are checked while the service's workers have not started yet (as at start-up), which
keeps every job queued for as long as the test needs, with no timing involved.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from controller.accounts import AccountStore, Role
from controller.api import ApiServer
from controller.audit import AuditLog
from controller.core.clock import SystemClock
from controller.reports.service import ReportService
from tests.integrations.modbus_harness import wait_until
from tests.servers import free_port

from .running import report_controller
from .seed import TZ, Seeded

PASSWORD = "a long enough pass phrase 42"
NOW = dt.datetime(2026, 11, 16, 0, 30, tzinfo=TZ)
BODY = {"period": "2026-10-12..2026-11-15", "formats": ["csv", "xlsx"]}


@dataclass
class Campus:
    client: httpx.AsyncClient
    service: ReportService
    folder: Path
    audit: AuditLog
    headers: dict[str, dict[str, str]]

    async def post(self, who: str, body: dict[str, Any] = BODY) -> httpx.Response:
        return await self.client.post("/api/reports", json=body, headers=self.headers[who])

    async def finished(self, location: str, who: str = "op") -> dict[str, Any]:
        """Poll a job until it is done or failed (20 s at most)."""
        job: dict[str, Any] = {}

        async def poll() -> bool:
            nonlocal job
            job = (await self.client.get(location, headers=self.headers[who])).json()
            return job["state"] in ("done", "failed")

        deadline = asyncio.get_running_loop().time() + 20
        while not await poll():
            assert asyncio.get_running_loop().time() < deadline, f"job still {job['state']}"
            await asyncio.sleep(0.05)
        return job


@contextlib.asynccontextmanager
async def campus(seeded: Seeded, tmp_path: Path, extra: str = "") -> AsyncIterator[Campus]:
    """The seeded campus with the API on a free port; the report service is visible to the
    API but its workers run only inside :func:`workers`."""
    made = report_controller(seeded, tmp_path / "campus", NOW, extra)
    accounts = AccountStore(made.folder / "var" / "accounts.sqlite3", SystemClock())
    accounts.add("op", Role.OPERATOR, PASSWORD)
    accounts.add("view", Role.VIEWER, PASSWORD)
    accounts.add("d2", Role.OPERATOR, PASSWORD, buildings=frozenset({"dorm-2"}))
    headers = {
        n: {"Authorization": f"Bearer {accounts.create_token(n)[1]}"} for n in ("op", "view", "d2")
    }
    port = free_port()
    server = ApiServer(made.ctrl, "127.0.0.1", port, accounts=accounts)
    made.ctrl.add(server)
    try:
        async with (
            made.ctrl.running(),
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client,
        ):
            await made.recorder.wait_started()
            made.ctrl.components.append(made.service)  # found by the API; run() is the test's
            await wait_until(lambda: server.started, "the API server", limit=20)
            yield Campus(client, made.service, made.folder, made.audit, headers)
    finally:
        accounts.close()
        made.audit.close()


@contextlib.asynccontextmanager
async def workers(service: ReportService) -> AsyncIterator[None]:
    task = asyncio.create_task(service.run(), name="test.reports")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_build_is_a_job_that_ends_with_links(seeded: Seeded, tmp_path: Path) -> None:
    async with campus(seeded, tmp_path) as c:
        leftover = c.service.store.staging_of("20261115T230000-abcdef")
        leftover.mkdir(parents=True)
        (leftover / "half.pdf").write_bytes(b"%PDF-1.7 cut off")
        reply = await c.post("op")
        assert reply.status_code == 202, reply.text
        job = reply.json()
        assert reply.headers["location"] == f"/api/reports/jobs/{job['id']}" == job["location"]
        assert job["state"] == "queued"
        assert job["by"] == "op"
        assert job["request"]["scope"] == "campus"
        assert (await c.client.get(reply.headers["location"], headers=c.headers["view"])).json()[
            "state"
        ] == "queued"
        async with workers(c.service):
            done = await c.finished(reply.headers["location"])
            assert not leftover.exists()  # the swept remains of a build cut off
        assert done["state"] == "done", done
        assert done["progress"]["step"] == done["progress"]["steps"]
        report = done["report"]
        assert report["baseline"] == "2026-09-07..2026-10-11"
        xlsx = next(link for name, link in report["links"].items() if name.endswith(".xlsx"))
        got = await c.client.get(xlsx, headers=c.headers["view"])
        assert got.status_code == 200
        assert got.content.startswith(b"PK")  # a zip: the XLSX package
        listing = (await c.client.get("/api/reports", headers=c.headers["view"])).json()
        assert [r["id"] for r in listing["items"]] == [report["id"]]
        assert listing["items"][0]["links"] == report["links"]
        entries = [e for e in c.audit.query(limit=50) if e.action.startswith("report.")]
        assert {(e.action, e.actor, e.result) for e in entries} == {
            ("report.request", "op", "ok"),
            ("report.build", "op", "ok"),
        }
        assert all(e.details["job"] == job["id"] for e in entries)


async def test_roles_buildings_and_fields(seeded: Seeded, tmp_path: Path) -> None:
    async with campus(seeded, tmp_path) as c:
        assert (await c.post("view")).status_code == 403
        assert (await c.post("d2")).status_code == 403  # the whole campus is outside dorm-2
        bad = await c.post("op", {"period": "2026-13"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["loc"] == ["body", "period"]
        mine = await c.post("d2", {**BODY, "scope": "building:dorm-2"})
        assert mine.status_code == 202
        campus_job = await c.post("op")
        # dorm-2's manager sees its own job, not the campus one; an unknown id is a 404
        seen = await c.client.get("/api/reports/jobs", headers=c.headers["d2"])
        assert [j["id"] for j in seen.json()["items"]] == [mine.json()["id"]]
        assert seen.json()["total"] == 1
        hidden = await c.client.get(campus_job.headers["location"], headers=c.headers["d2"])
        assert hidden.status_code == 404
        gone = await c.client.get("/api/reports/jobs/job-9-00000000", headers=c.headers["op"])
        assert gone.status_code == 404
        assert "restart" in gone.json()["detail"]


async def test_a_failed_build_says_why_and_leaves_nothing(seeded: Seeded, tmp_path: Path) -> None:
    async with campus(seeded, tmp_path) as c:
        # the reports folder cannot be made: a file stands in its place
        c.service.store.folder.write_text("not a folder", encoding="utf-8")
        reply = await c.post("op")
        async with workers(c.service):
            failed = await c.finished(reply.headers["location"])
        assert failed["state"] == "failed"
        assert failed["report"] is None
        assert "cannot write the report's files" in failed["error"]
        [build] = [e for e in c.audit.query(limit=50) if e.action == "report.build"]
        assert build.actor == "op"
        assert build.result == failed["error"]
        assert c.service.status()["failed"] == 1
        c.service.store.folder.unlink()
        assert (await c.client.get("/api/reports", headers=c.headers["op"])).json()["items"] == []


async def test_the_queue_bounds_waiting_and_running_builds(seeded: Seeded, tmp_path: Path) -> None:
    limits = "  build_workers: 2\n  build_queue: 3\n"
    async with campus(seeded, tmp_path, limits) as c:
        replies = [await c.post("op") for _ in range(3)]
        assert [r.status_code for r in replies] == [202, 202, 202]
        full = await c.post("op")
        assert full.status_code == 429
        assert "limit 3" in full.json()["detail"]
        async with workers(c.service):
            jobs = [await c.finished(r.headers["location"]) for r in replies]
            assert [j["state"] for j in jobs] == ["done"] * 3
            # two ran together, never three; and a finished build frees a place in the queue
            assert c.service.jobs.peak_running == 2
            again = await c.post("op")
            assert again.status_code == 202
            assert (await c.finished(again.headers["location"]))["state"] == "done"
        assert c.service.status()["generated"] == 4
        assert len({j["report"]["id"] for j in jobs}) == 3


async def test_stopping_during_a_build_leaves_no_half_written_report(
    seeded: Seeded, tmp_path: Path
) -> None:
    async with campus(seeded, tmp_path) as c:
        reply = await c.post("op", {**BODY, "formats": ["pdf", "xlsx", "html", "csv"]})
        job = c.service.jobs.get(reply.json()["id"])
        assert job is not None
        async with workers(c.service):
            await wait_until(lambda: job.state != "queued", "the build to start", limit=20)
        # the workers are stopped: the build ended at its next step (or had just finished),
        # its thread is gone (the leak check) and no staging folder is left
        assert job.state in ("failed", "done")
        assert not list(c.service.store.folder.glob(".building-*"))
        listed = (await c.client.get("/api/reports", headers=c.headers["op"])).json()["items"]
        if job.state == "failed":
            assert job.error == "the controller stopped during the build"
            assert listed == []
        else:
            assert [r["id"] for r in listed] == [job.report.id if job.report else None]
