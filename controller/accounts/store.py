"""Accounts, API tokens and web sessions in the controller's SQLite store.

Passwords are hashed with argon2id (argon2-cffi's defaults, ≈ 0.1 s a check on the development
machine, which also paces guessing). Tokens and session ids are 256-bit random secrets shown
once; only their SHA-256 is stored, which suffices for secrets that cannot be guessed and keeps
a token check in microseconds. No account exists until an administrator creates one: there is
no default password.

Failed logins count per account; after ``max_failures`` in a row the account refuses logins
for ``lockout_seconds`` (the per-address rate limit lives in the web layer).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from controller.core import Clock
from controller.schema_version import declare, migrate

from .errors import (
    AccountExists,
    BadCredentials,
    LockedOut,
    UnknownAccount,
    UnknownToken,
    WeakPassword,
)
from .model import Account, Role, TokenScope

__all__ = ["AccountStore", "Session", "TokenInfo"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL,
    buildings TEXT,
    password TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    lang TEXT NOT NULL DEFAULT 'zh',
    failures INTEGER NOT NULL DEFAULT 0,
    locked_until REAL NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    label TEXT NOT NULL DEFAULT '',
    scope TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    last_used REAL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS sessions (
    digest TEXT PRIMARY KEY,
    user TEXT NOT NULL REFERENCES users(name),
    csrf TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL
) WITHOUT ROWID;
"""
_MIGRATIONS = declare("accounts", [_SCHEMA])

MIN_PASSWORD = 10
NAME_MAX = 64


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    user: str
    label: str
    scope: TokenScope
    created_at: float
    last_used: float | None
    revoked_at: float | None


@dataclass(frozen=True, slots=True)
class Session:
    account: Account
    csrf: str
    created_at: float


