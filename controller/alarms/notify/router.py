"""Who hears of which alarm, and when: routes, quiet hours, escalation, the daily digest.

The ``Notifier`` listens to the ``AlarmManager`` and only ever *enqueues* into the ``Outbox``;
sending is the outbox's job, so routing decisions are durable the moment they are made. Quiet
hours hold a message back (queued with ``not_before`` = the end of quiet hours) unless its
severity breaks through. Escalation is a second message to other channels when an alarm is still
unacknowledged ``after_s`` after it was raised; the outbox de-duplication makes it fire once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from controller.core import Clock

from ..model import AlarmError, AlarmRecord, Severity
from .channels import Channel
from .outbox import Outbox

if TYPE_CHECKING:
    from ..manager import AlarmManager

__all__ = ["Escalation", "Notifier", "QuietHours", "Route"]


@dataclass(frozen=True, slots=True)
class Route:
    """To ``channels``: alarms of ``min_severity`` or worse, these buildings/kinds (empty: all)."""

    channels: tuple[str, ...]
    min_severity: Severity = Severity.WARNING
    buildings: frozenset[str] = field(default_factory=frozenset)
    kinds: frozenset[str] = field(default_factory=frozenset)

    def matches(self, record: AlarmRecord) -> bool:
        if record.severity.rank < self.min_severity.rank:
            return False
        if self.buildings and record.building not in self.buildings:
            return False
        return not self.kinds or record.kind in self.kinds


def _hhmm(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise AlarmError(f"quiet hours: {text!r} is not HH:MM") from None


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local-time window (may span midnight) in which only ``breakthrough`` and worse are sent."""

    start: dt.time
    end: dt.time
    breakthrough: Severity = Severity.CRITICAL

    @classmethod
    def parse(cls, start: str, end: str, breakthrough: str = "critical") -> QuietHours:
        return cls(_hhmm(start), _hhmm(end), Severity.parse(breakthrough))

    def _inside(self, t: dt.time) -> bool:
        if self.start <= self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def hold_until(self, now: dt.datetime, severity: Severity) -> float | None:
        """When a message of ``severity`` raised at ``now`` may go; None: at once."""
        if severity.rank >= self.breakthrough.rank or not self._inside(now.timetz()):
            return None
        end = now.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= now:
            end += dt.timedelta(days=1)
        return end.timestamp()


@dataclass(frozen=True, slots=True)
class Escalation:
    after_s: float
    channels: tuple[str, ...]
    min_severity: Severity = Severity.WARNING


def _message(change: str, record: AlarmRecord) -> dict[str, Any]:
    data = record.to_json()
    data["change"] = change
    return data


class Notifier:
    """Routes alarm changes into the outbox and drives delivery."""

    def __init__(
        self,
        outbox: Outbox,
        channels: Mapping[str, Channel],
        clock: Clock,
        routes: Iterable[Route],
        *,
        quiet: QuietHours | None = None,
        escalation: Escalation | None = None,
        digest_channels: tuple[str, ...] = (),
        digest_hour: int = 8,
    ) -> None:
        self.outbox, self.channels, self.clock = outbox, dict(channels), clock
        self.routes = tuple(routes)
        for route in self.routes:
            for name in route.channels:
                if name not in self.channels:
                    raise AlarmError(f"route names unknown channel {name!r}")
        self.quiet, self.escalation = quiet, escalation
        self.digest_channels, self.digest_hour = digest_channels, digest_hour

    def __call__(self, change: str, record: AlarmRecord) -> None:
        """The ``AlarmManager`` listener."""
        if change not in ("raised", "cleared"):
            return
        hold = None
        if self.quiet is not None:
            hold = self.quiet.hold_until(self.clock.now(), record.severity)
        stamp = record.first_seen if change == "raised" else record.cleared_at
        for route in self.routes:
            if route.matches(record):
                for name in route.channels:
                    dedup = f"{record.key}@{record.first_seen}:{change}@{stamp}:{name}"
                    self.outbox.enqueue(dedup, name, _message(change, record), hold)

    def check(self, manager: AlarmManager) -> None:
        """Escalate what nobody acknowledged; queue the digest once a day."""
        now = self.clock.time()
        esc = self.escalation
        if esc is not None:
            for record in manager.active():
                if (
                    record.acked_at is None
                    and record.severity.rank >= esc.min_severity.rank
                    and now - record.first_seen >= esc.after_s
                ):
                    for name in esc.channels:
                        dedup = f"{record.key}@{record.first_seen}:escalated:{name}"
                        self.outbox.enqueue(dedup, name, _message("escalated", record))
        if self.digest_channels:
            local = self.clock.now()
            if local.hour >= self.digest_hour:
                since = now - 86_400
                seen = [r.to_json() for r in manager.store.history(1000) if r.last_seen >= since]
                digest = {
                    "change": "digest",
                    "date": local.date().isoformat(),
                    "alarms": seen,
                    "severity": "info",
                    "message_en": f"{len(seen)} alarms in 24 h",
                    "message_zh": f"过去 24 小时告警 {len(seen)} 条",
                    "target": "site",
                }
                for name in self.digest_channels:
                    self.outbox.enqueue(f"digest:{local.date()}:{name}", name, digest)

    def deliver(self) -> int:
        return self.outbox.deliver_due(self.channels)
