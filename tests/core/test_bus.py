"""The event bus: bounded queues, back-pressure that never stalls publishers, order, shutdown."""

from __future__ import annotations

import asyncio
import logging

import pytest

from controller.core import (
    AvailabilityChanged,
    BusClosed,
    Event,
    EventBus,
    Overflow,
    State,
    StateChanged,
    SubscriberLagging,
)


def reading(entity_id: str, value: float, ts: float = 0.0) -> StateChanged:
    return StateChanged(entity_id, None, State(value, ts), True)


def values(events: list[Event]) -> list[float | int | str | bool | None]:
    return [e.new.value for e in events if isinstance(e, StateChanged)]


async def test_events_for_each_entity_arrive_in_publish_order() -> None:
    bus = EventBus()
    sub = bus.subscribe("policies", [StateChanged])
    for i in range(300):
        bus.publish(reading(f"e{i % 3}", i))
    got = await sub.get_batch(1000)
    assert values(got) == list(range(300))
    for entity in ("e0", "e1", "e2"):
        seq = [e.new.value for e in got if isinstance(e, StateChanged) and e.entity_id == entity]
        assert seq == sorted(seq)


async def test_a_batch_takes_at_most_its_limit_and_leaves_the_rest_in_order() -> None:
    bus = EventBus()
    sub = bus.subscribe("recorder", [StateChanged])
    bus.publish_many(StateChanged, [reading("e", i) for i in range(10)])
    assert values(await sub.get_batch(4)) == [0, 1, 2, 3]
    assert sub.stats.depth == 6
    bus.publish(reading("e", 10))
    assert values(await sub.get_batch(100)) == list(range(4, 11))
    assert sub.stats.depth == 0
    assert sub.stats.delivered == 11


async def test_type_filtering() -> None:
    bus = EventBus()
    states = bus.subscribe("states", [StateChanged])
    avail = bus.subscribe("avail", [AvailabilityChanged])
    everything = bus.subscribe("all")
    base = bus.subscribe("base", [Event])
    bus.publish(reading("a", 1))
    bus.publish(AvailabilityChanged("dev", False, 0.0, "timeout"))
    assert [type(e) for e in await states.get_batch()] == [StateChanged]
    assert [type(e) for e in await avail.get_batch()] == [AvailabilityChanged]
    assert len(await everything.get_batch()) == 2
    assert len(await base.get_batch()) == 2
    assert bus.published == 2


async def test_a_slow_subscriber_drops_oldest_is_reported_and_never_blocks_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    slow = bus.subscribe("recorder", [StateChanged], maxsize=10)
    fast = bus.subscribe("policies", [StateChanged], maxsize=1000)
    watcher = bus.subscribe("ops", [SubscriberLagging])
    caplog.set_level(logging.INFO, logger="controller.core.bus")
    for i in range(25):
        bus.publish(reading("a", i))  # synchronous: publishing cannot wait for anyone
    assert values(await fast.get_batch(1000)) == list(range(25))
    assert values(await slow.get_batch(1000)) == list(range(15, 25))
    assert (slow.stats.dropped, slow.stats.delivered) == (15, 10)
    # One report per episode, not one per dropped event.
    assert await watcher.get_batch() == [SubscriberLagging("recorder", 1)]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "Subscriber recorder is too slow: its queue of 10 is full, dropping old events"
    ]
    assert "Subscriber recorder caught up (15 dropped so far)" in caplog.messages
    # After catching up, a new overflow is a new episode.
    for i in range(11):
        bus.publish(reading("a", 100 + i))
    assert await watcher.get_batch() == [SubscriberLagging("recorder", 16)]


async def test_drop_newest_keeps_the_first_events() -> None:
    bus = EventBus()
    sub = bus.subscribe("audit", maxsize=5, overflow=Overflow.DROP_NEWEST)
    for i in range(8):
        bus.publish(reading("a", i))
    assert values(await sub.get_batch()) == [0, 1, 2, 3, 4]
    assert sub.dropped == 3


async def test_memory_stays_bounded_under_a_flood() -> None:
    bus = EventBus()
    stuck = bus.subscribe("stuck", maxsize=100)
    for i in range(50_000):
        bus.publish(reading("a", i))
    stats = {s.name: s for s in bus.stats()}["stuck"]
    assert (stats.depth, stats.maxsize, stats.dropped) == (100, 100, 49_900)
    assert values(await stuck.get_batch(1000))[0] == 49_900


async def test_consumers_run_concurrently_and_a_slow_one_does_not_hold_back_a_fast_one() -> None:
    bus = EventBus()
    fast = bus.subscribe("fast", [StateChanged], maxsize=10_000)
    slow = bus.subscribe("slow", [StateChanged], maxsize=20)
    got_fast: list[Event] = []
    got_slow: list[Event] = []
    release = asyncio.Event()

    async def consume_fast() -> None:
        async for event in fast:
            got_fast.append(event)

    async def consume_slow() -> None:
        await release.wait()  # stalled, e.g. a database that hangs
        async for event in slow:
            got_slow.append(event)

    async with asyncio.TaskGroup() as group:
        group.create_task(consume_fast(), name="fast")
        group.create_task(consume_slow(), name="slow")
        for i in range(1000):
            bus.publish(reading("a", i))
            if i % 100 == 0:
                await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert len(got_fast) == 1000
        release.set()
        bus.close()
    assert (len(got_slow), slow.dropped) == (20, 980)


