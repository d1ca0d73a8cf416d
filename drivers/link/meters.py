"""The poller of a byte-frame meter bus (DL/T 645, CJ/T 188): each meter is a ``Meter`` that
says which requests a poll sends and how its replies decode; the scheduling, retries, dead-meter
backoff and availability are ``BusScheduler``'s, as for Modbus.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from ..errors import DriverError
from .errors import BadFrame, LinkConnectionError, LinkTimeout, WriteRefused
from .frames import Check, FrameLink
from .readings import Reading, Value
from .schedule import BusScheduler, Clock, DeviceState, PollListener

__all__ = ["FramePoller", "Meter", "MeterSpec", "MeterState", "Request", "SpecFigures"]

F = TypeVar("F")


@dataclass(frozen=True, slots=True)
class Request(Generic[F]):
    """One transaction of a poll: the frame, which reply answers it, and its readings
    (``decode`` raises the protocol's error for an error reply)."""

    what: str
    frame: bytes
    check: Check[F]
    decode: Callable[[F], list[Reading]]


class Meter(Protocol[F]):
    """One meter as its protocol driver compiles it."""

    @property
    def device_id(self) -> str: ...
    @property
    def where(self) -> str: ...
    @property
    def scan_interval(self) -> float: ...
    @property
    def fail_threshold(self) -> int: ...
    @property
    def backoff_max(self) -> float: ...
    @property
    def retries(self) -> int: ...
    @property
    def requests(self) -> Sequence[Request[F]]: ...

    async def write(
        self, link: FrameLink[F], key: str, value: Value, now: float
    ) -> tuple[Value, list[Reading]]:
        """Command a point; the value read back and the readings of the read-back (which
        the poller hands to its listener). WriteNotConfirmed if the value differs."""
        ...


class MeterSpec(Protocol):
    """The scheduling figures a protocol's device spec carries."""

    @property
    def device_id(self) -> str: ...
    @property
    def scan_interval(self) -> float: ...
    @property
    def fail_threshold(self) -> int: ...
    @property
    def backoff_max(self) -> float: ...
    @property
    def retries(self) -> int: ...


class SpecFigures:
    """A ``Meter``'s scheduling figures, read from its driver spec (``self.spec``); protocol
    meters inherit them and narrow ``spec`` to their own spec type."""

    spec: MeterSpec

    @property
    def device_id(self) -> str:
        return self.spec.device_id

    @property
    def scan_interval(self) -> float:
        return self.spec.scan_interval

    @property
    def fail_threshold(self) -> int:
        return self.spec.fail_threshold

    @property
    def backoff_max(self) -> float:
        return self.spec.backoff_max

    @property
    def retries(self) -> int:
        return self.spec.retries


@dataclass
class MeterState(DeviceState[Any]):
    """What the bus knows about one meter."""


class FramePoller(BusScheduler[FrameLink[F], MeterState]):
    """Polls ``meters`` over ``link``; ``write()`` any time (writes go ahead of polls)."""

    def __init__(
        self,
        link: FrameLink[F],
        meters: Sequence[Meter[F]],
        clock: Clock,
        listener: PollListener,
        *,
        task_prefix: str = "meters",
    ) -> None:
        super().__init__(link, [MeterState(m) for m in meters], clock, listener)
        self.task_prefix = task_prefix

    def _link_down(self, err: DriverError) -> bool:
        return isinstance(err, LinkConnectionError)

    def _where(self, status: MeterState) -> str:
        return str(status.spec.where)

    async def _poll(self, status: MeterState) -> None:
        """Send every request; stop at the first silence (a mute meter mutes them all).

        A failing meter is probed: its first request gets no retry.
        """
        status.polls += 1
        meter: Meter[F] = status.spec
        probing = status.failures > 0
        readings: list[Reading] = []
        answered = False
        failure: DriverError | None = None
        for index, request in enumerate(meter.requests):
            retries = 0 if probing and index == 0 else meter.retries
            try:
                readings.extend(await self._ask(meter, request, retries))
            except DriverError as err:
                failure = failure or err
                if isinstance(err, LinkConnectionError | LinkTimeout):
                    break
                if not isinstance(err, BadFrame):
                    answered = True  # an error reply is an answer: the meter is alive
                self._partial(status, request.what, err)
                continue
            except Exception as err:  # noqa: BLE001 (a decoder bug must not stop the bus)
                self._internal(status, "decoding", err)
                return
            answered = True
        self._deliver(status, readings, answered, failure)

    async def _ask(self, meter: Meter[F], request: Request[F], retries: int) -> list[Reading]:
        attempt = 0
        while True:
            try:
                frame = await self.link.request(meter.device_id, request.frame, request.check)
                return request.decode(frame)
            except (LinkTimeout, BadFrame):
                if attempt >= retries:
                    raise
                attempt += 1
                self.link.counters.retries += 1

    async def write(self, device_id: str, key: str, value: Value) -> Value:
        """Command a point and return the value read back (WriteRefused, WriteNotConfirmed
        or another DriverError)."""
        status = self.devices.get(device_id)
        if status is None:
            raise WriteRefused(device_id, key, value, f"no such meter on link {self.link_id}")
        meter: Meter[F] = status.spec
        confirmed, readings = await meter.write(self.link, key, value, self.clock.time())
        self.listener.snapshot(device_id, readings, self.clock.time())
        return confirmed
