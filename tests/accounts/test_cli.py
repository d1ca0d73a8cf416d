"""``sanjie user`` and ``sanjie token`` on a real store file."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from controller.accounts import AccountStore, Role
from controller.cli import app
from controller.cli_accounts import store_path
from controller.core import FakeClock


def test_user_and_token_lifecycle(tmp_path: Path) -> None:
    runner = CliRunner()
    data = ["--data-dir", str(tmp_path)]
    made = runner.invoke(
        app,
        [
            "user",
            "add",
            "wangli",
            "--role",
            "operator",
            "--buildings",
            "dorm-1,dorm-2",
            "--display-name",
            "王丽",
            "--generate",
            *data,
        ],
    )
    assert made.exit_code == 0, made.output
    password = made.output.split("password: ")[1].split()[0]
    store = AccountStore(store_path(tmp_path), FakeClock(0))
    account = store.authenticate("wangli", password)
    assert account.role is Role.OPERATOR
    assert account.buildings == frozenset({"dorm-1", "dorm-2"})
    assert account.display_name == "王丽"
    store.close()

    listed = runner.invoke(app, ["user", "list", *data], env={"COLUMNS": "200"})
    assert "wangli" in listed.output
    assert password not in listed.output

    typed = runner.invoke(
        app, ["user", "passwd", "wangli", "--password-stdin", *data], input="a much longer one\n"
    )
    assert typed.exit_code == 0, typed.output
    assert "a much longer one" not in typed.output

    token = runner.invoke(app, ["token", "create", "wangli", "--scope", "top-up", *data])
    assert token.exit_code == 0, token.output
    secret = token.output.strip().splitlines()[-1]
    assert secret.startswith("sj_")
    token_id = secret.split("_")[1]
    assert token_id in runner.invoke(app, ["token", "list", *data]).output
    assert runner.invoke(app, ["token", "revoke", token_id, *data]).exit_code == 0
    assert runner.invoke(app, ["token", "revoke", token_id, *data]).exit_code == 1

    off = runner.invoke(app, ["user", "disable", "wangli", *data])
    assert off.exit_code == 0
    again = runner.invoke(app, ["user", "add", "wangli", "--role", "viewer", "--generate", *data])
    assert again.exit_code == 1
    assert "exists already" in again.output


def test_weak_password_is_refused_with_the_rule(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["user", "add", "a", "--role", "admin", "--password-stdin", "--data-dir", str(tmp_path)],
        input="short\n",
    )
    assert result.exit_code == 1
    assert "at least 10 characters" in result.output
