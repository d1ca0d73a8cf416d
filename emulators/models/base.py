"""The contract every device behaviour model follows, shared by the Modbus and MQTT emulators.

A model is advanced lazily: reading ``values()`` first integrates the model up to the clock's
current time in steps of at most ``max_step`` seconds, so 10,000 idle meters cost nothing until
they are polled. All randomness comes from the ``random.Random`` handed in, so a seeded run
repeats (for the same sequence of read times).
"""

from __future__ import annotations

import datetime as dt
import random
import zlib
import zoneinfo
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Protocol

from .daily import dorm_presence

__all__ = [
    "CommandRejected",
    "DeviceModel",
    "ModelClock",
    "ModelValue",
    "device_rng",
]

ModelValue = float | int | bool | str
"""An engineering value: a number in the point's unit, a bool, or an enum label."""


class ModelClock(Protocol):
    """The part of ``controller.core.Clock`` a model needs (any object with ``time()``)."""

    def time(self) -> float:
        """Seconds since the epoch."""
        ...


class CommandRejected(ValueError):
    """The device refuses a command (unknown key, value out of range, device disabled)."""

    def __init__(self, key: str, value: object, reason: str) -> None:
        super().__init__(f"{key} := {value!r} rejected: {reason}")
        self.key = key
        self.value = value
        self.reason = reason


def device_rng(seed: int, device_id: str) -> random.Random:
    """A random source for one device, stable across processes (``hash()`` is salted)."""
    return random.Random((seed << 32) ^ zlib.crc32(device_id.encode()))  # noqa: S311 (simulation)


def utc_offset(tz: str) -> float:
    """The zone's current UTC offset in seconds; campus zones (Asia/Shanghai) have no DST."""
    offset = dt.datetime.now(zoneinfo.ZoneInfo(tz)).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


class DeviceModel(ABC):
    """Base of all behaviour models: lazy integration, local time of day, commands.

    Subclasses implement ``_step`` (move the physics forward ``dt`` seconds starting at epoch
    time ``t``), ``_snapshot`` (engineering values keyed by the canonical names documented in
    ``emulators.models``) and ``_apply`` (a command already known to be well-formed).
    """

    max_step = 60.0

    def __init__(self, clock: ModelClock, rng: random.Random, tz: str = "Asia/Shanghai") -> None:
        self.clock = clock
        self.rng = rng
        self._offset = utc_offset(tz)
        self._t = clock.time()

    def local_hour(self, t: float) -> float:
        """Hour of the local day (0–24, fractional) at epoch time ``t``."""
        return ((t + self._offset) % 86400.0) / 3600.0

    def local_weekday(self, t: float) -> int:
        """Monday 0 … Sunday 6 at epoch time ``t`` (1970-01-01 was a Thursday)."""
        return (int((t + self._offset) // 86400.0) + 3) % 7

    def day_of_year(self, t: float) -> float:
        """Approximate day of year (0–365) at ``t``, for seasonal weather."""
        return ((t + self._offset) / 86400.0) % 365.2425

    def presence(self, t: float) -> float:
        """Share of a dorm room's occupants present at ``t`` (the campus timetable)."""
        return dorm_presence(self.local_hour(t), self.local_weekday(t))

    def advance(self) -> None:
        """Integrate up to the clock's time. Time that goes backwards is ignored."""
        now = self.clock.time()
        while self._t < now:
            step = min(self.max_step, now - self._t)
            self._step(self._t, step)
            self._t += step

    def values(self) -> Mapping[str, ModelValue]:
        """Current engineering values, keyed by canonical name."""
        self.advance()
        return self._snapshot()

    def command(self, key: str, value: ModelValue) -> ModelValue:
        """Apply a command now; returns the value the device then reports for ``key``."""
        self.advance()
        self._apply(key, value)
        return self._snapshot()[key]

    @abstractmethod
    def _step(self, t: float, dt: float) -> None: ...

    @abstractmethod
    def _snapshot(self) -> Mapping[str, ModelValue]: ...

    @abstractmethod
    def _apply(self, key: str, value: ModelValue) -> None: ...


def number(key: str, value: ModelValue, low: float, high: float) -> float:
    """``value`` as a float within [low, high], or CommandRejected."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandRejected(key, value, "expected a number")
    if not low <= value <= high:
        raise CommandRejected(key, value, f"outside {low:g}–{high:g}")
    return float(value)


def switch(key: str, value: ModelValue, on: str = "on", off: str = "off") -> bool:
    """``value`` (bool or the two labels) as a bool, or CommandRejected."""
    if isinstance(value, bool):
        return value
    if value == on:
        return True
    if value == off:
        return False
    raise CommandRejected(key, value, f"expected {on!r} or {off!r}")
