"""Top-ups and refunds: money into and out of accounts, each applied exactly once.

Every top-up carries an idempotency key chosen by the caller (the payment platform's order
number, the campus card's transaction id): the ledger's unique ``key`` column makes a retried
request return the entry it made the first time instead of paying twice. A key reused for a
different account or amount is refused (``KeyReused``): that is a caller's bug, not a retry.
"""

from __future__ import annotations

import re
from decimal import Decimal

from .errors import BadAmount
from .model import EntryKind, LedgerEntry
from .money import parse_top_up
from .store import LedgerStore

__all__ = ["KEY_PATTERN", "TopUps"]

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"
_KEY_RE = re.compile(KEY_PATTERN)


def _key(kind: str, key: str) -> str:
    if not _KEY_RE.match(key):
        raise BadAmount("key", "1–128 letters, digits, '_', '.', ':' or '-'")
    return f"{kind}:{key}"


class TopUps:
    """Top-ups and refunds against one store (call from the store's thread)."""

    def __init__(self, store: LedgerStore) -> None:
        self.store = store

    def top_up(
        self,
        account_id: str,
        amount: object,
        *,
        key: str,
        actor: str,
        reason: str = "",
        source: str = "api",
    ) -> tuple[LedgerEntry, bool]:
        """Add ``amount`` yuan; (the entry, whether it was applied now or before)."""
        value = parse_top_up(amount)
        return self.store.post_once(
            _key("top_up", key),
            account_id,
            EntryKind.TOP_UP,
            value,
            actor=actor,
            reason=reason or "top-up",
            details={"source": source},
        )

    def refund(
        self,
        account_id: str,
        amount: object | None,
        *,
        key: str,
        actor: str,
        reason: str,
    ) -> tuple[LedgerEntry, bool]:
        """Pay ``amount`` (all of the positive balance when None) back to the student."""
        if amount is None:
            left = self.store.balance(account_id)
            if left <= 0:
                raise BadAmount("amount", f"the balance is {left} yuan: nothing to refund")
            value = left
        else:
            value = parse_top_up(amount)
            if value > self.store.balance(account_id):
                raise BadAmount(
                    "amount", f"more than the balance ({self.store.balance(account_id)} yuan)"
                )
        return self.store.post_once(
            _key("refund", key), account_id, EntryKind.REFUND, -value, actor=actor, reason=reason
        )

    def adjust(
        self, account_id: str, change: Decimal, *, key: str, actor: str, reason: str
    ) -> tuple[LedgerEntry, bool]:
        """A staff correction of either sign (a meter fault, a goodwill credit)."""
        if change == 0 or change != change.quantize(Decimal("0.01")):
            raise BadAmount("amount", "a non-zero amount with at most 2 decimals")
        return self.store.post_once(
            _key("adjust", key),
            account_id,
            EntryKind.ADJUSTMENT,
            change,
            actor=actor,
            reason=reason,
        )
