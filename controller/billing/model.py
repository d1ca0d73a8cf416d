"""Accounts and ledger entries as the store hands them out (frozen, plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from controller.config.billing import Utility

__all__ = ["Account", "EntryKind", "LedgerEntry", "Utility"]


class EntryKind(StrEnum):
    """Why a balance changed (``held`` records a held-out quantity and changes nothing)."""

    OPENING = "opening"
    TOP_UP = "top_up"
    CHARGE = "charge"
    CORRECTION = "correction"
    HELD = "held"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"


@dataclass(frozen=True, slots=True)
class Account:
    """A prepaid account: a room, or one bed where beds are metered (``devices`` set).

    ``devices`` lists the meters charged to this account; empty means every meter in the room
    that no bed account claims. ``beds`` counts the free allowance (occupants moving in and out
    change it). ``exempt_until`` > now: never cut off (an audited exemption).
    """

    id: str
    building: str
    room: str
    beds: int
    devices: tuple[str, ...] = ()
    open: bool = True
    exempt_until: float = 0.0
    exempt_reason: str = ""
    created_at: float = 0.0

    def exempt(self, now: float) -> bool:
        return self.exempt_until > now

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "building": self.building,
            "room": self.room,
            "beds": self.beds,
            "devices": list(self.devices),
            "open": self.open,
            "exempt_until": self.exempt_until or None,
            "exempt_reason": self.exempt_reason,
        }


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One append-only change of an account's balance (who, when, why, before and after).

    Charges carry the utility, the hour (epoch seconds of its local start), the quantity, the
    part of it that was free, the tariff and the amount (negative: money leaves the account).
    """

    seq: int
    ts: float
    account: str
    kind: EntryKind
    amount: Decimal
    balance_before: Decimal
    balance_after: Decimal
    actor: str
    reason: str = ""
    key: str | None = None
    utility: Utility | None = None
    hour: float | None = None
    quantity: Decimal | None = None
    free: Decimal | None = None
    tariff: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "account": self.account,
            "kind": self.kind.value,
            "amount": str(self.amount),
            "balance_before": str(self.balance_before),
            "balance_after": str(self.balance_after),
            "actor": self.actor,
            "reason": self.reason,
            "key": self.key,
            "utility": self.utility.value if self.utility else None,
            "hour": self.hour,
            "quantity": None if self.quantity is None else str(self.quantity),
            "free": None if self.free is None else str(self.free),
            "tariff": self.tariff,
            "details": self.details,
        }
