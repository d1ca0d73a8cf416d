"""When the policy engine evaluates by the clock: window edges, midnight, a tick, a deadline.

Readings wake the engine through the bus; time wakes it through these scheduler jobs. A cron
job fires at every window edge of the running policies (and at midnight, when days and months
turn over), a safety tick runs every ``tick_s``, and one date job fires at the core's next own
deadline (a hold ending, a retry, an override expiring).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from controller.scheduler import CronTrigger, DateTrigger, Scheduler, every

from .base import Policy

__all__ = ["Wakeups"]


class Wakeups:
    """Scheduler jobs that call ``wake``; owns the ``policies.*`` jobs of ``scheduler``."""

    def __init__(self, scheduler: Scheduler, wake: Callable[[], None], tick_s: float) -> None:
        self.scheduler = scheduler
        self._wake = wake
        self._tick_s = tick_s
        self._deadline: float | None = None

    def install(self, policies: Iterable[Policy[Any, Any]]) -> None:
        """Cron jobs at every window edge of ``policies``, midnight, and the safety tick."""
        scheduler = self.scheduler
        clock = scheduler.clock
        for job in scheduler.jobs:
            if job.id.startswith("policies.edge."):
                scheduler.remove_job(job.id)
        edges: set[int] = {0}
        for policy in policies:
            edges |= policy.edges()
        for seconds in sorted(edges):
            hour, rest = divmod(seconds % 86_400, 3600)
            minute, second = divmod(rest, 60)
            scheduler.add_job(
                self._wake,
                CronTrigger(hour=hour, minute=minute, second=second, timezone=clock.tz),
                id=f"policies.edge.{hour:02d}{minute:02d}{second:02d}",
            )
        if scheduler.get_job("policies.tick") is None:
            scheduler.add_job(self._wake, every(clock, self._tick_s), id="policies.tick")

    def follow(self, deadline: float | None) -> None:
        """Fire once at ``deadline`` (epoch seconds; None: no job) instead of the last one."""
        if deadline == self._deadline:
            return
        self._deadline = deadline
        if deadline is None:
            self.scheduler.remove_job("policies.deadline")
            return
        when = dt.datetime.fromtimestamp(deadline, self.scheduler.clock.tz)
        self.scheduler.add_job(self._wake, DateTrigger(run_date=when), id="policies.deadline")
