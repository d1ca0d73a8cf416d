"""Delayed-closing (延时自闭) valves: a press opens the valve, it closes itself after its delay.

A use (a hand wash, a shower) is a run of presses: someone keeps pressing until done, so the
valve stays open for whole multiples of the delay. Volume integrates the open time at the
valve's flow. A jammed valve stays open; the controller then raises its stuck-open alarm once
it has been open longer than ``max_open`` (``DOMAIN.md`` §3).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

from .base import CommandRejected, DeviceModel, ModelClock, ModelValue, number, switch
from .daily import HANDWASH_USE, Shape
from .electricity import poisson

__all__ = ["DelayValve"]


class DelayValve(DeviceModel):
    """Canonical values: valve, command, delay (s), max_open (s), enabled, presses,
    volume (m³), flow (L/min), stuck_open, low_battery.
    """

    def __init__(
        self,
        clock: ModelClock,
        rng: random.Random,
        *,
        shape: Shape = HANDWASH_USE,
        uses_per_day: float = 120.0,
        use_seconds: float = 10.0,
        delay: float = 7.0,
        max_open: float = 60.0,
        flow_lpm: float = 3.0,
        tz: str = "Asia/Shanghai",
    ) -> None:
        super().__init__(clock, rng, tz)
        self.shape = shape
        self.uses_per_day = uses_per_day
        self.use_seconds = use_seconds
        self.delay = delay
        self.max_open = max_open
        self.flow_lpm = flow_lpm
        self.enabled = True
        self.jammed = False
        self.presses = rng.randrange(1000, 50000)
        self.volume = self.presses * flow_lpm * delay / 60_000.0
        self.opened_at = self._t
        self.open_until = self._t
        self.stuck_open = False
        self.last_command = "none"  # controllers echo the last command in its register

    def is_open(self, t: float) -> bool:
        return self.jammed or t < self.open_until

    def press(self, t: float, presses: int = 1) -> None:
        """Someone presses (or keeps pressing): open until ``presses`` delays from ``t``."""
        if not self.enabled:
            return
        if not self.is_open(t):
            self.opened_at = t
        self.presses += presses
        self.open_until = max(self.open_until, t + presses * self.delay)

    def _uses(self, t: float, dt: float) -> list[tuple[float, int]]:
        if not self.enabled:
            return []
        rate = self.shape.per_hour(self.uses_per_day, self.local_hour(t + dt / 2))
        uses = []
        for _ in range(poisson(self.rng, rate * dt / 3600.0)):
            length = self.use_seconds * self.rng.uniform(0.5, 1.5)
            uses.append((t + self.rng.uniform(0, dt), max(1, math.ceil(length / self.delay))))
        return sorted(uses)

    def _step(self, t: float, dt: float) -> None:
        end = t + dt
        open_s, cursor = 0.0, t
        for start, presses in [*self._uses(t, dt), (end, 0)]:
            if self.is_open(cursor):
                until = start if self.jammed else min(start, self.open_until)
                open_s += max(0.0, until - cursor)
            if presses:
                self.press(start, presses)
            cursor = start
        self.volume += self.flow_lpm * open_s / 60_000.0
        self.stuck_open = self.is_open(end) and end - self.opened_at > self.max_open

    def _snapshot(self) -> Mapping[str, ModelValue]:
        is_open = self.is_open(self._t)
        return {
            "valve": "open" if is_open else "closed",
            "command": self.last_command,
            "delay": round(self.delay),
            "max_open": round(self.max_open),
            "enabled": "on" if self.enabled else "off",
            "presses": self.presses,
            "volume": round(self.volume, 4),
            "flow": round(self.flow_lpm, 2) if is_open else 0.0,
            "stuck_open": self.stuck_open,
            "low_battery": False,
        }

    def _apply(self, key: str, value: ModelValue) -> None:
        now = self._t
        if key == "command" and value in ("open", "close", "none"):
            self.last_command = str(value)
        if key in ("command", "valve") and value == "open":
            self.press(now)
        elif key in ("command", "valve") and value in ("close", "closed"):
            self.open_until = min(self.open_until, now)
        elif key == "command" and value == "none":
            pass
        elif key == "delay":
            self.delay = number(key, value, 1.0, 600.0)
        elif key == "max_open":
            self.max_open = number(key, value, 10.0, 3600.0)
        elif key == "enabled":
            self.enabled = switch(key, value)
            if not self.enabled:
                self.open_until = min(self.open_until, now)
        else:
            raise CommandRejected(key, value, "not a valid valve command")
        if not self.is_open(now):
            self.stuck_open = False
