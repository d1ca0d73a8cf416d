"""Events the recorder publishes on the bus besides ``AlarmRaised``."""

from __future__ import annotations

from dataclasses import dataclass

from controller.core.events import Event

__all__ = ["MeterSwapped"]


@dataclass(frozen=True, slots=True)
class MeterSwapped(Event):
    """A meter was replaced: detected from a counter reset (``manual`` False) or recorded by staff.

    ``counted`` is the consumption attributed to the swap interval; ``held_out`` what could not
    be attributed (the new meter's first reading when it is implausible as a start from 0).
    """

    entity_id: str
    timestamp: float
    old_value: float
    new_value: float
    counted: float
    held_out: float
    manual: bool
    actor: str = "system"
