"""The protocol-neutral bus link: one transaction at a time per bus, inter-frame gap, timeouts,
reconnects with backoff, write priority, per-bus counters, and the poll scheduler that
isolates dead devices. Modbus, DL/T 645 and CJ/T 188 drivers build on it.
"""

from .bus import BusLink, BusSpec, Channel, ConnectionCallback, LinkState
from .counters import BusCounters
from .errors import (
    BadFrame,
    LinkClosed,
    LinkConnectionError,
    LinkError,
    LinkTimeout,
    WriteNotConfirmed,
    WriteRefused,
)
from .gate import Priority, PriorityGate

__all__ = [
    "BadFrame",
    "BusCounters",
    "BusLink",
    "BusSpec",
    "Channel",
    "ConnectionCallback",
    "LinkClosed",
    "LinkConnectionError",
    "LinkError",
    "LinkState",
    "LinkTimeout",
    "Priority",
    "PriorityGate",
    "WriteNotConfirmed",
    "WriteRefused",
]
