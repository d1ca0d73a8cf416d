"""Events carried by the bus. Plain slotted dataclasses: the hot path creates many of them.

``State`` and ``StateChanged`` are made for every reading (tens of thousands a second), so they
are not ``frozen``: a frozen dataclass costs ~5x more to build (its ``__init__`` goes through
``object.__setattr__``). Treat them as immutable all the same; nobody assigns to their fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .entity import Quality

__all__ = [
    "AlarmCleared",
    "AlarmRaised",
    "AvailabilityChanged",
    "CommandCompleted",
    "Event",
    "State",
    "StateChanged",
    "SubscriberLagging",
]

Value = float | int | str | bool | None


@dataclass(slots=True)
class State:
    """The last known value of an entity. ``timestamp`` is epoch seconds (UTC)."""

    value: Value
    timestamp: float
    quality: Quality = Quality.GOOD
    available: bool = True


class Event:
    """Base of all bus events (a plain class, so events may be frozen or not)."""

    __slots__ = ()


@dataclass(slots=True)
class StateChanged(Event):
    """A new reading (every reading, not only changes: the recorder records them all).

    ``changed`` tells whether value, quality or availability differ from ``old``.
    """

    entity_id: str
    old: State | None
    new: State
    changed: bool


@dataclass(frozen=True, slots=True)
class AvailabilityChanged(Event):
    """A device went offline or came back."""

    device_id: str
    available: bool
    timestamp: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CommandCompleted(Event):
    """A command to a device finished: confirmed, refused or failed. Audited."""

    entity_id: str
    value: Any
    ok: bool
    actor: str
    reason: str
    timestamp: float
    error: str | None = None
    source: str = "manual"


@dataclass(frozen=True, slots=True)
class AlarmRaised(Event):
    """Something staff must look at: a leak, an overload trip, a stuck valve, a full outbox."""

    alarm_id: str
    severity: str
    message_zh: str
    message_en: str
    timestamp: float
    entity_id: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    kind: str = ""
    """What kind of alarm (``leak``, ``overload``, ``device.unavailable``); the id's first part
    is the policy or rule that raised it, which reports must not count as a kind."""


@dataclass(frozen=True, slots=True)
class AlarmCleared(Event):
    """The condition behind the ``AlarmRaised`` with the same ``alarm_id`` is over."""

    alarm_id: str
    timestamp: float
    message_zh: str = ""
    message_en: str = ""
    entity_id: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriberLagging(Event):
    """A subscriber's queue overflowed and events were dropped for it."""

    subscriber: str
    dropped: int
