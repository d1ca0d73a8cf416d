"""Staff accounts and roles: who may see and do what.

Roles are ordered: a viewer reads; an operator also sends commands, grants overrides,
acknowledges alarms and tops up balances; an admin also edits policies, the calendar and
accounts. An account may be limited to some buildings (a dorm manager): it then sees and acts
on those buildings only, everywhere (lists, exports, live updates).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Account", "Role", "TokenScope"]


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


class TokenScope(StrEnum):
    """What an API token may do: everything its account may, or only top-ups (a payment
    platform or campus-card bridge needs nothing else)."""

    ACCOUNT = "account"
    TOP_UP = "top-up"


@dataclass(frozen=True, slots=True)
class Account:
    """A staff account as the rest of the controller sees it (never its password)."""

    name: str
    role: Role
    display_name: str = ""
    buildings: frozenset[str] | None = None
    """None: every building of the campus."""
    disabled: bool = False
    lang: str = "zh"

    def at_least(self, role: Role) -> bool:
        return self.role.rank >= role.rank

    def sees(self, building: str | None) -> bool:
        """Whether the account may see (and, with the role, act on) ``building``; campus-wide
        things (``None``) only for unrestricted accounts."""
        if self.buildings is None:
            return True
        return building is not None and building in self.buildings

    @property
    def label(self) -> str:
        """How the audit log and the pages name the account: ``王丽 (wangli)``."""
        return f"{self.display_name} ({self.name})" if self.display_name else self.name
