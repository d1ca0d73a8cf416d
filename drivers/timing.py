"""Cumulative duration histograms: how long bus cycles or policy evaluations take.

Plain counts per upper bound (no metrics library here: drivers stay free of it); the
controller's ``/api/metrics`` turns them into Prometheus histograms. Shared like
``drivers.backoff``: the Modbus bus counters and the policy engine both keep one.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["CYCLE_BUCKETS", "EVALUATION_BUCKETS", "Durations"]

CYCLE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
"""Seconds, for a bus round: a small bus cycles in well under a second, a full RS-485 floor
at 9600 baud in tens of seconds, a struggling one in minutes."""
EVALUATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Seconds, for one policy evaluation: a few ms on a campus, more is a stall of the loop."""


class Durations:
    """Observed durations counted per upper bound, with their count and sum."""

    __slots__ = ("_counts", "bounds", "count", "last", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self._counts = [0] * len(self.bounds)
        self.count = 0
        self.total = 0.0
        self.last: float | None = None

    def observe(self, seconds: float) -> None:
        self.last = seconds
        self.count += 1
        self.total += seconds
        for i, bound in enumerate(self.bounds):
            if seconds <= bound:
                self._counts[i] += 1
                break

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at most that long), ending with (inf, all of them)."""
        out, running = [], 0
        for bound, n in zip(self.bounds, self._counts, strict=True):
            running += n
            out.append((bound, running))
        out.append((float("inf"), self.count))
        return out
