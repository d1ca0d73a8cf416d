"""The clock-driven scheduler on APScheduler triggers."""

from __future__ import annotations

import asyncio
import datetime as dt
import zoneinfo

import pytest

from controller.core import FakeClock, ScaledClock
from controller.scheduler import CronTrigger, DateTrigger, Scheduler, every

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=TZ)  # type: ignore[misc]


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at(2026, 3, 2, 22, 59, 0))


async def test_cron_job_fires_at_its_time_not_before(clock: FakeClock) -> None:
    scheduler = Scheduler(clock)
    fired: list[dt.datetime] = []
    scheduler.add_job(
        lambda: fired.append(clock.now()),
        CronTrigger(hour=23, minute=0, timezone=TZ),
        id="curfew",
    )
    async with asyncio.TaskGroup() as group:
        task = group.create_task(scheduler.run(), name="scheduler")
        await settle()
        clock.advance(59)
        await settle()
        assert fired == []
        clock.advance(1)
        await settle()
        assert fired == [at(2026, 3, 2, 23, 0)]
        assert scheduler.get_job("curfew").next_run == at(2026, 3, 3, 23, 0)  # type: ignore[union-attr]
        task.cancel()


async def test_interval_anchored_on_the_injected_clock(clock: FakeClock) -> None:
    scheduler = Scheduler(clock)
    runs: list[float] = []

    async def job() -> None:
        runs.append(clock.time())

    scheduler.add_job(job, every(clock, 10), id="tick")
    async with asyncio.TaskGroup() as group:
        task = group.create_task(scheduler.run(), name="scheduler")
        await settle()
        for _ in range(35):
            clock.advance(1)
            await settle()
        task.cancel()
    start = at(2026, 3, 2, 22, 59).timestamp()
    assert runs == [start + 10, start + 20, start + 30]


async def test_missed_runs_coalesce_into_one(clock: FakeClock) -> None:
    scheduler = Scheduler(clock)
    runs: list[float] = []
    scheduler.add_job(lambda: runs.append(clock.time()), every(clock, 60), id="tick")
    clock.advance(3600)
    assert await scheduler.run_due() == 1
    assert len(runs) == 1
    job = scheduler.get_job("tick")
    assert job is not None
    assert job.next_run is not None
    assert job.next_run > clock.now()


async def test_date_job_runs_once_and_is_removed(clock: FakeClock) -> None:
    scheduler = Scheduler(clock)
    runs: list[str] = []
    scheduler.add_job(
        lambda: runs.append("x"), DateTrigger(run_date=at(2026, 3, 2, 23, 0)), id="once"
    )
    clock.set(at(2026, 3, 2, 23, 5))
    await scheduler.run_due()
    await scheduler.run_due()
    assert runs == ["x"]
    assert scheduler.get_job("once") is None


async def test_an_earlier_job_added_while_sleeping_wakes_the_loop(clock: FakeClock) -> None:
    scheduler = Scheduler(clock)
    runs: list[str] = []
    scheduler.add_job(
        lambda: runs.append("late"), DateTrigger(run_date=at(2026, 3, 3, 6, 0)), id="late"
    )
    async with asyncio.TaskGroup() as group:
        task = group.create_task(scheduler.run(), name="scheduler")
        await settle()
        scheduler.add_job(
            lambda: runs.append("soon"), DateTrigger(run_date=at(2026, 3, 2, 22, 59, 5)), id="soon"
        )
        await settle()
        clock.advance(5)
        await settle()
        assert runs == ["soon"]
        task.cancel()


async def test_a_failing_job_is_logged_once_and_does_not_stop_others(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = Scheduler(clock)
    good: list[float] = []

    def bad() -> None:
        raise RuntimeError("boom")

    scheduler.add_job(bad, every(clock, 1), id="bad")
    scheduler.add_job(lambda: good.append(clock.time()), every(clock, 1), id="good")
    for _ in range(3):
        clock.advance(1)
        await scheduler.run_due()
    assert len(good) == 3
    job = scheduler.get_job("bad")
    assert job is not None
    assert job.failures == 3
    assert job.last_error == "RuntimeError: boom"
    assert (
        sum("bad failed" in r.getMessage() for r in caplog.records if r.levelname == "ERROR") == 1
    )
    assert scheduler.status()["failing"] == ["bad"]


async def test_scaled_clock_runs_emulated_minutes_quickly() -> None:
    clock = ScaledClock(speed=3600, start=at(2026, 3, 2, 22, 59, 0).timestamp())
    scheduler = Scheduler(clock)
    fired = asyncio.Event()
    scheduler.add_job(fired.set, CronTrigger(hour=23, minute=0, timezone=TZ), id="edge")
    async with asyncio.TaskGroup() as group:
        task = group.create_task(scheduler.run(), name="scheduler")
        await asyncio.wait_for(fired.wait(), timeout=10)  # one emulated minute ≈ 17 ms
        assert clock.now() >= at(2026, 3, 2, 23, 0)
        task.cancel()
