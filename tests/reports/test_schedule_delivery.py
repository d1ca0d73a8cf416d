"""A weekly schedule with ``send_to`` posts the stored report to a real local webhook."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from controller.app import Controller
from controller.audit import AuditLog
from controller.config import load_site
from controller.core import FakeClock
from controller.recorder import Recorder
from controller.reports.service import ReportService
from tests.alarms.receivers import http_receiver

from .seed import Seeded
from .test_api import NOW


async def test_a_scheduled_report_is_posted_to_its_channel(seeded: Seeded, tmp_path: Path) -> None:
    folder = tmp_path / "campus"
    await asyncio.to_thread(shutil.copytree, seeded.data_dir, folder)
    with http_receiver() as hook:
        site_file = folder / "site.yaml"
        site_file.write_text(
            site_file.read_text(encoding="utf-8")
            + "  schedules:\n  - {id: weekly, every: week, formats: [csv], send_to: [office]}\n"
            + f"notify:\n  channels:\n  - {{id: office, type: webhook, url: '{hook.url}/r'}}\n",
            encoding="utf-8",
        )
        clock = FakeClock(NOW.timestamp())
        ctrl = Controller(load_site(site_file), clock)
        recorder = Recorder.from_site(ctrl, data_dir=folder)
        audit = AuditLog(folder / "var" / "audit.sqlite3", clock)
        service = ReportService(ctrl, recorder, audit)
        ctrl.add(recorder)
        ctrl.add(service)
        try:
            async with ctrl.running():
                await recorder.wait_started()
                clock.set(NOW.replace(hour=1).timestamp())
                assert await service.scheduler.run_due() == 1
        finally:
            audit.close()
        [stored] = service.store.list()
        # the post is sent before run_due returns: no waiting needed
        [posted] = hook.got
        body = posted.json()
        assert body["change"] == "report"
        assert body["report"]["id"] == stored.id
        assert body["download"] == [f"/api/reports/{stored.id}/{n}" for n in stored.files]
        assert service.status()["delivered"] == 1
        assert service.status()["undelivered"] == 0
