"""One link per physical bus, whatever the protocol: a TCP gateway or a serial port.

``BusLink`` owns the bus's channel and its connection. ``run()`` keeps the connection up,
reconnecting with capped, jittered exponential backoff; ``_transact`` puts every transaction
through a priority gate (a write waits for at most the transaction in flight, never behind
queued polls) and keeps an inter-frame gap between transactions (RS-485 devices need the
silence). After a timeout or a bad frame the bus is kept quiet a moment longer, so that a
late reply is dropped instead of being taken for the next request's (RTU, DL/T 645 and
CJ/T 188 frames carry no transaction id).

Protocol drivers subclass it (``ModbusLink``, ``FrameLink``) and say which of their errors
mean "silence or garbage" and how to report a link that is down.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Generic, Protocol, TypeVar

from ..backoff import Backoff
from ..errors import DriverError
from .counters import BusCounters
from .gate import Priority, PriorityGate

__all__ = ["BusLink", "BusSpec", "Channel", "ConnectionCallback", "LinkState"]

_LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

ConnectionCallback = Callable[[bool], None]
"""Told ``False`` when an established connection drops (the link then reconnects)."""


class LinkState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"


class BusSpec(Protocol):
    """What the link needs of a protocol's link spec."""

    @property
    def link_id(self) -> str: ...
    @property
    def where(self) -> str: ...
    @property
    def timeout(self) -> float: ...
    @property
    def inter_frame_gap(self) -> float: ...
    @property
    def reconnect_min(self) -> float: ...
    @property
    def reconnect_max(self) -> float: ...


class Channel(Protocol):
    """One connection to a bus; the link calls one transaction at a time."""

    @property
    def connected(self) -> bool: ...

    async def connect(self) -> bool:
        """Open the connection; False if it cannot be opened now."""

    def close(self) -> None:
        """Close the connection; a transaction in flight fails with a connection error."""


C = TypeVar("C", bound=Channel)


class BusLink(Generic[C]):
    """A bus. Run ``run()`` in a task; subclasses expose reads and writes over ``_transact``.

    Subclasses set ``_settle_errors`` (errors after which the bus is kept quiet) and override
    ``_not_connected`` / ``_closed_while_queued`` to raise their protocol's error types.
    """

    _settle_errors: tuple[type[DriverError], ...] = ()

    def __init__(
        self,
        spec: BusSpec,
        channel: Callable[[ConnectionCallback], C],
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.bus_spec = spec
        self.counters = BusCounters()
        self.state = LinkState.DISCONNECTED
        self.last_error: str | None = None
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not cryptography)
        self._channel = channel(self._on_connection)
        self._gate = PriorityGate()
        self._up = asyncio.Event()
        self._down = asyncio.Event()
        self._idle_at = 0.0
        self._settle = min(0.1, spec.timeout / 4)
        self._failing = False

    @property
    def link_id(self) -> str:
        return self.bus_spec.link_id

    @property
    def connected(self) -> bool:
        return self.state is LinkState.CONNECTED and self._channel.connected

    @property
    def queued(self) -> int:
        """Transactions waiting for the bus."""
        return self._gate.waiting

    def _on_connection(self, up: bool) -> None:
        if not up:
            self._up.clear()
            self._down.set()

    async def wait_connected(self) -> None:
        await self._up.wait()

    # -- connection -----------------------------------------------------------------------
    async def run(self) -> None:
        """Keep the bus connected until cancelled."""
        spec = self.bus_spec
        backoff = Backoff(spec.reconnect_min, spec.reconnect_max)
        failures = 0
        try:
            while True:
                self.state = LinkState.CONNECTING
                self._down.clear()
                connected = await self._channel.connect()
                if connected:
                    self._connected()
                    up_since = time.monotonic()
                    await self._down.wait()
                    self._lost("connection dropped")
                    # Only a connection that held resets the backoff: a gateway that accepts
                    # and drops at once must not be hammered.
                    if time.monotonic() - up_since >= spec.reconnect_max:
                        failures = 0
                else:
                    self._lost("cannot connect")
                self.state = LinkState.DISCONNECTED
                failures += 1
                await asyncio.sleep(backoff.delay(failures, self._rng))
        finally:
            self.state = LinkState.CLOSED
            self._up.clear()
            self._channel.close()

    def _connected(self) -> None:
        self.state = LinkState.CONNECTED
        self._up.set()
        if self._failing:
            _LOGGER.info("Link %s (%s) is connected again", self.link_id, self.bus_spec.where)
            self._failing = False
        else:
            _LOGGER.debug("Link %s connected to %s", self.link_id, self.bus_spec.where)

    def _lost(self, why: str) -> None:
        self._up.clear()
        self.counters.reconnects += 1
        self.last_error = why
        if not self._failing:
            _LOGGER.warning(
                "Link %s (%s): %s; reconnecting", self.link_id, self.bus_spec.where, why
            )
            self._failing = True
        else:
            _LOGGER.debug("Link %s: %s", self.link_id, why)
        self._channel.close()

    # -- transactions ---------------------------------------------------------------------
    def _not_connected(self) -> DriverError:
        """The error for a transaction asked of a link that is down (not counted)."""
        return DriverError(f"link {self.link_id} not connected", link=self.link_id)

    def _closed_while_queued(self) -> DriverError:
        """The error for a transaction whose link went down while it waited (counted)."""
        return DriverError("connection lost while queued", link=self.link_id)

    async def _transact(self, call: Callable[[], Awaitable[T]], priority: Priority) -> T:
        """Run ``call`` (one request and its reply) alone on the bus."""
        if not self.connected:
            # not a bus error: the drop was counted once, as a reconnect
            raise self._not_connected()
        await self._gate.acquire(priority)
        try:
            wait = self._idle_at - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not self.connected:
                raise self._count(self._closed_while_queued())
            started = time.monotonic()
            quiet = self.bus_spec.inter_frame_gap
            try:
                return await call()
            except self._settle_errors as err:
                quiet = max(quiet, self._settle)
                raise self._count(err) from None
            except DriverError as err:
                raise self._count(err) from None
            finally:
                now = time.monotonic()
                self.counters.transaction(now - started)
                self._idle_at = now + quiet
        finally:
            self._gate.release()

    def _count(self, err: DriverError) -> DriverError:
        self.counters.error(str(getattr(err, "kind", "error")))
        return err
