"""Billing errors, under one root. The API maps them to 4xx answers in one place."""

from __future__ import annotations

__all__ = [
    "AccountClosed",
    "AccountExists",
    "BadAmount",
    "BillingError",
    "CsvFormatError",
    "KeyReused",
    "UnknownAccount",
]


class BillingError(Exception):
    """Root of every billing error."""


class UnknownAccount(BillingError):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"no billing account {account_id!r}")
        self.account_id = account_id


class AccountExists(BillingError):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"billing account {account_id!r} exists already")
        self.account_id = account_id


class AccountClosed(BillingError):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"billing account {account_id!r} is closed")
        self.account_id = account_id


class BadAmount(BillingError):
    """An amount that is not a positive number of yuan with at most 2 decimals (分)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class KeyReused(BillingError):
    """An idempotency key already used for a *different* request (another account or amount)."""

    def __init__(self, key: str, seq: int) -> None:
        super().__init__(
            f"idempotency key {key!r} was used by ledger entry {seq} for a different top-up"
        )
        self.key = key
        self.seq = seq


class CsvFormatError(BillingError):
    """A campus-card batch file that cannot be imported; nothing from it was applied."""

    def __init__(self, problems: list[tuple[int, str, str]]) -> None:
        lines = "; ".join(f"line {n}: {field}: {reason}" for n, field, reason in problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) in the batch file: {lines}{more}")
        self.problems = problems
