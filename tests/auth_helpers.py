"""Accounts for tests: a fast-hashing store and API tokens of a given role.

Every /api route needs an authenticated account; tests that are not about accounts get one
through :func:`bearer` (a real account with a real token in a real store).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from argon2 import PasswordHasher

from controller.accounts import AccountStore, Role
from controller.core import Clock

__all__ = ["FAST_HASHER", "bearer", "fast_store", "service_token"]

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
"""argon2id with the smallest cost: the tests are not about the hash's strength."""


def fast_store(path: Path, clock: Clock) -> AccountStore:
    return AccountStore(path, clock, hasher=FAST_HASHER)


def bearer(
    store: AccountStore,
    name: str,
    role: Role = Role.ADMIN,
    *,
    buildings: frozenset[str] | None = None,
    display_name: str = "",
) -> dict[str, str]:
    """A new account ``name`` (random password) and the header carrying a token of it."""
    store.add(
        name,
        role,
        secrets.token_urlsafe(16),
        buildings=buildings,
        display_name=display_name,
    )
    _, secret = store.create_token(name)
    return {"Authorization": f"Bearer {secret}"}


def service_token(data_dir: Path, name: str = "ops", role: Role = Role.ADMIN) -> dict[str, str]:
    """An account and token in the accounts store ``sanjie run --data-dir DATA_DIR`` opens
    (created before the service starts, as ``sanjie user add`` and ``token create`` would)."""
    from controller.cli_accounts import store_path
    from controller.core import SystemClock

    store = fast_store(store_path(data_dir), SystemClock())
    try:
        return bearer(store, name, role)
    finally:
        store.close()
