"""Per-bus operation counters: what a metrics endpoint or the live view shows of a bus."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from drivers.timing import CYCLE_BUCKETS, Durations

__all__ = ["BusCounters"]

_WINDOW = 10.0


@dataclass
class BusCounters:
    """Requests, errors by kind, timeouts, retries, reconnects, bus time and cycle time.

    Utilisation is the share of wall time the bus spent in transactions over the last full
    ~10 s window (and since start). Cycle time is how long the last full round of every
    device on the bus took (``None`` until one completes).
    """

    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    timeouts: int = 0
    retries: int = 0
    reconnects: int = 0
    busy_seconds: float = 0.0
    last_cycle: float | None = None
    cycles: int = 0
    cycle_times: Durations = field(default_factory=lambda: Durations(CYCLE_BUCKETS))
    started: float = field(default_factory=time.monotonic)
    _window_start: float = field(default_factory=time.monotonic)
    _window_busy: float = 0.0
    _recent: float | None = None

    def _roll(self, now: float) -> None:
        elapsed = now - self._window_start
        if elapsed >= _WINDOW:
            self._recent = min(1.0, self._window_busy / elapsed)
            self._window_start, self._window_busy = now, 0.0

    def transaction(self, seconds: float) -> None:
        """Account one transaction's bus time (success or failure)."""
        self.requests += 1
        self.busy_seconds += seconds
        self._window_busy += seconds
        self._roll(time.monotonic())

    def cycle(self, seconds: float) -> None:
        """Account one full round of the bus (the histogram a metrics endpoint shows)."""
        self.last_cycle = seconds
        self.cycles += 1
        self.cycle_times.observe(seconds)

    def error(self, kind: str) -> None:
        self.errors[kind] += 1
        if kind == "timeout":
            self.timeouts += 1

    @property
    def utilisation(self) -> float:
        """Share of the last full window the bus was busy (since start, before one closes)."""
        now = time.monotonic()
        self._roll(now)
        if self._recent is not None:
            return self._recent
        elapsed = now - self.started
        return min(1.0, self.busy_seconds / elapsed) if elapsed > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": dict(self.errors),
            "timeouts": self.timeouts,
            "retries": self.retries,
            "reconnects": self.reconnects,
            "busy_seconds": round(self.busy_seconds, 3),
            "utilisation": round(self.utilisation, 3),
            "cycle_seconds": None if self.last_cycle is None else round(self.last_cycle, 3),
            "cycles": self.cycles,
        }
