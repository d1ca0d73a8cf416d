"""Injectable time: the fake clock wakes sleepers in order; the scaled clock runs faster."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest

from controller.core import FakeClock, ScaledClock, SystemClock


async def test_fake_clock_wakes_sleepers_in_deadline_order() -> None:
    clock = FakeClock(1000.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.time()))

    async with asyncio.TaskGroup() as group:
        for name, seconds in (("c", 30), ("a", 10), ("b", 20), ("a2", 10)):
            group.create_task(sleeper(name, seconds), name=name)
        await asyncio.sleep(0)
        assert clock.pending_sleepers == 4
        clock.advance(15)
        await asyncio.sleep(0)
        assert woke == [("a", 1015.0), ("a2", 1015.0)]
        clock.advance(100)
    # Woken in deadline order, ties in the order they went to sleep.
    assert [name for name, _ in woke] == ["a", "a2", "b", "c"]
    assert clock.pending_sleepers == 0


async def test_run_for_lets_periodic_tasks_tick() -> None:
    clock = FakeClock(0.0)
    ticks: list[float] = []

    async def every_minute() -> None:
        while True:
            ticks.append(clock.time())
            await clock.sleep(60)

    async with asyncio.TaskGroup() as group:
        task = group.create_task(every_minute(), name="poller")
        await asyncio.sleep(0)  # let it start before time moves
        await clock.run_for(300, step=30)
        task.cancel()
    assert ticks == [0.0, 60.0, 120.0, 180.0, 240.0, 300.0]


async def test_fake_clock_set_and_local_time() -> None:
    clock = FakeClock(dt.datetime(2026, 9, 1, 23, 0, tzinfo=dt.UTC))
    assert clock.now() == dt.datetime(2026, 9, 2, 7, 0, tzinfo=clock.tz)
    assert str(clock.tz) == "Asia/Shanghai"
    clock.set(dt.datetime(2026, 9, 2, tzinfo=dt.UTC))
    assert clock.now().hour == 8
    with pytest.raises(ValueError, match="backwards"):
        clock.set(0)
    await clock.sleep(0)  # no time passes, but other tasks get a turn


async def test_cancelled_sleeper_is_not_counted() -> None:
    clock = FakeClock()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(clock.sleep(60), 0.01)
    assert clock.pending_sleepers == 0
    clock.advance(120)  # waking a cancelled sleeper is harmless


async def test_scaled_clock_runs_faster_than_wall_time() -> None:
    clock = ScaledClock(speed=3600, start=1_780_000_000.0, tz="Asia/Shanghai")
    before = clock.time()
    wall = time.monotonic()
    await clock.sleep(36)  # 36 scaled seconds = 10 ms of wall time
    assert time.monotonic() - wall < 1.0
    assert clock.time() - before >= 36
    assert clock.now().tzinfo == clock.tz
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(speed=0)


def test_system_clock_is_wall_time_in_its_zone() -> None:
    clock = SystemClock("Asia/Shanghai")
    assert abs(clock.time() - time.time()) < 5
    assert clock.now().utcoffset() == dt.timedelta(hours=8)
