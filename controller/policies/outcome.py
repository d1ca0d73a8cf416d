"""What one evaluation produced: commands to send, alarm changes, what to persist."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .alarms import ActiveAlarm
from .model import PlannedCommand
from .overrides import Override

__all__ = ["Outcome"]


@dataclass(slots=True)
class Outcome:
    """The result of one evaluation (``memory`` and ``holds`` map keys to data, None deletes)."""

    commands: list[PlannedCommand] = field(default_factory=list)
    raised: list[ActiveAlarm] = field(default_factory=list)
    cleared: list[ActiveAlarm] = field(default_factory=list)
    memory: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)
    holds: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    expired: list[Override] = field(default_factory=list)
    evaluated: int = 0

    @property
    def empty(self) -> bool:
        return not (
            self.commands
            or self.raised
            or self.cleared
            or self.memory
            or self.holds
            or self.expired
        )
