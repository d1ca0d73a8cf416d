"""The ledger store: append-only, balances derived from the ledger, idempotent top-ups."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from decimal import Decimal as D  # noqa: N817 (figures read better short)
from pathlib import Path

import pytest

from controller.backup import backup, restore
from controller.billing import (
    AccountClosed,
    BadAmount,
    EntryKind,
    KeyReused,
    LedgerStore,
    TopUps,
    UnknownAccount,
)
from controller.core import FakeClock
from controller.schema_version import STORES, file_version


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LedgerStore]:
    s = LedgerStore(tmp_path / "state" / "billing.sqlite3", FakeClock(1_772_000_000))
    s.add_account("dorm-1.101", "dorm-1", "101", 4)
    yield s
    s.close()


def test_files_are_private_and_versioned(store: LedgerStore) -> None:
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    db = sqlite3.connect(store.path)
    try:
        assert file_version(db) == STORES["billing"] == 1
    finally:
        db.close()


def test_a_retried_top_up_is_applied_once(store: LedgerStore) -> None:
    top_ups = TopUps(store)
    first, applied = top_ups.top_up("dorm-1.101", "50.00", key="pay-1", actor="op:li")
    again, applied_again = top_ups.top_up("dorm-1.101", "50", key="pay-1", actor="op:li")
    assert (applied, applied_again) == (True, False)
    assert again.seq == first.seq
    assert store.balance("dorm-1.101") == D("50.00")
    with pytest.raises(KeyReused):
        top_ups.top_up("dorm-1.101", "60", key="pay-1", actor="op:li")
    assert [e.kind for e in store.entries("dorm-1.101")] == [EntryKind.TOP_UP]


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("0", "more than 0"),
        ("-5", "more than 0"),
        ("1.234", "2 decimals"),
        ("abc", "not a number"),
        ("100001", "at most"),
        (True, "in yuan"),
    ],
)
def test_bad_amounts_are_refused_with_the_reason(
    store: LedgerStore, amount: object, reason: str
) -> None:
    with pytest.raises(BadAmount, match=reason) as caught:
        TopUps(store).top_up("dorm-1.101", amount, key="k", actor="op")
    assert caught.value.field == "amount"
    assert store.entries() == []


def test_the_ledger_cannot_be_rewritten(store: LedgerStore) -> None:
    TopUps(store).top_up("dorm-1.101", 20, key="a", actor="op")
    db = sqlite3.connect(store.path)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE ledger SET amount = '999'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM ledger")
    finally:
        db.close()


def test_balances_are_derived_from_the_ledger_after_a_restart(tmp_path: Path) -> None:
    clock = FakeClock(1_772_000_000)
    path = tmp_path / "billing.sqlite3"
    store = LedgerStore(path, clock)
    store.add_account("dorm-1.101", "dorm-1", "101", 4, opening=D("5"))
    top_ups = TopUps(store)
    top_ups.top_up("dorm-1.101", "30.5", key="a", actor="op")
    top_ups.refund("dorm-1.101", "10", key="r", actor="op", reason="moved out early")
    top_ups.adjust("dorm-1.101", D("-0.5"), key="adj", actor="admin", reason="meter fault")
    store.close()
    again = LedgerStore(path, clock)
    try:
        assert again.balance("dorm-1.101") == D("25.0")
        assert again.verify() == []
        entries = again.entries("dorm-1.101")
        assert [e.kind for e in entries] == [
            EntryKind.OPENING,
            EntryKind.TOP_UP,
            EntryKind.REFUND,
            EntryKind.ADJUSTMENT,
        ]
        assert [(e.balance_before, e.balance_after) for e in entries] == [
            (D(0), D(5)),
            (D(5), D("35.5")),
            (D("35.5"), D("25.5")),
            (D("25.5"), D("25.0")),
        ]
        assert entries[2].actor == "op"
        assert entries[2].reason == "moved out early"
    finally:
        again.close()


def test_moving_out_closes_with_a_refund_and_no_more_top_ups(store: LedgerStore) -> None:
    top_ups = TopUps(store)
    top_ups.top_up("dorm-1.101", "12.34", key="a", actor="op")
    store.set_beds("dorm-1.101", 2, "op", "two students moved out")
    assert store.account("dorm-1.101").beds == 2
    refund = store.close_account("dorm-1.101", "admin", "room empty for the summer")
    assert refund is not None
    assert refund.amount == D("-12.34")
    assert store.balance("dorm-1.101") == 0
    with pytest.raises(AccountClosed):
        top_ups.top_up("dorm-1.101", 5, key="b", actor="op")
    actions = [e["action"] for e in store.account_events("dorm-1.101")]
    assert actions == ["open", "beds", "close"]
    with pytest.raises(UnknownAccount):
        top_ups.top_up("dorm-9.999", 5, key="c", actor="op")


def test_a_failed_transaction_leaves_no_trace(store: LedgerStore) -> None:
    def fails() -> None:
        with store.transaction():
            store.post("dorm-1.101", EntryKind.TOP_UP, D(10), "op", key="x")
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fails()
    assert store.balance("dorm-1.101") == 0
    assert store.entries() == []


def test_backup_and_restore_carry_the_ledger(store: LedgerStore, tmp_path: Path) -> None:
    TopUps(store).top_up("dorm-1.101", "12.50", key="k1", actor="op")
    manifest = backup(store.path.parent, tmp_path / "backup")  # while the store is open
    assert [(f.name, f.schema_version) for f in manifest.files] == [("billing.sqlite3", 1)]
    restore(tmp_path / "backup", tmp_path / "restored")
    again = LedgerStore(tmp_path / "restored" / "billing.sqlite3", FakeClock(1_772_000_000))
    try:
        assert again.balance("dorm-1.101") == D("12.50")
        assert again.verify() == []
    finally:
        again.close()