async def test_close_drains_then_ends_iteration() -> None:
    bus = EventBus()
    sub = bus.subscribe("recorder")
    bus.publish(reading("a", 1))
    bus.publish(reading("a", 2))
    bus.close()
    bus.publish(reading("a", 3))  # after close: a no-op
    assert bus.published == 2
    assert values([event async for event in sub]) == [1, 2]
    with pytest.raises(BusClosed):
        await sub.get()
    with pytest.raises(BusClosed):
        bus.subscribe("late")
    assert bus.closed


async def test_close_wakes_a_waiting_consumer() -> None:
    bus = EventBus()
    sub = bus.subscribe("recorder")
    seen: list[Event] = []

    async def consume() -> None:
        async for event in sub:
            seen.append(event)

    async with asyncio.TaskGroup() as group:
        task = group.create_task(consume(), name="consumer")
        await asyncio.sleep(0)
        bus.publish(reading("a", 1))
        await asyncio.sleep(0)
        bus.close()
    assert task.done()
    assert values(seen) == [1]


async def test_unsubscribed_queue_stops_receiving() -> None:
    bus = EventBus()
    gone = bus.subscribe("gone")
    stays = bus.subscribe("stays")
    gone.close()
    bus.publish(reading("a", 1))
    assert [s.name for s in bus.stats()] == ["stays"]
    assert len(await stays.get_batch()) == 1
    with pytest.raises(BusClosed):
        await gone.get()


async def test_get_batch_waits_for_the_first_event_and_respects_the_limit() -> None:
    bus = EventBus()
    sub = bus.subscribe("recorder")

    async def later() -> None:
        await asyncio.sleep(0)
        for i in range(5):
            bus.publish(reading("a", i))

    async with asyncio.TaskGroup() as group:
        group.create_task(later(), name="publisher")
        batch = await sub.get_batch(3)
    assert values(batch) == [0, 1, 2]
    assert values(await sub.get_batch(3)) == [3, 4]
    with pytest.raises(ValueError, match="at least 1"):
        await sub.get_batch(0)


async def test_a_cancelled_wait_leaves_the_subscription_usable() -> None:
    bus = EventBus()
    sub = bus.subscribe("policies")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sub.get(), 0.01)
    bus.publish(reading("a", 7))
    assert values([await sub.get()]) == [7]


async def test_one_consumer_per_subscription() -> None:
    bus = EventBus()
    sub = bus.subscribe("policies")
    async with asyncio.TaskGroup() as group:
        first = group.create_task(sub.get(), name="first")
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="already has a waiting consumer"):
            await sub.get()
        bus.publish(reading("a", 1))
    assert values([first.result()]) == [1]


def test_maxsize_must_be_positive() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        EventBus().subscribe("x", maxsize=0)


async def test_publish_many_delivers_a_batch_in_order_to_matching_subscribers() -> None:
    bus = EventBus()
    states = bus.subscribe("states", [StateChanged])
    avail = bus.subscribe("avail", [AvailabilityChanged])
    everything = bus.subscribe("all")
    batch: list[Event] = [reading("a", i) for i in range(5)]
    bus.publish_many(StateChanged, batch)
    bus.publish_many(StateChanged, [])  # nothing to say: no wake-up, no count
    assert values(await states.get_batch()) == [0, 1, 2, 3, 4]
    assert values(await everything.get_batch()) == [0, 1, 2, 3, 4]
    assert avail.stats.depth == 0
    assert bus.published == 5


async def test_publish_many_applies_the_overflow_policy_event_by_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    oldest = bus.subscribe("oldest", [StateChanged], maxsize=4)
    newest = bus.subscribe("newest", [StateChanged], maxsize=4, overflow=Overflow.DROP_NEWEST)
    bus.publish(reading("a", 0))
    bus.publish_many(StateChanged, [reading("a", i) for i in range(1, 7)])
    assert values(await oldest.get_batch()) == [3, 4, 5, 6]
    assert values(await newest.get_batch()) == [0, 1, 2, 3]
    assert oldest.dropped == 3
    assert newest.dropped == 3
    assert "oldest is too slow" in caplog.text


async def test_publish_many_wakes_a_waiting_consumer_and_is_silent_after_close() -> None:
    bus = EventBus()
    sub = bus.subscribe("waiting", [StateChanged])
    waiter = asyncio.create_task(sub.get_batch())
    await asyncio.sleep(0)
    bus.publish_many(StateChanged, [reading("a", 1), reading("a", 2)])
    assert values(await asyncio.wait_for(waiter, 1)) == [1, 2]
    bus.close()
    bus.publish_many(StateChanged, [reading("a", 3)])
    with pytest.raises(BusClosed):
        await sub.get()
