"""Live values for the web app: one bus subscription, fanned out to the pages that watch.

A campus publishes thousands of readings a second; a page shows a few dozen values. So the
hub subscribes to the bus *once* (not once per browser), keeps an index entity → watching
clients, and every ``interval`` seconds hands each client only the latest value of each
entity it watches that changed meanwhile. A slow client never slows the bus or the others:
its pending updates are a dict that is overwritten, not a queue that grows.

Clients come from the server-sent-events route (:func:`live_route`); the account's building
limits decide which entities a client may watch before it is registered.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from controller.app import Controller
from controller.core.bus import Overflow, Subscription
from controller.core.events import AvailabilityChanged, StateChanged

__all__ = ["LiveClient", "LiveHub"]


@dataclass(eq=False)
class LiveClient:
    """One connected page: the entities it watches and what changed since its last push."""

    entities: frozenset[str]
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    sent: int = 0


def _value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class LiveHub:
    """Controller component: reads the bus, pushes coalesced updates to watching clients."""

    name = "web-live"

    def __init__(self, controller: Controller, *, interval: float = 0.5) -> None:
        self.controller = controller
        self.interval = interval
        self._watchers: dict[str, set[LiveClient]] = {}
        self._by_device: dict[str, set[str]] = {}
        for entity in controller.registry:
            self._by_device.setdefault(entity.device_id, set()).add(entity.entity_id)
        self._clients: set[LiveClient] = set()
        self._dirty: set[LiveClient] = set()
        self.events = 0
        self.pushed = 0
        self._closed = False

    # -- clients --------------------------------------------------------------------------
    def connect(self, entities: Iterable[str]) -> LiveClient:
        client = LiveClient(frozenset(e for e in entities if e in self.controller.registry))
        for entity_id in client.entities:
            self._watchers.setdefault(entity_id, set()).add(client)
        self._clients.add(client)
        client.pending.update(self.snapshot(client.entities))
        client.wake.set()
        return client

    def disconnect(self, client: LiveClient) -> None:
        self._clients.discard(client)
        self._dirty.discard(client)
        for entity_id in client.entities:
            watchers = self._watchers.get(entity_id)
            if watchers is not None:
                watchers.discard(client)
                if not watchers:
                    del self._watchers[entity_id]

    def snapshot(self, entities: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The current value of each entity, as a page shows it."""
        states = self.controller.states
        out: dict[str, dict[str, Any]] = {}
        for entity_id in entities:
            state = states.get(entity_id)
            if state is None:
                out[entity_id] = {"v": None, "a": False, "t": None}
            else:
                good = state.available and state.quality.value == "good"
                out[entity_id] = {
                    "v": _value(state.value) if good else None,
                    "a": state.available,
                    "t": state.timestamp,
                }
        return out

    async def stream(self, client: LiveClient, *, keepalive: float = 15.0) -> AsyncIterator[bytes]:
        """The client's updates as server-sent events, until it disconnects or the hub stops.

        A comment line every ``keepalive`` seconds keeps proxies from closing a quiet stream.
        """
        try:
            yield b"retry: 3000\n\n"
            while not self._closed:
                try:
                    async with asyncio.timeout(keepalive):
                        await client.wake.wait()
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                client.wake.clear()
                if client.pending:
                    batch, client.pending = client.pending, {}
                    client.sent += 1
                    self.pushed += 1
                    yield b"event: values\ndata: " + orjson.dumps(batch) + b"\n\n"
        finally:
            self.disconnect(client)

    # -- component ------------------------------------------------------------------------
    async def run(self) -> None:
        sub = self.controller.bus.subscribe(
            self.name,
            [StateChanged, AvailabilityChanged],
            maxsize=50_000,
            overflow=Overflow.DROP_OLDEST,
        )
        self._closed = False
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._flush_loop(), name="web-live-flush")
                group.create_task(self._consume(sub), name="web-live-consume")
        finally:
            sub.close()
            # End every open stream, so the web server can stop without waiting for browsers.
            self._closed = True
            for client in list(self._clients):
                client.wake.set()

    async def _consume(self, sub: Subscription) -> None:
        while True:
            batch = await sub.get_batch(5000)
            self.events += len(batch)
            if self._watchers:
                self._collect(batch)

    def _collect(self, batch: list[Any]) -> None:
        watchers = self._watchers
        for event in batch:
            if isinstance(event, StateChanged):
                clients = watchers.get(event.entity_id)
                if clients and event.changed:
                    update = self.snapshot((event.entity_id,))
                    for client in clients:
                        client.pending.update(update)
                        self._dirty.add(client)
            elif isinstance(event, AvailabilityChanged):
                ids = [e for e in self._by_device.get(event.device_id, ()) if e in watchers]
                if ids:
                    update = self.snapshot(ids)
                    for entity_id in ids:
                        for client in watchers[entity_id]:
                            client.pending[entity_id] = update[entity_id]
                            self._dirty.add(client)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            dirty, self._dirty = self._dirty, set()
            for client in dirty:
                client.wake.set()

    def status(self) -> dict[str, Any]:
        return {
            "clients": len(self._clients),
            "watched_entities": len(self._watchers),
            "events": self.events,
            "pushes": self.pushed,
        }
