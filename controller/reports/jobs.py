"""Report builds as jobs: one queue, a bounded pool of worker threads, status staff can poll.

A campus-wide semester report takes minutes on a big site, far past an API request's time limit,
and its table building is CPU work that must not stall the event loop the drivers poll on. So a
request only *submits* a build; ``workers`` threads (each with an event loop of its own and its
own database reads) take jobs from one FIFO queue, and the status says queued, running (with
progress steps), done (the stored report) or failed (the reason). At most ``queue`` builds wait
or run at once; more are refused (``QueueFull``), so a stuck build cannot pile up work.

Jobs live in memory only: after a restart their ids are unknown, and a build that was cut off
left nothing visible (the service builds into a hidden folder and renames it when complete).
Stopping the controller sets a flag the build checks at each progress step, so a running build
ends at its next step instead of holding the process open.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .errors import ReportError
from .request import ReportRequest
from .store import StoredReport

__all__ = ["Build", "BuildCancelled", "JobState", "QueueFull", "ReportJob", "ReportJobs"]

_LOGGER = logging.getLogger(__name__)

KEEP_FINISHED = 200
"""Finished jobs remembered for status requests (the reports themselves stay in the store)."""


class QueueFull(ReportError):
    """As many builds as the queue allows are already waiting or running."""


class BuildCancelled(ReportError):
    """The controller is stopping; the build ended at its next step."""


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(slots=True)
class ReportJob:
    """One requested build and how far it got. Mutated on the event loop's thread only."""

    id: str
    request: ReportRequest
    formats: tuple[str, ...]
    by: str
    created: float
    steps: int
    schedule: str | None = None
    state: JobState = JobState.QUEUED
    step: int = 0
    stage: str = ""
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    report: StoredReport | None = None
    _done: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def building(self) -> str | None:
        """The building the job reports on (None: the campus), for visibility checks."""
        return self.request.scope.building

    @property
    def finished_ok(self) -> bool:
        return self.state is JobState.DONE

    async def wait(self) -> None:
        """Until the job is done or failed."""
        await self._done.wait()

    def to_json(self) -> dict[str, Any]:
        request = self.request
        return {
            "id": self.id,
            "state": self.state.value,
            "by": self.by,
            "schedule": self.schedule,
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            "progress": {"step": self.step, "steps": self.steps, "stage": self.stage},
            "request": {
                "period": request.span.label(),
                "scope": request.scope.text,
                "language": request.language,
                "baseline": request.baseline.label() if request.baseline else None,
                "formats": list(self.formats),
            },
            "error": self.error,
            "report": self.report.to_json() if self.report else None,
        }


Progress = Callable[[str], None]
Build = Callable[[ReportJob, Progress], StoredReport]
"""Runs on a worker thread: builds and stores the job's report, calling ``progress`` per step."""


