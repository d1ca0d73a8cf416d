"""The scheduler of one bus: polls its devices on their intervals, staggered, and isolates
dead ones; serves writes (which the link puts ahead of polls) confirmed by read-back.

A device that stops answering is retried with exponential backoff (scan interval × 2^k, capped
at ``backoff_max``), probed with a single request and no retries, so it costs the bus at most
one timeout per backoff period while the others keep their cycle. After ``fail_threshold``
failed polls it is reported unavailable; its first answer brings it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .decode import Decoder, Reading, Value, compile_decoder, encode_value, same_reading
from .errors import (
    ModbusConnectionError,
    ModbusError,
    ModbusExceptionReply,
    ModbusTimeout,
    WriteNotConfirmed,
    WriteRefused,
)
from .link import ModbusLink, Priority
from .plan import PlanCache, ReadBlock, plan_reads
from .spec import DeviceSpec

__all__ = ["BusPoller", "Clock", "DeviceStatus", "PollListener"]

_LOGGER = logging.getLogger(__name__)


class Clock(Protocol):
    """Scheduling time (``controller.core.Clock`` fits): epoch seconds and a sleep."""

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class PollListener(Protocol):
    """Where a bus delivers what it learns. Called on the event loop; must not block."""

    def snapshot(self, device_id: str, readings: Sequence[Reading], timestamp: float) -> None:
        """Fresh readings of a device (all its points, or those of the blocks that answered)."""

    def availability(self, device_id: str, available: bool, reason: str) -> None:
        """The device started or stopped answering."""


@dataclass
class DeviceStatus:
    """What the bus knows about one device."""

    spec: DeviceSpec
    blocks: tuple[ReadBlock, ...]
    due: float = 0.0
    available: bool | None = None
    failures: int = 0
    polls: int = 0
    failed_polls: int = 0
    last_error: str | None = None
    last_failure: ModbusError | None = None
    last_ok: float | None = None
    partial_errors: set[str] = field(default_factory=set)

    @property
    def device_id(self) -> str:
        return self.spec.device_id


def _is_silence(err: ModbusError) -> bool:
    """A timeout, or a gateway saying the device did not answer."""
    return isinstance(err, ModbusTimeout) or (
        isinstance(err, ModbusExceptionReply) and err.target_failed
    )


class BusPoller:
    """Polls ``devices`` over ``link``. ``run()`` until cancelled; ``write()`` any time.

    ``plans``: a cache shared between pollers so identical devices share their read plan.
    """

    def __init__(
        self,
        link: ModbusLink,
        devices: Sequence[DeviceSpec],
        clock: Clock,
        listener: PollListener,
        *,
        plans: PlanCache | None = None,
    ) -> None:
        self.link = link
        self.clock = clock
        self.listener = listener
        self.devices: dict[str, DeviceStatus] = {
            d.device_id: DeviceStatus(d, plan_reads(d, plans)) for d in devices
        }
        self._heap: list[tuple[float, int, DeviceStatus]] = []
        self._seq = itertools.count()
        self._decoders: dict[tuple[str, str], Decoder] = {}
        self.internal_errors = 0
        """Decode → state failures (bugs), counted per bus; the bus keeps polling."""
        self._cycle_start: float | None = None
        self._cycle_pending: set[str] = set()

    @property
    def link_id(self) -> str:
        return self.link.link_id

    # -- scheduling -----------------------------------------------------------------------
    def _stagger(self) -> None:
        """Spread first polls over each device's interval so the bus is not bunched."""
        now = self.clock.time()
        count = len(self.devices) or 1
        self._heap.clear()
        for index, status in enumerate(self.devices.values()):
            status.due = now + status.spec.scan_interval * index / count
            heapq.heappush(self._heap, (status.due, next(self._seq), status))

    def _reschedule(self, status: DeviceStatus, now: float) -> None:
        interval = status.spec.scan_interval
        if status.failures and not isinstance(status.last_failure, ModbusConnectionError):
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
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.link.run(), name=f"modbus-link-{self.link_id}")
                group.create_task(self._poll_loop(), name=f"modbus-poll-{self.link_id}")
        except Exception:
            for status in self.devices.values():
                if status.available is True:
                    status.available = None
            raise

    async def _poll_loop(self) -> None:
        # Give the first connection a chance, so start-up is not counted as failed polls.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.link.spec.timeout * 2):
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

    # -- polling --------------------------------------------------------------------------
    async def _poll(self, status: DeviceStatus) -> None:
        """Read every block; stop at the first silence (a mute device mutes every block).

        A failing device is probed: its first request gets no retry.
        """
        status.polls += 1
        spec = status.spec
        probing = status.failures > 0
        readings: list[Reading] = []
        answered = False
        failure: ModbusError | None = None
        for index, block in enumerate(status.blocks):
            retries = 0 if probing and index == 0 else spec.retries
            try:
                words = await self._read_block(spec, block, retries)
            except ModbusError as err:
                failure = failure or err
                if isinstance(err, ModbusConnectionError) or _is_silence(err):
                    break
                self._partial(status, block, err)
                continue
            answered = True
            try:
                readings.extend(block.decode(words))
            except Exception as err:  # noqa: BLE001 (a decoder bug must not stop the bus)
                self._internal(status, "decoding", err)
                return
        try:
            self._done(status, readings, answered, failure)
        except Exception as err:  # noqa: BLE001 (the listener refused a snapshot: a bug)
            self._internal(status, "delivering readings of", err)

    def _internal(self, status: DeviceStatus, what: str, err: Exception) -> None:
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

    async def _read_block(self, spec: DeviceSpec, block: ReadBlock, retries: int) -> list[int]:
        attempt = 0
        while True:
            try:
                return await self.link.read(spec.unit_id, block.table, block.start, block.count)
            except ModbusError as err:
                if attempt >= retries or not _is_silence(err):
                    raise
                attempt += 1
                self.link.counters.retries += 1

    def _partial(self, status: DeviceStatus, block: ReadBlock, err: ModbusError) -> None:
        """A block failed while the device answers: log once per kind until a clean poll."""
        if err.kind not in status.partial_errors:
            status.partial_errors.add(err.kind)
            _LOGGER.warning(
                "Device %s (unit %d on %s): %s %d–%d: %s",
                status.device_id,
                status.spec.unit_id,
                self.link_id,
                block.table,
                block.start,
                block.end,
                err,
            )

    def _done(
        self,
        status: DeviceStatus,
        readings: list[Reading],
        answered: bool,
        failure: ModbusError | None,
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
                    _LOGGER.info("Device %s answers again on %s", status.device_id, self.link_id)
                status.available = True
                self.listener.availability(status.device_id, True, "")
            status.failures = 0
        else:
            self._failed(status, failure)
        self._cycle(status, now)

    def _failed(self, status: DeviceStatus, failure: ModbusError | None) -> None:
        status.failures += 1
        status.failed_polls += 1
        reason = str(failure) if failure is not None else "no reply"
        status.last_error = reason
        if status.failures >= status.spec.fail_threshold and status.available is not False:
            status.available = False
            _LOGGER.warning(
                "Device %s (unit %d on %s) is unavailable after %d failed polls: %s",
                status.device_id,
                status.spec.unit_id,
                self.link_id,
                status.failures,
                reason,
            )
            self.listener.availability(status.device_id, False, reason)
        else:
            _LOGGER.debug(
                "Device %s poll failed (%d): %s", status.device_id, status.failures, reason
            )

    def _cycle(self, status: DeviceStatus, now: float) -> None:
        """Close a bus cycle once every healthy device has been polled since it began."""
        if self._cycle_start is None:
            self._cycle_start = now
            self._cycle_pending = {d for d, s in self.devices.items() if s.failures == 0}
        self._cycle_pending.discard(status.device_id)
        if not self._cycle_pending:
            counters = self.link.counters
            counters.last_cycle = now - self._cycle_start
            counters.cycles += 1
            self._cycle_start = now
            self._cycle_pending = {d for d, s in self.devices.items() if s.failures == 0}

    # -- writes ---------------------------------------------------------------------------
    async def write(self, device_id: str, key: str, value: Value) -> Value:
        """Write ``value`` to a point and return the value read back.

        Raises WriteRefused (profile rules), WriteNotConfirmed (read-back differs) or another
        ModbusError (the bus or device failed).
        """
        status = self.devices.get(device_id)
        if status is None:
            raise WriteRefused(device_id, key, value, f"no such device on link {self.link_id}")
        point = status.spec.by_key.get(key)
        if point is None:
            raise WriteRefused(device_id, key, value, "the device profile has no such point")
        try:
            data = encode_value(point, value)
        except ValueError as err:
            raise WriteRefused(device_id, key, value, str(err)) from err
        unit = status.spec.unit_id
        await self.link.write(unit, point.table, point.address, data)
        words = await self.link.read(unit, point.table, point.address, point.count, Priority.WRITE)
        decoder = self._decoders.get((device_id, key))
        if decoder is None:
            decoder = self._decoders[(device_id, key)] = compile_decoder(point)
        reading = decoder(words, 0)
        self.listener.snapshot(device_id, [reading], self.clock.time())
        if not reading.ok or not same_reading(point, value, reading.value):
            raise WriteNotConfirmed(device_id, key, value, reading.value)
        return reading.value

    # -- status ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        devices = self.devices.values()
        return {
            "link": self.link_id,
            "where": self.link.spec.where,
            "state": self.link.state.value,
            "devices": len(self.devices),
            "available": sum(1 for d in devices if d.available is not False),
            "unavailable": sorted(d.device_id for d in devices if d.available is False),
            "queued": self.link.queued,
            "last_error": self.link.last_error,
            "internal_errors": self.internal_errors,
            **self.link.counters.as_dict(),
        }
