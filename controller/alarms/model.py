"""The alarm record: what, how bad, where, why (evidence), and its life (first/last seen, count)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["AlarmError", "AlarmRecord", "AlarmScope", "Severity"]


class AlarmError(Exception):
    """Root of the alarm layer's errors (bad severity, unknown alarm)."""


class Severity(StrEnum):
    """Ordered: ``rank`` lets routing say "warning and worse"."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text)
        except ValueError:
            raise AlarmError(f"unknown severity {text!r} (info, warning, critical)") from None


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class AlarmScope(StrEnum):
    """What an alarm is about: routing and grouping (one bus alarm, not one per device) use it."""

    DEVICE = "device"
    ROOM = "room"
    FLOOR = "floor"
    BUILDING = "building"
    BUS = "bus"
    SITE = "site"


@dataclass(slots=True)
class AlarmRecord:
    """One alarm, kept from first raise to clear. ``count`` is how often it was raised again.

    A bouncing device is one record whose ``count`` grows, not a new alarm each bounce: a raise of
    a key cleared less than the flap window ago reopens the same record.
    """

    key: str
    kind: str
    severity: Severity
    scope: AlarmScope
    target: str
    message_zh: str
    message_en: str
    first_seen: float
    last_seen: float
    count: int = 1
    evidence: dict[str, Any] = field(default_factory=dict)
    building: str | None = None
    cleared_at: float | None = None
    acked_by: str | None = None
    acked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.cleared_at is None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "severity": str(self.severity),
            "scope": str(self.scope),
            "target": self.target,
            "building": self.building,
            # the policy engine's alarm fields, so one list serves every reader of /api/alarms
            "entity_id": self.target if self.scope is AlarmScope.DEVICE else None,
            "policy_id": self.evidence.get("policy_id"),
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "evidence": dict(self.evidence),
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "count": self.count,
            "raised_at": self.first_seen,
            "cleared_at": self.cleared_at,
            "acked_by": self.acked_by,
            "acked_at": self.acked_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlarmRecord:
        return cls(
            key=str(data["key"]),
            kind=str(data["kind"]),
            severity=Severity.parse(str(data["severity"])),
            scope=AlarmScope(str(data.get("scope", "site"))),
            target=str(data.get("target", "")),
            message_zh=str(data.get("message_zh", "")),
            message_en=str(data.get("message_en", "")),
            first_seen=float(data["first_seen"]),
            last_seen=float(data["last_seen"]),
            count=int(data.get("count", 1)),
            evidence=dict(data.get("evidence") or {}),
            building=data.get("building"),
            cleared_at=data.get("cleared_at"),
            acked_by=data.get("acked_by"),
            acked_at=data.get("acked_at"),
        )
