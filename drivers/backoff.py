"""Capped exponential backoff with jitter: the one retry rhythm of the project.

Every loop that retries something that failed (a bus reconnect, a broker reconnect, an InfluxDB
write, a supervised component) waits ``Backoff.delay(failures)`` between attempts: the
``initial`` wait doubles (``factor``) per consecutive failure up to ``maximum``, and the actual
wait is drawn uniformly from the upper half of that ceiling. The jitter keeps a campus's
gateways and controllers from reconnecting in lock-step after a shared outage (a switch
reboot), while the lower bound keeps a dead server from being hammered.

A leaf module with no imports from the project, so drivers and the controller share it (drivers
never import ``controller``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff (seconds). ``failures`` counts consecutive failures, from 1."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.initial <= self.maximum:
            raise ValueError(f"backoff needs 0 < initial <= maximum, got {self}")
        if self.factor < 1:
            raise ValueError(f"backoff factor must be at least 1, got {self.factor}")

    def ceiling(self, failures: int) -> float:
        """The longest wait after ``failures`` consecutive failures (no jitter)."""
        exponent = min(max(failures - 1, 0), 64)  # 2**64 × anything is past every cap
        return min(self.maximum, self.initial * self.factor**exponent)

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        """A jittered wait in [ceiling / 2, ceiling] after ``failures`` consecutive failures."""
        ceiling = self.ceiling(failures)
        return (rng or random).uniform(ceiling / 2, ceiling)
