"""Injectable time. Policy logic takes ``now`` from a Clock so tests and the demo can move time.

``SystemClock`` is wall time; ``FakeClock`` only moves when a test advances it (and wakes the
sleepers whose time has come); ``ScaledClock`` runs N× faster than wall time for the demo.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import itertools
import time
import zoneinfo
from typing import Protocol

__all__ = ["DEFAULT_TZ", "Clock", "FakeClock", "ScaledClock", "SystemClock"]

DEFAULT_TZ = "Asia/Shanghai"


class Clock(Protocol):
    """What the controller needs of time."""

    tz: zoneinfo.ZoneInfo

    def time(self) -> float:
        """Seconds since the epoch (UTC)."""
        ...

    def now(self) -> dt.datetime:
        """Aware local time in the site's time zone."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """Wall-clock time in a given zone."""

    def __init__(self, tz: str = DEFAULT_TZ) -> None:
        self.tz = zoneinfo.ZoneInfo(tz)

    def time(self) -> float:
        return time.time()

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time(), self.tz)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Time that runs ``speed`` times faster than the wall clock, from a chosen start."""

    def __init__(self, speed: float, start: float | None = None, tz: str = DEFAULT_TZ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.tz = zoneinfo.ZoneInfo(tz)
        self.speed = speed
        self._wall0 = time.monotonic()
        self._t0 = time.time() if start is None else start

    def time(self) -> float:
        return self._t0 + (time.monotonic() - self._wall0) * self.speed

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time(), self.tz)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


class FakeClock:
    """A clock that stands still until ``advance`` or ``set`` moves it."""

    def __init__(self, start: float | dt.datetime = 1_767_225_600.0, tz: str = DEFAULT_TZ) -> None:
        self.tz = zoneinfo.ZoneInfo(tz)
        self._now = start.timestamp() if isinstance(start, dt.datetime) else float(start)
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self._now

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._now, self.tz)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), future))
        await future

    def set(self, when: float | dt.datetime) -> None:
        """Jump to ``when`` (never backwards) and wake the sleepers that are due."""
        target = when.timestamp() if isinstance(when, dt.datetime) else float(when)
        if target < self._now:
            raise ValueError("a FakeClock does not go backwards")
        self._now = target
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.set(self._now + seconds)

    async def run_for(self, seconds: float, step: float = 1.0) -> None:
        """Advance in steps, yielding to the loop after each so woken tasks run in order."""
        end = self._now + seconds
        while self._now < end:
            self.set(min(end, self._now + step))
            for _ in range(5):
                await asyncio.sleep(0)

    @property
    def pending_sleepers(self) -> int:
        return sum(1 for *_, fut in self._sleepers if not fut.done())
