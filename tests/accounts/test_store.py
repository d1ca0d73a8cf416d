"""The account store: argon2 passwords, lock-out, sessions, tokens, building limits."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from controller.accounts import (
    Account,
    AccountExists,
    AccountStore,
    BadCredentials,
    LockedOut,
    Role,
    TokenScope,
    UnknownToken,
    WeakPassword,
)
from controller.core import FakeClock

PASSWORD = "correct horse battery"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_780_000_000)


@pytest.fixture
def store(tmp_path: Path, clock: FakeClock) -> Iterator[AccountStore]:
    # The cheapest argon2 parameters: the tests check behaviour, not the work factor.
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    s = AccountStore(tmp_path / "var" / "accounts.sqlite3", clock, hasher=fast)
    yield s
    s.close()


def test_no_account_exists_until_one_is_made(store: AccountStore) -> None:
    assert len(store) == 0
    with pytest.raises(BadCredentials):
        store.authenticate("admin", "admin")


def test_password_is_stored_as_argon2_never_in_clear(store: AccountStore) -> None:
    store.add("wangli", Role.OPERATOR, PASSWORD, display_name="王丽")
    with sqlite3.connect(store.path) as db:
        (encoded,) = db.execute("SELECT password FROM users").fetchone()
    assert encoded.startswith("$argon2id$")
    assert PASSWORD not in encoded
    account = store.authenticate("wangli", PASSWORD)
    assert account == Account("wangli", Role.OPERATOR, "王丽")
    assert account.label == "王丽 (wangli)"


def test_files_are_private(store: AccountStore) -> None:
    assert oct(os.stat(store.path).st_mode & 0o777) == "0o600"
    assert oct(os.stat(store.path.parent).st_mode & 0o777) == "0o700"


def test_weak_passwords_and_duplicates_are_refused(store: AccountStore) -> None:
    with pytest.raises(WeakPassword, match="10 characters"):
        store.add("a", Role.VIEWER, "short")
    with pytest.raises(WeakPassword, match="account name"):
        store.add("longaccountname", Role.VIEWER, "LongAccountName")
    store.add("a", Role.VIEWER, PASSWORD)
    with pytest.raises(AccountExists):
        store.add("a", Role.ADMIN, PASSWORD)
    with pytest.raises(ValueError, match="printable"):
        store.add("bad\nname", Role.VIEWER, PASSWORD)


def test_lockout_after_repeated_failures_then_unlock(store: AccountStore, clock: FakeClock) -> None:
    store.add("a", Role.VIEWER, PASSWORD)
    for _ in range(4):
        with pytest.raises(BadCredentials):
            store.authenticate("a", "wrong password!")
    with pytest.raises(LockedOut):
        store.authenticate("a", "wrong password!")
    with pytest.raises(LockedOut):  # even the right password, while locked
        store.authenticate("a", PASSWORD)
    clock.advance(901)
    assert store.authenticate("a", PASSWORD).name == "a"


def test_disabled_account_cannot_log_in_or_use_tokens(store: AccountStore) -> None:
    store.add("a", Role.ADMIN, PASSWORD)
    _, secret = store.create_token("a")
    cookie, _ = store.open_session(store.get("a"))
    store.set_disabled("a")
    with pytest.raises(BadCredentials):
        store.authenticate("a", PASSWORD)
    with pytest.raises(BadCredentials):
        store.token_account(secret)
    assert store.session(cookie) is None


def test_sessions_expire_when_idle_and_at_their_maximum(
    store: AccountStore, clock: FakeClock
) -> None:
    account = store.add("a", Role.VIEWER, PASSWORD)
    secret, session = store.open_session(account)
    assert store.session(secret) == session
    clock.advance(3600)
    assert store.session(secret) is not None  # the idle timer restarts
    clock.advance(2 * 3600 + 1)
    assert store.session(secret) is None
    secret, _ = store.open_session(account)
    for _ in range(13):
        clock.advance(3600)
        store.session(secret)
    assert store.session(secret) is None  # 12 h at most, however busy
    secret, _ = store.open_session(account)
    store.close_session(secret)
    assert store.session(secret) is None


def test_tokens_are_shown_once_stored_hashed_and_revocable(store: AccountStore) -> None:
    store.add("pay", Role.OPERATOR, PASSWORD)
    info, secret = store.create_token("pay", label="校园卡", scope=TokenScope.TOP_UP)
    assert secret.startswith(f"sj_{info.id}_")
    with sqlite3.connect(store.path) as db:
        assert secret not in str(db.execute("SELECT * FROM tokens").fetchall())
    account, scope = store.token_account(secret)
    assert (account.name, scope) == ("pay", TokenScope.TOP_UP)
    store.revoke_token(info.id)
    with pytest.raises(BadCredentials):
        store.token_account(secret)
    with pytest.raises(UnknownToken):
        store.revoke_token(info.id)


def test_building_limits(store: AccountStore) -> None:
    manager = store.add("m", Role.OPERATOR, PASSWORD, buildings=frozenset({"dorm-1"}))
    assert manager.sees("dorm-1")
    assert not manager.sees("dorm-2")
    assert not manager.sees(None)  # campus-wide things are for unrestricted accounts
    everyone = store.add("e", Role.VIEWER, PASSWORD)
    assert everyone.sees("dorm-2")
    assert everyone.sees(None)
    assert manager.at_least(Role.VIEWER)
    assert not manager.at_least(Role.ADMIN)


def test_new_password_ends_sessions_and_unlocks(store: AccountStore) -> None:
    account = store.add("a", Role.VIEWER, PASSWORD)
    secret, _ = store.open_session(account)
    store.set_password("a", "another long password")
    assert store.session(secret) is None
    assert store.authenticate("a", "another long password").name == "a"
