"""Time-based jobs on APScheduler triggers, driven by the controller's injected Clock.

APScheduler 3's triggers do the calendar arithmetic (cron fields, intervals, time zones); this
module runs them. ``AsyncIOScheduler`` itself is not used because it reads the wall clock
(``datetime.now`` in ``_process_jobs`` and in the executor's misfire check) and arms
``loop.call_later`` in real seconds, so it cannot follow a ``FakeClock`` in tests nor a
``ScaledClock`` in ``sanjie demo --speed N``; its executor also starts untracked tasks. Here jobs
run inside ``Scheduler.run()`` on whatever clock the controller uses, missed runs coalesce into
one, and a failing job is logged (loudly once, then quietly) without stopping the others.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from controller.core.clock import Clock

__all__ = [
    "CronTrigger",
    "DateTrigger",
    "IntervalTrigger",
    "Job",
    "JobFunc",
    "Scheduler",
    "every",
]

_LOGGER = logging.getLogger(__name__)

JobFunc = Callable[[], Awaitable[None] | None]
"""A job: a plain or async function without arguments."""


def every(clock: Clock, seconds: float, *, first: dt.datetime | None = None) -> IntervalTrigger:
    """An interval trigger anchored on ``clock`` (APScheduler would anchor on the wall clock).

    The first run is ``first``, or one interval from the clock's now.
    """
    start = first or clock.now() + dt.timedelta(seconds=seconds)
    return IntervalTrigger(seconds=seconds, start_date=start, timezone=clock.tz)


def _following(trigger: BaseTrigger, previous: dt.datetime, now: dt.datetime) -> dt.datetime | None:
    """The first fire time after ``now``: runs missed while the clock jumped are skipped."""
    upcoming: dt.datetime | None = trigger.get_next_fire_time(previous, now)
    if upcoming is not None and upcoming <= now and not isinstance(trigger, DateTrigger):
        upcoming = trigger.get_next_fire_time(None, now)
        if upcoming is not None and upcoming <= now:
            upcoming = trigger.get_next_fire_time(upcoming, now)
    return upcoming


@dataclass(eq=False)
class Job:
    """A scheduled job and its bookkeeping."""

    id: str
    func: JobFunc
    trigger: BaseTrigger
    name: str
    next_run: dt.datetime | None
    runs: int = 0
    failures: int = 0
    last_run: dt.datetime | None = None
    last_error: str | None = None
    _seq: int = field(default=0, repr=False)

    def status(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "trigger": str(self.trigger),
            "next_run": self.next_run.isoformat() if self.next_run else None,
            "runs": self.runs,
            "failures": self.failures,
            "last_error": self.last_error,
        }


class Scheduler:
    """Runs jobs when their triggers fire, on the time of ``clock``.

    Jobs may be added, rescheduled and removed at any time, also while ``run()`` is waiting.
    Jobs run one after another in ``run()``'s task: keep them short (mark work, wake a worker).
    """

    def __init__(self, clock: Clock, name: str = "scheduler") -> None:
        self.clock = clock
        self.name = name
        self._jobs: dict[str, Job] = {}
        self._changed = asyncio.Event()
        self._seq = itertools.count()

    def add_job(
        self, func: JobFunc, trigger: BaseTrigger, *, id: str, name: str | None = None
    ) -> Job:
        """Add (or replace) the job ``id``; it first runs at the trigger's next fire time."""
        now = self.clock.now()
        job = Job(id, func, trigger, name or id, trigger.get_next_fire_time(None, now))
        job._seq = next(self._seq)
        self._jobs[id] = job
        self._changed.set()
        return job

    def reschedule(self, id: str, trigger: BaseTrigger) -> Job:
        """Give job ``id`` a new trigger; KeyError if there is no such job."""
        job = self._jobs[id]
        job.trigger = trigger
        job.next_run = trigger.get_next_fire_time(None, self.clock.now())
        self._changed.set()
        return job

    def remove_job(self, id: str) -> bool:
        """Remove a job; False if it did not exist."""
        removed = self._jobs.pop(id, None) is not None
        if removed:
            self._changed.set()
        return removed

    def get_job(self, id: str) -> Job | None:
        return self._jobs.get(id)

    @property
    def jobs(self) -> list[Job]:
        return sorted(self._jobs.values(), key=lambda j: j._seq)

    def next_run_time(self) -> dt.datetime | None:
        times = [j.next_run for j in self._jobs.values() if j.next_run is not None]
        return min(times) if times else None

    async def run_due(self) -> int:
        """Run every job that is due now (each once, even if several runs were missed)."""
        now = self.clock.now()
        due = [j for j in self.jobs if j.next_run is not None and j.next_run <= now]
        for job in due:
            if self._jobs.get(job.id) is not job:
                continue  # removed or replaced by an earlier job in this round
            scheduled = job.next_run
            assert scheduled is not None
            await self._run(job)
            if self._jobs.get(job.id) is job and job.next_run == scheduled:
                job.next_run = _following(job.trigger, scheduled, self.clock.now())
                if job.next_run is None:
                    del self._jobs[job.id]
        return len(due)

    async def _run(self, job: Job) -> None:
        job.last_run = self.clock.now()
        job.runs += 1
        try:
            result = job.func()
            if inspect.isawaitable(result):
                await result
        except Exception as err:  # a job's failure must not stop the other jobs
            job.failures += 1
            job.last_error = f"{type(err).__name__}: {err}"
            if job.failures == 1:
                _LOGGER.exception("Scheduled job %s failed", job.name)
            else:
                _LOGGER.debug("Scheduled job %s failed again: %s", job.name, err)
        else:
            if job.failures and job.last_error is not None:
                _LOGGER.info("Scheduled job %s works again", job.name)
                job.last_error = None

    async def run(self) -> None:
        """Run jobs as they come due until cancelled."""
        while True:
            self._changed.clear()
            await self.run_due()
            if self._changed.is_set():
                continue
            upcoming = self.next_run_time()
            if upcoming is None:
                await self._changed.wait()
                continue
            delay = (upcoming - self.clock.now()).total_seconds()
            if delay > 0:
                await self._sleep_or_change(delay)

    async def _sleep_or_change(self, seconds: float) -> None:
        """Sleep ``seconds`` of clock time, or less if the job list changes meanwhile."""
        loop = asyncio.get_running_loop()
        sleeper = loop.create_task(self.clock.sleep(seconds), name=f"{self.name}.sleep")
        waiter = loop.create_task(self._changed.wait(), name=f"{self.name}.changed")
        try:
            await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waiter):
                task.cancel()
            await asyncio.gather(sleeper, waiter, return_exceptions=True)

    def status(self) -> dict[str, Any]:
        upcoming = self.next_run_time()
        return {
            "jobs": len(self._jobs),
            "next_run": upcoming.isoformat() if upcoming else None,
            "failing": sorted(j.id for j in self._jobs.values() if j.last_error),
        }
