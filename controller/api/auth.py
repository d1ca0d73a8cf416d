"""Who is asking: sessions (web), bearer tokens (scripts), roles, CSRF, login rate limits.

Every route that reads takes :data:`Viewer` (any signed-in account); every route that changes
something takes :func:`require` with the role it needs, and gets the account to audit under.
Unauthenticated requests answer 401, too small a role or a building outside the account's
answer 403. A browser session must send its CSRF token (header ``X-CSRF-Token`` or form field
``csrf``) with every unsafe method, so another site cannot post with the staff's cookie; a
bearer token needs none (no browser attaches it on its own).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from controller.accounts import Account, AccountError, AccountStore, Role, TokenScope

__all__ = [
    "COOKIE",
    "Admin",
    "Caller",
    "LoginLimiter",
    "Operator",
    "TopUp",
    "Viewer",
    "caller",
    "require",
]

COOKIE = "sanjie_session"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated account behind a request, and how it proved itself."""

    account: Account
    via: str  # "session" or "token"
    scope: TokenScope = TokenScope.ACCOUNT
    csrf: str | None = None

    @property
    def actor(self) -> str:
        """The name every change is audited under."""
        return self.account.label

    def check_building(self, building: str | None) -> None:
        """403 unless the account may act on ``building``."""
        if not self.account.sees(building):
            where = f"building {building}" if building else "the whole campus"
            raise HTTPException(403, f"account {self.account.name} may not act on {where}")


class LoginLimiter:
    """At most ``attempts`` login attempts per client address in ``window`` seconds.

    In memory on purpose: it only has to slow a guesser down between restarts; the account
    store's lock-out is the durable limit.
    """

    def __init__(
        self,
        attempts: int = 10,
        window: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.attempts = attempts
        self.window = window
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}

    def allow(self, address: str) -> bool:
        now = self.clock()
        seen = self._seen.setdefault(address, deque())
        while seen and now - seen[0] > self.window:
            seen.popleft()
        if len(seen) >= self.attempts:
            return False
        seen.append(now)
        if len(self._seen) > 10_000:  # forget idle addresses; a flood must not grow memory
            for key in [k for k, v in self._seen.items() if not v]:
                del self._seen[key]
        return True


def _store(request: Request) -> AccountStore:
    store: AccountStore | None = getattr(request.app.state, "accounts", None)
    if store is None:
        raise HTTPException(503, "accounts are not configured in this controller")
    return store


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


async def caller(request: Request) -> Caller:
    """The signed-in account: a bearer token, else the session cookie; 401 without either."""
    store = _store(request)
    token = _bearer(request)
    if token is not None:
        try:
            account, scope = store.token_account(token)
        except AccountError:
            raise HTTPException(
                401, "invalid or revoked API token", headers={"WWW-Authenticate": "Bearer"}
            ) from None
        return Caller(account, "token", scope)
    secret = request.cookies.get(COOKIE)
    session = store.session(secret) if secret else None
    if session is None:
        raise HTTPException(
            401,
            "sign in first (session expired or missing)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    found = Caller(session.account, "session", csrf=session.csrf)
    if request.method in _UNSAFE:
        await _check_csrf(request, session.csrf)
    return found


async def _check_csrf(request: Request, expected: str) -> None:
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if sent != expected:
        raise HTTPException(403, "missing or wrong CSRF token; reload the page")


def require(
    role: Role, *, top_up: bool = False
) -> Callable[[Request], Coroutine[Any, Any, Caller]]:
    """A dependency: the caller, if its role is at least ``role`` (403 otherwise).

    ``top_up``: the route is a top-up, which a top-up-scoped token may also call.
    """

    async def check(request: Request) -> Caller:
        found = await caller(request)
        if found.scope is TokenScope.TOP_UP and not top_up:
            raise HTTPException(403, "this token may only top up balances")
        if not found.account.at_least(role):
            raise HTTPException(
                403, f"needs the {role.value} role; {found.account.name} is {found.account.role}"
            )
        return found

    return check


Viewer = Annotated[Caller, Depends(require(Role.VIEWER))]
"""Any signed-in account, for reads (a top-up-only token may not read)."""
Operator = Annotated[Caller, Depends(require(Role.OPERATOR))]
"""Commands, overrides, acknowledgements, top-ups."""
Admin = Annotated[Caller, Depends(require(Role.ADMIN))]
"""Policies, calendar, accounts."""
TopUp = Annotated[Caller, Depends(require(Role.OPERATOR, top_up=True))]
"""Top-ups: an operator, or a token limited to top-ups."""
