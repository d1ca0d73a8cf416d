"""A work order and its allowed life: new → assigned → in progress → done → closed."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["TRANSITIONS", "Category", "Change", "Status", "WorkOrder", "WorkOrderError"]


class WorkOrderError(Exception):
    """Root of the work-order errors (bad field, transition not allowed, unknown order)."""


class Category(StrEnum):
    ELECTRICITY = "electricity"
    WATER = "water"
    AC = "ac"
    VALVE = "valve"
    OTHER = "other"


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CLOSED = "closed"


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.ASSIGNED, Status.CLOSED}),
    Status.ASSIGNED: frozenset({Status.IN_PROGRESS, Status.ASSIGNED, Status.CLOSED}),
    Status.IN_PROGRESS: frozenset({Status.DONE, Status.ASSIGNED}),
    Status.DONE: frozenset({Status.CLOSED, Status.IN_PROGRESS}),
    Status.CLOSED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Change:
    """One line of an order's history: who did what, when."""

    ts: float
    actor: str
    action: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"ts": self.ts, "actor": self.actor, "action": self.action, "details": self.details}


@dataclass(slots=True)
class WorkOrder:
    id: int
    room: str
    category: Category
    description: str
    status: Status
    opened_at: float
    opened_by: str
    device: str | None = None
    alarm_key: str | None = None
    assignee: str | None = None
    photos: list[str] = field(default_factory=list)
    closed_at: float | None = None
    closing_note: str | None = None
    sla_escalated: bool = False
    history: list[Change] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "room": self.room,
            "device": self.device,
            "category": str(self.category),
            "description": self.description,
            "status": str(self.status),
            "opened_at": self.opened_at,
            "opened_by": self.opened_by,
            "alarm_key": self.alarm_key,
            "assignee": self.assignee,
            "photos": list(self.photos),
            "closed_at": self.closed_at,
            "closing_note": self.closing_note,
            "sla_escalated": self.sla_escalated,
            "history": [c.to_json() for c in self.history],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> WorkOrder:
        return cls(
            id=int(d["id"]),
            room=d["room"],
            category=Category(d["category"]),
            description=d["description"],
            status=Status(d["status"]),
            opened_at=float(d["opened_at"]),
            opened_by=d["opened_by"],
            device=d.get("device"),
            alarm_key=d.get("alarm_key"),
            assignee=d.get("assignee"),
            photos=list(d.get("photos") or []),
            closed_at=d.get("closed_at"),
            closing_note=d.get("closing_note"),
            sla_escalated=bool(d.get("sla_escalated")),
            history=[Change(c["ts"], c["actor"], c["action"], c["details"]) for c in d["history"]],
        )