class ReportJobs:
    """The queue and the worker pool; ``run`` (a component's task) drives it."""

    def __init__(
        self,
        build: Build,
        *,
        workers: int = 1,
        queue: int = 8,
        clock: Callable[[], float],
        on_finished: Callable[[ReportJob], Awaitable[None]] | None = None,
    ) -> None:
        if workers < 1 or queue < 1:
            raise ValueError("workers and queue must be at least 1")
        self._build = build
        self.workers = workers
        self.limit = queue
        self._clock = clock
        self._on_finished = on_finished
        self._jobs: OrderedDict[str, ReportJob] = OrderedDict()
        self._queue: asyncio.Queue[ReportJob] = asyncio.Queue()
        self._stopping = threading.Event()
        self._inflight: list[tuple[ReportJob, asyncio.Future[StoredReport]]] = []
        self._seq = itertools.count(1)
        self.running = 0
        self.peak_running = 0
        """The most builds that ran at the same time (a status figure; tests check the bound)."""

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        return sum(1 for j in self._jobs.values() if j.state in (JobState.QUEUED, JobState.RUNNING))

    def submit(
        self,
        request: ReportRequest,
        formats: Sequence[str],
        *,
        by: str,
        steps: int,
        schedule: str | None = None,
    ) -> ReportJob:
        """Queue a build; ``QueueFull`` when ``queue`` builds are already waiting or running."""
        if self.pending >= self.limit:
            raise QueueFull(
                f"{self.pending} report builds are already queued or running (limit {self.limit}); "
                "try again when one has finished"
            )
        job = ReportJob(
            id=f"job-{next(self._seq)}-{secrets.token_hex(4)}",
            request=request,
            formats=tuple(formats),
            by=by,
            created=self._clock(),
            steps=steps,
            schedule=schedule,
        )
        self._jobs[job.id] = job
        self._forget_old()
        self._queue.put_nowait(job)
        return job

    def get(self, job_id: str) -> ReportJob | None:
        return self._jobs.get(job_id)

    def list(self) -> list[ReportJob]:
        """Newest first."""
        return list(reversed(self._jobs.values()))

    async def run(self) -> None:
        """Run ``workers`` builds at a time until cancelled; a running build then stops at its
        next step, and this returns only when every worker thread has ended."""
        self._stopping.clear()
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="report-build")
        try:
            async with asyncio.TaskGroup() as group:
                for n in range(self.workers):
                    group.create_task(self._worker(pool), name=f"reports.worker-{n}")
        finally:
            self._stopping.set()
            pool.shutdown(wait=False, cancel_futures=True)
            inflight, self._inflight = self._inflight, []
            if inflight:  # the builds end at their next step: settle them as they ended
                await asyncio.wait([future for _, future in inflight])
            for job, future in inflight:
                await self._settle(job, future)
            await asyncio.to_thread(pool.shutdown, wait=True)

    async def _worker(self, pool: ThreadPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        while True:
            job = await self._queue.get()
            job.state = JobState.RUNNING
            job.started = self._clock()
            self.running += 1
            self.peak_running = max(self.peak_running, self.running)

            def progress(stage: str, job: ReportJob = job) -> None:
                if self._stopping.is_set():
                    raise BuildCancelled("the controller stopped during the build")
                loop.call_soon_threadsafe(_advance, job, stage)

            future = loop.run_in_executor(pool, self._build, job, progress)
            try:
                await asyncio.wait([future])  # cancelling the wait leaves the build running
            except asyncio.CancelledError:
                self._inflight.append((job, future))
                raise
            await self._settle(job, future)

    async def _settle(self, job: ReportJob, future: asyncio.Future[StoredReport]) -> None:
        """Record how a finished build ended, then tell ``on_finished``."""
        error: BaseException | None
        if future.cancelled():
            error = BuildCancelled("the controller stopped before the build started")
        else:
            error = future.exception()
        if error is None:
            job.report = future.result()
            job.state = JobState.DONE
        else:
            job.state, job.error = JobState.FAILED, _reason(error)
            _LOGGER.warning("Report build %s (%s) failed: %s", job.id, job.by, job.error)
        self.running -= 1
        job.finished = self._clock()
        job._done.set()
        if self._on_finished is not None:
            await self._on_finished(job)

    def _forget_old(self) -> None:
        finished = [
            j.id for j in self._jobs.values() if j.state in (JobState.DONE, JobState.FAILED)
        ]
        for job_id in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[job_id]

    def status(self) -> dict[str, Any]:
        states = [j.state for j in self._jobs.values()]
        return {
            "queued": states.count(JobState.QUEUED),
            "running": self.running,
            "peak_running": self.peak_running,
            "workers": self.workers,
            "queue_limit": self.limit,
        }


def _advance(job: ReportJob, stage: str) -> None:
    if job.state is JobState.RUNNING:
        job.step = min(job.step + 1, job.steps)
        job.stage = stage


def _reason(err: BaseException) -> str:
    """What a failed build says to staff: the report error's text, else its type and text."""
    if isinstance(err, ReportError):
        return str(err)
    return f"{type(err).__name__}: {err}"
