"""Per-bus counters are protocol-neutral: they live in ``drivers.link`` (re-exported here)."""

from ..link.counters import BusCounters

__all__ = ["BusCounters"]
