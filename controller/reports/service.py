"""Reports inside the running controller: generated on request (API) or on a schedule, stored.

The component owns the report store and the schedules from the site's ``reports.schedules``
(weekly: Monday 01:00 for the week before; monthly: the 1st at 01:00 for the month before, in
the campus time zone). It reads consumption through the running recorder and the audit log's
file, and keeps generating one report at a time so a big PDF never runs twice at once.
Mail and webhook delivery are not implemented: stored reports are listed and downloaded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from controller.app import Controller
from controller.billing.component import STORE_NAME
from controller.config.reports import ReportSchedule
from controller.recorder import Recorder
from controller.scheduler import CronTrigger, Scheduler

from .build import ReportRequest, baseline_of
from .delivery import send_report, unknown_channels
from .errors import ReportInputError
from .generate import generate_from
from .sources import SiteStores
from .span import DateSpan, parse_scope
from .store import ReportStore, StoredReport

__all__ = ["ReportService", "last_period"]

_LOGGER = logging.getLogger(__name__)


def last_period(every: str, today: dt.date) -> DateSpan:
    """The last complete week (Monday–Sunday) or calendar month before ``today``."""
    if every == "week":
        monday = today - dt.timedelta(days=today.weekday())
        return DateSpan(monday - dt.timedelta(days=7), monday - dt.timedelta(days=1))
    first = today.replace(day=1)
    last = first - dt.timedelta(days=1)
    return DateSpan(last.replace(day=1), last)


class ReportService:
    """Generates, stores and schedules reports for one controller."""

    name = "reports"

    def __init__(self, controller: Controller, recorder: Recorder, audit_path: Path) -> None:
        self.controller = controller
        self.recorder = recorder
        self.audit_path = audit_path
        self.store = ReportStore(audit_path.parent / "reports")
        self.scheduler = Scheduler(controller.clock, name="reports.scheduler")
        self._lock = asyncio.Lock()
        self.generated = 0
        self.failed = 0
        self.delivered = 0
        self.undelivered = 0
        for schedule in controller.site.reports.schedules:
            problem = _scope_problem(schedule.scope, controller)
            missing = unknown_channels(schedule.send_to, controller.site.notify)
            if missing and problem is None:
                problem = f"send_to names no channel of notify.channels: {', '.join(missing)}"
            if problem is not None:
                _LOGGER.error("Report schedule %s is not scheduled: %s", schedule.id, problem)
                continue
            self.scheduler.add_job(
                lambda s=schedule: self._scheduled(s),  # type: ignore[misc]
                _trigger(schedule, controller.clock.tz),
                id=f"report:{schedule.id}",
            )

    async def create(
        self,
        request: ReportRequest,
        formats: Sequence[str],
        *,
        by: str,
        schedule: str | None = None,
    ) -> StoredReport:
        """Generate now and store; ``RuntimeError`` if the recorder is not running."""
        site = self.controller.site
        ledger = self.audit_path.parent / STORE_NAME if site.billing is not None else None
        stores = SiteStores(
            self.recorder.consumption, self.recorder.history_path, self.audit_path, ledger
        )
        async with self._lock:
            report_id = self.store.new_id(self.controller.clock.now())
            folder = self.store.folder_of(report_id)
            try:
                _, files = await generate_from(
                    site, stores, request, formats=formats, out_dir=folder
                )
            except Exception:
                self.failed += 1
                raise
            self.generated += 1
            return self.store.save(
                StoredReport(
                    id=report_id,
                    created=self.controller.clock.now().isoformat(timespec="seconds"),
                    period=request.span.label(),
                    baseline=baseline_of(request, site).label(),
                    scope=request.scope.text,
                    language=request.language,
                    files=tuple(p.name for p in files),
                    by=by,
                    schedule=schedule,
                )
            )

    async def _scheduled(self, schedule: ReportSchedule) -> None:
        span = last_period(schedule.every, self.controller.clock.now().date())
        request = ReportRequest(
            span, parse_scope(schedule.scope, self.controller.site), schedule.language
        )
        stored = await self.create(request, schedule.formats, by="schedule", schedule=schedule.id)
        _LOGGER.info("Scheduled report %s stored as %s", schedule.id, stored.id)
        if schedule.send_to:
            outcome = await send_report(stored, schedule.send_to, self.controller.site.notify)
            self.delivered += sum(1 for v in outcome.values() if v == "ok")
            self.undelivered += sum(1 for v in outcome.values() if v != "ok")

    async def run(self) -> None:
        await self.scheduler.run()

    def status(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "failed": self.failed,
            "delivered": self.delivered,
            "undelivered": self.undelivered,
            "schedules": len(self.controller.site.reports.schedules),
        }


def _scope_problem(scope: str, controller: Controller) -> str | None:
    try:
        parse_scope(scope, controller.site, "scope")
    except ReportInputError as err:
        return str(err)
    return None


def _trigger(schedule: ReportSchedule, tz: dt.tzinfo) -> CronTrigger:
    if schedule.every == "week":
        return CronTrigger(day_of_week="mon", hour=1, minute=0, timezone=tz)
    return CronTrigger(day=1, hour=1, minute=0, timezone=tz)