class AccountStore:
    """One SQLite file of accounts; every write commits before returning."""

    def __init__(
        self,
        path: Path | str,
        clock: Clock,
        *,
        max_failures: int = 5,
        lockout_seconds: float = 900,
        session_idle: float = 2 * 3600,
        session_max: float = 12 * 3600,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        migrate(self._db, self.path, _MIGRATIONS)
        if str(path) != ":memory:":
            self.path.chmod(0o600)
        self.clock = clock
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self.session_idle = session_idle
        self.session_max = session_max
        self._hasher = hasher or PasswordHasher()

    def close(self) -> None:
        self._db.close()

    # -- accounts ---------------------------------------------------------------------------
    @staticmethod
    def _account(row: tuple[object, ...]) -> Account:
        name, display, role, buildings, disabled, lang = row
        return Account(
            name=str(name),
            role=Role(str(role)),
            display_name=str(display),
            buildings=None if buildings is None else frozenset(json.loads(str(buildings))),
            disabled=bool(disabled),
            lang=str(lang),
        )

    _COLUMNS = "name, display_name, role, buildings, disabled, lang"

    def _check_password(self, name: str, password: str) -> None:
        if len(password) < MIN_PASSWORD:
            raise WeakPassword(f"a password needs at least {MIN_PASSWORD} characters")
        if password.lower() == name.lower():
            raise WeakPassword("the password must not be the account name")

    def add(
        self,
        name: str,
        role: Role,
        password: str,
        *,
        display_name: str = "",
        buildings: frozenset[str] | None = None,
        lang: str = "zh",
    ) -> Account:
        """A new account; ``AccountExists`` or ``WeakPassword`` otherwise."""
        if not name or len(name) > NAME_MAX or not name.isprintable() or " " in name:
            raise ValueError(f"an account name is 1–{NAME_MAX} printable characters, no spaces")
        self._check_password(name, password)
        encoded = None if buildings is None else json.dumps(sorted(buildings))
        try:
            self._db.execute(
                "INSERT INTO users (name, display_name, role, buildings, password, lang,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    display_name,
                    role.value,
                    encoded,
                    self._hasher.hash(password),
                    lang,
                    self.clock.time(),
                ),
            )
        except sqlite3.IntegrityError:
            raise AccountExists(name) from None
        return self.get(name)

    def get(self, name: str) -> Account:
        row = self._db.execute(
            f"SELECT {self._COLUMNS} FROM users WHERE name = ?",  # noqa: S608 - fixed columns
            (name,),
        ).fetchone()
        if row is None:
            raise UnknownAccount(name)
        return self._account(row)

    def accounts(self) -> list[Account]:
        rows = self._db.execute(
            f"SELECT {self._COLUMNS} FROM users ORDER BY name"  # noqa: S608 - fixed columns
        )
        return [self._account(r) for r in rows]

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM users").fetchone()[0])

    def _update(self, name: str, sql: str, *args: object) -> None:
        cur = self._db.execute(f"UPDATE users SET {sql} WHERE name = ?", (*args, name))  # noqa: S608
        if cur.rowcount == 0:
            raise UnknownAccount(name)

    def set_password(self, name: str, password: str) -> None:
        """A new password; also unlocks the account and ends its sessions."""
        self.get(name)
        self._check_password(name, password)
        self._update(
            name, "password = ?, failures = 0, locked_until = 0", self._hasher.hash(password)
        )
        self._db.execute("DELETE FROM sessions WHERE user = ?", (name,))

    def set_disabled(self, name: str, disabled: bool = True) -> None:
        """A disabled account can neither log in nor use its tokens; its sessions end."""
        self._update(name, "disabled = ?", int(disabled))
        if disabled:
            self._db.execute("DELETE FROM sessions WHERE user = ?", (name,))

    def set_role(self, name: str, role: Role, buildings: frozenset[str] | None = None) -> Account:
        encoded = None if buildings is None else json.dumps(sorted(buildings))
        self._update(name, "role = ?, buildings = ?", role.value, encoded)
        return self.get(name)

    def set_lang(self, name: str, lang: str) -> None:
        if lang not in ("zh", "en"):
            raise ValueError("lang is zh or en")
        self._update(name, "lang = ?", lang)

    # -- login ------------------------------------------------------------------------------
    def authenticate(self, name: str, password: str) -> Account:
        """The account for a correct name and password.

        ``BadCredentials`` for a wrong name, wrong password or disabled account (the same
        answer, so names cannot be probed); ``LockedOut`` after too many failures.
        """
        now = self.clock.time()
        row = self._db.execute(
            "SELECT password, disabled, failures, locked_until FROM users WHERE name = ?",
            (name,),
        ).fetchone()
        if row is None:
            # Spend the same time as a real check, so a missing name does not answer faster.
            self._dummy_verify(password)
            raise BadCredentials
        encoded, disabled, failures, locked_until = row
        if locked_until > now:
            raise LockedOut(float(locked_until))
        try:
            self._hasher.verify(encoded, password)
        except (VerificationError, InvalidHashError):
            failures += 1
            lock = now + self.lockout_seconds if failures >= self.max_failures else 0
            self._update(name, "failures = ?, locked_until = ?", 0 if lock else failures, lock)
            if lock:
                raise LockedOut(lock) from None
            raise BadCredentials from None
        if disabled:
            raise BadCredentials
        if failures:
            self._update(name, "failures = 0")
        if self._hasher.check_needs_rehash(encoded):
            self._update(name, "password = ?", self._hasher.hash(password))
        return self.get(name)

    _DUMMY: str | None = None

    def _dummy_verify(self, password: str) -> None:
        if AccountStore._DUMMY is None:
            AccountStore._DUMMY = self._hasher.hash(secrets.token_hex(16))
        with contextlib.suppress(VerificationError):
            self._hasher.verify(AccountStore._DUMMY, password)

    # -- sessions ---------------------------------------------------------------------------
    def open_session(self, account: Account) -> tuple[str, Session]:
        """A new session: its secret (for the cookie, shown once) and the session."""
        secret = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self.clock.time()
        self._db.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
            (_digest(secret), account.name, csrf, now, now),
        )
        return secret, Session(account, csrf, now)

    def session(self, secret: str) -> Session | None:
        """The live session for a cookie's secret (its idle timer restarts), or None."""
        now = self.clock.time()
        digest = _digest(secret)
        row = self._db.execute(
            "SELECT user, csrf, created_at, last_seen FROM sessions WHERE digest = ?", (digest,)
        ).fetchone()
        if row is None:
            return None
        user, csrf, created, seen = row
        if now - seen > self.session_idle or now - created > self.session_max:
            self._db.execute("DELETE FROM sessions WHERE digest = ?", (digest,))
            return None
        try:
            account = self.get(user)
        except UnknownAccount:
            return None
        if account.disabled:
            return None
        if now - seen > 60:  # one write a minute per session is plenty for the idle timer
            self._db.execute("UPDATE sessions SET last_seen = ? WHERE digest = ?", (now, digest))
        return Session(account, csrf, created)

    def close_session(self, secret: str) -> None:
        self._db.execute("DELETE FROM sessions WHERE digest = ?", (_digest(secret),))

    # -- API tokens -------------------------------------------------------------------------
    def create_token(
        self, name: str, *, label: str = "", scope: TokenScope = TokenScope.ACCOUNT
    ) -> tuple[TokenInfo, str]:
        """A new token for account ``name``: its record and the secret, shown only now.

        The secret starts with the token id (``sj_<id>_<random>``), so a leaked token can be
        found and revoked from what a log or a report shows of it.
        """
        self.get(name)
        token_id = secrets.token_hex(4)
        secret = f"sj_{token_id}_{secrets.token_urlsafe(32)}"
        now = self.clock.time()
        self._db.execute(
            "INSERT INTO tokens (id, user, label, scope, digest, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (token_id, name, label, scope.value, _digest(secret), now),
        )
        return TokenInfo(token_id, name, label, scope, now, None, None), secret

    def tokens(self, name: str | None = None) -> list[TokenInfo]:
        sql = "SELECT id, user, label, scope, created_at, last_used, revoked_at FROM tokens"
        rows = self._db.execute(
            sql + (" WHERE user = ? ORDER BY created_at" if name else " ORDER BY created_at"),
            (name,) if name else (),
        )
        return [TokenInfo(i, u, lab, TokenScope(s), c, lu, r) for i, u, lab, s, c, lu, r in rows]

    def revoke_token(self, token_id: str) -> None:
        cur = self._db.execute(
            "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (self.clock.time(), token_id),
        )
        if cur.rowcount == 0:
            raise UnknownToken(token_id)

    def token_account(self, secret: str) -> tuple[Account, TokenScope]:
        """The account and scope a token acts for; ``BadCredentials`` if revoked or unknown."""
        row = self._db.execute(
            "SELECT id, user, scope FROM tokens WHERE digest = ? AND revoked_at IS NULL",
            (_digest(secret),),
        ).fetchone()
        if row is None:
            raise BadCredentials
        token_id, user, scope = row
        account = self.get(user)
        if account.disabled:
            raise BadCredentials
        self._db.execute(
            "UPDATE tokens SET last_used = ? WHERE id = ?", (self.clock.time(), token_id)
        )
        return account, TokenScope(scope)
