"""What the policies did and which alarms were raised, summarised from the audit log.

Policy commands are audited with the actor ``policy:<id>``; the site says which type each policy
is, so curfews, setpoint corrections, quota cuts and trips are told apart without parsing
reasons. Curfew time is measured per switched point from its "off" command to the next "on"
(or the end of the period): room-hours without power, what the campaign asks of a curfew.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from controller.audit import AuditEntry
from controller.config import LoadedSite

from .places import Places
from .span import Scope

__all__ = ["ActionSummary", "summarise_actions"]

_OFF = {"off", "false", "0", "closed", "close"}
_ON = {"on", "true", "1", "open"}


@dataclass(slots=True)
class ActionSummary:
    commands: Counter[str] = field(default_factory=Counter)
    """Commands sent per policy type."""
    failed: Counter[str] = field(default_factory=Counter)
    curfew_hours: float = 0.0
    alarms: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(alarm kind, severity) → times raised."""


def _device_of(target: str) -> str:
    return target.rsplit(".", 1)[0]


def _normal(value: object) -> str:
    """A switch command's value as a word: booleans, 0/1 and words alike."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int | float):
        return "on" if value else "off"
    return str(value).strip().lower()


def summarise_actions(
    entries: Iterable[AuditEntry], site: LoadedSite, places: Places, scope: Scope, end: float
) -> ActionSummary:
    """Entries (``command`` and ``alarm.raise``, oldest first) in scope, summarised."""
    types = {policy.id: str(getattr(policy, "type", "")) for policy in site.policies}
    summary = ActionSummary()
    cut_since: dict[str, float] = {}
    for entry in entries:
        if not places.in_scope(_device_of(entry.target), scope) and not (
            scope.kind == "campus" and entry.action == "alarm.raise"
        ):
            continue
        if entry.action == "alarm.raise":
            kind = str(entry.details.get("alarm_id", "")).split(":", 1)[0] or "alarm"
            summary.alarms[(kind, entry.result)] += 1
            continue
        if not entry.actor.startswith("policy:"):
            continue
        policy_type = types.get(entry.actor.removeprefix("policy:"), "other")
        summary.commands[policy_type] += 1
        if entry.result != "ok":
            summary.failed[policy_type] += 1
            continue
        if policy_type == "curfew":
            value = _normal(entry.details.get("value"))
            if value in _OFF:
                cut_since.setdefault(entry.target, entry.ts)
            elif value in _ON and entry.target in cut_since:
                summary.curfew_hours += (entry.ts - cut_since.pop(entry.target)) / 3600.0
    for since in cut_since.values():
        summary.curfew_hours += max(0.0, end - since) / 3600.0
    return summary
