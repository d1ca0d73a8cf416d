"""The scheduler of one bus, whatever its protocol: polls devices on their intervals,
staggered, and isolates dead ones.

A device that stops answering is retried with exponential backoff (scan interval × 2^k, capped
at ``backoff_max``), probed with a single request and no retries, so it costs the bus at most
one timeout per backoff period while the others keep their cycle. After ``fail_threshold``
failed polls it is reported unavailable; its first answer brings it back.

Protocol pollers (``drivers.modbus.BusPoller``, ``drivers.dlt645.MeterPoller``, …) subclass
``BusScheduler`` and implement one poll of one device.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from ..errors import DriverError
from .bus import BusLink
from .readings import Reading

__all__ = ["BusScheduler", "Clock", "DeviceState", "PollListener", "ScheduledSpec"]

_LOGGER = logging.getLogger(__name__)


class Clock(Protocol):
    """Scheduling time (``controller.core.Clock`` fits): epoch seconds and a sleep."""

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class PollListener(Protocol):
    """Where a bus delivers what it learns. Called on the event loop; must not block."""

    def snapshot(self, device_id: str, readings: Sequence[Reading], timestamp: float) -> None:
        """Fresh readings of a device (all its points, or those that answered)."""

    def availability(self, device_id: str, available: bool, reason: str) -> None:
        """The device started or stopped answering."""


class ScheduledSpec(Protocol):
    """What the scheduler needs of a device spec."""

    @property
    def device_id(self) -> str: ...
    @property
    def scan_interval(self) -> float: ...
    @property
    def fail_threshold(self) -> int: ...
    @property
    def backoff_max(self) -> float: ...


S = TypeVar("S", bound=ScheduledSpec)


@dataclass
class DeviceState(Generic[S]):
    """What the bus knows about one device."""

    spec: S
    due: float = 0.0
    available: bool | None = None
    failures: int = 0
    polls: int = 0
    failed_polls: int = 0
    last_error: str | None = None
    last_failure: DriverError | None = None
    last_ok: float | None = None
    partial_errors: set[str] = field(default_factory=set)

    @property
    def device_id(self) -> str:
        return self.spec.device_id


St = TypeVar("St", bound=DeviceState[Any])
L = TypeVar("L", bound=BusLink[Any])


class BusScheduler(ABC, Generic[L, St]):
    """Polls ``devices`` over ``link``. ``run()`` until cancelled."""

    task_prefix = "bus"

    def __init__(
        self, link: L, devices: Sequence[St], clock: Clock, listener: PollListener
    ) -> None:
        self.link = link
        self.clock = clock
        self.listener = listener
        self.devices: dict[str, St] = {d.device_id: d for d in devices}
        self._heap: list[tuple[float, int, St]] = []
        self._seq = itertools.count()
        self._cycle_start: float | None = None
        self._cycle_pending: set[str] = set()
        self.internal_errors = 0
        """Decode → state failures (bugs), counted per bus; the bus keeps polling."""

    @property
    def link_id(self) -> str:
        return self.link.link_id

    # -- what a protocol says -------------------------------------------------------------
    @abstractmethod
    async def _poll(self, status: St) -> None:
        """Poll one device once, then call ``_done``."""

    @abstractmethod
    def _link_down(self, err: DriverError) -> bool:
        """The failure is the link's (no backoff for the device), not the device's."""

    def _where(self, status: St) -> str:
        """How logs name a device's place on the bus (``unit 3``, an address)."""
        return status.device_id

    # -- scheduling -----------------------------------------------------------------------
    def _stagger(self) -> None:
        """Spread first polls over each device's interval so the bus is not bunched."""
        now = self.clock.time()
        count = len(self.devices) or 1
        self._heap.clear()
        for index, status in enumerate(self.devices.values()):
            status.due = now + status.spec.scan_interval * index / count
            heapq.heappush(self._heap, (status.due, next(self._seq), status))

    def _reschedule(self, status: St, now: float) -> None:
        interval = status.spec.scan_interval
        failure = status.last_failure
        if status.failures and not (failure is not None and self._link_down(failure)):
            backoff = min(status.spec.backoff_max, interval * 2 ** (status.failures - 1))
            status.due = now + backoff
        else:
            status.due = max(status.due + interval, now)  # never catch up in a burst
        heapq.heappush(self._heap, (status.due, next(self._seq), status))

    async def run(self) -> None:
        """Run the link and the poll loop until cancelled.

        When it fails, devices count as unknown until they answer again, so that a restarted
        run announces their return (whoever restarts it has marked them unavailable).
        """
        prefix = self.task_prefix
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.link.run(), name=f"{prefix}-link-{self.link_id}")
                group.create_task(self._poll_loop(), name=f"{prefix}-poll-{self.link_id}")
        except Exception:
            for status in self.devices.values():
                if status.available is True:
                    status.available = None
            raise

    async def _poll_loop(self) -> None:
        # Give the first connection a chance, so start-up is not counted as failed polls.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.link.bus_spec.timeout * 2):
                await self.link.wait_connected()
        self._stagger()
        clock = self.clock
        busy = 0
        while self._heap:
            due, _, status = self._heap[0]
            wait = due - clock.time()
            if wait > 0:
                busy = 0
                await clock.sleep(wait)
                continue
            heapq.heappop(self._heap)
            await self._poll(status)
            self._reschedule(status, clock.time())
            busy += 1
            if busy % 64 == 0:
                # polls that fail at once (link down) never suspend: let others run
                await asyncio.sleep(0)

    # -- outcome of a poll ----------------------------------------------------------------
    def _partial(self, status: St, what: str, err: DriverError) -> None:
        """Part of a poll failed while the device answers: log once per kind until clean."""
        kind = str(getattr(err, "kind", "error"))
        if kind not in status.partial_errors:
            status.partial_errors.add(kind)
            _LOGGER.warning(
                "Device %s (%s on %s): %s: %s",
                status.device_id,
                self._where(status),
                self.link_id,
                what,
                err,
                extra={"device": status.device_id},
            )

    def _deliver(
        self,
        status: St,
        readings: list[Reading],
        answered: bool,
        failure: DriverError | None,
    ) -> None:
        """``_done``, with a listener that refuses a snapshot (a bug) counted, not fatal."""
        try:
            self._done(status, readings, answered, failure)
        except Exception as err:  # noqa: BLE001 (the listener refused a snapshot: a bug)
            self._internal(status, "delivering readings of", err)

    def _internal(self, status: St, what: str, err: Exception) -> None:
        """A bug on one device's decode → state path: count it, log it once loudly (then at
        DEBUG), mark the poll failed and go on polling the bus, like the MQTT driver does
        per message."""
        self.internal_errors += 1
        status.failed_polls += 1
        status.last_error = f"internal error {what} the device: {type(err).__name__}: {err}"
        first = self.internal_errors == 1
        if first or _LOGGER.isEnabledFor(logging.DEBUG):
            _LOGGER.log(
                logging.ERROR if first else logging.DEBUG,
                "Bus %s: internal error %s %s",
                self.link_id,
                what,
                status.device_id,
                exc_info=err,
            )

    def _done(
        self,
        status: St,
        readings: list[Reading],
        answered: bool,
        failure: DriverError | None,
    ) -> None:
        now = self.clock.time()
        status.last_failure = failure
        if answered:
            if readings:
                self.listener.snapshot(status.device_id, readings, now)
            status.last_ok = now
            if failure is None:
                status.partial_errors.clear()
            status.last_error = None if failure is None else str(failure)
            if status.available is not True:
                if status.available is False:
                    _LOGGER.info(
                        "Device %s answers again on %s after %d failed poll(s)",
                        status.device_id,
                        self.link_id,
                        status.failures,
                        extra={"device": status.device_id},
                    )
                status.available = True
                self.listener.availability(status.device_id, True, "")
            status.failures = 0
        else:
            self._failed(status, failure)
        self._cycle(status, now)

    def _failed(self, status: St, failure: DriverError | None) -> None:
        status.failures += 1
        status.failed_polls += 1
        reason = str(failure) if failure is not None else "no reply"
        status.last_error = reason
        if status.failures >= status.spec.fail_threshold and status.available is not False:
            status.available = False
            _LOGGER.warning(
                "Device %s (%s on %s) is unavailable after %d failed polls: %s",
                status.device_id,
                self._where(status),
                self.link_id,
                status.failures,
                reason,
                extra={"device": status.device_id},
            )
            self.listener.availability(status.device_id, False, reason)
        else:
            _LOGGER.debug(
                "Device %s poll failed (%d): %s",
                status.device_id,
                status.failures,
                reason,
                extra={"device": status.device_id},
            )

    def _cycle(self, status: St, now: float) -> None:
        """Close a bus cycle once every healthy device has been polled since it began."""
        if self._cycle_start is None:
            self._cycle_start = now
            self._cycle_pending = {d for d, s in self.devices.items() if s.failures == 0}
        self._cycle_pending.discard(status.device_id)
        if not self._cycle_pending:
            self.link.counters.cycle(now - self._cycle_start)
            self._cycle_start = now
            self._cycle_pending = {d for d, s in self.devices.items() if s.failures == 0}

    # -- status ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        devices = self.devices.values()
        return {
            "link": self.link_id,
            "where": self.link.bus_spec.where,
            "state": self.link.state.value,
            "devices": len(self.devices),
            "available": sum(1 for d in devices if d.available is not False),
            "unavailable": sorted(d.device_id for d in devices if d.available is False),
            "queued": self.link.queued,
            "last_error": self.link.last_error,
            "internal_errors": self.internal_errors,
            **self.link.counters.as_dict(),
        }
