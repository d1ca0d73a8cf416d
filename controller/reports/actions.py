"""What the policies did and which alarms were raised, summarised from the audit log.

Policy commands are audited with the actor ``policy:<id>``; the site says which type each policy
is, so curfews, setpoint corrections, quota cuts and trips are told apart without parsing
reasons. Curfew time is measured per switched point from its "off" command to the next "on"
(or the end of the period): room-hours without power, what the campaign asks of a curfew.

Water saved by a leak closed is estimated as the leak's rate before the close × the time the
valve stayed closed (until the next "open" command on it, by anyone, or the end of the period):
the water that would have run had nobody closed it, an upper estimate since a leak may have
stopped by itself. The rate is the leak alarm's evidence: ``flow_lpm`` (continuous flow), or
the last night hour's litres ÷ 60 (night use).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from controller.audit import AuditEntry
from controller.config import LoadedSite

from .places import Places
from .span import Scope

__all__ = ["ActionSummary", "LeakClosure", "summarise_actions"]

_OFF = {"off", "false", "0", "closed", "close"}
_ON = {"on", "true", "1", "open"}
_LEAK_TYPES = {"leak", "night_leak"}
_ALARM_SLACK_S = 600.0
"""A leak alarm this long after its valve's close still explains it (the command may be
audited before the alarm: both come from one decision)."""


@dataclass(frozen=True, slots=True)
class LeakClosure:
    """One valve a leak policy closed: when, until when (None: still closed) and the rate."""

    valve: str
    policy_type: str
    """``leak`` or ``night_leak``: which rule closed it."""
    closed_at: float
    reopened_at: float | None
    lpm: float | None
    """The leak's rate in L/min from its alarm (None: no alarm evidence found)."""
    end: float
    """When the closure is counted to: the reopening, else the end of the period."""

    @property
    def hours(self) -> float:
        return max(0.0, self.end - self.closed_at) / 3600.0

    @property
    def litres_saved(self) -> float | None:
        return None if self.lpm is None else self.lpm * self.hours * 60.0


@dataclass(slots=True)
class ActionSummary:
    commands: Counter[str] = field(default_factory=Counter)
    """Commands sent per policy type."""
    failed: Counter[str] = field(default_factory=Counter)
    curfew_hours: float = 0.0
    alarms: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(alarm kind, severity) → times raised."""
    leaks: list[LeakClosure] = field(default_factory=list)


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
    leaks = _Leaks(types)
    for entry in entries:
        leaks.see(entry)
        if not places.in_scope(_device_of(entry.target), scope) and not (
            scope.kind == "campus" and entry.action == "alarm.raise"
        ):
            continue
        if entry.action == "alarm.raise":
            kind = str(
                entry.details.get("kind")
                or str(entry.details.get("alarm_id", "")).split(":", 1)[0]
                or "alarm"
            )
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
    summary.leaks = [c for c in leaks.closures(end) if places.in_scope(_device_of(c.valve), scope)]
    return summary


class _Leaks:
    """Leak alarms' rates and leak policies' valve closes, paired up."""

    def __init__(self, types: dict[str, str]) -> None:
        self.types = types
        self.rates: dict[str, list[tuple[float, float]]] = {}
        self.closed: dict[str, tuple[str, float]] = {}
        self.done: list[tuple[str, str, float, float | None]] = []

    def see(self, entry: AuditEntry) -> None:
        if entry.action == "alarm.raise":
            _leak_rate(entry, self.rates)
        elif entry.action == "command" and entry.result == "ok":
            _leak_valve(entry, self.types, self.closed, self.done)

    def closures(self, end: float) -> list[LeakClosure]:
        """Every closure, those still closed counted to ``end``."""
        still = [(valve, kind, since, None) for valve, (kind, since) in self.closed.items()]
        return [
            LeakClosure(
                valve, kind, since, until, _rate_at(self.rates.get(valve, []), since), until or end
            )
            for valve, kind, since, until in sorted([*self.done, *still], key=lambda c: c[2])
        ]


def _leak_rate(entry: AuditEntry, rates: dict[str, list[tuple[float, float]]]) -> None:
    """Note a leak alarm's rate (L/min) against the valve it closes."""
    details = entry.details
    valve = details.get("valve")
    if not isinstance(valve, str) or ":leak:" not in str(details.get("alarm_id", "")):
        return
    lpm = details.get("flow_lpm")
    hourly = details.get("litres_per_hour")
    if not isinstance(lpm, int | float) and isinstance(hourly, list) and hourly:
        last = hourly[-1]
        lpm = last / 60.0 if isinstance(last, int | float) else None
    if isinstance(lpm, int | float):
        rates.setdefault(valve, []).append((entry.ts, float(lpm)))


def _leak_valve(
    entry: AuditEntry,
    types: dict[str, str],
    closed: dict[str, tuple[str, float]],
    closures: list[tuple[str, str, float, float | None]],
) -> None:
    """A leak policy's close starts a closure; the next open of that valve (anyone's) ends it."""
    value = _normal(entry.details.get("value"))
    kind = types.get(entry.actor.removeprefix("policy:"), "")
    if value in _OFF and kind in _LEAK_TYPES and entry.actor.startswith("policy:"):
        closed.setdefault(entry.target, (kind, entry.ts))
    elif value in _ON and entry.target in closed:
        kind, since = closed.pop(entry.target)
        closures.append((entry.target, kind, since, entry.ts))


def _rate_at(rates: list[tuple[float, float]], closed_at: float) -> float | None:
    """The rate of the latest leak alarm up to the close (or just after it)."""
    before = [lpm for ts, lpm in rates if ts <= closed_at + _ALARM_SLACK_S]
    return before[-1] if before else None
