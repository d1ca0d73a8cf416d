"""Reports inside the running controller: generated on request (API) or on a schedule, stored.

The component owns the report store, the build queue (``jobs``: a request or a schedule only
submits a build; ``reports.build_workers`` threads run them, off the event loop) and the
schedules from the site's ``reports.schedules`` (weekly: Monday 01:00 for the week before;
monthly: the 1st at 01:00 for the month before, in the campus time zone). A build reads the
recorder's history file through a reader of its own (so a long report never holds up the
recorder's writes) and the audit log's file; every request and its outcome is audited under
the account that asked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from controller.app import Controller
from controller.audit import AuditLog
from controller.billing.component import STORE_NAME
from controller.config.reports import ReportSchedule
from controller.recorder import HistoryConsumption, Recorder
from controller.scheduler import CronTrigger, Scheduler

from .build import ReportRequest, baseline_of
from .delivery import send_report, unknown_channels
from .errors import ReportError, ReportInputError, ReportStoreError
from .generate import generate_from, total_steps
from .jobs import ReportJob, ReportJobs
from .sources import SiteStores
from .span import DateSpan, parse_scope
from .store import ReportStore, StoredReport

__all__ = ["ReportService", "ReportUnavailable", "last_period"]

_LOGGER = logging.getLogger(__name__)


class ReportUnavailable(ReportError):
    """Reports cannot be built now (the recorder whose history they read is not running)."""


def last_period(every: str, today: dt.date) -> DateSpan:
    """The last complete week (Monday–Sunday) or calendar month before ``today``."""
    if every == "week":
        monday = today - dt.timedelta(days=today.weekday())
        return DateSpan(monday - dt.timedelta(days=7), monday - dt.timedelta(days=1))
    first = today.replace(day=1)
    last = first - dt.timedelta(days=1)
    return DateSpan(last.replace(day=1), last)


class ReportService:
    """Builds (as queued jobs), stores and schedules reports for one controller."""

    name = "reports"

    def __init__(self, controller: Controller, recorder: Recorder, audit: AuditLog) -> None:
        self.controller = controller
        self.recorder = recorder
        self.audit = audit
        self.audit_path = audit.path
        self.store = ReportStore(self.audit_path.parent / "reports")
        self.scheduler = Scheduler(controller.clock, name="reports.scheduler")
        settings = controller.site.reports
        self.jobs = ReportJobs(
            self._build,
            workers=settings.build_workers,
            queue=settings.build_queue,
            clock=controller.clock.time,
            on_finished=self._finished,
        )
        self.generated = 0
        self.failed = 0
        self.delivered = 0
        self.undelivered = 0
        for schedule in settings.schedules:
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

    def submit(
        self,
        request: ReportRequest,
        formats: Sequence[str],
        *,
        by: str,
        schedule: str | None = None,
    ) -> ReportJob:
        """Queue a build, audited under ``by``; ``QueueFull`` when the queue is full and
        ``ReportUnavailable`` when the recorder (whose history it reads) is not running."""
        if not self.recorder.running:
            raise ReportUnavailable("the recorder is not running; reports read its history")
        job = self.jobs.submit(
            request, formats, by=by, steps=total_steps(formats), schedule=schedule
        )
        self.audit.record(
            by,
            "report.request",
            request.scope.text,
            source="schedule" if schedule else "api",
            details={"job": job.id, **job.to_json()["request"]},
        )
        return job

    def _build(self, job: ReportJob, progress: Callable[[str], None]) -> StoredReport:
        """On a worker thread, with an event loop and history reader of its own."""
        return asyncio.run(self._build_files(job, progress))

    async def _build_files(self, job: ReportJob, progress: Callable[[str], None]) -> StoredReport:
        site = self.controller.site
        request = job.request
        report_id = self.store.new_id(self.controller.clock.now())
        staging = self.store.staging_of(report_id)
        ledger = self.audit_path.parent / STORE_NAME if site.billing is not None else None
        try:
            staging.mkdir(parents=True)
            async with HistoryConsumption.open(
                self.recorder.history_path, self.controller.clock.tz
            ) as source:
                stores = SiteStores(source, self.recorder.history_path, self.audit_path, ledger)
                _, files = await generate_from(
                    site, stores, request, formats=job.formats, out_dir=staging, on_step=progress
                )
            return self.store.publish(
                StoredReport(
                    id=report_id,
                    created=self.controller.clock.now().isoformat(timespec="seconds"),
                    period=request.span.label(),
                    baseline=baseline_of(request, site).label(),
                    scope=request.scope.text,
                    language=request.language,
                    files=tuple(p.name for p in files),
                    by=job.by,
                    schedule=job.schedule,
                )
            )
        except OSError as err:
            raise ReportStoreError(f"cannot write the report's files: {err}") from err
        finally:
            self.store.discard(report_id)  # only a staging folder left by a failure

    async def _finished(self, job: ReportJob) -> None:
        if job.report is not None:
            self.generated += 1
        else:
            self.failed += 1
        self.audit.record(
            job.by,
            "report.build",
            job.request.scope.text,
            result="ok" if job.report is not None else (job.error or "failed"),
            source="schedule" if job.schedule else "api",
            details={
                "job": job.id,
                "report": job.report.id if job.report else None,
                "files": list(job.report.files) if job.report else [],
            },
        )

    async def _scheduled(self, schedule: ReportSchedule) -> None:
        span = last_period(schedule.every, self.controller.clock.now().date())
        request = ReportRequest(
            span, parse_scope(schedule.scope, self.controller.site), schedule.language
        )
        job = self.submit(request, schedule.formats, by="schedule", schedule=schedule.id)
        await job.wait()
        if job.report is None:
            _LOGGER.error("Scheduled report %s failed: %s", schedule.id, job.error)
            return
        stored = job.report
        _LOGGER.info("Scheduled report %s stored as %s", schedule.id, stored.id)
        if schedule.send_to:
            outcome = await send_report(stored, schedule.send_to, self.controller.site.notify)
            self.delivered += sum(1 for v in outcome.values() if v == "ok")
            self.undelivered += sum(1 for v in outcome.values() if v != "ok")

    async def run(self) -> None:
        swept = self.store.sweep()
        if swept:
            _LOGGER.warning("Removed %d unfinished report build(s) in %s", swept, self.store.folder)
        async with asyncio.TaskGroup() as group:
            group.create_task(self.jobs.run(), name="reports.jobs")
            group.create_task(self.scheduler.run(), name="reports.scheduler")

    def status(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "failed": self.failed,
            "delivered": self.delivered,
            "undelivered": self.undelivered,
            "schedules": len(self.controller.site.reports.schedules),
            **self.jobs.status(),
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
