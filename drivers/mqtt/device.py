"""Per-device runtime state: counters, problem logging, availability and pending confirmations.

The routes (``routes.py``) update it from the hot path, so it is a slotted class with plain
attributes; problem counts live in a dict because they are only touched on the bad path.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .decode import Problem
from .spec import DeviceSpec, Value

__all__ = ["DeviceState", "Waiter"]

_LOGGER = logging.getLogger(__name__)

LOG_QUIET_SECONDS = 300.0
"""After a burst of bad payloads has been logged, a new burst this soon is logged at DEBUG."""

AvailabilityCallback = Callable[[str, bool, str], None]


@dataclass(slots=True, eq=False)
class Waiter:
    """A command waiting for the device's telemetry to report ``expected``."""

    expected: Value
    tolerance: float
    future: asyncio.Future[Value]
    last: Value | None = None
    reports: int = field(default=0)

    def offer(self, value: Value) -> None:
        self.last = value
        self.reports += 1
        if self.future.done():
            return
        expected = self.expected
        if type(value) is str or type(expected) is str or type(value) is bool:
            matched = value == expected
        else:
            matched = abs(value - expected) <= self.tolerance  # type: ignore[operator]
        if matched:
            self.future.set_result(value)


class DeviceState:
    """What the driver knows about one device right now."""

    __slots__ = (
        "_burst",
        "_extra",
        "_last_warning",
        "available",
        "device_id",
        "last_seen",
        "lwt_online",
        "messages",
        "notify",
        "problems",
        "readings",
        "spec",
        "waiters",
    )

    def __init__(self, spec: DeviceSpec, now: float, notify: AvailabilityCallback) -> None:
        self.spec = spec
        self.device_id = spec.device_id
        self.notify = notify
        self.messages = 0
        self.readings = 0
        self.problems: dict[Problem, int] = {}
        self.last_seen = now
        self.available: bool | None = None
        self.lwt_online: bool | None = None
        self.waiters: dict[str, list[Waiter]] = {}
        self._burst = 0
        self._last_warning = -math.inf
        self._extra = {"device": spec.device_id}  # the log lines' device field

    def problem(self, problem: Problem, topic: str, detail: str) -> None:
        """Count a bad payload; log the first of a burst loudly, the rest quietly."""
        self.problems[problem] = self.problems.get(problem, 0) + 1
        self._burst += 1
        if self._burst > 1:
            _LOGGER.debug(
                "%s: %s on %s: %s", self.device_id, problem, topic, detail, extra=self._extra
            )
            return
        now = time.monotonic()
        level = logging.WARNING if now - self._last_warning > LOG_QUIET_SECONDS else logging.DEBUG
        self._last_warning = now
        _LOGGER.log(
            level,
            "%s: payload problem on %s (%s: %s); further problems are logged at DEBUG until it "
            "recovers",
            self.device_id,
            topic,
            problem,
            detail,
            extra=self._extra,
        )

    def seen(self, now: float) -> None:
        """A good message arrived: the device is alive and any problem burst is over."""
        self.last_seen = now
        if self._burst:
            _LOGGER.info(
                "%s: payloads are good again after %d problem(s)",
                self.device_id,
                self._burst,
                extra=self._extra,
            )
            self._burst = 0
        if self.available is not True:
            self.set_available(True, "telemetry received")

    def set_available(self, available: bool, reason: str) -> None:
        if self.available is available:
            return
        self.available = available
        level = logging.INFO if available else logging.WARNING
        _LOGGER.log(
            level,
            "%s is %s: %s",
            self.device_id,
            "online" if available else "offline",
            reason,
            extra=self._extra,
        )
        self.notify(self.device_id, available, reason)

    def status(self, payload: str, online: str, offline: str) -> None:
        """An LWT / status message."""
        if payload == online:
            self.lwt_online = True
            self.set_available(True, "status topic says online")
        elif payload == offline:
            self.lwt_online = False
            self.set_available(False, "status topic says offline")
        else:
            raise ValueError(payload)

    def confirm(self, key: str, value: Value) -> None:
        for waiter in self.waiters.get(key, ()):
            waiter.offer(value)

    @property
    def problem_total(self) -> int:
        return sum(self.problems.values())

    def stats(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "readings": self.readings,
            "available": self.available,
            "last_seen": self.last_seen,
            "problems": {str(k): v for k, v in sorted(self.problems.items())},
        }
