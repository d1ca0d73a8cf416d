"""Staff accounts: roles limited to buildings, argon2 passwords, API tokens, web sessions."""

from .errors import (
    AccountError,
    AccountExists,
    BadCredentials,
    LockedOut,
    UnknownAccount,
    UnknownToken,
    WeakPassword,
)
from .model import Account, Role, TokenScope
from .store import AccountStore, Session, TokenInfo

__all__ = [
    "Account",
    "AccountError",
    "AccountExists",
    "AccountStore",
    "BadCredentials",
    "LockedOut",
    "Role",
    "Session",
    "TokenInfo",
    "TokenScope",
    "UnknownAccount",
    "UnknownToken",
    "WeakPassword",
]
