"""An asyncio event bus with a bounded queue per subscriber.

Publishing never blocks and never awaits, so drivers cannot be stalled by a slow consumer.
Each subscriber has its own FIFO, so events for one entity arrive in the order published.
When a queue is full the subscriber's overflow policy applies (drop the oldest or the newest
event); drops are counted, logged once per episode and announced as ``SubscriberLagging``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from .events import Event, SubscriberLagging

__all__ = ["BusClosed", "EventBus", "Overflow", "Subscription", "SubscriptionStats"]

_LOGGER = logging.getLogger(__name__)


class BusClosed(Exception):
    """The bus shut down and this subscription has delivered everything it had.

    The in-process event bus; a Modbus link (a physical bus) closing is the driver's
    ``drivers.modbus.LinkClosed``.
    """


class Overflow(StrEnum):
    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"


@dataclass(frozen=True, slots=True)
class SubscriptionStats:
    name: str
    depth: int
    maxsize: int
    delivered: int
    dropped: int


class Subscription:
    """One subscriber's bounded queue. Iterate it, or ``get``/``get_batch`` from it.

    A subscription has one consumer task; a second task waiting on it is a bug (RuntimeError).
    """

    def __init__(
        self,
        bus: EventBus,
        name: str,
        types: frozenset[type[Event]] | None,
        maxsize: int,
        overflow: Overflow,
    ) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.name = name
        self.types = types
        self.maxsize = maxsize
        self.overflow = overflow
        self.delivered = 0
        self.dropped = 0
        self._bus = bus
        self._items: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._lagging = False

    def offer(self, event: Event) -> None:
        """Enqueue without blocking, applying the overflow policy. Called by the bus."""
        items = self._items
        if len(items) >= self.maxsize:
            self.dropped += 1
            if not self._lagging:
                self._lagging = True
                self._bus.report_lagging(self)
            if self.overflow is Overflow.DROP_NEWEST:
                return
            items.popleft()
        items.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def offer_many(self, events: list[Event]) -> None:
        """Enqueue a batch (one wake-up); the overflow policy applies event by event."""
        items = self._items
        if len(items) + len(events) > self.maxsize:
            for event in events:
                self.offer(event)
            return
        items.extend(events)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        while not self._items:
            if self._closed:
                raise BusClosed(self.name)
            if self._waiter is not None:
                raise RuntimeError(f"subscription {self.name} already has a waiting consumer")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def _took(self, count: int) -> None:
        self.delivered += count
        if self._lagging and len(self._items) < self.maxsize // 2:
            self._lagging = False
            _LOGGER.info("Subscriber %s caught up (%d dropped so far)", self.name, self.dropped)

    async def get(self) -> Event:
        """The next event; BusClosed once the bus is closed and the queue is empty."""
        await self._wait()
        event = self._items.popleft()
        self._took(1)
        return event

    async def get_batch(self, limit: int = 1000) -> list[Event]:
        """Wait for at least one event, then take up to ``limit`` that are queued."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        await self._wait()
        items = self._items
        take = len(items)
        if take <= limit:
            # the usual case: the consumer takes all that is queued, copied in C
            batch = list(items)
            items.clear()
        else:
            take = limit
            batch = [items.popleft() for _ in range(take)]
        self._took(take)
        return batch

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self.get()
        except BusClosed:
            raise StopAsyncIteration from None

    def close(self) -> None:
        """Stop receiving; a waiting consumer ends once the queue is drained."""
        self._closed = True
        self._bus.unsubscribe(self)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    @property
    def stats(self) -> SubscriptionStats:
        return SubscriptionStats(
            self.name, len(self._items), self.maxsize, self.delivered, self.dropped
        )


class EventBus:
    """Fan-out of events to subscriptions, filtered by event type."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._route: dict[type[Event], tuple[Subscription, ...]] = {}
        self._closed = False
        self.published = 0

    def subscribe(
        self,
        name: str,
        types: Iterable[type[Event]] | None = None,
        *,
        maxsize: int = 10_000,
        overflow: Overflow = Overflow.DROP_OLDEST,
    ) -> Subscription:
        """A new subscription to ``types`` (all events if None), named for logs and metrics."""
        if self._closed:
            raise BusClosed("the bus is closed")
        sub = Subscription(self, name, frozenset(types) if types else None, maxsize, overflow)
        self._subs.append(sub)
        self._route.clear()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            self._route.clear()

    def _targets(self, event_type: type[Event]) -> tuple[Subscription, ...]:
        targets = tuple(
            s
            for s in self._subs
            if s.types is None or any(issubclass(event_type, t) for t in s.types)
        )
        self._route[event_type] = targets
        return targets

    def publish(self, event: Event) -> None:
        """Deliver to every matching subscription now; never blocks."""
        if self._closed:
            return
        self.published += 1
        targets = self._route.get(type(event))
        if targets is None:
            targets = self._targets(type(event))
        for sub in targets:
            sub.offer(event)

    def publish_many(self, event_type: type[Event], events: list[Event]) -> None:
        """Deliver a batch of events, all of exactly ``event_type``, in order; never blocks.

        Same effect as publishing them one by one, at a fraction of the cost: a device
        snapshot or an MQTT message carries several readings at once.
        """
        if self._closed or not events:
            return
        self.published += len(events)
        targets = self._route.get(event_type)
        if targets is None:
            targets = self._targets(event_type)
        for sub in targets:
            sub.offer_many(events)

    def report_lagging(self, sub: Subscription) -> None:
        _LOGGER.warning(
            "Subscriber %s is too slow: its queue of %d is full, dropping %s events",
            sub.name,
            sub.maxsize,
            "old" if sub.overflow is Overflow.DROP_OLDEST else "new",
        )
        event = SubscriberLagging(sub.name, sub.dropped)
        for other in self._targets(SubscriberLagging):
            if other is not sub:
                other.offer(event)

    def close(self) -> None:
        """Shut down: no more events; each subscriber drains what it has, then ends."""
        self._closed = True
        for sub in list(self._subs):
            sub.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> list[SubscriptionStats]:
        return [s.stats for s in self._subs]
