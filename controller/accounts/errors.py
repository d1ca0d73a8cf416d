"""Errors of the account store, under one root the API maps to 4xx answers."""

from __future__ import annotations

__all__ = [
    "AccountError",
    "AccountExists",
    "BadCredentials",
    "LockedOut",
    "UnknownAccount",
    "UnknownToken",
    "WeakPassword",
]


class AccountError(Exception):
    """Root of the account errors; the message is safe to show (it never holds a secret)."""


class UnknownAccount(AccountError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no account {name!r}")
        self.name = name


class UnknownToken(AccountError):
    def __init__(self, token_id: str) -> None:
        super().__init__(f"no active token {token_id!r}")
        self.token_id = token_id


class AccountExists(AccountError):
    def __init__(self, name: str) -> None:
        super().__init__(f"account {name!r} exists already")
        self.name = name


class WeakPassword(AccountError):
    """A password the store refuses to set (too short, or the account name)."""


class BadCredentials(AccountError):
    """Wrong name, password or token. Deliberately says no more than that."""

    def __init__(self) -> None:
        super().__init__("wrong account name or password")


class LockedOut(AccountError):
    """Too many failed logins: the account refuses logins until ``until``."""

    def __init__(self, until: float) -> None:
        super().__init__("too many failed logins; try again later")
        self.until = until
