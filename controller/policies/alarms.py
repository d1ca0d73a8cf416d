"""Alarm lifecycle: raised once, kept while decisions keep listing it, cleared when they stop.

Alarms restored after a restart are "unconfirmed": a decision that lists one again keeps it
(without raising it twice); those no decision confirms are cleared after the start-up grace.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.core.events import AlarmRaised

from .model import Alarm

__all__ = ["ActiveAlarm", "AlarmBook"]


@dataclass(slots=True)
class ActiveAlarm:
    """An alarm with its lifecycle: raised, possibly acknowledged, cleared."""

    alarm: Alarm
    raised_at: float
    cleared_at: float | None = None
    acked_by: str | None = None
    acked_at: float | None = None

    def to_event(self) -> AlarmRaised:
        """The bus event announcing this alarm."""
        a = self.alarm
        return AlarmRaised(
            a.key,
            a.severity,
            a.message_zh,
            a.message_en,
            self.raised_at,
            a.entity_id,
            dict(a.evidence),
            a.kind,
        )

    def to_json(self) -> dict[str, Any]:
        a = self.alarm
        return {
            "key": a.key,
            "kind": a.kind,
            "severity": a.severity,
            "message_zh": a.message_zh,
            "message_en": a.message_en,
            "policy_id": a.policy_id,
            "entity_id": a.entity_id,
            "evidence": dict(a.evidence),
            "raised_at": self.raised_at,
            "cleared_at": self.cleared_at,
            "acked_by": self.acked_by,
            "acked_at": self.acked_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ActiveAlarm:
        alarm = Alarm(
            key=str(data["key"]),
            kind=str(data["kind"]),
            severity=data.get("severity", "warning"),
            message_zh=str(data.get("message_zh", "")),
            message_en=str(data.get("message_en", "")),
            policy_id=str(data.get("policy_id", "")),
            entity_id=data.get("entity_id"),
            evidence=dict(data.get("evidence") or {}),
        )
        return cls(
            alarm,
            float(data["raised_at"]),
            data.get("cleared_at"),
            data.get("acked_by"),
            data.get("acked_at"),
        )


class AlarmBook:
    """The active alarms by key; changes go to the ``raised``/``cleared`` lists given."""

    def __init__(self) -> None:
        self.active: dict[str, ActiveAlarm] = {}
        self.unconfirmed: set[str] = set()

    def load(self, active: ActiveAlarm) -> None:
        """An alarm active before a restart: kept, not raised again, until confirmed or not."""
        self.active[active.alarm.key] = active
        self.unconfirmed.add(active.alarm.key)

    def raise_(self, alarm: Alarm, ts: float, raised: list[ActiveAlarm]) -> None:
        if alarm.key in self.active:
            return
        active = ActiveAlarm(alarm, ts)
        self.active[alarm.key] = active
        raised.append(active)

    def clear(self, key: str, ts: float, cleared: list[ActiveAlarm]) -> None:
        active = self.active.pop(key, None)
        if active is not None:
            active.cleared_at = ts
            cleared.append(active)

    def update(
        self,
        old: tuple[Alarm, ...],
        new: tuple[Alarm, ...],
        ts: float,
        raised: list[ActiveAlarm],
        cleared: list[ActiveAlarm],
    ) -> None:
        """A unit's alarms went from ``old`` to ``new``."""
        new_keys = {a.key for a in new}
        for alarm in old:
            if alarm.key not in new_keys:
                self.clear(alarm.key, ts, cleared)
        for alarm in new:
            active = self.active.get(alarm.key)
            if active is None:
                self.raise_(alarm, ts, raised)
            else:
                active.alarm = alarm  # fresher evidence, same alarm
                self.unconfirmed.discard(alarm.key)

    def clear_unconfirmed(self, ts: float, cleared: list[ActiveAlarm]) -> None:
        """After the start-up grace: restored alarms no decision listed again are over."""
        for key in sorted(self.unconfirmed):
            self.clear(key, ts, cleared)
        self.unconfirmed.clear()
