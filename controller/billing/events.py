"""Bus events of prepaid billing, for the alarm manager, the web app and notifications.

Each is published together with an ``AlarmRaised`` (warnings and cut-offs), which the audit log
records and an alarm manager can show; ``BalanceRestored`` tells them the condition has ended.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from controller.core.events import Event

__all__ = ["BalanceCutOff", "BalanceLow", "BalanceRestored", "Notice"]


@dataclass(frozen=True, slots=True)
class BalanceLow(Event):
    """An account's balance fell to or below a warning level (``threshold``, yuan)."""

    account: str
    balance: str
    threshold: str
    timestamp: float


@dataclass(frozen=True, slots=True)
class BalanceCutOff(Event):
    """An account ran out (balance at or below minus the overdraft): its supply is cut."""

    account: str
    balance: str
    timestamp: float
    points: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BalanceRestored(Event):
    """A cut-off account has money again (or an exemption): its supply is restored."""

    account: str
    balance: str
    timestamp: float
    reason: str = "top_up"


@dataclass(frozen=True, slots=True)
class Notice:
    """A low-balance warning or a cut-off, for the people to be told (an SMS gateway, a group).

    ``dedup`` is the same for the same warning re-derived after a restart (see ``limits``).
    """

    what: str
    """``low_balance`` or ``cut_off``."""
    account: str
    balance: str
    message_zh: str
    message_en: str
    dedup: str
    building: str = ""
    room: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    def message(self) -> dict[str, Any]:
        """The JSON body a channel sends: shaped like an alarm notification (``change``,
        ``severity``, ``target``, the two messages), with the account's figures."""
        return {
            "change": "raised",
            "kind": "billing",  # as the alarm list has it (the id's prefix)
            "key": f"billing:{self.what}:{self.account}",
            "severity": "warning",
            "target": self.account,
            "building": self.building,
            "room": self.room,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
            "event": self.what,
            "account": self.account,
            "balance": self.balance,
            **self.evidence,
        }
