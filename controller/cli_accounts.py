"""``sanjie user …`` and ``sanjie token …``: staff accounts and API tokens from the shell.

Passwords are read from the terminal (twice, hidden) or, for scripts, from standard input
with ``--password-stdin``; ``--generate`` makes a random one and prints it once. Nothing takes
a password as an argument, where it would end up in the shell history and ``ps``.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from controller.accounts import AccountError, AccountStore, Role, TokenScope
from controller.core import SystemClock
from controller.service import state_dir

__all__ = ["register", "store_path"]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

users = typer.Typer(
    help="Staff accounts: add, list, change password, disable.", no_args_is_help=True
)
tokens = typer.Typer(
    help="API tokens for scripts: create (shown once), list, revoke.", no_args_is_help=True
)

DataDir = Annotated[
    Path, typer.Option(help="The controller's base folder (accounts are in DATA_DIR/var).")
]


def store_path(data_dir: Path) -> Path:
    """Where the controller keeps its accounts."""
    return state_dir(data_dir) / "accounts.sqlite3"


def _store(data_dir: Path) -> AccountStore:
    return AccountStore(store_path(data_dir), SystemClock())


@contextlib.contextmanager
def _opened(data_dir: Path) -> Iterator[AccountStore]:
    """The store, closed afterwards; an account error ends the command with its message."""
    store = _store(data_dir)
    try:
        yield store
    except (AccountError, ValueError) as err:
        raise _fail(err) from None
    finally:
        store.close()


def _fail(err: Exception) -> typer.Exit:
    err_console.print(f"[red]{err}[/red]", highlight=False)
    return typer.Exit(1)


def _password(generate: bool, from_stdin: bool) -> tuple[str, bool]:
    """The new password and whether it must be shown (it was generated)."""
    if generate:
        return secrets.token_urlsafe(12), True
    if from_stdin:
        return sys.stdin.readline().rstrip("\n"), False
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True), False


def _buildings(text: str | None) -> frozenset[str] | None:
    if text is None:
        return None
    found = frozenset(b.strip() for b in text.split(",") if b.strip())
    if not found:
        raise typer.BadParameter("name at least one building", param_hint="--buildings")
    return found


@users.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Login name, e.g. wangli.")],
    *,
    role: Annotated[Role, typer.Option(help="viewer, operator or admin.")],
    buildings: Annotated[
        str | None, typer.Option(help="Limit to these buildings: dorm-1,dorm-2 (default: all).")
    ] = None,
    display_name: Annotated[str, typer.Option(help="Name shown and audited, e.g. 王丽.")] = "",
    lang: Annotated[str, typer.Option(help="Page language: zh or en.")] = "zh",
    generate: Annotated[bool, typer.Option(help="Generate a password and print it once.")] = False,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
    data_dir: DataDir = Path(),
) -> None:
    """Add a staff account."""
    password, show = _password(generate, password_stdin)
    store = _store(data_dir)
    try:
        account = store.add(
            name,
            role,
            password,
            display_name=display_name,
            buildings=_buildings(buildings),
            lang=lang,
        )
    except (AccountError, ValueError) as err:
        raise _fail(err) from None
    finally:
        store.close()
    where = ", ".join(sorted(account.buildings)) if account.buildings else "all buildings"
    console.print(f"added {account.label}: {account.role.value}, {where}", highlight=False)
    if show:
        console.print(f"password: {password}", highlight=False)


@users.command("list")
def user_list(*, data_dir: DataDir = Path()) -> None:
    """List the accounts (never their passwords)."""
    store = _store(data_dir)
    try:
        table = Table("name", "display name", "role", "buildings", "state")
        for a in store.accounts():
            where = ", ".join(sorted(a.buildings)) if a.buildings else "all"
            table.add_row(
                a.name, a.display_name, a.role.value, where, "disabled" if a.disabled else ""
            )
        console.print(table)
    finally:
        store.close()


@users.command("passwd")
def user_passwd(
    name: str,
    *,
    generate: Annotated[bool, typer.Option(help="Generate a password and print it once.")] = False,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from stdin.")] = False,
    data_dir: DataDir = Path(),
) -> None:
    """Set a new password (also unlocks the account and ends its sessions)."""
    password, show = _password(generate, password_stdin)
    with _opened(data_dir) as store:
        store.set_password(name, password)
    console.print(f"password of {name} changed", highlight=False)
    if show:
        console.print(f"password: {password}", highlight=False)


@users.command("disable")
def user_disable(
    name: str,
    *,
    enable: Annotated[bool, typer.Option(help="Enable the account again instead.")] = False,
    data_dir: DataDir = Path(),
) -> None:
    """Disable an account: no login, no tokens, its sessions end."""
    with _opened(data_dir) as store:
        store.set_disabled(name, not enable)
    console.print(f"{name} {'enabled' if enable else 'disabled'}", highlight=False)


@tokens.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="The account the token acts for.")],
    *,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    scope: Annotated[
        TokenScope, typer.Option(help="account: all the account may; top-up: top-ups only.")
    ] = TokenScope.ACCOUNT,
    data_dir: DataDir = Path(),
) -> None:
    """Create an API token; it is shown only now (send it as `Authorization: Bearer …`)."""
    store = _store(data_dir)
    try:
        info, secret = store.create_token(name, label=label, scope=scope)
    except AccountError as err:
        raise _fail(err) from None
    finally:
        store.close()
    console.print(f"token {info.id} for {name} ({scope.value}):", highlight=False)
    typer.echo(secret)


@tokens.command("list")
def token_list(
    name: Annotated[str | None, typer.Argument(help="Only this account's tokens.")] = None,
    *,
    data_dir: DataDir = Path(),
) -> None:
    """List tokens (ids, never secrets)."""
    store = _store(data_dir)
    try:
        table = Table("id", "account", "label", "scope", "state")
        for t in store.tokens(name):
            table.add_row(t.id, t.user, t.label, t.scope.value, "revoked" if t.revoked_at else "")
        console.print(table)
    finally:
        store.close()


@tokens.command("revoke")
def token_revoke(token_id: str, *, data_dir: DataDir = Path()) -> None:
    """Revoke a token at once."""
    with _opened(data_dir) as store:
        store.revoke_token(token_id)
    console.print(f"token {token_id} revoked", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``user`` and ``token`` to the ``sanjie`` command."""
    app.add_typer(users, name="user")
    app.add_typer(tokens, name="token")
