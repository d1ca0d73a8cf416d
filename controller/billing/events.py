"""Bus events of prepaid billing, for the alarm manager, the web app and notifications.

Each is published together with an ``AlarmRaised`` (warnings and cut-offs), which the audit log
records and an alarm manager can show; ``BalanceRestored`` tells them the condition has ended.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.core.events import Event

__all__ = ["BalanceCutOff", "BalanceLow", "BalanceRestored"]


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
